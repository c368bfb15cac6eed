"""srcdiff.cuda's declines name the user's function, variables and line, not the generated code's.

The lowering reads generated code: SSA's versions of the user's names (`b8`, and for hvp, which differentiates the
gradient's text, versions of versions), temporaries named after them and the derivatives of helpers (`rec3_jvp`).
Messages spelled those (CUDA fuzz: "`buf6v13` shares memory with `buf6v15`", "the recursive helper rec3_jvp", "at
line 163" of the gradient for hvp); cuda/spelling.py spells them as the user's names. Each kernel is compiled to
PTX, which declines before any launch, so no simulator or GPU is needed."""
import importlib.util
import inspect
import re

import numpy as np
from scipy.special import logsumexp
import pytest

import srcdiff
from srcdiff.cuda import spelling

if importlib.util.find_spec("numba_cuda") is None:
    pytest.skip("numba-cuda is not installed", allow_module_level=True)


def swap_written(x, a):
    """b written in place after a swap, with the gradient holding the array b names (CUDA fuzz --device 990312)."""
    b = np.zeros(2)
    c = np.zeros(2)
    for i in range(1):
        b, c = c, b
        b[0] = b[0] * 1.1 + 0.1 * np.tanh(x)
        for j in range(1):
            b, c = c, b
    return np.sum(b * a) + np.sum(c * c)


def rec3(x, n):
    if n <= 0:
        return x
    return np.sin(rec3(x, n - 1))


def calls_recursive(x, n):
    return rec3(x, n) * x


def _decline(make, f, wrt, args, axes, tangent=None):
    k = srcdiff.cuda.vmap(make(f, wrt=wrt), in_axes=axes + ((0,) if tangent is not None else ()))
    with pytest.raises(srcdiff.SrcdiffError) as info:
        k.ptx(*args, *((tangent,) if tangent is not None else ()), cc=(9, 0))
    return str(info.value)


def _generated_names(message):
    return re.findall(r"`(\w*\d\w*)`", message.split("\n")[0])


@pytest.mark.parametrize("make", [srcdiff.jvp, srcdiff.hvp])
def test_recursive_helper_named_as_the_user_wrote_it(make):
    msg = _decline(make, calls_recursive, 0, (np.array([0.5, 0.7]), 3), (0, None), np.ones(2))
    assert "the recursive helper rec3 (device code cannot recurse" in msg, msg     # (rec3_jvp before)
    assert re.search(rf"test_cuda_messages\.py:{rec3.__code__.co_firstlineno + 3}: ", msg), msg


@pytest.mark.parametrize("generated, user", [
    ("b8", "b"), ("buf6v13v2", "buf6"), ("total_sum10v3", "total"), ("u12v1v1", "u12"), ("a_if_sum10", "a"),
    ("buf1v15_old", "buf1v15_old"), ("d_buf1v15", "d_buf1"), ("rec3_jvp", "rec3"), ("x3_tape4", "x3_tape4"),
    ("d_buf1_old_tape5", "d_buf1_old_tape5"), ("M_items_first4", "M"), ("prev22_items_first2", "prev22"),
    ("total_if2", "total"),
    ("cu_tmp3", "cu_tmp3"), ("cond10", "cond10"), ("k", "k"), ("buf6", "buf6")])
def test_spelled(generated, user):
    users = {"b", "buf6", "buf1", "total", "u12", "a", "rec3", "x3", "k1", "M", "prev22", "cu"}
    assert spelling.spelled(generated, users) == user


def test_spell_rewrites_generated_names_only():
    users = {"total", "u12", "line"}
    text = "the index total_sum10v3[u12v1v1] at line 3 of total_sum10v3"
    assert spelling.spell(text, users, {"total_sum10v3", "u12v1v1"}) == "the index total[u12] at line 3 of total"


def test_user_names_reach_helpers():
    names = spelling.user_names(calls_recursive)
    assert {"x", "n", "rec3", "calls_recursive"} <= names


