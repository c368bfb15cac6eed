"""transforms/elementwise.py and runtime/expressions.py (jitted code only): in the module Numba compiles,
array expressions are calls of `rt.elementwise` kernels, compiled once per installation and called by
symbol; the source the user reads keeps them as they are."""
import ast
import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcdiff
from srcdiff import runtime as rt
from srcdiff.runtime import expressions
from srcdiff.transforms import elementwise
from srcdiff.transforms.kinds import Kind
from gradcheck import check_grad
from passes import body_source, parse_function

A2, A1, F = Kind.array(2, "f"), Kind.array(1, "f"), Kind.scalar("f")


def test_largest_array_expressions_become_kernel_calls_with_operands_in_order():
    fn = parse_function("""
def f(d, h, s, t, n):
    e = d * (1.0 - h * h)
    u = s * t + 1.0
    d += s * h
    v = np.sum(np.exp(d - s) * h) + s
    for i in range(n):
        w = d[i] * 2.0
    return e
""")
    out = elementwise.call_kernels(fn, {"d": A2, "h": A2, "s": F, "t": F, "n": Kind.scalar("i")})
    assert body_source(out) == (
        "e = rt.elementwise('a * (1.0 - b * b)', (d, h))\n"
        "u = s * t + 1.0\n"                                   # numbers only: left as it is
        "d = rt.elementwise('a += b * c', (d, s, h))\n"       # adds into d (an array) and returns it
        "v = np.sum(rt.elementwise('np.exp(a - b) * c', (d, s, h))) + s\n"
        "for i in range(n):\n"
        "    w = rt.elementwise('a * 2.0', (d[i],))\n"        # d[i]: a row, an operand of its own
        "return e")
    assert body_source(fn).splitlines()[0] == "e = d * (1.0 - h * h)"   # a copy was rewritten, not the input


def test_the_input_is_left_as_it_is_and_unchanged_statements_are_shared():
    fn = parse_function("""
def f(d, h, s, n):
    u = s * 2.0
    e = d * h
    for i in range(n):
        d += s * h
        t = s + 1.0
    return e
""")
    before = body_source(fn)
    out = elementwise.call_kernels(fn, {"d": A1, "h": A1, "s": F, "n": Kind.scalar("i")})
    assert body_source(fn) == before                       # rewritten copy-on-write: no node of fn changed
    assert body_source(out) == (
        "u = s * 2.0\n"
        "e = rt.elementwise('a * b', (d, h))\n"
        "for i in range(n):\n"
        "    d = rt.elementwise('a += b * c', (d, s, h))\n"
        "    t = s + 1.0\n"
        "return e")
    assert out.body[0] is fn.body[0] and out.body[2].body[1] is fn.body[2].body[1]   # nothing to rewrite: shared
    assert out.body[1] is not fn.body[1] and out.body[2] is not fn.body[2]
    operand = out.body[1].value.args[1].elts[0]
    assert operand is not fn.body[1].value.left                     # operands are copies, located by copy_loc


def test_operands_of_unknown_kind_leave_the_expression_as_it_is():
    fn = parse_function("""
def f(d, q):
    e = d * q
    q += d
    return e
""")
    assert body_source(elementwise.call_kernels(fn, {"d": A1})) == "e = d * q\nq += d\nreturn e"


def test_a_mean_share_is_an_operand_of_known_kind():
    """scalarize writes rt.mean_grad(g, x) as `g / max(x.size, 1)`: builtin max of ints has a kind (an int), so
    the share is a float and what reads it goes into kernels (before, it had none and they were left out)."""
    fn = parse_function("""
def f(x, d_r):
    d_m = d_r / max(x.size, 1)
    d_x = x * d_m
    d_x += x * d_m
    return d_x
""")
    assert body_source(elementwise.call_kernels(fn, {"x": A1, "d_r": F})) == (
        "d_m = d_r / max(x.size, 1)\n"                        # numbers only: left as it is
        "d_x = rt.elementwise('a * b', (x, d_m))\n"
        "d_x = rt.elementwise('a += b * c', (d_x, x, d_m))\n"
        "return d_x")


