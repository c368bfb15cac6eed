"""transforms/optimize/: the cleanup passes over the generated function, each on a small input."""
import re
import numpy as np
import gast
import pytest

import srcdiff
from srcdiff import runtime as rt
from srcdiff.transforms import optimize
from gradcheck import check_grad, numerical_grad
from passes import body_source, parse_function
from scipy.special import logsumexp


def run(pass_, src, *args):
    return body_source(pass_(parse_function(src), *args))


def test_dead_code_drops_assignments_nothing_reads():
    assert run(optimize.eliminate_dead_code, """
def f(x):
    t = np.exp(x)
    u = t * 2.0
    v = np.sin(x)
    return v
""") == "v = np.sin(x)\nreturn v"


def test_dead_code_keeps_what_changes_state():
    src = """
def f(x, s):
    v = rt.pop(s)
    r = np.random.normal()
    w = g(x)
    return x
"""
    # (a call whose result nothing reads stays as a statement of its own; a pop keeps its stack in step)
    assert run(optimize.eliminate_dead_code, src) == "v = rt.pop(s)\nnp.random.normal()\ng(x)\nreturn x"


def test_dead_code_empties_a_loop_of_dead_statements():
    assert run(optimize.eliminate_dead_code, """
def f(x):
    for i in range(3):
        t = x * i
    return x
""") == "return x"


def test_dead_code_drops_a_loop_carried_value_nothing_reads_after_the_loop():
    """Liveness, not read counts: `s` reads itself each iteration but nothing reads it after the loop."""
    assert run(optimize.eliminate_dead_code, """
def f(x, n):
    s = 0.0
    y = x
    for i in range(n):
        y = y * 2.0
        s = s + np.sum(y)
    return y
""") == "y = x\nfor i in range(n):\n    y = y * 2.0\nreturn y"


def test_dead_code_keeps_a_value_the_next_iteration_reads():
    src = """
def f(x, n):
    y = x
    t = 0.0
    for i in range(n):
        z = t * 2.0
        t = x + z
        y = y + z
    return y
"""
    assert run(optimize.eliminate_dead_code, src) == run(lambda fn: fn, src)


def test_dead_code_drops_writes_into_an_array_it_makes_that_nothing_reads_after():
    """A scalar tape nothing reads any more (its pops went): its writes go, then its making."""
    assert run(optimize.eliminate_dead_code, """
def f(x, n):
    x_tape = np.empty(n)
    y = x
    for i in range(n):
        x_tape[i] = y
        y = y * 2.0
    for i in range(n - 1, -1, -1):
        v = x_tape[i]
    return y
""") == "y = x\nfor i in range(n):\n    y = y * 2.0\nreturn y"


def test_dead_code_keeps_writes_read_later_or_through_another_name():
    """A write stays where its array is read after it (the next iteration included), where another name can see
    the array (a view, a copy by name, an argument, a value passed on), or where the array is not one the
    function makes; the write reads its array, so the making stays too."""
    for src in ["""
def f(x, n):
    t = np.empty(n)
    s = 0.0
    for i in range(n):
        if i > 0:
            s = s + t[i - 1]
        t[i] = x * i
    return s
""", """
def f(x, n):
    t = np.zeros(n)
    w = t[1:]
    t[1] = x
    return w[0]
""", """
def f(x, n):
    t = np.zeros(n)
    w = t
    t[0] = x
    return w[0]
""", """
def f(x, t):
    t[0] = x
    return x
""", """
def f(x, n):
    t = np.zeros((n, 2))
    r = t[0]
    t[0, 1] = x
    return r[1]
""", """
def f(x, n):
    t = np.zeros(n)
    t[0] = x
    return g(t)
"""]:
        assert run(optimize.eliminate_dead_code, src) == run(lambda fn: fn, src), src


def test_dead_code_drops_a_stack_only_as_a_whole():
    """A pop whose value nothing reads stays while another pop of its stack is live (else that pop would
    take the wrong push's value); a stack none of whose pops is live goes with its pushes."""
    src = """
def f(x):
    s = rt.stack()
    rt.push(s, x)
    rt.push(s, x * 2.0)
    a = rt.pop(s)
    b = rt.pop(s)
    return a
"""
    assert run(optimize.eliminate_dead_code, src) == run(lambda fn: fn, src)
    assert run(optimize.eliminate_dead_code, src.replace("return a", "return x")) == "return x"


def test_dead_code_keeps_a_stack_read_otherwise_and_a_push_onto_a_stack_it_does_not_make():
    """A stack with a pop inside an expression (reverse mode's `d_v += rt.pop(d_s)`, the adjoint of a push
    in generated code differentiated again) or read otherwise (returned) keeps every pop: dropping the dead
    `a = rt.pop(s)` would hand its value to the next pop, or change the stack returned. A push onto a stack
    the function does not make (an argument) stays: the caller may pop it."""
    for src in ("""
def f(x):
    s = rt.stack()
    rt.push(s, x)
    rt.push(s, x * 2.0)
    a = rt.pop(s)
    b = rt.pop(s) + 1.0
    return b
""", """
def f(x):
    s = rt.stack()
    rt.push(s, x)
    rt.push(s, x * 2.0)
    a = rt.pop(s)
    return s
""", """
def f(x, s):
    rt.push(s, x)
    return x
"""):
        assert run(optimize.eliminate_dead_code, src) == run(lambda fn: fn, src)


def test_dead_code_drops_branches_and_line_comments_left_without_code():
    from srcdiff.transforms import annotations as anno
    from srcdiff.transforms.astutil import comment
    from srcdiff.transforms.emit import to_source
    fn = parse_function("""
def f(x, flag):
    t = np.exp(x)
    if flag:
        u = t * 2.0
    v = np.sin(x)
    return v
""")
    line = lambda n: anno.set(comment(f"line {n}: code"), anno.USER_LINE, (n, "code", None))
    fn.body.insert(0, line(2))
    fn.body[2].body.insert(0, line(4))
    fn.body.insert(3, comment("a comment of the compiler's"))
    fn.body.insert(4, line(5))
    out = to_source(optimize.eliminate_dead_code(fn))
    assert out.splitlines()[1:] == ["    # a comment of the compiler's", "    # line 5: code", "    v = np.sin(x)",
                                    "    return v"]


def test_a_line_comment_said_again_in_a_row_is_dropped():
    """Two adjoint blocks of one line (a conditional expression's after its sum's) each got the line's comment:
    `# line 3: return ...` twice in a row in the backward sweep (found reading generated code; 14 of fuzz seeds
    300-399 had such repeats). Kept where a loop or a branch is between them."""
    from srcdiff.transforms import annotations as anno
    from srcdiff.transforms.astutil import comment
    from srcdiff.transforms.emit import to_source
    fn = parse_function("""
def f(x, flag):
    t = np.exp(x)
    u = t * 2.0
    if flag:
        u = u * 3.0
    v = np.sin(u)
    return v
""")
    line = lambda n: anno.set(comment(f"line {n}: code"), anno.USER_LINE, (n, "code", None))
    fn.body.insert(0, line(2))
    fn.body.insert(2, line(2))         # t ... u: one line, said again
    fn.body.insert(5, line(2))         # after the branch: kept
    out = to_source(optimize.eliminate_dead_code(fn))
    assert out.count("# line 2: code") == 2, out
    assert out.splitlines()[1:4] == ["    # line 2: code", "    t = np.exp(x)", "    u = t * 2.0"], out