def fancy_literal(x, M):
    return x * np.sum(M[[0, 1, 1], [1, 0, 0]])


def test_fancy_index_quotes_the_users_lists():
    """The gradient binds the index lists to names of its own (`result = np.array((0, 1, 1))`): the message said
    `M[total_sum1, total_sum2]` (CUDA fuzz 999000); it writes the numbers out as the user did."""
    msg = _decline(srcdiff.grad, fancy_literal, (0, 1), (np.ones(2), np.ones((2, 2, 2))), (0, 0))
    assert "fancy (array) indexing: M[[0, 1, 1], [1, 0, 0]]\n" in msg, msg


def test_literals_of_numbers_written_out():
    import ast
    fn = ast.parse("def g(M):\n    r = np.array((0, 1))\n    s = (2, 3)\n    t = np.array((u, 1))\n    v = 1\n"
                   "    w = (1,)\n    w = (2,)\n    return M[r]").body[0]
    assert spelling.literals([fn]) == {"r": "[0, 1]", "s": "[2, 3]"}


def mask_write(x, buf13):
    buf13 = buf13 * x
    buf13[buf13 > 0.5] += x
    return np.sum(buf13)


def literal_named_as_user(x, M):
    alpha6 = np.sum(M[[0, 0], [1, 2]], axis=0)      # (two index lists: one, M[[0, 0]], runs on the device)
    return x * np.sum(alpha6)


@pytest.mark.parametrize("f, text", [(mask_write, "buf13[buf13 > 0.5]"), (literal_named_as_user, "M[[0, 0], [1, 2]]")])
def test_fancy_index_quotes_the_users_expression(f, text):
    """ANF's temporaries of the index are named after the line's variable (`buf13v2 = buf13v1 > 0.5`, `alpha6 =
    np.array((0, 0))`): spelled alone they read `buf13[buf13]` and `M[alpha6]` (CUDA fuzz 999110, 999126)."""
    msg = _decline(srcdiff.grad, f, (0, 1), (np.ones(2), np.ones((2, 3, 3)) if f is literal_named_as_user
                                              else np.ones((2, 3))), (0, 0))
    assert f"fancy (array) indexing: {text}\n" in msg, msg


@pytest.mark.parametrize("name, text", [
    ("rt.cumsum", "np.cumsum(...)"), ("rt.log_ndtr", "scipy.special.log_ndtr(...)"),
    ("rt.digamma", "scipy.special.digamma(...)"), ("np.eye", "np.eye(...)"),
    ("rt.astype", "of a cast to a dtype (.astype(...), or dtype= of an array constructor)"),
    ("rt.prod_others_jvp", "rt.prod_others_jvp(...) (a helper of srcdiff's derivative code, made from a call on "
                           "this line)")])
def test_called_names_the_users_function(name, text):
    """'the call rt.cumsum(...)' named srcdiff's runtime helper (CUDA fuzz 999200-999300), not np.cumsum."""
    assert spelling.called(name) == text


def cumsum_of(x, a):
    return x * np.sum(np.cumsum(a))


def test_unsupported_call_named_as_written():
    msg = _decline(srcdiff.grad, cumsum_of, (0, 1), (np.ones(2), np.ones((2, 3))), (0, 0))
    assert "unsupported on the device: the call np.cumsum(...)\n" in msg, msg


def largest_term(x, a):
    return max(v * x for v in a) + x


def test_max_of_a_comprehension_named_with_advice():
    """max(...) of a comprehension gathers its items in an array counted at run time (rt.stack_zeros): the decline
    spoke of np.array(out) and a list built with appends only, which the user did not write (hand-written programs);
    it names max(...) / min(...) of a comprehension, and a loop keeping the largest item."""
    msg = _decline(srcdiff.grad, largest_term, (0, 1), (np.ones(2), np.ones((2, 3))), (0, 0))
    assert "max(...) / min(...) of a comprehension compare" in msg and "m = max(m, v)" in msg, msg


