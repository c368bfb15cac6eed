"""NumPy's views of real arrays that had no rule (h30b): np.real / x.real (x itself), np.imag / x.imag (zeros), x.mT,
np.rot90, np.atleast_3d, np.split / np.array_split (tuples of slices), x.view(), np.ascontiguousarray /
np.asfortranarray (x itself or a copy, by the run-time layout).

Each is a linear, shape-only map; the risk is memory: a write into the base after the view was taken, or into the
view, must be followed as NumPy follows it or declined at the user's line, in reverse and forward mode, under both
backends. The programs below write and read across a view and are checked against central differences (value and
derivative) or a SrcdiffError naming the line."""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

SOURCE = '''
import numpy as np


def rot_write_base(x):
    b = np.outer(x, x)
    r = np.rot90(b)
    b[0, 1] = 3.0 * x[1]
    return np.sum(r * r)


def rot_write_view(x):
    b = np.outer(x, x)
    r = np.rot90(b, 3)
    r[0, 1] = 3.0 * x[1]
    return np.sum(b * np.sin(b))


def rot_after_write(x):
    b = np.outer(x, x)
    b[0, 1] = 3.0 * x[1]
    r = np.rot90(b, 2, axes=(1, 0))
    return np.sum(r * np.arange(9.0).reshape(3, 3))


def split_write_part(x):
    b = x * 2.0
    p, q, r = np.split(b, 3)
    q[0] = p[0] * 5.0
    return np.sum(b * b)


def split_write_base(x):
    b = x * 2.0
    p, q, r = np.array_split(b, 3)
    b[1] = 7.0 * x[0]
    return np.sum(q * q) + np.sum(p)


def split_after_write(x):
    b = x * 2.0
    b[1] = 7.0 * x[0]
    p, q, r = np.array_split(b, [1, 2])
    return np.sum(q * q) + np.sum(p * r)


def mT_write(x):
    b = np.outer(x, x)
    t = b.mT
    t[0, 2] = x[1] * 4.0
    return np.sum(b * b)


def real_write(x):
    b = x * 1.5
    r = b.real
    r[0] = x[2] ** 2
    return np.sum(np.sin(b)) + np.sum(r * b.imag)


def np_real_write_base(x):
    b = x * 1.5
    r = np.real(b)
    b[0] = x[2] ** 2
    return np.sum(np.sin(r))


def view_write_base(x):
    b = x * 1.5
    v = b.view()
    b[2] = x[0] * x[1]
    return np.sum(v * v)


def atleast_3d_write(x):
    b = x * 1.5
    v = np.atleast_3d(b)
    v[0, 1, 0] = x[0] * 3.0
    return np.sum(b * b)


def asfortran_write(x):
    b = np.outer(x, x)
    c = np.asfortranarray(b)
    c[0, 1] = 3.0 * x[1]
    return np.sum(b * c)


def contiguous_of_transpose_write_base(x):
    b = np.outer(x, x)
    t = b.T
    c = np.ascontiguousarray(t)
    b[0, 1] = 3.0 * x[1]
    return np.sum(c * c)


def contiguous_of_f_ordered(M):
    b = M * 1.0
    t = b.T
    c = np.ascontiguousarray(t)
    b[0, 1] = 3.0 * M[1, 0]
    return np.sum(c * c)


def all_of_them(x):
    a, b, c = np.array_split(x * 1.0, 3)
    m = np.outer(x, np.sin(x))
    r = np.rot90(m, -1) + np.rot90(m.mT, 2).real
    s = np.ascontiguousarray(r.T) * np.asfortranarray(m) + np.imag(m)
    return np.sum(s * s) + np.sum(np.atleast_3d(a) * b.view()) + np.sum(np.split(m, 3, axis=1)[2] * c)


def of_list_literals(x):
    a = np.sum(x)
    p, q = np.array_split([a, 2.0 * a, a * a, 1.0], 2)
    return np.sum(np.real([a, a * a]) * p) + np.sum(q * np.imag([a, 1.0])) + np.sum(np.rot90([[a, 1.0], [2.0, a * a]]) * q)


def split_unequal(x):
    p, q = np.split(x, 2)
    return np.sum(p * q)


def split_sections_variable(x, k):
    parts = np.split(x, k)  # <- split_k
    return np.sum(parts[0])


def rot90_k_variable(x, k):
    return np.sum(np.rot90(np.outer(x, x), k))  # <- rot_k


def view_as_ints(x):
    return np.sum(x.view(np.int64) * 1.0)  # <- view_dtype


def split_axis_variable(x, k):
    return np.sum(np.split(np.outer(x, x), 3, axis=k)[0])  # <- split_axis


def split_named_parts(x):
    top, bottom = np.split(x, 2)
    return np.sum(top * np.sin(bottom))


def split_write_one_read_another(x):
    b = x * 2.0
    p, q, r = np.split(b, 3)
    p[0] = q[1] * 3.0
    r[1] = p[0] * q[0]
    return np.sum(q * p) + np.sum(r * r)


def split_write_one_read_another_by_axis(x):
    b = np.outer(x, x)
    p, q = np.split(b, 2, axis=1)
    q[0, 1] = p[1, 0] * 3.0
    return np.sum(p * p) + np.sum(np.sin(q))


def split_loop(x):
    s = 0.0
    for p in np.split(x, 3):
        s = s + np.sum(p * p) * s + np.sum(np.sin(p))
    return s


def split_loop_over_a_name(x):
    parts = np.split(x, [1, 3])
    s = 0.0
    for p in parts:
        s = s * 0.5 + np.sum(np.sin(p)) * np.sum(p)
    return s


def split_loop_zipped(x):
    s = 0.0
    for w, p in zip((1.0, 2.0, 3.0), np.array_split(x, 3)):
        p[0] = w * p[-1]
        s = s + w * np.sum(p * p)
    return s


def split_of_a_transpose(M):
    vb = np.tanh(M) * 1.0
    vc, vr = np.array_split(vb.T, 2, axis=1)
    vc = np.sum(vc * vc)
    vr[0, -1] = 1.5 * M[0, 0]
    return np.sum(np.sin(vr) * vr) * 0.1 + vc * 0.1
'''