def _random_expression(rng, depth):
    """Source of a random elementwise expression over arrays d, h and number s (operators, unary signs,
    a comparison, ufuncs, constants), with redundant parentheses the kernel's text must drop."""
    if depth == 0 or rng.random() < 0.2:
        return str(rng.choice(["d", "h", "s", "2", "0.5", "3.0"]))
    pick = rng.integers(5)
    sub = lambda: _random_expression(rng, depth - 1)
    if pick == 0:
        return f"{rng.choice(['-', '+'])}({sub()})"
    if pick == 1:
        return f"np.{rng.choice(['exp', 'sin', 'maximum'])}({sub()}{', ' + sub() if rng.random() < 0.3 else ''})"
    if pick == 2 and depth > 2:
        return f"(({sub()}) {rng.choice(['<', '>=', '=='])} ({sub()}))"
    return f"(({sub()}) {rng.choice(['+', '-', '*', '/', '**', '//', '%'])} ({sub()}))"


def test_kernel_text_is_the_expression_over_its_parameters_as_ast_unparse_writes_it():
    rng = np.random.default_rng(7)
    seen = 0
    for _ in range(300):
        text = _random_expression(rng, 5)
        out = elementwise.call_kernels(parse_function(f"def f(d, h, s):\n    return {text}\n"),
                                       {"d": A1, "h": A1, "s": F})
        value = out.body[0].value
        if not body_source(out).startswith("return rt.elementwise("):     # numbers only
            continue
        kernel, operands = value.args[0].value, [e.id for e in value.args[1].elts]
        assert kernel == ast.unparse(ast.parse(kernel))                 # ast.unparse's own spelling
        back = ast.parse(kernel)                                        # and the same tree as the user's
        for node in ast.walk(back):
            if isinstance(node, ast.Name) and node.id != "np":
                node.id = operands["abcdefghijklmnopqrstuvwxyz".index(node.id)]
        assert ast.dump(back.body[0].value) == ast.dump(ast.parse(text).body[0].value), (text, kernel)
        seen += 1
    assert seen > 200


def test_the_python_meaning_of_rt_elementwise():
    x, y = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    np.testing.assert_array_equal(rt.elementwise("a * (1.0 - b * b)", (x, y)), x * (1.0 - y * y))
    np.testing.assert_array_equal(rt.elementwise("np.maximum(a, 0.0) + (b > 1.0)", (x, y)),
                                  np.maximum(x, 0.0) + (y > 1.0))
    acc = np.zeros(2)
    assert rt.elementwise("a += b * c", (acc, 2.0, y)) is acc     # into the array, which it returns
    np.testing.assert_array_equal(acc, 2.0 * y)
    assert rt.elementwise("a += b", (1.5, 2.0)) == 3.5            # a number: a new one


@pytest.mark.parametrize("text", ["a.shape", "a[0]", "x + 1", "np.sum(a)", "a(b)", "'s'", "a = b", "b += a",
                                  "__import__('os')"])
def test_kernel_text_other_than_an_elementwise_expression_is_refused(text):
    with pytest.raises((ValueError, SyntaxError)):
        expressions.parse(text)


def mlp(W1, b1, W2, x):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2
    return np.sum(z * z) + 0.1 * np.sum(W1 * W1)


def accumulated(w, x):
    acc = w * x
    acc += w * w
    return np.sum(acc * acc) + np.sum(np.exp(-w) * x)


def test_jitted_gradients_through_kernels_match_central_differences_and_python():
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(4, 5)) * 0.4, rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(size=(6, 4))]
    got = check_grad(mlp, args, wrt=(0, 1, 2), jit=True)
    for g, r in zip(got, srcdiff.grad(mlp, wrt=(0, 1, 2))(*args)):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)
    w, x = rng.normal(size=3), rng.normal(size=3)
    got = check_grad(accumulated, [w, x], wrt=(0, 1), jit=True)
    for g, r in zip(got, srcdiff.grad(accumulated, wrt=(0, 1))(w, x)):
        np.testing.assert_allclose(g, r, rtol=1e-12)