def tuple_item_indexed(xa, M):
    x, a = xa
    return x * np.sum(a[[0, 0], [1, 0]])


def scalar_mask(xa, M):
    x, a = xa
    s = a[M[0, 0] > 0]
    return x * np.sum(s)


def test_tuple_argument_item_spelled_as_indexed():
    """An item of a tuple argument is a kernel parameter of its own, `xa_1` (CUDA fuzz 999100-999200: 'array xa_1
    used where a scalar is needed', 'fancy (array) indexing: xa_1[st8]'): the message says xa[1]."""
    msg = _decline(srcdiff.grad, tuple_item_indexed, (0, 1), ((np.ones(2), np.ones((2, 2, 2))), np.ones((2, 2, 2))),
                   (0, 0))
    assert "fancy (array) indexing: xa[1][[0, 0], [1, 0]]\n" in msg, msg


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp, srcdiff.hvp])
def test_scalar_boolean_index_declined_with_advice(make):
    """`a[M[0, 0] > 0]` is NumPy's mask of rank 0 (README: boolean masks of any rank, on the CPU): a new axis of length
    1 or 0, a shape that depends on the data. The device read the condition as the integer index 0 or 1: jvp's kernel
    ran and returned a[1]'s tangent where the CPU's is a's sum (or 0); grad's decline quoted srcdiff's own
    `rt.index_add(d_a, s, d_s)`, and the index as `a[s > 0]` (ANF's temporary `s1 = M[0, 0]` spelled as the user's
    `s`). It is declined, quoting the user's index, with advice."""
    xa, M = (np.ones(2), np.ones((2, 2))), np.ones((2, 2, 2))
    msg = _decline(make, scalar_mask, 0, (xa, M), (0, 0), xa if make is not srcdiff.grad else None)
    head = msg.split("\n")[0]
    assert re.search(r"a boolean index: (xa\[1\]|a)\[M\[0, 0\] > 0\] \(NumPy reads a condition in an index as a "
                     r"mask of rank 0", head), msg       # (grad and hvp index the kernel's argument xa[1] itself)
    assert "test_cuda_messages.py:%d: " % (scalar_mask.__code__.co_firstlineno + 2) in head, msg
    assert "\n    s = a[M[0, 0] > 0]\n" in msg or "line %d: s = a[M[0, 0] > 0]\n" % (
        scalar_mask.__code__.co_firstlineno + 2) in msg, msg
    # (srcdiff's own adjoint d_a quoted nowhere; the generated file's name, `..._grad_ae1a...`, may hold "d_a")
    assert "hint: device arrays keep one shape: branch on the condition instead" in msg and \
        not re.search(r"\bd_a\b", msg), msg


def test_quoted_writes_temporaries_in_place():
    """ANF's temporaries (`b1 = M[0, 0]`, versions of temporaries `result7v5`) are written in place at any depth;
    a version of the user's variable (`buf13v1`) is not."""
    import ast
    fn = ast.parse("def g(a, M, buf13):\n    b1 = M[0, 0]\n    b2 = b1 > 0\n    result7v5 = M[1, 1]\n"
                   "    buf13v1 = buf13[0]\n    return a[b2], M[result7v5, buf13v1]").body[0]
    reads = fn.body[-1].value.elts
    users = {"a", "M", "b", "buf13", "g"}
    assert spelling.quoted(reads[0], fn, users=users) == "a[M[0, 0] > 0]"
    assert spelling.quoted(reads[1], fn, users=users) == "M[M[1, 1], buf13v1]"
    assert spelling.quoted(reads[0], fn) == "a[b1 > 0]"


def fancy_in_comprehension(x, M):
    return x * sum(np.sum(M[[0, 1, 1], [1, 0, 0]]) for e in M[1])