def conditional_beside_a_sum(x, a):
    return (x if x > -0.3 else sum([a[2], x])) + np.sum(a * 2.0)


def test_a_gradients_line_comments_are_not_repeated_in_a_row():
    g = srcdiff.grad(conditional_beside_a_sum, wrt=(0, 1))
    x, a = 0.5, np.array([0.2, 0.3, 0.4])
    got = g(x, a)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(conditional_beside_a_sum, [x, a], k), rtol=1e-6, atol=1e-9)
    lines = [ln.strip() for ln in srcdiff.source(g).splitlines()]
    comments = [(k, ln) for k, ln in enumerate(lines) if ln.startswith("# ")]
    assert not any(c == d and all(not lines[j].startswith(("if ", "for ", "while ", "else")) for j in range(k, m))
                   for (k, c), (m, d) in zip(comments, comments[1:])), lines


def rec_pure(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec_pure(u, depth - 1)) + 0.25 * u


def rec_writes(buf, depth):
    if depth <= 0:
        return buf[0]
    buf[0] = buf[0] + 1.0
    return rec_writes(buf, depth - 1)


def recursion_nothing_reads(x, a, n):
    y = x
    for i in range(2):
        if rec_pure(a[i], n) > -1.2:       # decides y, which the result does not read
            y = 0.5 * y
    return np.sum(a * a) + x


def recursion_that_writes(x, a, n):
    buf = np.zeros(1)
    t = rec_writes(buf, n)                 # its result unread, its write into buf read below
    return np.sum(a * a) * buf[0] + x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_dead_code_drops_an_unread_call_of_a_recursive_helper_without_effects(jit):
    """A recursive user function stays a call; its calls were kept as if they had effects, so a loop that
    only decided values nothing reads stayed in the gradient with the call (fuzz seed 773004), and the
    helper's copy with it. A helper without effects (purity.effect_free_functions) goes with its unread call,
    and the module drops the copy nothing calls; one that writes into an argument stays."""
    a = np.array([0.3, -0.4, 0.8])
    g = srcdiff.grad(recursion_nothing_reads, wrt=(0, 1), jit=jit)
    gx, ga = g(0.7, a, 3)
    assert gx == 1.0 and np.allclose(ga, 2.0 * a)
    assert "rec_pure" not in srcdiff.source(g) and "for i in range" not in srcdiff.source(g), srcdiff.source(g)
    g = srcdiff.grad(recursion_that_writes, wrt=(0, 1), jit=jit)
    gx, ga = g(0.7, a, 3)
    assert gx == 1.0 and np.allclose(ga, 2.0 * a * 3.0)
    assert "rec_writes(buf" in srcdiff.source(g), srcdiff.source(g)
    assert not re.search(r"\bt\w* = rec_writes\(buf", srcdiff.source(g)), srcdiff.source(g)   # (no unread `t`)
    from srcdiff.transforms import purity
    from passes import parse_function as parsed
    graph = {"p": (parsed("def p(u):\n    return p(u) + np.sin(u)\n"), {"p": "p"}),
             "w": (parsed("def w(b):\n    b[0] = 1.0\n    return b[0]\n"), {}),
             "c": (parsed("def c(b):\n    return w(b)\n"), {"w": "w"}),
             "o": (parsed("def o(u):\n    print(u)\n    return u\n"), {})}
    assert purity.effect_free_functions(graph) == {"p"}


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_forward_dead_code_drops_an_unread_call_of_a_recursive_helper_without_effects(jit):
    """Forward mode's dead-code pass did not know which user functions have no effects (reverse mode's did):
    a jvp kept the unread call `rec_pure(a1, n)` and the loop around it, which srcdiff.cuda then declined as
    an unsupported statement. One that writes into an argument stays."""
    a = np.array([0.3, -0.4, 0.8])
    j = srcdiff.jvp(recursion_nothing_reads, wrt=(0, 1), jit=jit)
    val, tan = j(0.7, a, 3, (1.0, np.ones(3)))
    assert val == recursion_nothing_reads(0.7, a, 3) and np.isclose(tan, 1.0 + 2.0 * np.sum(a))
    assert "rec_pure" not in srcdiff.source(j) and "for i in range" not in srcdiff.source(j), srcdiff.source(j)
    j = srcdiff.jvp(recursion_that_writes, wrt=(0, 1), jit=jit)
    val, tan = j(0.7, a, 3, (1.0, np.ones(3)))
    assert np.isclose(tan, 1.0 + 2.0 * np.sum(a) * 3.0)
    assert "rec_writes(buf" in srcdiff.source(j), srcdiff.source(j)


def test_dead_code_turns_a_branch_left_with_nothing_to_do_into_the_test_of_the_other():
    """`if c: <dead>` / `else: <live>` reads `if not c: <live>`, not `if c: pass` / `else: ...` (a recursive
    helper inlined twice left one in a gradient); a test with effects keeps its `pass`."""
    src = """
def f(x, c, s):
    if c:
        u = np.sin(x)
    else:
        rt.push(s, x)
    return x
"""
    assert run(optimize.eliminate_dead_code, src) == "if not c:\n    rt.push(s, x)\nreturn x"
    src = """
def f(x, s):
    if g(x):
        u = np.sin(x)
    return x
"""
    assert run(optimize.eliminate_dead_code, src) == "if g(x):\n    pass\nreturn x"


def test_dead_code_drops_lengths_and_an_empty_forward_sweep_heading():
    """len / min / max / abs of values are pure: a test computed only for a branch that no longer does
    anything goes (a sum over two comprehension clauses left `cond = 0 < 2` / `if cond: cond1 = len(a)`), and
    so does what the late cleanup passes stopped reading (`result = a * a` once the sum's adjoint is a scalar);
    the `# forward sweep` heading goes with the last statement under it (the sum's loops kept only len(a) per
    iteration; reverse_storage now takes it again in the backward sweep)."""
    def lengths(a):
        c = 0 < len(a) and 1 < len(a)
        if c:
            d = max(len(a), 2)
        return np.sum(a * a) + sum(a[1] * e for i in range(2) for e in a)

    a = np.array([0.8, 2.4, 0.3])
    for jit in (False, True):
        g = srcdiff.grad(lengths, jit=jit)
        np.testing.assert_allclose(g(a), numerical_grad(lengths, [a], 0), rtol=1e-6)
        body = srcdiff.source(g).split("def lengths_grad")[1]
        assert "cond" not in body and "max(len" not in body and "= a * a" not in body, body
        assert "# forward sweep" not in body and "_tape" not in body   # (its loops' len(a) is taken again)

    def square(a):
        return np.sum(a * a)
    g = srcdiff.grad(square)
    g(a)
    assert "forward sweep" not in srcdiff.source(g) and "result" not in srcdiff.source(g).split("backward sweep")[0]


