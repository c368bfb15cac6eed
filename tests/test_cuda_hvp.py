"""srcdiff.cuda.vmap of srcdiff.hvp where the gradient it differentiates holds placeholders.

hvp differentiates the gradient's generated text, where the placeholders transforms/unbound.py wrote (an array's
`v = np.zeros((1,))`, of its rank, not its shape) and the zeros of an array sum whose comprehension runs no
iteration (SUM_EMPTY) are plain statements: the CUDA lowering, where an array keeps one shape, declined them
("v changes shape"; CUDA fuzz --device seeds 797004, 797097, 797106, ...). The module's line table now notes their
lines (generated.Lines.placeholders) and the hvp's front end puts the annotations back. Past them, the sizes the
gradient computes in a branch or a loop, which forward mode names (`rt.max2(2, 0)`, a tuple of names bound to
literals), are read by the host (cuda/host.py). Each case runs on numba's
CUDA simulator (a subprocess: NUMBA_ENABLE_CUDASIM must be set before numba is imported) against the CPU hvp per
example, which is itself checked against central differences of the CPU gradient."""
import json
import os
import re
import sys

if __name__ == "__main__":      # the simulator subprocess (cuda_sim.results_of sets "0" for a real GPU)
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402

import srcdiff  # noqa: E402

B = 4


