"""Programs Python or NumPy rejects, which srcdiff must reject too (raising the same error, or a SrcdiffError at the
user's line): a gradient of a function that raises is a wrong answer. And the forms next to them that NumPy takes.

Each check runs the function first (the reference), then grad, value_and_grad and jvp on both backends."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad, source_module

SOURCE = '''
import numpy as np


def rows_of_matrix(M):
    r0, r1 = M
    return np.sum(r0 * np.sin(r1))


def rows_in_a_loop(P):
    s = 0.0
    for a, b in P:
        s = s + a * np.sin(b)
    return s


def rows_enumerated(P):
    s = 0.0
    for i, (a, b) in enumerate(P):
        s = s + a * b * (i + 1.0)
    return s


def pair(x):
    return x * x, np.cos(x)


def tuple_of_a_helper(x):
    a, b = pair(x)
    return np.sum(a + b * a)


def tuple_made_here(x):
    t = (x * 2.0, np.sin(x))
    a, b = t
    return np.sum(a * b)


def shape_unpacked(M):
    n, m = M.shape
    return np.sum(M * M) * n + m


def imag_named(x):
    b = x * 1.5
    im = b.imag
    im[0] = 2.0 * x[1]  # <- imag_named
    return np.sum(b * b) + np.sum(im)


def np_imag_named(x):
    b = x * 1.5
    im = np.imag(b)
    v = im[1:]
    v[1] += x[0]  # <- np_imag_named
    return np.sum(im * b)


def imag_written_whole(x):
    b = x * 1.5
    im = b.imag
    im += x  # <- imag_written_whole
    return np.sum(im)


def imag_attribute_written(x):
    b = x * 1.5
    b.imag[0] = 2.0  # <- imag_attribute_written
    return np.sum(b * b)


def imag_of_a_number(x):
    s = np.sum(x * x)
    im = s.imag
    im += s
    return im * s


def split_list_in_sections(x):
    a = np.sum(x)
    p, q = np.split([a, 2.0 * a], 2)  # <- split_list_in_sections
    return np.sum(p * q)


def split_list_at_indices(x):
    a = np.sum(x * x)
    p, q = np.split([a, 2.0 * a, np.sin(a)], [1])
    return np.sum(p) * np.sum(q * q)


def split_named_list_in_sections(x):
    a = np.sum(x)
    terms = [a, 2.0 * a, a * a, 1.0]
    p, q = np.split(terms, 2)  # <- split_named_list_in_sections
    return np.sum(p * q)


def array_split_named_list(x):
    a = np.sum(x * x)
    terms = [a, 2.0 * a, np.sin(a), 1.0]
    p, q = np.array_split(terms, 2)
    return np.sum(p * q) + np.sum(np.rot90(np.reshape(terms, (2, 2))) * 2.0)


def tuple_times_a_float(x):
    a = np.sum(x * x)
    terms = (a, 2.0 * a, np.sin(a))
    return np.sum(terms * 3.0)  # <- tuple_times_a_float


def split_named_tuple_at_indices(x):
    a = np.sum(x * x)
    terms = (a, 2.0 * a, np.sin(a))
    p, q = np.split(terms, [1])
    return np.sum(p * 3.0) * np.sum(q * q)


def rot_by_4(v):
    return np.sum(np.rot90(v, 4) * np.sin(v))


def rot_by_0_and_2(m):
    return np.sum(np.rot90(m, 0) * np.rot90(m, 2, axes=(1, 0)) * m)


def rot_axes_alike(v):
    m = np.outer(v, v)
    return np.sum(np.rot90(m, 1, axes=(0, -2)) * m)


def rot_vector_by_2(v):
    return np.sum(np.rot90(v, 2) * v)


def rot_axes_out_of_range(v):
    m = np.outer(v, v)[None]
    return np.sum(np.rot90(m, 3, axes=(0, -4)) * m)


def rot_axes_negative(v):
    m = np.outer(v, np.sin(v))[None]
    return np.sum(np.rot90(m, 1, axes=(-1, 0)) * np.rot90(m, 2, axes=(2, -2)) * np.rot90(m, 3, axes=(-3, 2)))


def flip_vector_axis_1(v):
    return np.sum(np.flip(v, 1) * v)  # <- flip_vector_axis_1


def flip_vector_axis_minus_2(v):
    return np.sum(np.flip(v, -2) * v)  # <- flip_vector_axis_minus_2


def roll_vector_axis_1(v):
    return np.sum(np.roll(v, 1, axis=1) * v)  # <- roll_vector_axis_1


def roll_vector_axes(v):
    return np.sum(np.roll(v, (1, 2), axis=(0, 1)) * v)  # <- roll_vector_axes


def fliplr_vector(v):
    return np.sum(np.fliplr(v) * v)  # <- fliplr_vector


def flipud_number(v):
    a = np.sum(v * v)
    return np.sum(np.flipud(a) * a)  # <- flipud_number


def concatenate_vectors_axis_1(v):
    return np.sum(np.concatenate((v, v), axis=1) * 2.0)  # <- concatenate_vectors_axis_1


def stack_vectors_axis_2(v):
    return np.sum(np.stack((v, np.sin(v)), axis=2) * 2.0)  # <- stack_vectors_axis_2


def flips_and_rolls_of_a_matrix(v):
    m = np.outer(v, np.sin(v))
    return (np.sum(np.flip(m, 1) * np.roll(m, 1, axis=-1) * np.fliplr(m) * np.flipud(m) * np.flip(m, -2))
            + np.sum(np.roll(m, (1, -1), axis=(0, 1)) * m))


def split_vector_axis_1(v):
    y = np.sin(v)
    parts = np.split(y, 2, axis=1)  # <- split_vector_axis_1
    return np.sum(parts[0])


def array_split_vector_axis_1(v):
    y = np.sin(v)
    parts = np.array_split(y, 3, axis=1)  # <- array_split_vector_axis_1
    return np.sum(parts[0] * y[0])


def split_vector_at_indices_axis_1(v):
    parts = np.split(v * 2.0, [1, 3], axis=1)  # <- split_vector_at_indices_axis_1
    return np.sum(parts[1])


def shape_item_past_the_rank(v):
    n = v.shape[1]  # <- shape_item_past_the_rank
    return np.sum(v * v) * n


def sum_along_an_axis_given(v, k):
    return np.sum(np.sum(v * v, axis=k) * 2.0)  # <- sum_along_an_axis_given


def tuple_item_assigned(v):
    t = (v[0] * 2.0, np.sin(v[1]))
    t[0] = v[2]  # <- tuple_item_assigned
    return t[0] * t[1]


def tuple_item_added_to(v):
    t = (v[0] * 2.0, np.sin(v[1]))
    t[1] += v[2]  # <- tuple_item_added_to
    return t[0] * t[1]


def unused_column_of_a_vector(v):
    a = v[:, 0]  # <- unused_column_of_a_vector
    return np.sum(v * v)


def unused_shape_item(v):
    n = v.shape[1]  # <- unused_shape_item
    return np.sum(v * v)


def column_in_a_branch_not_taken(v, c):
    s = np.sum(v * v)
    if c > 0.0:
        s = s + np.sum(v[:, 0]) * v.shape[1]
    return s


def flip_in_a_branch_of_the_rank(v):
    if v.ndim == 2:
        return np.sum(np.flip(v, 1) * np.roll(v, 1, axis=1) * np.fliplr(v))
    return np.sum(v * np.sin(v))


def flip_in_a_branch_not_taken(v, c):
    s = np.sum(v * v)
    if c > 0.0:
        s = s + np.sum(np.flip(v, 1) * v) + np.sum(np.rot90(v, 2))  # <- flip_in_a_branch_not_taken
    return s
'''


@pytest.fixture(scope="module")
def mod():
    return source_module("python_errors_h31", SOURCE)


X = np.array([0.5, -1.2, 2.0, 0.7])
P = np.array([[0.5, -1.2], [2.0, 0.7], [0.3, 0.9]])


def _raises_as_python(f, bad, jit):
    """f(bad) raises ValueError; so do grad, value_and_grad and jvp of f, with Python's message."""
    with pytest.raises(ValueError) as ref:
        f(bad)
    for transform, args in ((srcdiff.grad, (bad,)), (srcdiff.value_and_grad, (bad,)), (srcdiff.jvp, (bad, bad))):
        with pytest.raises(ValueError) as got:
            transform(f, jit=jit)(*args)
        assert str(ref.value) in str(got.value), (transform.__name__, str(got.value))