def test_dead_code_keeps_a_call_that_adds_into_its_argument():
    """`d_v = rt.logsumexp_vecmat_adjoints(..., d_M)` adds M's adjoint into d_M: where nothing reads d_v after
    the loop (only its next iteration), the loop-carried d_v is dead but the call is not (liveness dropped
    it and with it the whole gradient: test_nesting's HMM gradient-norm penalties)."""
    src = """
def f(g, v, M, E, ans, n):
    d_M = rt.zeros_like(M)
    d_v = g
    for t in range(n):
        d_v1 = d_v
        d_v = rt.logsumexp_vecmat_adjoints(d_v1, v, M, E, ans, d_M)
    return d_M
"""
    assert run(optimize.eliminate_dead_code, src) == run(lambda fn: fn, src)


def test_the_runtime_helpers_that_write_into_an_argument_are_not_pure():
    """Every public runtime function whose body writes into one of its parameters (an element or slice
    assignment, an augmented assignment) is in purity.WRITES_INTO, so dead code never drops a call of it."""
    import ast
    import inspect
    from srcdiff import runtime as rt
    from srcdiff.transforms.purity import WRITES_INTO, is_pure
    import gast
    found = set()
    for name in dir(rt):
        f = getattr(getattr(rt, name), "py_func", getattr(rt, name))     # (a jitted helper: its Python source)
        if name.startswith("_") or not inspect.isfunction(f):
            continue
        try:
            tree = ast.parse(inspect.getsource(f).strip())
        except (OSError, TypeError, SyntaxError):
            continue
        params = {a.arg for a in tree.body[0].args.args}
        for n in ast.walk(tree):
            targets = [n.target] if isinstance(n, ast.AugAssign) else n.targets if isinstance(n, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Name) and not isinstance(n, ast.AugAssign):
                    continue
                while isinstance(t, ast.Subscript):
                    t = t.value
                if isinstance(t, ast.Name) and t.id in params:
                    found.add(f"rt.{name}")
    assert {"rt.logsumexp_vecmat_adjoints", "rt.add_row", "rt.put_row"} <= found     # (the scan sees them)
    assert found <= WRITES_INTO, sorted(found - WRITES_INTO)
    for name in WRITES_INTO:
        assert hasattr(rt, name[3:]), name
        assert not is_pure(gast.parse(f"{name}(a, b)", mode="eval").body)


def log_domain_chain(v, M, n):
    for t in range(n):
        v = logsumexp(v[:, None] + M, axis=0)
    return logsumexp(v)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_of_a_log_domain_chain_with_respect_to_its_matrix_alone(jit):
    """The gradient w.r.t. M alone: the adjoint of v is carried from one iteration to the next and read by
    nothing after the loop; its fused call (logdomain.fuse_adjoints) still adds into d_M (it was dropped as
    dead: a zero gradient)."""
    rng = np.random.default_rng(2)
    v, M = np.log(rng.dirichlet(np.ones(3))), np.log(rng.dirichlet(np.ones(3), size=3))
    got = check_grad(log_domain_chain, [v, M, 4], wrt=1, jit=jit)[0]
    assert np.abs(got).max() > 1e-3
    src = srcdiff.source(srcdiff.grad(log_domain_chain, wrt=1, jit=jit).prepare(v, M, 4))
    assert "_adjoints" in src, src


def test_forward_and_reverse_mode_share_the_dead_code_pass():
    from srcdiff import compiler
    for passes in (compiler.REVERSE, compiler.FORWARD):
        assert [p.where for p in passes if p.name == "dead code"] == ["transforms/optimize/deadcode.py"]


def test_copies_are_propagated():
    assert run(optimize.propagate_copies, """
def f(x):
    a = np.exp(x)
    b = a
    return b * 2.0
""") == "a = np.exp(x)\nreturn a * 2.0"


def test_a_copy_of_a_name_assigned_again_is_propagated_where_nothing_rebinds_it_in_between():
    """An accumulating adjoint (`d_y6 = d_y`, `d_y6 += ...`) copied and then read once: the copy goes, in the late
    copies pass (rebound=True; the early one leaves it for logdomain.fuse_adjoints, which finds adjoints by it)."""
    assert "h = g" in run(optimize.propagate_copies, "def f(x, d):\n    g = d\n    g += x\n    h = g\n    return h * 2.0")
    assert run(optimize.propagate_copies, """
def f(x, d):
    g = d
    g += x * 2.0
    h = g
    k = h * 0.01
    return k
""", True) == "g = d\ng += x * 2.0\nk = g * 0.01\nreturn k"


@pytest.mark.parametrize("src", ["""
def f(x, d):
    g = d
    g += x
    h = g
    g = g * 3.0
    return h * 2.0
""", """
def f(x, d):
    g = d
    g += x
    h = g
    g = h * 2.0
    return g
""", """
def f(x, d):
    g = d
    g += x
    h = g
    if x > 0:
        g = x
    return h * g
""", """
def f(x, d):
    g = d
    g += x
    h = g
    return h
""", """
def f(x, d):
    g = d
    g += x
    h = g
    for i in range(3):
        g = g + h
    return g
"""], ids=["rebound before the read", "rebound by the read's statement", "rebound in a branch", "returned",
         "rebound in a loop that reads it"])
def test_a_copy_is_kept_where_its_source_may_be_rebound_before_a_read(src):
    out = run(optimize.propagate_copies, src, True)
    assert "h = g" in out, out


def test_a_copy_back_is_dropped_where_neither_name_is_bound_between():
    """`d_v4 = d_v` (a loop's carried adjoint entering an iteration) then `d_v = d_v4` (the first adjoint of the
    user's line): the second copy is no copy, and without it the late copy propagation reads d_v for d_v4."""
    out = run(optimize.drop_copy_backs, """
def f(d_v, p):
    for i in range(3):
        d_v4 = d_v
        d_v = d_v4
        d_v3 = -d_v4
        d_v = d_v + d_v3 * p
    return d_v
""")
    assert "d_v = d_v4" not in out and "d_v4 = d_v" in out, out
    assert "d_v3 = -d_v\n" in run(lambda fn: optimize.propagate_copies(optimize.drop_copy_backs(fn), True), """
def f(d_v, p):
    for i in range(3):
        d_v4 = d_v
        d_v = d_v4
        d_v3 = -d_v4
        d_v = d_v + d_v3 * p
    return d_v
""")