def test_the_shown_source_keeps_its_expressions_while_the_compiled_module_calls_kernels():
    rng = np.random.default_rng(4)
    args = [rng.normal(size=(4, 5)) * 0.4, rng.normal(size=5), rng.normal(size=(5, 3)), rng.normal(size=(6, 4))]
    jitted, python = srcdiff.grad(mlp, wrt=(0, 1, 2), jit=True), srcdiff.grad(mlp, wrt=(0, 1, 2))
    jitted(*args), python(*args)
    shown, made = srcdiff.source(jitted), jitted.last.generated
    assert shown == made.source and "rt.elementwise(" not in shown and "rt.elementwise(" not in srcdiff.source(python)
    assert python.last.generated.compiled is None                       # the Python backend: as it was
    assert "rt.elementwise(" in made.compiled
    ran = jitted.value_and_grad_twin().last     # (jitted grad runs value_and_grad's: backends.ValueDropped)
    compiled = inspect.getsource(sys.modules[jitted.last.function.compiled.py_func.__module__])
    assert compiled == ran.generated.compiled and "rt.elementwise(" not in ran.source   # what Numba compiled
    shown_lines, compiled_lines = ran.source.splitlines(), compiled.splitlines()
    assert len(shown_lines) == len(compiled_lines)                     # line for line: Numba's line numbers
    for s, c in zip(shown_lines, compiled_lines):                      # fall on the shown source's lines
        assert s == c or "rt.elementwise(" in c
    at = shown_lines.index("    d_h2 = d_h * (1.0 - h * h)")
    assert compiled_lines[at] == "    d_h2 = rt.elementwise('a * (1.0 - b * b)', (d_h, h))"


def large(w):
    return np.sum(np.exp(w * BIG) * w)


BIG = np.linspace(0.0, 1.0, 20_000)


def test_kernels_compose_with_large_arrays_passed_as_parameters():
    w = np.full(20_000, 0.5)
    g = srcdiff.grad(large, jit=True)
    np.testing.assert_allclose(g(w), srcdiff.grad(large)(w), rtol=1e-12)
    made = g.last.generated
    assert made.parameters is not None and "rt.elementwise(" in made.parameters.source
    assert "rt.elementwise(" not in made.source and "rt.elementwise(" not in srcdiff.source(g)
    assert len(made.parameters.source.splitlines()) == len(made.source.splitlines())


_CHILD = textwrap.dedent('''
    import sys, numpy as np, srcdiff
    sys.path.insert(0, {folder!r})
    import ew_user
    from srcdiff.runtime import _linking, expressions
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    g = srcdiff.grad(ew_user.loss, jit=True)
    np.testing.assert_allclose(g(W, x), srcdiff.grad(ew_user.loss)(W, x), rtol=1e-12)
    (cres,) = g.last.function.overloads.values()
    compiled = {{id(c.library) for d in expressions._KERNELS.values() for c in d.overloads.values()}}
    called = [k for k in _linking._CALLS.get(cres.library, ()) if id(k) in compiled]
    print(len(compiled), len(called), sum(g.last.function.stats.cache_hits.values()))
''')