@pytest.fixture(scope="module")
def mod():
    return source_module("view_functions_h30b", SOURCE)


X = np.array([0.5, -1.2, 2.0])
V = np.array([0.3, -0.7, 1.1])
EPS = 1e-6


def _fd(f, x, v):
    return (f(x + EPS * v) - f(x - EPS * v)) / (2 * EPS)


# the programs that write across a view and the modes in which each is declined (the rest are checked)
WRITES = {"rot_write_base": "grad", "rot_write_view": "grad", "rot_after_write": "", "split_write_part": "grad",
          "split_write_base": "grad", "split_after_write": "", "mT_write": "grad", "real_write": "",
          "np_real_write_base": "grad jvp", "view_write_base": "grad jvp", "atleast_3d_write": "grad",
          "asfortran_write": "grad jvp", "contiguous_of_transpose_write_base": "grad jvp"}


def _check(f, mode, jit, declined, x=X, v=V):
    ref = _fd(f, x, v)
    try:
        if mode == "grad":
            value, g = srcdiff.value_and_grad(f, jit=jit)(x)
            got = np.sum(g * v)
        else:
            value, got = srcdiff.jvp(f, jit=jit)(x, v)
    except srcdiff.SrcdiffError as e:
        assert declined, f"{f.__name__} {mode}: declined: {e}"
        assert "view_functions_h30b.py:" in str(e) and e.advice, str(e)
        return
    assert not declined, f"{f.__name__} {mode}: differentiated where it should decline"
    np.testing.assert_allclose(value, f(x), rtol=1e-12, err_msg=f"{f.__name__} {mode} value")
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6, err_msg=f"{f.__name__} {mode} derivative")


@pytest.mark.parametrize("name", sorted(WRITES))
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_writes_across_views_follow_numpy_or_decline(mod, name, mode):
    _check(getattr(mod, name), mode, False, mode in WRITES[name].split())