def test_fancy_index_in_a_loop_quotes_the_users_lists():
    """In a loop the gradient saves the index arrays and pops them back (`total_sum1 = total_sum1_stack.pop()`): a
    second binding, of the same value (CUDA fuzz 999000's grad: 'M[total_sum1, total_sum2]')."""
    msg = _decline(srcdiff.grad, fancy_in_comprehension, (0, 1), (np.ones(2), np.ones((2, 2, 2))), (0, 0))
    assert "fancy (array) indexing: M[[0, 1, 1], [1, 0, 0]]\n" in msg, msg


def row_picked(x, M):
    return x * np.sum((M[1:])[[0], [0]])     # (two index lists: one alone runs on the device)


def product_picked(x, M):
    return x * np.sum(((M * 0.5)[[1, 0, 1], [0, 0, 2]])[::-2])


def loop_index_list(x, M):
    p = 0.0
    for i9 in range(2):
        p = p + sum(np.sum((M[1])[[i9]]) for e in M[0])
    return p * x


def lse_picked(x, M):
    return x * np.sum((logsumexp(np.sum(M, axis=1)[:, None] + M, axis=0))[[True, False, True]])


def sum_picked(x, M):
    return x * np.sum((sum(M * (j * 0.5) for j in range(2)))[[1], [0]])


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.hvp])
@pytest.mark.parametrize("f, text", [(row_picked, "M[1:][[0], [0]]"),
                                     (product_picked, "(M * 0.5)[[1, 0, 1], [0, 0, 2]]"),
                                     (loop_index_list, "M[1][[i9]]"), (lse_picked, "(...)[[True, False, True]]"),
                                     (sum_picked, "(...)[[1], [0]]")])
def test_fancy_index_of_an_expression_quotes_the_users_text(make, f, text):
    """The array indexed was ANF's temporary of the user's expression, and the index list one of loop variables:
    'result1[[0]]', 'result1v1v1[[1, 0, 2]]', 'prev10[i9,]', 'result4[result5]', 'total_sum[[1]]' (CUDA fuzz
    1002007, 1002048, 1002051, 1002034, 1002041). A temporary is written out as the user's text; one that has none
    (an accumulated sum, a value of srcdiff's runtime) reads (...), the user's line beside it."""
    x, M = np.ones(2), np.ones((2, 2, 3))
    msg = _decline(make, f, (0, 1), (x, M), (0, 0), (x, M) if make is srcdiff.hvp else None)
    assert f"fancy (array) indexing: {text}\n" in msg, msg


def picked_before_return(x, M):
    if x > 0.5:
        return np.sum(np.tanh(M)[[1], [0]])     # (two index lists: one, np.tanh(M[0])[[1]], runs on the device)
    return x * np.sum(M)


def computed_index_list(x, M):
    s = 0.0
    for i in range(2):
        s = s + np.sum(M[[1, 1], [(i + 1) % 3, 1]])
    return s * x


def written_at_rows(x, M):
    buf = M[0] * 1.0
    if x > 0.2:
        buf[np.array([[0, 0, 2], [0, 0, 2]])] = x
    return np.sum(buf * buf)


@pytest.mark.parametrize("f, text", [(picked_before_return, "np.tanh(M)[[1], [0]]"),
                                     (computed_index_list, "M[[1, 1], [(i + 1) % 3, 1]]"),
                                     (written_at_rows, "buf[[[0, 0, 2], [0, 0, 2]]]")])
def test_fancy_index_beside_placeholders_quotes_the_users_text(f, text):
    """The gradient binds a value read after a branch first to a placeholder (`result2 = np.zeros((1,), dtype=...)`):
    a second binding, so the index read `(...)[(...)]`, `buf10[buf10]` (CUDA fuzz 1002084, 1002088); an index list
    of computed items read `u19[[1, 1], u19]` (1002108): its items are ANF's names of the user's expressions."""
    x, M = np.array([0.7, 0.6]), np.ones((2, 2, 3))
    assert f"fancy (array) indexing: {text}\n" in _decline(srcdiff.grad, f, (0, 1), (x, M), (0, 0))


def mask_on_its_line(x, M):
    t24 = np.tanh(np.sum(M[M[:, 0] > -0.5, 1:]))
    return t24 * x