def _checked(f, x, jit):
    value, g = srcdiff.value_and_grad(f, jit=jit)(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(g, numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-7)
    v = np.linspace(0.3, -0.4, x.size).reshape(x.shape)
    _, tangent = srcdiff.jvp(f, jit=jit)(x, v)
    np.testing.assert_allclose(tangent, np.sum(g * v), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name, good, bad", [
    ("rows_of_matrix", P[:2], P),           # too many values to unpack (expected 2)
    ("rows_of_matrix", P[:2], P[:1]),       # not enough values to unpack (expected 2, got 1)
    ("rows_in_a_loop", P, np.ones((3, 3))),
    ("rows_enumerated", P, np.ones((2, 1)))])
def test_unpacking_an_array_checks_its_length(mod, name, good, bad, jit):
    """`r0, r1 = M` of an M of 3 rows raises ValueError in Python; srcdiff read M[0] and M[1] and returned a gradient
    ([[0.7, 1.0], [0.1, 0.4], [0, 0]] for rows_of_matrix's, both backends, grad and jvp alike). Now Python's check
    runs before the reads (rt.check_unpack), in loops over rows too."""
    f = getattr(mod, name)
    _checked(f, good, jit)
    _raises_as_python(f, bad, jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["tuple_of_a_helper", "tuple_made_here"])