def test_kernels_are_called_by_symbol_and_carried_by_the_disk_cache(tmp_path):
    """The gradient calls its elementwise kernels' machine code (it does not link their code); a new
    process on the same cache directory loads the gradient with the kernels' code and gets the same
    values; a new cache directory (a new function) compiles only the function: the kernels come from the
    runtime cache."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "ew_user.py").write_text("import numpy as np\n\n\ndef loss(W, x):\n"
                                       "    h = np.exp(-(x @ W) * 0.5)\n"
                                       "    return np.sum(h * (1.0 - h)) + np.sum(W * W)\n")
    seen = []
    for cache in ("one", "one", "two"):
        env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / cache),
                   SRCDIFF_RUNTIME_CACHE_DIR=str(tmp_path / "runtime"))
        proc = subprocess.run([sys.executable, "-c", _CHILD.format(folder=str(folder))], env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr
        seen.append(tuple(int(v) for v in proc.stdout.split()))
    assert seen[0][0] > 0 and seen[0][1] == seen[0][0] and seen[0][2] == 0   # compiled, calling every kernel
    assert seen[1] == (0, 0, 1)                   # loaded from the disk cache, kernels with it (no typing)
    assert seen[2] == seen[0]                     # a new cache directory: compiled, calling the cached kernels


def test_a_negative_number_raised_to_a_power_and_other_constants_in_kernel_text():
    fn = parse_function("""
def f(d):
    e = 2.0 ** d
    return e
""")
    base = fn.body[0].value.left
    for value, text in ((-2.0, "(-2.0) ** a"), (-3, "(-3) ** a"), (-0.0, "(-0.0) ** a"), (2.5, "2.5 ** a")):
        base.value = value
        out = body_source(elementwise.call_kernels(fn, {"d": A1}))
        assert out.splitlines()[0] == f"e = rt.elementwise({text!r}, (d,))"
    base.value = "s"                        # not a number: the expression is left as it is
    assert body_source(elementwise.call_kernels(fn, {"d": A1})).startswith("e = 's' ** d")


def test_a_kernel_adding_into_an_array_checks_the_operands_shapes():
    """`a += b` into an array under Numba with an operand that does not broadcast to a's shape: Numba's in-place
    operator read past b's end ((3,) += (2,): a garbage third entry) or took b's rows in turn ((3,) += (2, 3)),
    so a shape error of generated code would have been a wrong value; the kernel raises NumPy's ValueError."""
    import numba

    @numba.njit
    def add_into(a, b, c):
        a = rt.elementwise("a += b * c", (a, b, c))
        return a

    np.testing.assert_array_equal(add_into(np.zeros((2, 3)), np.ones(3), 2.0), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(add_into(np.zeros(3), np.ones(3), np.full(3, 0.5)), np.full(3, 0.5))
    for b in (np.ones(2), np.ones((2, 3))):
        with pytest.raises(ValueError):
            add_into(np.zeros(3), b, 2.0)
        with pytest.raises(ValueError):                  # NumPy's own verdict on the same values
            z = np.zeros(3)
            z += b * 2.0


def carried(x, y, a):
    s = 0.0
    v = y * a
    for i in range(x.shape[0]):
        for j in range(2):
            s = s + 0.1 * np.sin(s * y[j])
    v = 0.9 * v + 0.1 * np.cos(x * s)
    return s + np.sum(v * v)


def test_a_scalar_popped_from_a_typed_stack_is_a_scalar_operand():
    """A scalar an inner loop carries is stacked (`s_stack = rt.stack_of(0.0)`, `s = s_stack.pop()`): the pops have
    the kind of the stack's example, so `s` is a float and the array expressions over it are kernels too (`x * s`:
    Numba compiled each left as it was inside the function, a pipeline of its own; twenty such loop blocks took
    29.5 s CPU to compile, 19.8 s with these as kernels). The gradient agrees with the Python backend."""
    x, y = np.linspace(0.1, 0.5, 5), np.linspace(-1.0, 1.0, 5)
    t = srcdiff.grad(carried, wrt=(0, 1, 2), jit=True)
    got = t(x, y, 0.3)
    compiled = t.last.generated.compiled
    assert "s_stack = rt.stack_of(0.0)" in compiled and " = s_stack.pop()" in compiled, compiled
    assert "v2 = rt.elementwise('a * b', (x, s))" in compiled, compiled
    assert "d_x = rt.elementwise('a * b', (d_v2, s))" in compiled, compiled
    want = srcdiff.grad(carried, wrt=(0, 1, 2))(x, y, 0.3)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