def test_a_copy_back_in_both_branches_of_an_if_is_dropped():
    """The adjoint of a loop body with a `continue` copied the carried adjoint in (`d_s5 = d_s`) and back in both
    branches (`if skip2: d_s = d_s5` / `else: ... d_s = d_s5`), as no person writes it (found reading generated
    code); now `if not skip2: ...` reading d_s. A branch that binds either name first keeps its copy back."""
    out = run(lambda fn: optimize.propagate_copies(optimize.drop_copy_backs(fn), True), """
def f(d_s, d_a, s1, skip2, p):
    for i in range(3):
        d_s5 = d_s
        if skip2:
            d_s = d_s5
        else:
            d_a = d_a + d_s5 * s1
            d_s = d_s5
        if p > 0.0:
            d_s = d_s * p
            d_s = d_s5
    return d_a + d_s
""")
    assert "if not skip2:\n        d_a = d_a + d_s5 * s1\n" in out, out
    assert out.count("d_s = d_s5") == 1, out


def continues_in_a_loop(a, b, x):
    s = 0.0
    for i in range(6):
        if i % 2 == 1:
            a, b = b, a + 0.3 * b * x
            continue
        s += a * np.sin(b)
    return s + a * b


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_the_adjoint_of_a_continue_reads_the_carried_adjoint(jit):
    g = srcdiff.grad(continues_in_a_loop, wrt=(0, 1, 2), jit=jit)
    args = [0.4, 0.7, 1.3]
    got = g(*args)
    for k in range(3):
        assert got[k] == pytest.approx(numerical_grad(continues_in_a_loop, args, k), rel=1e-6)
    src = srcdiff.source(g)
    assert "pass" not in src and not re.search(r"^ *d_s = d_s\d+$", src, re.M), src


@pytest.mark.parametrize("between", ["d_v = d_v * 2.0", "d_v4 += p", "if p > 0:\n        d_v = p", "d_v4, q = p, p"])
def test_a_copy_back_is_kept_where_a_name_is_bound_between(between):
    out = run(optimize.drop_copy_backs, f"""
def f(d_v, p):
    d_v4 = d_v
    {between}
    d_v = d_v4
    return d_v + d_v4
""")
    assert "d_v = d_v4" in out, out


@pytest.mark.parametrize("jit", [False, True])
def test_a_loop_carried_adjoint_is_not_copied_back_in_the_generated_gradient(jit):
    """The backward loop of a two-variable recurrence read `d_v4 = d_v` ... `d_v = d_v4` ... `d_v3 = -d_v4`."""
    def step(x, n):
        p, v = x[0], x[1]
        for i in range(n):
            p = p + 0.1 * v
            v = v - 0.1 * np.sin(p)
        return p * v
    g = srcdiff.grad(step, jit=jit)
    x = np.array([0.3, 0.2])
    np.testing.assert_allclose(g(x, 6), numerical_grad(step, (x, 6), 0), rtol=1e-6)
    src = srcdiff.source(g)
    assert "d_v3 = -d_v\n" in src and "d_v4" not in src, src


def test_common_subexpression_reuses_the_first_result():
    assert run(optimize.common_subexpressions, """
def f(x):
    a = np.exp(x)
    b = np.exp(x)
    return a + b
""") == "a = np.exp(x)\nreturn a + a"


def test_common_subexpression_forgets_an_array_read_once_it_is_written():
    assert run(optimize.common_subexpressions, """
def f(x):
    a = x[0] * 2.0
    x[0] = 1.0
    b = x[0] * 2.0
    return a + b
""") == "a = x[0] * 2.0\nx[0] = 1.0\nb = x[0] * 2.0\nreturn a + b"


def test_common_subexpression_forgets_at_each_write_only_the_reads_of_its_array():
    """cse indexes a block's operations by the names they read at its first write (a long block of element
    writes was quadratic): the operations seen after that write are forgotten at the next write of what they
    read, and those reading other arrays are still reused."""
    assert run(optimize.common_subexpressions, """
def f(x, y):
    a = x[0] * 2.0
    x[1] = 1.0
    b = x[0] * 2.0
    c = y[0] + 1.0
    x[2] = 0.5
    d = x[0] * 2.0
    e = y[0] + 1.0
    return a + b + c + d + e
""") == ("a = x[0] * 2.0\nx[1] = 1.0\nb = x[0] * 2.0\nc = y[0] + 1.0\nx[2] = 0.5\nd = x[0] * 2.0\n"
         "return a + b + c + d + c")


def test_common_subexpression_keeps_apart_an_array_a_runtime_helper_writes():
    """`rt.index_add(d_p, idx, g)` writes d_p: a later `rt.zeros_like(p)` is not d_p (CSE made `d_p + d_p` of
    `d_p + rt.zeros_like(p)` in a gradient differentiated again: a wrong nested gradient, fuzz seed 391402)."""
    src = """
def f(p, idx, g):
    d_p = rt.zeros_like(p)
    rt.index_add(d_p, idx, g)
    e = rt.zeros_like(p)
    return d_p + e
"""
    assert run(optimize.common_subexpressions, src) == run(lambda fn: fn, src)


def index_added(m):
    p1 = np.sin(m)
    picked = np.array((1, 1))
    d_p1 = rt.zeros_like(p1)
    rt.index_add(d_p1, picked, p1[picked])
    d_p1 = d_p1 + rt.zeros_like(p1)
    return np.sum(d_p1 * d_p1)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_gradient_with_index_add_differentiated_again(jit):
    check_grad(index_added, [np.array([[-0.29, 1.17, 0.96, 0.23], [-0.10, 1.45, 0.69, 1.62]])], wrt=0, jit=jit)


def test_elementwise_temporaries_read_once_are_fused():
    fn = parse_function("""
def f(z):
    t = np.abs(z)
    u = np.exp(-t)
    r = np.log1p(u)
    return r
""")
    for s in fn.body:
        s.lineno = 1
    arr = ("a", 1, "f")
    out = body_source(optimize.fuse_elementwise(fn, {"z": arr, "t": arr, "u": arr, "r": arr}))
    assert out == "r = np.log1p(np.exp(-np.abs(z)))\nreturn r"


def test_scalars_are_not_fused():
    fn = parse_function("""
def f(z):
    t = np.abs(z)
    r = np.exp(t)
    return r
""")
    for s in fn.body:
        s.lineno = 1
    sc = ("s", "f")
    assert body_source(optimize.fuse_elementwise(fn, {"z": sc, "t": sc, "r": sc})).startswith("t = np.abs(z)")


def test_common_subexpression_keeps_a_name_a_loop_rebinds_apart():
    """`e = x[k]` and `f = x[k]` are not one name when a loop then rebinds e: f is read after it."""
    assert run(optimize.common_subexpressions, """
def f(x, k):
    e = x[k]
    g = x[k]
    for i in range(2):
        e = 0.5 * e
    return e + g
""") == "e = x[k]\ng = x[k]\nfor i in range(2):\n    e = 0.5 * e\nreturn e + g"