def test_unpacking_a_tuple_of_known_length_has_no_check(mod, name, jit):
    """A tuple's length is known when generating: no check is left in the generated code, in either mode."""
    f = getattr(mod, name)
    _checked(f, X, jit)
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.jvp, (X, X))):
        g = transform(f)
        g(*args)
        assert "check_unpack" not in srcdiff.source(g), srcdiff.source(g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["imag_named", "np_imag_named", "imag_written_whole", "imag_attribute_written"])
def test_a_write_into_the_imaginary_part_of_a_real_array_is_declined(mod, name, jit):
    """NumPy's x.imag (np.imag(x)) of a real array is read-only: a write into it, a slice of it or `im += v` raises
    ValueError. srcdiff's zeros took the write: grad [2.25, -3.4, 9.0, 3.15] of imag_named, jvp 25.41, where f
    raises. Now a SrcdiffError at the line of the write (b.imag[0] = ... had the advice to bind a name first)."""
    f = getattr(mod, name)
    with pytest.raises(ValueError, match="read-only"):
        f(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- " + name))
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.jvp, (X, X))):
        with pytest.raises(srcdiff.SrcdiffError) as info:
            transform(f, jit=jit)(*args)
        assert f"python_errors_h31.py:{line}:" in str(info.value) and "read-only" in str(info.value), str(info.value)
        assert "np.zeros_like" in info.value.advice


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["imag_of_a_number", "split_list_at_indices"])
def test_the_forms_numpy_takes_next_to_them(mod, name, jit):
    """`.imag` of a number is a number (`im += s` binds it again); np.split of a list at literal indices works."""
    _checked(getattr(mod, name), X, jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_split_of_a_list_into_sections_is_declined_as_numpy_raises(mod, jit):
    """np.split([a, 2a], 2): NumPy reads the list's .shape (AttributeError); srcdiff returned [8, 8, 8, 8]."""
    with pytest.raises(AttributeError):
        mod.split_list_in_sections(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- split_list_in_sections"))
    with pytest.raises(srcdiff.SrcdiffError, match=f"python_errors_h31.py:{line}: np.split of a list") as info:
        srcdiff.grad(mod.split_list_in_sections, jit=jit)(X)
    assert "np.array_split" in info.value.advice


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_rot90_checks_the_rank_for_every_k(mod, jit):
    """np.rot90(v, 4) of a vector raises ValueError ('Axes must be different.'); srcdiff wrote k % 4 == 0 as v[:] and
    returned v's gradient ([1.0, -2.4, 4.0, 1.4] for rot90(x, 0) * x). Now the axes are swapped and swapped back,
    whose check raises NumPy's AxisError (a ValueError); of a matrix the value and derivatives are m's."""
    with pytest.raises(ValueError):
        mod.rot_by_4(X)
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.value_and_grad, (X,)), (srcdiff.jvp, (X, X))):
        with pytest.raises(ValueError):
            transform(mod.rot_by_4, jit=jit)(*args)
    _checked(mod.rot_by_0_and_2, np.outer(X, X[::-1]) + np.eye(4), jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_split_of_a_name_bound_to_a_list(mod, jit):
    """`terms = [a, 2a, a * a, 1.0]`: np.split(terms, 2) raises AttributeError in NumPy (as of the list literal), and
    was declined as 'list arithmetic' at the next line (`p * q` of the list's slices); now at the split's line, saying
    what to write. np.array_split(terms, 2) and np.split(terms, [1]), which NumPy takes (arrays of the list), were
    declined the same way ('list arithmetic'): now the array NumPy makes of the list."""
    with pytest.raises(AttributeError):
        mod.split_named_list_in_sections(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- split_named_list_in_sections"))
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.jvp, (X, X))):
        with pytest.raises(srcdiff.SrcdiffError, match=f"python_errors_h31.py:{line}: np.split of `terms`") as info:
            transform(mod.split_named_list_in_sections, jit=jit)(*args)
        assert "np.split(np.array(terms), n)" in info.value.advice and "np.array_split(terms, n)" in info.value.advice
    _checked(mod.array_split_named_list, X, jit)
    _checked(mod.split_named_tuple_at_indices, X, jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_tuple_times_a_float_is_declined_as_python_raises(mod, jit):
    """`terms * 3.0` of a tuple: Python's TypeError; srcdiff crashed ("AttributeError: 'Constant' object has no
    attribute 'id'", the array literals pass naming the array after the float), as did `p * 2.0` of a part of
    np.split(terms, [1]) (its kind a tuple's, of the round before). Now declined as list arithmetic, at the line, in
    reverse mode; forward mode's runs into Python's TypeError (Numba: cannot compile `*` of a tuple), at the line."""
    with pytest.raises(TypeError):
        mod.tuple_times_a_float(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- tuple_times_a_float"))
    for transform in (srcdiff.grad, srcdiff.value_and_grad):
        with pytest.raises(srcdiff.SrcdiffError, match=f"python_errors_h31.py:{line}: .*list arithmetic"):
            transform(mod.tuple_times_a_float, jit=jit)(X)
    with pytest.raises((TypeError, srcdiff.SrcdiffError), match=f"python_errors_h31.py:{line}: ") as info:
        srcdiff.jvp(mod.tuple_times_a_float, jit=jit)(X, X)
    assert "sequence" in str(info.value) if not jit else "mul" in str(info.value), str(info.value)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["rot_axes_alike", "rot_vector_by_2", "rot_axes_out_of_range"])
def test_rot90_checks_its_axes_as_numpy(mod, name, jit):
    """np.rot90(m, 1, axes=(0, -2)) of a matrix raises ValueError ('Axes must be different.': one axis once
    normalised); srcdiff gave value 19.57 and gradient [26.2, -21.9, 19.45] (both backends, jvp 1.53 too).
    np.rot90(v, 2) of a vector raised IndexError (Numba: 'could not compile') where NumPy raises ValueError. Now
    NumPy's check of the axes against m's rank (rt.rot90_axis, decided when generating where the kinds give the
    rank): its ValueError and message, at the line; valid negative axes keep their values and derivatives."""
    _raises_as_python(getattr(mod, name), X, jit)
    _checked(mod.rot_axes_negative, X, jit)
    g = srcdiff.grad(mod.rot_axes_negative, jit=jit)
    g(X)
    assert "rot90_axis" not in srcdiff.source(g), srcdiff.source(g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_unpacking_a_shape_checks_the_rank(mod, jit):
    """`n, m = M.shape`: no check where the kinds give M's rank (2), Python's ValueError for a rank-3 M."""
    M = np.array([[0.5, -1.2, 2.0], [0.7, 0.3, -0.4]])
    _checked(mod.shape_unpacked, M, jit)
    for transform, args in ((srcdiff.grad, (M,)), (srcdiff.jvp, (M, M))):
        g = transform(mod.shape_unpacked, jit=jit)
        g(*args)
        assert "check_unpack" not in srcdiff.source(g), srcdiff.source(g)
    _raises_as_python(mod.shape_unpacked, np.ones((2, 2, 2)), jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["flip_vector_axis_1", "flip_vector_axis_minus_2", "roll_vector_axis_1",
                                  "roll_vector_axes", "fliplr_vector", "flipud_number", "concatenate_vectors_axis_1",
                                  "stack_vectors_axis_2"])
def test_flips_and_rolls_check_their_axes_as_numpy(mod, name, jit):
    """np.flip(v, 1) / np.roll(v, 1, axis=1) of a vector raise numpy.exceptions.AxisError (a ValueError and an
    IndexError), np.fliplr of a vector and np.flipud of a number ValueError('Input must be >= 2-d.' / '>= 1-d.');
    srcdiff raised IndexError ('too many indices', 'tuple index out of range') under Python and "Numba could not
    compile" under jit, as for np.concatenate((v, v), axis=1) (np.stack((v, v), axis=2): an IndexError at the def
    line). Now NumPy's check of the axis (rt.check_axis, rt.check_rank; the joins'), decided when generating where
    the kinds give the rank: NumPy's exception type and message, at the user's line; a matrix's flips and rolls keep
    their values and derivatives, with no check left in the generated code."""
    f = getattr(mod, name)
    with pytest.raises(ValueError) as ref:
        f(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith(f"# <- {name}"))
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.value_and_grad, (X,)), (srcdiff.jvp, (X, X))):
        with pytest.raises(type(ref.value), match=f"python_errors_h31.py:{line}: ") as got:
            transform(f, jit=jit)(*args)
        assert isinstance(got.value, srcdiff.SrcdiffError), repr(got.value)
        assert str(ref.value) in str(got.value), (transform.__name__, str(got.value))
    _checked(mod.flips_and_rolls_of_a_matrix, X, jit)
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.jvp, (X, X))):
        g = transform(mod.flips_and_rolls_of_a_matrix, jit=jit)
        g(*args)
        assert "check_axis" not in srcdiff.source(g) and "check_rank" not in srcdiff.source(g), srcdiff.source(g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["split_vector_axis_1", "array_split_vector_axis_1", "split_vector_at_indices_axis_1",
                                  "shape_item_past_the_rank"])