@pytest.mark.parametrize("name", ["rot_write_base", "split_write_base", "contiguous_of_transpose_write_base",
                                  "real_write", "split_after_write"])
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_writes_across_views_follow_numpy_or_decline_numba(mod, name, mode):
    _check(getattr(mod, name), mode, True, mode in WRITES[name].split())


@pytest.mark.parametrize("jit", [False, True])
def test_contiguous_copy_of_a_transpose_does_not_see_a_later_write(mod, jit):
    """np.ascontiguousarray(b.T) is a copy, which NumPy's later write into b does not change. srcdiff wrote it as
    np.asarray (b.T itself): jvp's value 44.98 for f's 32.38, derivative 86.87 for 72.60 (both backends); with an
    F-ordered argument the value was right and the derivative 7.52 for 8.12. Now declined at the write in forward
    mode as in reverse mode (whether it is a copy depends on the run-time layout, of the tangent's too)."""
    _check(mod.contiguous_of_transpose_write_base, "jvp", jit, True)
    M = np.asfortranarray(np.array([[0.5, -1.2, 2.0], [0.3, 0.9, -0.4]]))
    _check(mod.contiguous_of_f_ordered, "jvp", jit, True, M, np.array([[0.3, -0.7, 1.1], [0.2, 0.5, -0.9]]))