def _nan_local_arrays():
    """On the simulator, the kernels' local arrays start as NaN (np.empty there, often zeros; uninitialised memory on a
    GPU): a read of an element no write set shows as NaN in the results. Tangent tapes are not filled with zeros
    where forward mode writes each element beside the value's (cuda/tangent_tapes.py); these cases check it."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        return
    from numba.cuda.simulator import kernelapi
    empty = kernelapi.FakeCUDALocal.array

    def nan_array(self, shape, dtype, alignment=None):
        out = empty(self, shape, dtype, alignment)
        if out.dtype.kind == "f":
            out.fill(np.nan)
        return out
    kernelapi.FakeCUDALocal.array = nan_array


# ---- user functions ------------------------------------------------------------------------------------
def ifexp_array(x, M, n):
    """The branch not taken binds M[1][::-1] in the gradient: a placeholder `np.zeros((1,))` there (seed 797097)."""
    return (np.sum(M[1][::-1] * M[1]) if n > 2 else x / (1.5 + np.square(x))) + x * np.sum(M * M)


def sum_of_arrays(x, a, M):
    """An array sum over a comprehension: its zeros where the comprehension runs no iteration (seed 797106)."""
    a = np.dot(M, a) * x
    s = sum(a * (e * 0.5 + x) for e in a)
    return np.log(np.sum(np.exp(s))) + np.sum(a * a)


def sum_over_n(x, a, n):
    """An array sum over range(n), which runs no iteration where n = 0: Python's sum is the number 0 there, which
    the kernel reports (as reverse mode's)."""
    s = sum(a * (x + 0.5 * i) for i in range(n))
    return np.log(np.sum(np.exp(s))) + x * np.sum(a * a)


def branch_loop_tape(x, a, flag):
    """A loop in a branch: its tape allocated there, `s_tape = np.empty(max(2, 0))`, which forward mode names
    (`s_tape2 = rt.max2(2, 0)`): the host reads the size off that (seed 797040, past its placeholders)."""
    s = x
    if flag:
        s = s * 2.0
    else:
        for i in range(2):
            s = 0.5 * s + 0.5 * np.tanh(s * a[i])
    return s * s + np.sum(a * a) * x


def early_return_ones(x, a, M):
    """Arrays of literal shapes after an early return in a loop: their shapes in the gradient are names bound in the
    loop (`M1_at0 = 3`), which forward mode names again as a tuple (`M2v1 = (M1_at0, M1_at1)`): the host reads it."""
    for i in range(3):
        if a[i] > 5.0:
            return x
        M = M * np.ones((3, 3)) * x + np.zeros((3, 3))
    return np.sum(M * M)


def while_after_return(x, a, flag):
    """A while loop's trip counts taped in a loop after an early return: the gradient binds the tape
    `k_tape = np.empty(max(3, 0), np.int64)` (dtype in its place, not by keyword), which the device typed float,
    so the hvp's `range(k)` over a taped count failed (fuzz 822156: "cannot be interpreted as an integer" on the
    simulator)."""
    if flag:
        return x * x
    s = 0.0
    for i in range(3):
        c = a[i]
        k = 0
        while k < 3 and c < 1.0:
            c = c + 0.75 + 0.25 * np.tanh(x * c)
            k += 1
        s = s + c * x
    return s * s


def loop_n_in_branch(x, a, n):
    """A loop of a per-example trip count in a branch: the gradient binds its tape there (and to a placeholder
    before), which forward mode defines again under names of its own (`s_tape3 = np.empty(...)`, merged into
    `s_tape4`): those were no tapes to the device, and an array of a size the host cannot know was declined
    (fuzz 822141: 12 of 800 device programs)."""
    s = x
    if x > 0.4:
        for i in range(n):
            s = 0.5 * s + 0.5 * np.tanh(s * a[i % 3])
    return s * s + np.sum(a * a) * x


def continue_after_return(x, a, flag):
    """A loop with `continue` after an early return: the gradient tapes the loop's conditions (booleans) and binds
    the tape to a placeholder first, `cond_tape = np.zeros((1,), dtype=np.bool_)`; forward mode merges the two into
    one name, and the device typed the placeholder's array float and the tape int64: numba-cuda's typing failed
    ("Cannot unify array(int64, 1d, C) and array(float64, 1d, C)", CUDA fuzz on the GPU, seeds 841014, 841137,
    841323; the simulator does not type the kernel)."""
    if flag:
        return x * x
    s = x
    for i in range(3):
        if a[i] > 0.3:
            continue
        s = 0.5 * s + 0.5 * np.tanh(s * a[i])
    return s * s


def prev_in_loop_else(x, a):
    """A value first bound in a loop and read in its next iteration (`prev`), in a loop's `else` block: the
    gradient tapes x there and merges the tape with its placeholder; forward mode's merge met the tape before a
    later round of the device's inference knew its dtype and stayed untyped ("could not type x3_tape4", CUDA fuzz
    843015, 843093)."""
    for i in range(1, 2):
        if x > 0.5:
            continue
    else:
        for k in range(2):
            if k > 0:
                x = 0.5 * x + 0.5 * np.tanh(np.sum(prev))
            prev = np.exp(np.tanh(k * 0.25 + a))
    return x * x


def shape_test(x, a):
    """Shapes compared: the gradient's own `if np.shape(d_t) != np.shape(t):` (reverse_backward.restart_reshaped,
    where an array carried by a loop may change shape) is such a test, which forward mode names
    (`cond8 = np.shape(d_t)`); the device's inference had no type for a name bound to a shape, and hvp declined
    every program whose gradient holds the check (CUDA fuzz --device seeds 990312, 990336). On the device shapes
    are fixed: the comparison of two is one of constants."""
    c = np.sin(a) * x
    if np.shape(c) != np.shape(a):
        c = np.zeros_like(a)
    return np.sum(c * c) * x


def taped_loop(x, a, n):
    """A loop whose values the gradient tapes: forward mode writes each tangent tape's element beside the value's
    (`s_tape[i] = s`, `d_s_tape[i] = d_s`), so the kernel does not fill the tangent tapes with zeros first (a loop
    of stores per tape before); the simulator's local arrays start as NaN here (_nan_local_arrays)."""
    s = x
    for i in range(3):
        c = np.cos(n * i * 0.3)
        s = 0.5 * s * c + 0.5 * np.tanh(s * a[i])
        if s > 0.3:
            s = s * np.cos(a[i] + s)
    return s * s + np.sum(a * a) * x


def constant_tape_in_branch(x, a, flag):
    """One branch's loop tapes values that depend on x, the other's values that do not (their tape has no tangent):
    the merged tape's tangent is zeros on that path, which the kernel must keep (cuda/tangent_tapes.py)."""
    s = x
    if flag:
        for i in range(2):
            s = 0.5 * s + 0.5 * np.tanh(s * a[i])
    else:
        for i in range(2):
            c = np.tanh(i * 0.3 + 0.5)
            s = s * c
    return s * s * np.sum(a)


def reversed_step_in_while_else(x, a, n):
    """A loop over a reversed range with a step in a while loop's else: the gradient's backward loop header reads
    `len(range(n5, n6, -2))`, which forward mode names (`n7 = range(n5v2, n6v2, -2)`, `n8 = len(n7)`): the device
    declined the range value ('the call range(...)', CUDA fuzz --device 999282); its length is read inline."""
    buf = a * 1.0
    c = x
    while c < 2.0:
        c = c + 0.75
        if n > 2:
            break
    else:
        for i in reversed(range(0, 3, 2)):
            buf[i] *= np.tanh(x)
    return np.sum(buf * buf) * c


def placeholder_tape_version(x, a, n):
    """The tape of buf1's old elements is bound after the early return only: the gradient binds it first to its
    placeholder, and forward mode drops the merge of its versions on the path that reads it (nothing reads the tape
    itself after the merge, only its tangent), so one version is a copy of the placeholder only and its tangent's
    zeros were typed as a scalar (CUDA fuzz --device seeds 999144, 999264, 999294: "d_buf1_old_tape4 is both a
    scalar and an array")."""
    buf1 = a * 1.0
    if n > 0:
        return a[0] * x
    for i in range(1, 3):
        buf1[i] += x * x
    return np.sum(buf1) * x


def swaps_in_loop(x, a):
    """Two buffers swapped in a loop, one written in place after the swap: the gradient pushes each carried buffer
    after the write through the other name and never reads some back; vmap declined them ("`buf2` shares memory
    with `buf1`", CUDA fuzz --device 1002104). hvp differentiates that gradient."""
    buf1 = np.zeros(3)
    buf2 = np.zeros(3)
    for j in range(2):
        buf2, buf1 = buf1, buf2
        buf2[1] = buf2[1] * 1.1 + 0.1 * np.tanh(np.sum(a[:2]) * x)
    return np.sum(buf1) + np.sum(buf2 * a)


def data_dependent_while(w, x):
    """A loop whose trip count the host cannot read off the arguments (vmap needs max_trip=)."""
    s = w[0]
    k = 0
    while s < 5.0 and k < x.shape[0]:
        s = s + np.abs(x[k]) * w[1]
        k += 1
    return s * s


def saved_then_written_after_swap(x, a):
    """The array the gradient saves for tanh(buf1 * x), which the swap names buf2, written in place after its push
    (CUDA fuzz --device 1002073, 1002097): declined ("NumPy saves the array itself, whose later writes that sweep
    reads"), yet the backward sweep undoes each write before the pop, where NumPy's array holds again what the
    device copied (cuda/views.py)."""
    buf1 = np.zeros_like(a)
    buf2 = np.zeros_like(a)
    for j in range(2):
        buf2, buf1 = buf1, 0.5 * buf2 + 0.5 * np.tanh(buf1 * x)
        buf2[(j + 1) % 3] = buf2[(j + 1) % 3] * 1.1 + 0.1 * np.tanh(a[0])
    return np.sum(buf1) + np.sum(buf2 * a)



def swap_written(x, a):
    """b written in place after a swap, the gradient holding the array b names (CUDA fuzz --device 990312): its hvp
    was declined where the gradient pushed the swapped buffer and the backward sweep wrote it (cuda/views.py)."""
    b = np.zeros_like(a)
    c = np.zeros_like(a)
    for i in range(1):
        b, c = c, b
        b[0] = b[0] * 1.1 + 0.1 * np.tanh(x) * a[1]
        for j in range(1):
            b, c = c, b
    return np.sum(b * a) + np.sum(c * c)


def power_of_both(x, a):
    """`y ** x` with base and exponent differentiated: the gradient's slope is rt.pow_slope(y, x), whose forward rule
    writes `np.power(y * 1.0, x - 1)` (NumPy's power: NaN, not a complex number, for a negative base): vmap of the
    hvp declined that call ("unsupported on the device: the call np.power(...)", programs written by hand); on the
    device a call of a function the rules read as an operator is that operator."""
    y = a * a + 0.5
    return np.sum(y ** x) + np.sum(x ** (a + 1.5))


def products(x, a, M):
    """np.prod of a whole array (one entry exactly 0) and along an axis with keepdims: the hvp's forward rule of the
    gradient's rt.prod_grad is rt.prod_others_jvp (prod's second derivative, exact with zeros), which the device
    declined ("unsupported on the device: the call rt.prod_others_jvp(...)", programs written by hand; README: products
    along an axis run on the device, and vmap runs hvp)."""
    z = x * (a - a[1])
    return np.prod(z) + np.prod(a + x) * x + np.sum(np.prod(M * x + 0.5, axis=1, keepdims=True) * M)


def negative_axis(x, M):
    """Reductions along `axis=-1` / `axis=-2`: the device read a negative literal axis as "a non-constant axis" (its
    tree is the negation of 1) and declined grad, jvp and hvp alike (programs written by hand)."""
    return np.sum(np.prod(M * x + 0.5, axis=-1)) + np.sum(np.sum(M * M, axis=-2) * x) + np.sum(np.max(M * x, axis=-1))


def _data():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, B)
    a = rng.uniform(-0.5, 0.5, (B, 3))
    M = rng.uniform(-0.5, 0.5, (B, 3, 3))
    t = (rng.normal(size=B), rng.normal(size=(B, 3)), rng.normal(size=(B, 3, 3)))
    return {
        "ifexp_array": (ifexp_array, (0, 1), (x, M, 3), (0, 0, None), (t[0], t[2])),
        "ifexp_array_other": (ifexp_array, (0, 1), (x, M, 2), (0, 0, None), (t[0], t[2])),
        "sum_of_arrays": (sum_of_arrays, (0, 1, 2), (x, a, M), (0, 0, 0), t),
        "early_return_ones": (early_return_ones, (0, 2), (x, a, M), (0, 0, 0), (t[0], t[2])),
        "branch_loop_tape": (branch_loop_tape, (0, 1), (x, a, False), (0, 0, None), t[:2]),
        "sum_over_n": (sum_over_n, (0, 1), (x, a, np.arange(B) % 3 + 1), (0, 0, 0), t[:2]),
        "while_after_return": (while_after_return, (0, 1), (x, a, False), (0, 0, None), t[:2]),
        "loop_n_in_branch": (loop_n_in_branch, (0, 1), (x, a, np.arange(B) % 3 + 1), (0, 0, 0), t[:2]),
        "continue_after_return": (continue_after_return, (0, 1), (x, a, False), (0, 0, None), t[:2]),
        "prev_in_loop_else": (prev_in_loop_else, (0, 1), (x, a), (0, 0), t[:2]),
        "shape_test": (shape_test, (0, 1), (x, a), (0, 0), t[:2]),
        "taped_loop": (taped_loop, (0, 1), (x, a, 2), (0, 0, None), t[:2]),
        "reversed_step": (reversed_step_in_while_else, (0, 1), (x, a, 1), (0, 0, None), t[:2]),
        "constant_tape": (constant_tape_in_branch, (0, 1), (x, a, False), (0, 0, None), t[:2]),
        "constant_tape_other": (constant_tape_in_branch, (0, 1), (x, a, True), (0, 0, None), t[:2]),
        "placeholder_tape": (placeholder_tape_version, (0, 1), (x, a, np.arange(B) % 2), (0, 0, 0), t[:2]),
        "swaps_in_loop": (swaps_in_loop, (0, 1), (x, a), (0, 0), t[:2]),
        "saved_after_swap": (saved_then_written_after_swap, (0, 1), (x, a), (0, 0), t[:2]),
        "swap_written": (swap_written, (0, 1), (x, a), (0, 0), t[:2]),
        "power_of_both": (power_of_both, (0, 1), (x, a), (0, 0), t[:2]),
        "products": (products, (0, 1, 2), (x, a, M), (0, 0, 0), t),
        "negative_axis": (negative_axis, (0, 1), (x, M), (0, 0), (t[0], t[2])),
    }