def test_an_axis_a_vector_lacks_raises_numpys_error_under_numba_too(mod, name, jit):
    """np.split(v, 2, axis=1) / np.array_split(v, 3, axis=1) of a vector, and v.shape[1]: NumPy raises IndexError
    ('tuple index out of range'); under jit=True srcdiff said "Numba could not compile the generated code" (the
    Python backend gave the IndexError at the line). Now a compile failure where the same module run as Python fails
    on the arguments reports that failure, as the Python backend does: NumPy's exception type, at the user's line."""
    for message in _raises_index_error_at_its_line(mod, name, jit, pythons_message=False):
        assert "could not compile" not in message, message


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_check_of_the_rank_in_a_branch_raises_only_where_the_branch_runs(mod, jit):
    """np.flip(v, 1) of a vector in a branch that does not run: f runs, and so must its gradient. The checks of an
    axis against the rank the kinds give (np.flip, np.roll, np.fliplr, np.rot90) raised NumPy's error when
    generating wherever the call was: `if v.ndim == 2:` around them, and `if c > 0.0:` with c = -1, declined a
    function f runs ("AxisError: axis 1 is out of bounds", both backends). Now raised when generating only for a
    statement not in a branch or loop; elsewhere the check runs where the line runs."""
    _checked(mod.flip_in_a_branch_of_the_rank, X, jit)
    f = mod.flip_in_a_branch_not_taken
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- flip_in_a_branch_not_taken"))
    with pytest.raises(np.exceptions.AxisError):
        f(X, 1.0)
    with pytest.raises(np.exceptions.AxisError, match=f"python_errors_h31.py:{line}: "):
        srcdiff.grad(f, jit=jit)(X, 1.0)
    if not jit:     # (Numba types the branch that does not run too: it cannot compile it, and says so at the line)
        np.testing.assert_allclose(srcdiff.grad(f)(X, -1.0), 2.0 * X, rtol=1e-12)
        np.testing.assert_allclose(srcdiff.jvp(f, wrt=0)(X, -1.0, X)[1], 2.0 * np.sum(X * X), rtol=1e-12)
        return
    with pytest.raises(srcdiff.SrcdiffError, match=f"python_errors_h31.py:{line}: Numba could not compile"):
        srcdiff.grad(f, jit=jit)(X, -1.0)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_narrower_error_in_python_is_reported_at_the_users_line(mod, jit):
    """np.sum(v * v, axis=k) of a vector with k = 1 (an argument): NumPy raises AxisError. Under jit the compiled code
    raises ValueError('axis is out of bounds'), and its Python rerun AxisError, a narrower type, which the report
    did not take as the same failure: "ValueError" at the def line. Now Python's AxisError and message at the line."""
    f = mod.sum_along_an_axis_given
    with pytest.raises(np.exceptions.AxisError) as ref:
        f(X, 1)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- sum_along_an_axis_given"))
    for transform, args in ((srcdiff.grad, (X, 1)), (srcdiff.value_and_grad, (X, 1)), (srcdiff.jvp, (X, 1, X))):
        with pytest.raises(np.exceptions.AxisError, match=f"python_errors_h31.py:{line}: ") as got:
            transform(f, wrt=0, jit=jit)(*args)
        assert isinstance(got.value, srcdiff.SrcdiffError), repr(got.value)
        assert str(ref.value) in str(got.value), str(got.value)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["tuple_item_assigned", "tuple_item_added_to"])