@pytest.mark.parametrize("jit", [False, True])
def test_every_view_function_under_every_transform(mod, jit):
    """grad, jvp, hvp and jacobian of a function calling all of them, against central differences."""
    f = mod.all_of_them
    x = np.array([0.5, -1.2, 2.0, 0.7, -0.3, 1.4])
    v = np.array([0.3, -0.7, 1.1, 0.2, 0.5, -0.9])
    _check(f, "grad", jit, False, x, v)
    _check(f, "jvp", jit, False, x, v)
    g = lambda y: srcdiff.grad(f)(y)  # noqa: E731
    hv_ref = (g(x + EPS * v) - g(x - EPS * v)) / (2 * EPS)
    np.testing.assert_allclose(srcdiff.hvp(f, jit=jit)(x, v), hv_ref, rtol=1e-5, atol=1e-5)
    jac = srcdiff.jacobian(f, jit=jit)(x)
    np.testing.assert_allclose(jac @ v, _fd(f, x, v), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_split_into_unequal_parts_raises_as_numpy(mod, jit):
    """np.split(x, 2) of an odd length: NumPy's ValueError, not two parts of different lengths."""
    with pytest.raises(ValueError, match="equal division"):
        mod.split_unequal(X)
    with pytest.raises(ValueError, match="equal division"):
        srcdiff.grad(mod.split_unequal, jit=jit)(X)
    np.testing.assert_allclose(srcdiff.grad(mod.split_unequal, jit=jit)(V[:2]), V[:2][::-1])


@pytest.mark.parametrize("name, args, says, advice", [
    ("split_sections_variable", (X, 3), "np.split: the number of sections must be a positive int literal", "literal"),
    ("rot90_k_variable", (X, 1), "np.rot90: k must be an int literal", "literal"),
    ("view_as_ints", (X,), ".view() with a dtype or type reinterprets", "x.astype"),
    ("split_axis_variable", (X, 0), "np.split: axis= must be an int literal", "axis= as an int literal")])
def test_forms_declined_at_the_line(mod, name, args, says, advice):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(getattr(mod, name), wrt=0)(*args)
    assert says in str(info.value) and advice in info.value.advice, (str(info.value), info.value.advice)
    line = next(i for i, t in enumerate(SOURCE.splitlines(), 1) if t.endswith("# <- " + {
        "split_sections_variable": "split_k", "rot90_k_variable": "rot_k", "view_as_ints": "view_dtype",
        "split_axis_variable": "split_axis"}[name]))
    assert f"view_functions_h30b.py:{line}:" in str(info.value), str(info.value)


def test_list_literals_are_arrays_there(mod):
    """np.real, np.imag, np.rot90 and np.array_split of a list literal take it as the array NumPy makes of it: the
    list was passed through as a list (np.real([a, a * a]) * p: 'a list in a *', declined as a list repetition)."""
    _check(mod.of_list_literals, "grad", False, False)
    _check(mod.of_list_literals, "jvp", False, False)


X6 = np.array([0.5, -1.2, 2.0, 0.7, 0.3, -0.4])
V6 = np.array([0.3, -0.7, 1.1, 0.2, 0.5, -0.9])


@pytest.mark.parametrize("jit", [False, True])
def test_split_parts_keep_the_users_names(mod, jit):
    """`top, bottom = np.split(x, 2)` was generated as top_bottom1 = x.shape, top_bottom2 = top_bottom1[0],
    top_bottom3 = rt.equal_split(top_bottom2, 2), top_bottom4 = x[:top_bottom3], top_bottom8 = x[top_bottom3:], then
    read as top_bottom4 and top_bottom8 (next to d_top and d_bottom). Now the parts are `top` and `bottom`, the
    part length one call."""
    _check(mod.split_named_parts, "grad", jit, False, X6, V6)
    for g, args in ((srcdiff.grad(mod.split_named_parts, jit=jit), (X6,)),
                    (srcdiff.jvp(mod.split_named_parts, jit=jit), (X6, V6))):
        g(*args)
        text = srcdiff.source(g)
        assert "top_bottom" not in text and "check_unpack" not in text, text
        body = [line.strip() for line in text.splitlines()]
        assert "top = x[:top1]" in body and "bottom = x[top1:]" in body and "top1 = rt.equal_split(x, 2)" in body, text
        assert "np.sin(bottom)" in text and ".shape" not in text, text


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("name", ["split_write_one_read_another", "split_write_one_read_another_by_axis",
                                  "split_loop", "split_loop_over_a_name", "split_loop_zipped"])
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_split_parts_written_and_looped_over(mod, name, mode, jit):
    """np.split's parts are views of x that share no memory with each other: a write into one, then a read of another,
    was declined ('`q` shares memory with `p`, which this assignment writes in place'), and so was `for p in
    np.split(x, 3)` in reverse mode ('a tuple of differentiated values is indexed by a variable'). The parts of one
    call are apart for the views' check (annotations.SPLIT_PART), and a loop over them (or a name bound to them) is
    unrolled, as a loop over a tuple literal is."""
    _check(getattr(mod, name), mode, jit, False, X6, V6)


@pytest.mark.parametrize("jit", [False, True])
def test_split_of_an_expression_computes_it_and_its_bounds_once(mod, jit):
    """`vc, vr = np.array_split(vb.T, 2, axis=1)`: each part recomputed np.transpose(vb) three times (six in all) and
    the bound twice under two names (vc12, vr12), so that reverse over the gradient, which reads that code, could not
    see that the parts are apart and declined ('`vc57` shares memory with `vr56`', fuzz --nested 1401010). Now the
    transpose is computed once, the bound once, and the parts are slices of the one transpose at the one bound; reverse
    over the gradient matches central differences of the gradient's norm."""
    f = mod.split_of_a_transpose
    M = np.array([[0.5, -1.2, 2.0], [0.3, 0.9, -0.4]])
    g = srcdiff.grad(f, jit=jit)
    g(M)
    body = [line.strip() for line in srcdiff.source(g).splitlines()]
    assert sum("np.transpose(vb)" in line for line in body) == 1, body
    assert "vc1 = np.transpose(vb)" in body and "vc = vc1[:, :vc2]" in body and "vr = vc1[:, vc2:]" in body, body
    assert sum(line.startswith("vc2 = ") for line in body) == 1, body

    def h(M):
        d = srcdiff.grad(f)(M)
        return np.sum(d * d)
    got = srcdiff.grad(h, jit=jit)(M)
    ref = np.zeros_like(M)
    for i in np.ndindex(M.shape):
        e = np.zeros_like(M)
        e[i] = EPS
        ref[i] = (h(M + e) - h(M - e)) / (2 * EPS)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)