def _example(args, axes, i):
    return [(v[i] if ax == 0 else v) for v, ax in zip(args, axes)]


def _fd_hvp(f, wrt, args, tangent, h=1e-5):
    """H·v by central differences of the CPU gradient along the tangent."""
    g = srcdiff.grad(f, wrt=wrt)

    def at(s):
        moved = list(args)
        for k, tk in zip(wrt, tangent):
            moved[k] = args[k] + s * tk
        return np.concatenate([np.ravel(r) for r in g(*moved)])
    return (at(h) - at(-h)) / (2 * h)


def _run_all():
    res = {}
    for name, (f, wrt, args, axes, tangent) in _data().items():
        try:
            h = srcdiff.hvp(f, wrt=wrt)
            got = srcdiff.cuda.vmap(h, in_axes=axes + ((0,) * len(wrt),), max_trip=8)(*args, tangent)
            got = np.concatenate([np.reshape(r, (B, -1)) for r in got], axis=1)
            cpu, fd = [], []
            for i in range(B):
                ex, ti = _example(args, axes, i), tuple(tk[i] for tk in tangent)
                cpu.append(np.concatenate([np.ravel(r) for r in h(*ex, ti)]))
                fd.append(_fd_hvp(f, wrt, ex, ti))
            cpu, fd = np.array(cpu), np.array(fd)
            res[name] = {"vs_cpu": float(np.max(np.abs(got - cpu))), "cpu_vs_fd": float(np.max(np.abs(cpu - fd))),
                         "scale": float(np.max(np.abs(cpu)))}
        except Exception as ex:  # reported to the parent test
            res[name] = f"{type(ex).__name__}: {ex}"
    # an example whose comprehension runs no iteration: Python's sum is the number 0 there, not an array
    try:
        x, a, _ = _data()["sum_over_n"][2]
        srcdiff.cuda.vmap(srcdiff.hvp(sum_over_n, wrt=(0, 1)), in_axes=(0, 0, 0, (0, 0)))(x, a, np.arange(B) % 3, (x, a))
        res["empty_sum"] = "no error"
    except srcdiff.SrcdiffError as ex:
        res["empty_sum"] = str(ex)
    return res