def slice_to_loop_variable(x, a):
    ys5 = np.zeros(3)
    for t6 in range(2):
        ys5[t6 - 1] = 0.5 * ys5[t6] + np.sum(a[:t6 + 1])
    return np.sum(ys5) * x


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.hvp])
def test_temporaries_named_after_the_lines_variable_are_written_out(make):
    """ANF names a line's temporaries after its variable (`t24v2 = M[:, 0]`): the mask read `M[t24 > -0.5, 1:]`
    (CUDA fuzz 1002091, 1002132: `M[al11 > 0.1, 1:]`); a slice to a loop variable said 'a slice bound (ys5) that is
    not a constant' (1002058; 'a slice bound (arg)', 1002137), naming the line's array, not the bound."""
    x, M, a = np.ones(2), np.ones((2, 2, 3)), np.ones((2, 3))
    hvp = make is srcdiff.hvp
    msg = _decline(make, mask_on_its_line, (0, 1), (x, M), (0, 0), (x, M) if hvp else None)
    assert "fancy (array) indexing: M[M[:, 0] > -0.5, 1:]\n" in msg, msg
    msg = _decline(make, slice_to_loop_variable, (0, 1), (x, a), (0, 0), (x, a) if hvp else None)
    assert ("a slice whose bounds are not fixed when the kernel is specialised: a[:t6 + 1] (its length would change "
            "from example to example)\n") in msg and "ys5" not in msg.split("\n")[0], msg
    assert "hint: give the slice literal bounds" in msg, msg


def test_write_after_a_swap_compiles():
    """It compiles for the device now (its kernel matches the CPU gradient and central differences on the
    simulator: test_cuda_edges.py's swapped_then_written); a write into an array a second name still reads is
    declined on the CPU already, at the user's line ('srcdiff does not follow writes through views')."""
    from test_cuda_edges import swapped_then_written      # (b written after a swap that binds c again)
    x, a = np.array([0.5, 0.7]), np.ones((2, 4))
    k = srcdiff.cuda.vmap(srcdiff.grad(swapped_then_written, wrt=(0, 1)), in_axes=(0, 0))
    assert ".entry" in k.ptx(x, a, cc=(9, 0))


def masked_write_in_loop(x, a, M, scale=-0.7):
    buf31 = a * 1.0
    for i in range(1, 3):
        buf31[buf31 > 0.3] = 0.3
        scale, x = x, scale
    return x + scale + np.sum(buf31)


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp, srcdiff.hvp])
def test_tangents_masked_write_quotes_the_users_array(make):
    """hvp's decline quoted the tangent's write, 'd_buf31[buf31 > 0.3]' (CUDA fuzz 1002009): the user wrote buf31[...];
    so also np.array of names in the array indexed reads np.array([...]), not a bare list."""
    x, a, M = np.ones(2) * 0.5, np.ones((2, 3)), np.ones((2, 2, 3))
    fwd = make is not srcdiff.grad
    k = srcdiff.cuda.vmap(make(masked_write_in_loop, wrt=(0, 1)), in_axes=(0, 0, 0, None) + ((0,) if fwd else ()))
    with pytest.raises(srcdiff.SrcdiffError) as info:
        k.ptx(x, a, M, -0.7, *(((x, a),) if fwd else ()), cc=(9, 0))
    assert "fancy (array) indexing: buf31[buf31 > 0.3]\n" in str(info.value), str(info.value)


def picked_from_written(x, a):
    return np.sum(np.array([x, a[0], x * x])[[0, int(x > 2.0)]])   # (a list of constants runs on the device)


def test_array_written_out_and_indexed_reads_as_written():
    msg = _decline(srcdiff.grad, picked_from_written, (0, 1), (np.ones(2), np.ones((2, 3))), (0, 0))
    assert "fancy (array) indexing: np.array([x, a[0], x * x])[[0, int(x > 2.0)]]\n" in msg, msg