def test_an_item_of_a_tuple_assigned_raises_as_python(mod, name, jit):
    """`t[0] = v` of a tuple t: Python raises TypeError. grad and value_and_grad crashed inside srcdiff (AttributeError:
    'Tuple' object has no attribute 'id', in the activity pass: the write went into the tuple rebuilt from its items);
    now a TypeError (a SrcdiffError) at the line, as jvp gave."""
    f = getattr(mod, name)
    with pytest.raises(TypeError) as ref:
        f(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith(f"# <- {name}"))
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.value_and_grad, (X,)), (srcdiff.jvp, (X, X)),
                            (srcdiff.hvp, (X, X))):
        with pytest.raises(TypeError, match=f"python_errors_h31.py:{line}: ") as got:
            transform(f, jit=jit)(*args)
        assert isinstance(got.value, srcdiff.SrcdiffError), repr(got.value)
        assert str(ref.value) in str(got.value), str(got.value)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["unused_column_of_a_vector", "unused_shape_item"])
def test_an_index_past_the_rank_raises_where_its_value_is_not_needed(mod, name, jit):
    """`a = v[:, 0]` of a vector (NumPy: IndexError, too many indices) or `n = v.shape[1]` (tuple index out of range),
    whose value nothing reads: the dead-code pass dropped the statement, and grad returned d/dx [1, -2.4, 4, 1.4] of a
    function that raises (both backends; jvp too). Now Python's IndexError at the line, decided when generating where
    the kinds give the rank and the statement surely runs; in a branch not taken, the gradient."""
    _raises_index_error_at_its_line(mod, name, jit)
    if not jit:     # (Numba types the branch not taken too, and cannot compile v[:, 0] of a vector)
        np.testing.assert_allclose(srcdiff.grad(mod.column_in_a_branch_not_taken)(X, -1.0), 2.0 * X, rtol=1e-12)


def _raises_index_error_at_its_line(mod, name, jit, pythons_message=True):
    """f raises IndexError at X; grad, value_and_grad and jvp raise it too, as a SrcdiffError at the line marked
    `# <- name` in SOURCE (with Python's message where pythons_message). Returns the messages."""
    f = getattr(mod, name)
    with pytest.raises(IndexError) as ref:
        f(X)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith(f"# <- {name}"))
    messages = []
    for transform, args in ((srcdiff.grad, (X,)), (srcdiff.value_and_grad, (X,)), (srcdiff.jvp, (X, X))):
        with pytest.raises(IndexError, match=f"python_errors_h31.py:{line}: ") as got:
            transform(f, jit=jit)(*args)
        assert isinstance(got.value, srcdiff.SrcdiffError), repr(got.value)
        assert not pythons_message or str(ref.value) in str(got.value), str(got.value)
        messages.append(str(got.value))
    return messages