def zip_loop_rebinding_the_first(a):
    buf = a * 1.0
    for e, f in zip(a, a):
        for i in range(2):
            e = 0.5 * e
        buf[2] *= np.sin(f) + e
    return np.sum(buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("checkpoints", [None, 2])
def test_gradient_of_a_zip_whose_first_name_an_inner_loop_rebinds(jit, checkpoints):
    """Fuzz seed 167784 (a wrong gradient, taped and checkpointed, d/da 0.912 where central differences give
    0.915): common subexpressions merged f = a[k] into e = a[k], so `np.sin(f)` read e after the inner loop
    had halved it."""
    a = np.array([0.38, -0.96, -0.79])
    g = srcdiff.grad(zip_loop_rebinding_the_first, jit=jit, checkpoints=checkpoints)(a.copy())
    np.testing.assert_allclose(g, numerical_grad(zip_loop_rebinding_the_first, [a.copy()], 0), rtol=1e-6, atol=1e-8)
    taped = srcdiff.grad(zip_loop_rebinding_the_first, jit=jit)(a.copy())
    np.testing.assert_allclose(g, taped, rtol=1e-12, atol=1e-12)


def fused(z):
    return np.sum(np.log1p(np.exp(-np.abs(z))) * z)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_after_the_cleanup_passes(jit):
    check_grad(fused, [np.array([-1.0, 0.5, 2.0])], jit=jit)


# ---- moved from test_regressions.py ------------------------------------------------------------------
def centred_moments(x):
    a = np.sum((x - np.mean(x)) ** 2)
    b = np.sum((x - np.mean(x)) ** 3)
    return a + b


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_cse_merges_expressions_over_merged_operands(jit):
    """`x - np.mean(x)` written twice is computed once: the second mean merges with the first, and
    then so does the subtraction that reads it (only the first level merged before)."""
    g = srcdiff.grad(centred_moments, jit=jit)
    src = srcdiff.source(g)
    code = [line for line in src.splitlines() if not line.strip().startswith("#")]
    assert sum("= np.mean(x)" in line for line in code) == 1, src
    assert sum("= x - " in line for line in code) == 1, src
    check_grad(centred_moments, [np.random.default_rng(3).normal(size=5)], jit=jit)


def test_coalesce_binds_a_merged_name_at_its_definition():
    assert run(optimize.coalesce_copies, """
def f(x, c):
    if c:
        t = np.exp(x)
        s = t
    else:
        s = x
    return s
""") == "if c:\n    s = np.exp(x)\nelse:\n    s = x\nreturn s"


@pytest.mark.parametrize("src", [
    # b read again after the copy
    "def f(x):\n    b = np.exp(x)\n    a = b\n    return a + b",
    # a read between b's definition and the copy (binding a earlier would change that read)
    "def f(x, a):\n    b = np.exp(x)\n    y = a * 2.0\n    a = b\n    return a + y",
    # a written between them
    "def f(x, a):\n    b = np.exp(x)\n    a += 1.0\n    a = b\n    return a",
    # b assigned twice
    "def f(x, c):\n    b = x\n    if c:\n        b = np.exp(x)\n    a = b\n    return a",
    # b defined in another block than the copy
    "def f(x, c):\n    if c:\n        b = np.exp(x)\n    else:\n        b = x\n    a = b\n    return a",
])
def test_coalesce_keeps_copies_it_cannot_prove(src):
    body = src.split("\n", 1)[1]
    assert run(optimize.coalesce_copies, src) == "\n".join(l[4:] for l in body.splitlines())


def test_coalesce_keeps_a_name_a_loop_binds_again_after_a_first_coalesce():
    """Nested fuzz seed 985173 (a silently wrong second derivative): coalescing `e = ...; b = e` into
    `b = ...` counted one store of b fewer, though the renamed definition stores b as the dropped copy did;
    b, assigned again in the loop, then looked assigned once, and `a = b` after the loop read b's first
    value (the loop's adjoint `d_d_x = ...` lost)."""
    assert run(optimize.coalesce_copies, """
def f(x):
    e = np.exp(x)
    b = e
    for i in range(3):
        b = x * 2.0
    a = b
    return a
""") == "b = np.exp(x)\nfor i in range(3):\n    b = x * 2.0\na = b\nreturn a"


@pytest.mark.parametrize("src", [
    "def f(x, c):\n    if c:\n        t = np.exp(x)\n        s = t\n    else:\n        s = x\n    u = s\n    return u * s",
    "def f(x):\n    e = np.exp(x)\n    b = e\n    for i in range(3):\n        b = x * 2.0\n    a = b\n    return a",
    "def f(x):\n    b = np.exp(x)\n    a = b\n    c = a\n    d = c\n    return d + a",
    "def f(x, c):\n    b = x\n    if c:\n        g = b\n        b = np.exp(g)\n    a = b\n    a += 1.0\n    return a",
])
@pytest.mark.parametrize("rebound", [False, True])
def test_propagate_and_coalesce_is_the_two_passes_in_turn(src, rebound):
    """propagate_and_coalesce counts names from propagate_copies's index, kept up to date as copies go, not
    by walking the function again: the same result as the two passes, also where one Name node sits in two
    places of the tree (each place counts)."""
    def shared(fn):      # `return d + a` -> `return d + d`, one node twice
        ret = fn.body[-1]
        if isinstance(ret.value, gast.BinOp):
            ret.value.right = ret.value.left
        return fn
    both = lambda fn: optimize.coalesce_copies(optimize.propagate_copies(shared(fn), rebound))  # noqa: E731
    assert run(lambda fn: optimize.propagate_and_coalesce(shared(fn), rebound), src) == run(both, src)


def test_coalesce_follows_a_chain_of_copies():
    assert run(optimize.coalesce_copies, """
def f(x):
    e = np.exp(x)
    b = e
    a = b
    return a
""") == "a = np.exp(x)\nreturn a"


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_coalesced_branch_merges_keep_the_gradient(jit):
    """A loop whose branches merge values into the names they bind, the copies coalesced (`s4 = s + s2`
    where SSA wrote `s3 = s + s2; s4 = s3`): gradient vs central differences, and no such copy left."""
    def f(x, a):
        s = 0.0
        for i in range(a.shape[0]):
            if a[i] > 0.0:
                t = x * a[i]
                s = s + t * t
            else:
                s = s - a[i] * x
        return s
    x, a = 0.7, np.array([0.5, -1.0, 2.0, -0.25])
    check_grad(f, (x, a), wrt=(0, 1), jit=jit)
    g = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)
    value, _ = g(x, a)
    assert value == pytest.approx(f(x, a), rel=1e-14)
    forward = srcdiff.source(g).split("# backward sweep")[0]
    copies = [l.strip() for l in forward.splitlines() if re.fullmatch(r"\s*\w+ = \w+", l)]
    assert all(c.startswith("s = ") or c.endswith("= s") for c in copies), copies


def swapped_buffers(a):
    buf5 = a * 1.0
    buf6 = np.zeros(3)
    for j in range(2):
        buf5, buf6 = buf6, buf5
        buf5[2] = buf5[2] * 1.1 + 0.1 * np.tanh(buf6[j])
    return np.sum(buf5 * buf5) + np.sum(buf6 * a)