def masked_literal(x, a):
    return np.sum(np.array([x, x])[np.array([x, x]) > -0.5]) * a[0]


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_array_written_out_in_a_mask_reads_as_an_array(make):
    """An index list written out reads as a list (`[[0, 2]]`) where it is the whole index only: in a mask it is an
    operand, and the decline quoted `np.array([x, x])[[x, x] > -0.5]`, a comparison of a Python list (CUDA fuzz)."""
    x, a = np.array([0.5, 0.7]), np.ones((2, 3))
    msg = _decline(make, masked_literal, (0, 1), (x, a), (0, 0), (x, a) if make is srcdiff.jvp else None)
    assert "fancy (array) indexing: np.array([x, x])[np.array([x, x]) > -0.5]\n" in msg, msg


def test_hvp_names_the_users_line_before_the_gradients():
    """hvp's kernel is made of the gradient's text: its decline quoted the gradient's line (`line 11: result1 =
    v[result] (in the code srcdiff generated from this line, ...)`) and then the user's line, unnumbered. The user's
    line comes first, numbered, and the gradient's after it."""
    x, a = np.array([0.5, 0.7]), np.ones((2, 3))
    msg = _decline(srcdiff.hvp, masked_literal, (0, 1), (x, a), (0, 0), (x, a))
    lines = msg.split("\n")
    line = masked_literal.__code__.co_firstlineno + 1
    assert lines[1] == f"    line {line}: return np.sum(np.array([x, x])[np.array([x, x]) > -0.5]) * a[0]", msg
    assert lines[2].startswith("    (in the code srcdiff generated from this line, at ") and "_grad_" in lines[2], msg
    assert lines[3].startswith("  hint: "), msg


def _bump_0d(z, v):
    z[()] += v * 0.5
    return float(z) * v


def zero_d_written_by_a_helper(x):
    z = np.zeros(())
    t = 0.0
    for i in range(2):
        t = t + _bump_0d(z, x * 0.5)
    return t + float(z)


def zero_d_read_by_name(x):
    z = np.full((), 0.5)
    z[()] = x * x
    t = z
    return float(t) * x


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp, srcdiff.hvp])
@pytest.mark.parametrize("f", [zero_d_written_by_a_helper, zero_d_read_by_name])
def test_zero_d_array_kept_as_an_array_declined_at_its_line(make, f):
    """A 0-d array the function makes, written by a helper of the user's (`z[()] += v`) or read by name (`t = z`),
    stays an array in the derivative code (elsewhere the CPU specialisation makes it a number, which the device runs).
    vmap declined it with srcdiff's own names and an unrelated cause ("result2 is both a scalar and an array", "an
    array whose size (z) is not fixed when the kernel is specialised": CUDA fuzz seeds 1333507, 1333509, 1333514); it
    names the 0-d array at the line that makes it, with advice."""
    msg = _decline(make, f, 0, (np.ones(2),), (0,), np.ones(2) if make is not srcdiff.grad else None)
    head = msg.split("\n")[0]
    assert "test_cuda_messages.py:%d: " % (f.__code__.co_firstlineno + 1) in head, msg
    assert "a 0-d array (`z = np.zeros(())`) that the derivative code keeps as an array" in head, msg
    assert "hint: hold the number in a float" in msg, msg


def zero_d_as_a_number(x):
    z = np.zeros(())
    z[()] += x * 2.0
    return x * z[()]


def test_zero_d_array_used_as_a_number_runs_on_the_device():
    """... and one the derivative code makes a number (README: 0-d arrays as the numbers they hold) compiles."""
    k = srcdiff.cuda.vmap(srcdiff.grad(zero_d_as_a_number), in_axes=(0,))
    assert ".target sm_90" in k.ptx(np.ones(2), cc=(9, 0))