# ---- pytest ------------------------------------------------------------------------------------------
if __name__ != "__main__":
    import pytest
    import cuda_sim

    results = cuda_sim.results_fixture(__file__)

    @pytest.mark.parametrize("name", ["ifexp_array", "ifexp_array_other", "sum_of_arrays", "sum_over_n",
                                      "branch_loop_tape", "early_return_ones", "while_after_return",
                                      "loop_n_in_branch", "continue_after_return",
                                      "prev_in_loop_else", "shape_test", "taped_loop", "constant_tape",
                                      "constant_tape_other", "reversed_step", "placeholder_tape", "swaps_in_loop",
                                      "saved_after_swap", "swap_written", "power_of_both",
                                      "products", "negative_axis"])
    def test_hvp_with_placeholders_matches_cpu(results, name):
        r = results[name]
        assert isinstance(r, dict), r
        assert r["scale"] > 1e-3                                    # (a Hessian that is not zero)
        assert r["vs_cpu"] <= 1e-10 * max(1.0, r["scale"]), r       # the kernel: the CPU hvp, per example
        assert r["cpu_vs_fd"] <= 1e-5 * max(1.0, r["scale"]), r     # the CPU hvp: finite differences of grad

    @pytest.mark.parametrize("name", ["continue_after_return", "prev_in_loop_else", "shape_test", "reversed_step",
                                      "placeholder_tape"])
    def test_hvp_merged_tapes_compile_to_ptx(name):
        """numba-cuda types the kernel (the simulator does not): the placeholder of a tape of booleans merged with the
        tape is an int64 array as the tape is; a merge typed in a later round of inference is typed."""
        f, wrt, args, axes, tangent = _data()[name]
        k = srcdiff.cuda.vmap(srcdiff.hvp(f, wrt=wrt), in_axes=axes + ((0,) * len(wrt),), max_trip=8)
        assert ".target sm_90" in k.ptx(*args, tangent, cc=(9, 0))

    def test_tangent_tapes_not_zero_filled():
        """The kernel writes each tangent tape's elements as forward mode does, beside the value's: no loop of zeros
        first (tangent_tapes.written_with_values; it kept one per tape, 5 here)."""
        for name in ("taped_loop", "branch_loop_tape", "continue_after_return",     # (the last three: merged tapes;
                     "placeholder_tape"):                                           # one merge dropped)
            f, wrt, args, axes, tangent = _data()[name]
            k = srcdiff.cuda.vmap(srcdiff.hvp(f, wrt=wrt), in_axes=axes + ((0,) * len(wrt),), max_trip=8)
            assert ".target sm_90" in k.ptx(*args, tangent, cc=(9, 0))
            src = srcdiff.source(k)
            if name != "placeholder_tape":      # (its tape went with the restore nothing reads: optimize.owned)
                assert re.search(r"d_\w+_tape\w* = cuda\.local\.array", src), src
            assert not re.search(r"d_\w+_tape\w*\[cu_k\d+\] = 0", src), (name, src)

    def test_hvp_empty_sum_of_arrays_raises(results):
        assert re.search(r"test_cuda_hvp\.py:\d+: .*a sum\(\.\.\.\) of arrays over a comprehension that runs no "
                         r"iteration", results["empty_sum"]), results["empty_sum"]

    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.hvp])
    def test_declined_loop_is_reported_at_the_users_line(make):
        """hvp lowers forward mode over the generated gradient: its declines were reported at a line of that
        generated file in srcdiff's cache (`while go:`), not at the user's line, as grad's are."""
        w, x, t = np.array([0.5, 1.2]), np.ones((2, 8)), np.ones(2)
        hvp = make is srcdiff.hvp
        k = srcdiff.cuda.vmap(make(data_dependent_while, wrt=0), in_axes=(None, 0) + ((None,) if hvp else ()))
        line = data_dependent_while.__code__.co_firstlineno + 4
        with pytest.raises(srcdiff.SrcdiffError, match=rf"test_cuda_hvp\.py:{line}: cannot generate CUDA code for "
                           r"data_dependent_while\w*: the trip count of this loop is not known(.|\n)*"
                           r"while s < 5\.0 and k < x\.shape\[0\](.|\n)*hint: pass max_trip="):
            k.ptx(w, x, *((t,) if hvp else ()))

    def test_line_table_keeps_placeholders():
        """The disk cache's index keeps the placeholders' lines with the module (a warm cache generates nothing)."""
        from srcdiff.generated import Lines
        table = Lines((4,), ((9, 3, "x = 1", "f.py"),), (), (), ((12, "placeholder"), (20, "empty")))
        assert Lines.from_json(json.loads(json.dumps(table.to_json()))) == table
        old = table.to_json()
        del old["placeholders"]                                     # an index written before they were noted
        assert Lines.from_json(old).placeholders == ()

    @pytest.mark.parametrize("docstring", [False, True])
    def test_render_notes_placeholder_lines(docstring):
        """emit.render notes the lines of PLACEHOLDER assignments and of SUM_EMPTY ones holding an array's zeros (not a
        scalar sum's 0.0), printed by source_text or (a docstring) by ast.unparse."""
        import ast
        from srcdiff.transforms import annotations as anno
        from srcdiff.transforms import emit
        text = ('def f(x):\n' + ('    """doc"""\n' if docstring else '') + '    v = np.zeros((1,))\n    if x:\n'
                '        s = np.zeros((1, 1))\n        t = 0.0\n    w = np.zeros((1,))\n    return v')
        fn = ast.parse(text).body[0]
        body = fn.body[1:] if docstring else fn.body
        anno.set(body[0], anno.PLACEHOLDER)
        anno.set(body[1].body[0], anno.SUM_EMPTY)
        anno.set(body[1].body[1], anno.SUM_EMPTY)
        lines = emit.render(fn).splitlines()
        noted = anno.get(fn, anno.PLACEHOLDER_LINES)
        first = 3 if docstring else 2
        assert noted == ((first, "placeholder"), (first + 2, "empty")), noted
        assert lines[first - 1] == "    v = np.zeros((1,))" and lines[first + 1] == "        s = np.zeros((1, 1))", lines

    def test_gradient_notes_placeholder_lines():
        """The line table of the gradient hvp differentiates notes its placeholders, at the lines that print them."""
        from srcdiff.transforms.kinds import kind_of_value
        g = srcdiff.grad(ifexp_array, wrt=(0, 1))
        s = g.specialise(tuple(kind_of_value(v) for v in (0.5, np.ones((3, 3)), 3)))
        lines = s.generated.source.splitlines()
        noted = [n for n, what in s.generated.lines.placeholders if what == "placeholder"]
        assert any(re.fullmatch(r"\s*\w+ = np\.zeros\(\(1,\)\)", lines[n - 1]) for n in noted), noted
        assert all(re.fullmatch(r"\s*\w+ = (np\.zeros\(\(1,\)\)|0\.0)", lines[n - 1]) for n in noted), \
            [lines[n - 1] for n in noted]
else:
    _nan_local_arrays()
    print(json.dumps(_run_all()))