def swapped_buffers_penalty(a):
    g = srcdiff.grad(swapped_buffers)(a)
    return np.sum(g * g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_pops_read_only_before_their_loop_are_dead(jit):
    """A loop that swaps two buffers and writes one in place: the gradient pushed each buffer's old value (buf5,
    buf6) for pops nothing read after them (the backward sweep reads buf5 and buf6 only before the loop, as the
    loop's last values), and those pushes read buf6 after the write through buf5 made it stale, so the gradient
    differentiated again (a gradient-norm penalty) was declined ('`buf6` shares memory with `buf5v8v1`': nested
    fuzz seed 610150). drop_dead_stacks now counts a pop's value read only at or after its top-level statement."""
    a = np.array([0.3, -0.2, 0.5])
    g = srcdiff.grad(swapped_buffers, jit=jit)
    np.testing.assert_allclose(g(a), numerical_grad(swapped_buffers, [a], 0), rtol=1e-6, atol=1e-8)
    code = srcdiff.source(g)
    stacks = code.count("_stack = []") + code.count("= rt.row_tape(") + code.count("_stack = rt.stack_of(")
    # one stack: the written buffer's, for its restore (under jit a typed list, not a row tape: the loop writes
    # into the array it started from, which buf6 may share: stacks.py)
    assert stacks == 1, code
    got = srcdiff.grad(swapped_buffers_penalty, jit=jit)(a)
    np.testing.assert_allclose(got, numerical_grad(swapped_buffers_penalty, [a], 0), rtol=1e-5, atol=1e-7)


def test_dead_code_drops_a_counter_loop_that_only_feeds_itself():
    """Liveness keeps `n = n1` (the next iteration reads n) though nothing else does: the loop that counts the
    items of an array nothing reads, and the array (`rt.stack_zeros`, filled by element), go as a whole
    (faint.drop_faint: what only feeds itself)."""
    assert run(optimize.eliminate_dead_code, """
def f(x, u):
    first = 0.0
    count = 0
    m = len(u)
    for k in range(m):
        cond = count == 0
        if cond:
            first2 = x * 0.25
        else:
            first2 = first
        count1 = count + 1
        first = first2
        count = count1
    items = rt.stack_zeros(count, first)
    j = 0
    for k1 in range(m):
        v = x * 0.25
        items[j] = v
        j1 = j + 1
        j = j1
    return x * 2.0
""") == "return x * 2.0"


@pytest.mark.parametrize("making", ["np.copy(x)", "np.array(x)", "x * 2.0", "np.zeros((n, 2))", "rt.zeros_like(x)"])
def test_dead_code_drops_an_array_it_makes_that_is_only_written(making):
    """An array the function makes (any fresh value: purity.fresh_locals), written by element, by slice or
    in place (`t[i] += v`) and never read, goes with its writes and their loop; an array read by what stays,
    or seen by another name, keeps its writes (test_dead_code_keeps_writes_read_later_or_through_another_name)."""
    src = f"""
def f(x, n):
    t = {making}
    for i in range(n):
        t[i, 0] = np.sin(x[i])
        t[i] += 1.0
    t[:, 1] = 0.0
    return np.sum(x)
"""
    assert run(optimize.eliminate_dead_code, src) == "return np.sum(x)"
    kept = src.replace("return np.sum(x)", "return t[0, 0]")
    assert run(optimize.eliminate_dead_code, kept) == run(lambda fn: fn, kept)


def test_dead_code_keeps_what_feeds_an_effect_or_a_loop_variable_read_after():
    """A write with an effect in its value and a write into an argument stay, with what they read (a counter
    included); a loop whose variable is read after it stays, with nothing else in it."""
    for src in ["""
def f(x, n):
    t = np.zeros(n)
    c = 0
    for i in range(n):
        c1 = c + 1
        c = c1
        t[i] = g(c)
    return x
""", """
def f(x, y, n):
    c = 0.0
    for i in range(n):
        c1 = c + x
        c = c1
        y[i] = c
    return x
"""]:
        assert run(optimize.eliminate_dead_code, src) == run(lambda fn: fn, src), src
    assert run(optimize.eliminate_dead_code, """
def f(x, n):
    for i in range(n):
        c = i * 2
    return i
""") == "for i in range(n):\n    pass\nreturn i"


def unread_comprehension_array(x, a, n):
    """Nested fuzz seed 915000's pattern: the items of `np.stack([...])` made for a value nothing reads."""
    t = 0.0
    for i in range(2):
        u = a - a / 2.5
        t = t + np.sum(np.cumsum(np.stack([(n * 0.25) for e in u])))
    return np.sum(a * a) * x


def unread_comprehension_array_penalty(x, a, n):
    gx, ga = srcdiff.grad(unread_comprehension_array, wrt=(0, 1))(x, a, n)
    return gx * gx + np.sum(ga * ga)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_gradient_keeps_no_loop_filling_an_array_nothing_reads(jit):
    """The gradient of unread_comprehension_array had kept the loop that counts the comprehension's items
    and the one that fills its array (`rt.stack_zeros`, only written), which the gradient of a gradient-norm
    penalty then taped again (nested fuzz seed 915000: 106 -> 60 lines of the outer gradient, 6 loops -> 0)."""
    x, a, n = 0.7, np.array([0.3, -0.2, 0.5]), 1.5
    g = srcdiff.grad(unread_comprehension_array, wrt=(0, 1), jit=jit)
    gx, ga = g(x, a, n)
    np.testing.assert_allclose(gx, numerical_grad(unread_comprehension_array, [x, a, n], 0), rtol=1e-6)
    np.testing.assert_allclose(ga, numerical_grad(unread_comprehension_array, [x, a, n], 1), rtol=1e-6)
    code = srcdiff.source(g)
    assert "stack_zeros" not in code and "for " not in code, code
    h = srcdiff.grad(unread_comprehension_array_penalty, wrt=(0, 1), jit=jit)
    hx, ha = h(x, a, n)
    np.testing.assert_allclose(hx, numerical_grad(unread_comprehension_array_penalty, [x, a, n], 0), rtol=1e-5)
    np.testing.assert_allclose(ha, numerical_grad(unread_comprehension_array_penalty, [x, a, n], 1), rtol=1e-5,
                               atol=1e-7)
    assert "stack_zeros" not in srcdiff.source(h)


def test_dead_code_drops_a_restore_after_the_last_read_of_an_array_it_makes():
    """A reverse sweep over a gradient's in-place write restores the part written (`d_M[0] = d_M_old`); after
    the array's last read (and its views': `d_M1 = d_M[0]`), nothing sees it: the restore goes, and the copy
    it read (owned.py; nested fuzz seed 915000's outer gradient)."""
    assert run(optimize.eliminate_dead_code, """
def f(M, g):
    d_M = rt.zeros_like(M)
    d_M1 = d_M[0]
    d_M2 = d_M1 + g
    d_M_old = rt.copy(d_M[0])
    d_M[0] = d_M2
    d_gM = 2.0 * d_M
    d_g = rt.unbroadcast(rt.copy(d_gM[0]), g)
    d_gM[0] = 0.0
    d_M[0] = d_M_old
    return d_g
""") == ("d_M = rt.zeros_like(M)\nd_M1 = d_M[0]\nd_M2 = d_M1 + g\nd_M[0] = d_M2\nd_gM = 2.0 * d_M\n"
          "d_g = rt.unbroadcast(rt.copy(d_gM[0]), g)\nreturn d_g")


@pytest.mark.parametrize("use", [
    "v = M2[1:]\n    M2[0, 0] = x\n    return v",                     # a view read after the write
    "v = (M2, 1)\n    M2[0, 0] = x\n    return v",                     # a tuple holding it
    "for r in M2:\n        s = r\n    M2[0, 0] = x\n    return s",      # a loop's variable viewing a row
    "rt.push(st, M2)\n    M2[0, 0] = x\n    return x",                 # a stack keeps it
    "L.append(M2)\n    M2[0, 0] = x\n    return x",                    # a list keeps it
    "L2 = [M2] + L\n    M2[0, 0] = x\n    return L2",                  # a new list holding it
    "L[0] = M2\n    M2[0, 0] = x\n    return x",                       # an item of a list
    "w = g(M2)\n    M2[0, 0] = x\n    return x",                       # a call that may keep it
    "rt.put_row(T, 0, M2)\n    M2[0, 0] = x\n    return x",            # a tape's row
    "v = rt.unbroadcast(M2[0], x)\n    M2[0, 0] = x\n    return v",    # a library call may return its argument
    "v = M2 if x > 0 else L\n    M2[0, 0] = x\n    return v",          # either branch's
])
def test_dead_code_keeps_a_write_into_an_array_something_else_may_see(use):
    src = f"""
def f(M, x, st, L, T):
    M2 = M * 2.0
    {use}
"""
    assert "M2[0, 0] = x" in run(optimize.eliminate_dead_code, src), src


def counted_while(x):
    n = 0
    s = 0.0
    i = 0
    while i < 4:
        s = s + x * n
        n = n + 1
        i = i + 1
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_loop_counter_is_incremented_in_place(jit):
    """Generated code is a product: a while loop's counter read `i1 = i + 1; go1 = i1 < 4; ...; go = go1; i = i1`
    and a pushed one `n1 = n + 1; ...; n_stack.append(n); n = n1`; now `i = i + 1; go = i < 4` and
    `n_stack.append(n); n = n + 1` (optimize.coalesce_carried)."""
    g = srcdiff.grad(counted_while, jit=jit)
    assert g(0.7) == pytest.approx(6.0)
    text = srcdiff.source(g)
    assert "i = i + 1" in text and "n = n + 1" in text and "go = i < 4" in text
    assert not re.search(r"\b(i1|n1|go1)\b", text)


def test_carried_copy_stays_where_the_old_value_is_read_after():
    src = """
def f(x):
    a = x
    while a < 3.0:
        b = a * 2.0
        c = a + b
        a = b
    return c
"""
    fn = parse_function(src)
    from srcdiff.transforms import annotations as anno
    loop = fn.body[1]
    anno.set(loop.body[-1], anno.PHI)
    assert body_source(optimize.coalesce_carried(fn)).count("a = b") == 1
    fn = parse_function(src.replace("c = a + b", "c = b + 1.0"))
    anno.set(fn.body[1].body[-1], anno.PHI)
    out = body_source(optimize.coalesce_carried(fn))
    assert "a = a * 2.0" in out and "c = a + 1.0" in out and "a = b" not in out


def filled_then_read(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = np.sin(x[i]) * 2.0
    return np.sum(y * x)


def written_twice(x):
    y = np.ones(3)
    idx = 1
    y[idx] = x[0] * x[1]
    z = np.sum(y * x)
    y[idx] = 2.0
    return z + np.sum(y)


def element_read_before_write(x):
    y = x * 1.0
    y[1] = y[0] * y[2]
    return np.sum(y ** 2)


def filled_in_a_while_loop(x):
    buf = np.zeros(3)
    i = 0
    while i < 3:
        buf[i] = np.tanh(x[i]) + (buf[i - 1] if i > 0 else 0.0)
        i += 1
    return np.sum(buf * buf)


@pytest.mark.parametrize("f", [filled_then_read, written_twice, element_read_before_write, filled_in_a_while_loop])
def test_a_restore_nothing_reads_goes_with_its_copy(f):
    """Generated code is a product: the backward sweep restored `y[i] = y_old` where nothing read y after it,
    and the forward sweep copied (and taped) y_old for it: `rt.unbroadcast(d * x, y)` and `rt.sum_grad(d, y,
    None)` read y for its shape only, and were taken for views of y (owned.SHAPE_ONLY); an element read from y
    (`y1 = y[0]`, `buf_old = buf[i]` taped) was taken for a view of it (annotations.SCALARS)."""
    x = np.array([0.3, 0.5, 0.9])
    g = srcdiff.grad(f)
    np.testing.assert_allclose(g(x), numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-8)
    text = srcdiff.source(g)
    if f is not written_twice:
        assert "_old" not in text
    else:       # (the second write's restore is read: `d_z1 * y` reads the y of line 24)
        assert text.count("y_old") == 2 and "y_old1 = y[idx]" in text and "y[idx] = y_old1" in text


DEBUG = True


def swap_then_dead_line(x, a):
    for j, e in zip(range(1), a):
        e, x = x, e
        _b = not DEBUG
    return np.sum(a * 0.5) + np.cos(x)


def test_a_carried_copy_dropped_leaves_no_lone_line_comment():
    """Fuzz seed 29 (checkpoints=1): coalesce_carried dropped the loop's carried copies that sat under the last
    line's comment (`# line 49: b16 = not DEBUG`, its own statement dead), which stayed with no code under it."""
    from fuzzgen import lone_line_comments
    a = np.array([0.3, -0.2, 0.4])
    for k in (None, 1):
        g = srcdiff.grad(swap_then_dead_line, wrt=(0, 1), checkpoints=k)
        gx, ga = g(0.7, a)
        assert gx == pytest.approx(0.0) and ga == pytest.approx(np.array([0.5 - np.sin(0.3), 0.5, 0.5]))
        assert not lone_line_comments(srcdiff.source(g))


def test_a_copy_then_an_add_to_it_is_one_sum():
    """`d_r = d_s` then `d_r = d_r + d_s` (a value read twice in one line) is `d_r = d_s + d_s`, also with plain
    statements between that neither name d_r nor bind d_s; not where the add reads the name elsewhere, nor across a
    binding of the source or a line's comment."""
    assert run(optimize.merge_copy_then_add, """
def f(x, y):
    d = x
    d = d + y * 2.0
    e = y
    e = e + e * x
    g = x
    h = y
    g = g + h
    k = x
    x = y
    k = k + y
    return d + e + g + k
""") == "d = x + y * 2.0\ne = y\ne = e + e * x\nh = y\ng = x + h\nk = x\nx = y\nk = k + y\nreturn d + e + g + k"


def read_twice(x, a):
    u = np.tanh(x * a[0])
    return u + np.sum(a) + u


@pytest.mark.parametrize("jit", [False, True])
def test_a_value_read_twice_in_a_line_adds_its_adjoints_in_one_statement(jit):
    """`d_u = d_result2` then `d_u = d_u + d_result2` (fuzz programs' `return u13 + np.sum(buf4) + u13`)."""
    x, a = 0.3, np.array([0.5, -1.0, 2.0, 0.3])
    check_grad(read_twice, [x, a], wrt=(0, 1), jit=jit)
    g = srcdiff.grad(read_twice, wrt=(0, 1), jit=jit)
    g(x, a)
    text = srcdiff.source(g)
    assert not re.search(r"^\s*(d_\w+) = (d_\w+)\n\s*\1 = \1 \+ ", text, re.M), text
    assert re.search(r"d_u = (d_\w+) \+ \1\n", text), text


def sum_of_broadcast_product(x, t, m):
    y = x * t
    s = np.sum(y)
    return s * np.sum(m)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("shape", [(5,), (1, 5), (3, 1)])
def test_a_sum_adjoint_read_through_unbroadcast_is_a_scalar(jit, shape):
    """`d_y = rt.sum_grad(d_s, y, None)` read only by `d_x = rt.unbroadcast(d_y * t, x)` (the adjoint of x, broadcast
    against t): d_y * t has y's shape with d_s for d_y, so no filled array is made (scalarize.scalar_sum_grads)."""
    rng = np.random.default_rng(0)
    x, t, m = rng.normal(size=shape), rng.normal(size=(3, 5)), rng.normal(size=2)
    check_grad(sum_of_broadcast_product, [x, t, m], wrt=0, jit=jit)
    g = srcdiff.grad(sum_of_broadcast_product, wrt=0, jit=jit)
    g(x, t, m)
    text = srcdiff.source(g)
    assert "rt.sum_grad" not in text, text
    assert "d_x = rt.unbroadcast(d_s * t, x)" in text, text
    assert "\n    y = x * t\n" not in text, text      # (the forward product is dead with the filled array gone)
    both = srcdiff.grad(sum_of_broadcast_product, wrt=(0, 1), jit=jit)
    both(x, t, m)        # d_t = d_y * x has x's shape, not y's: the filled array stays
    assert "d_y = rt.sum_grad(d_s, y, None)" in srcdiff.source(both)


def copy_then_loop(a, c):
    buf = a.copy()
    x = 0.0
    for i in range(2):
        x = x + np.sum(a[:i + 1])
    if x > 100.0:
        buf = buf * 2.0
    return np.sum(buf * buf) + c * np.sum(a)


@pytest.mark.parametrize("jit", [False, True])
def test_a_copy_before_an_emptied_loop_moves_down_to_its_add(jit):
    """The backward sweep copies d_a before the loop that adds into it (`d_a = rt.copy(d_a)` under `# line 6: for
    ...`); dead code empties the loop (x only decides a branch), and the copy stood alone under the loop's comment,
    the add under the next line's: it moves down to the add (merge_copy_then_add), the loop's comment goes. Now the
    backward sweep makes no copy for a loop it has nothing to sweep back in (test_reverse_backward), and with
    float64 arguments a copy and its add are one sum (below): `d_a = d_a + d_buf` either way."""
    a = np.linspace(0.1, 1.0, 5)
    check_grad(copy_then_loop, [a, 0.7], wrt=0, jit=jit)
    g = srcdiff.grad(copy_then_loop, wrt=0, jit=jit)
    g(a, 0.7)
    text = srcdiff.source(g)
    assert re.search(r"# line \d+: buf = a\.copy\(\)\n\s*d_a = d_a \+ d_buf\n", text), text
    assert "rt.copy(d_a)" not in text, text
    assert "for i in range(2)" not in text.split("# backward sweep")[1], text


def test_a_copy_and_its_add_are_one_sum_where_the_kinds_say_so():
    """`t = rt.copy(a); t += e` -> `t = a + e` given kinds (every float a float64): t an array of floats, e of a
    known dtype and a rank no higher than t's; else left (e unknown, of a higher rank, t of ints)."""
    from srcdiff.transforms.kinds import F, Kind
    src = """
def f(x, y, z, u, w, k):
    d_a = rt.copy(x)
    d_a += y
    d_b = rt.copy(x)
    d_b += u
    d_c = rt.copy(x)
    d_c += w
    d_d = rt.copy(k)
    d_d += y
    d_e = rt.copy(x)
    d_e += z * 2.0
    return d_a
"""
    v, m = Kind.array(1, "f"), Kind.array(2, "f")
    kinds = {"x": v, "y": v, "z": F, "w": m, "k": Kind.array(1, "i"), "d_a": v, "d_b": v, "d_c": v, "d_d": Kind.array(1, "i"),
             "d_e": v}
    assert run(optimize.merge_copy_then_add, src, kinds) == (
        "d_a = x + y\nd_b = rt.copy(x)\nd_b += u\nd_c = rt.copy(x)\nd_c += w\nd_d = rt.copy(k)\nd_d += y\n"
        "d_e = x + z * 2.0\nreturn d_a")
    assert run(optimize.merge_copy_then_add, src) == body_source(parse_function(src))


def test_a_copy_moves_to_its_add_only_across_line_comments():
    from srcdiff.transforms import annotations as anno
    from srcdiff.transforms.astutil import comment
    from srcdiff.transforms.emit import to_source
    fn = parse_function("""
def f(x, y, z):
    d_a = rt.copy(x)
    d_a += y
    d_b = rt.copy(x)
    d_b += z
    d_c = rt.copy(y)
    d_b = d_b * 2.0
    d_c += z
    return d_a + d_b + d_c
""")
    line = lambda n: anno.set(comment(f"line {n}: code"), anno.USER_LINE, (n, "code", None))
    fn.body.insert(3, line(9))          # d_b = rt.copy(x) / # line 8 / # line 9 / d_b += z: moves down
    fn.body.insert(3, line(8))
    fn.body.insert(1, line(7))          # d_a = rt.copy(x) / # line 7 / d_a += y: moves down
    fn.body.insert(0, line(6))
    fn.body = optimize.without_lone_line_comments(optimize.merge_copy_then_add(fn).body)
    assert to_source(fn).splitlines()[1:] == [
        "    # line 7: code", "    d_a = rt.copy(x)", "    d_a += y", "    # line 9: code", "    d_b = rt.copy(x)",
        "    d_b += z", "    d_c = rt.copy(y)", "    d_b = d_b * 2.0", "    d_c += z", "    return d_a + d_b + d_c"]