def rows_unpacked(v, w):
    a, b = v
    n, m = np.zeros((2, 3)).shape
    return a * np.sin(b) * w + n * m


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_unpacking_counts_are_decided_when_the_kernel_is_built(make):
    """`a, b = v` has Python's count check (rt.check_unpack), which had no device lowering: every kernel unpacking an
    array or a shape was declined ("writes through rt.check_unpack(...)"). The lowering decides it from the shapes
    per thread: no code where the count is right, and Python's ValueError said at the line where it is not."""
    tangent = ((np.ones((4, 2)), np.ones(4)),) if make is srcdiff.jvp else ()
    srcdiff.cuda.vmap(make(rows_unpacked, wrt=(0, 1)), in_axes=(0, 0) + ((0,) if tangent else ())).ptx(
        np.ones((4, 2)), np.ones(4), *tangent, cc=(9, 0))
    tangent = ((np.ones((4, 3)), np.ones(4)),) if make is srcdiff.jvp else ()
    k = srcdiff.cuda.vmap(make(rows_unpacked, wrt=(0, 1)), in_axes=(0, 0) + ((0,) if tangent else ()))
    with pytest.raises(srcdiff.SrcdiffError, match="unpacking into 2 names a value of 3 items: Python raises "
                                                   "ValueError") as info:
        k.ptx(np.ones((4, 3)), np.ones(4), *tangent, cc=(9, 0))
    assert re.search(rf"test_cuda_messages\.py:{rows_unpacked.__code__.co_firstlineno + 1}: ", str(info.value))


def ones_of_shape_picked(x, a):
    return np.sum(np.ones((a.shape[0], a.shape[0]))[a > x] * x)


def ones_of_n_picked(x, a):
    n = a.shape[0]
    return np.sum(np.ones((n, n))[a > x] * x)


def last_as_threshold(x, a):
    return np.sum(a[a > a[a.shape[0] - 1]]) * x


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
@pytest.mark.parametrize("f, text", [
    (ones_of_shape_picked, "fancy (array) indexing: np.ones((a.shape[0], a.shape[0]))[a > x]"),
    (ones_of_n_picked, "fancy (array) indexing: np.ones((n, n))[a > x]"),
    (last_as_threshold, "fancy (array) indexing: a[a > a[a.shape[0] - 1]]"),
], ids=["shape", "n", "shape-minus-one"])
def test_shapes_folded_in_are_quoted_as_written(make, f, text):
    """The lowering folds per-example shapes in as constants (cuda/host.py); its messages quoted them so:
    `np.ones((4, 4))[a > x]`, `a[a > a[4 - 1]]`. They quote the user's text (anno.FOLDED_FROM)."""
    x, a = np.array([0.5, 0.6, 0.7]), np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    msg = _decline(make, f, (0, 1), (x, a), (0, 0), (x, a) if make is srcdiff.jvp else None)
    line = f.__code__.co_firstlineno + (2 if f is ones_of_n_picked else 1)
    assert text in msg and re.search(rf"test_cuda_messages\.py:{line}: ", msg), msg


def split_parts_summed(x, a):
    s = np.sin(a) + 0.5
    acc = 0.0
    for p in np.array_split(s, 2):
        acc = acc * 0.5 + np.sum(np.sin(p) * p) + x
    return acc


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_a_split_part_is_quoted_as_the_users_call(make):
    """A part of np.array_split(s, 2) of a local array, which srcdiff writes as a slice whose bound is computed
    (`s[:s.shape[0] // 2 + min(1, s.shape[0] % 2)]`): the decline quoted that slice, text the user never wrote (CUDA
    fuzz 1533517). It quotes the user's call and which part (annotations.SPLIT_PART)."""
    x, a = np.array([0.5, 0.6, 0.7]), np.linspace(-1.0, 1.0, 15).reshape(3, 5)
    msg = _decline(make, split_parts_summed, (0, 1), (x, a), (0, 0), (x, a) if make is srcdiff.jvp else None)
    assert "np.array_split(s, 2)" in msg and "shape[0] // 2" not in msg, msg
    assert re.search(rf"test_cuda_messages\.py:{split_parts_summed.__code__.co_firstlineno + 3}: ", msg), msg
