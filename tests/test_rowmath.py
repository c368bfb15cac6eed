"""rt.exp, rt.log and rt.log1p (srcdiff/runtime/rowmath.py: the row-blocked loops' elementary functions, written
inline under Numba) against NumPy's: within 1 ulp over the float range, the same special values, NumPy's own
functions in Python and for arrays."""
import numba
import numpy as np
import pytest

from srcdiff import runtime as rt

RNG = np.random.default_rng(11)
PAIRS = [(rt.exp, np.exp), (rt.log, np.log), (rt.log1p, np.log1p)]
SPECIAL = np.array([np.inf, -np.inf, np.nan, -1.0, -2.0, 0.0, -0.0, 5e-324, 1e-310, -1e-320, 1.0, -1e-300,
                    np.nextafter(-1.0, 0.0), 709.78, 709.79, -745.2, -745.1, 1e300, 2.0 ** -1074])


def _elementwise(f):
    @numba.njit(error_model="numpy")
    def run(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = f(a[i])
        return out
    return run


def _ulps(got, want):
    finite = np.isfinite(want)
    assert (got[~finite] == want[~finite]).all() or np.isnan(want[~finite]).all()
    return (np.abs(got - want)[finite] / np.spacing(np.abs(want[finite]))).max(initial=0.0)


def _arguments(numpy_fn):
    if numpy_fn is np.exp:
        parts = [RNG.uniform(-1, 1, 20000), RNG.uniform(-745, 709, 20000), RNG.uniform(-745.2, -708, 5000)]
    elif numpy_fn is np.log:
        parts = [RNG.uniform(0.5, 2, 20000), np.exp(RNG.uniform(-744, 709, 20000)), RNG.uniform(0, 1e-308, 2000)]
    else:
        parts = [RNG.uniform(-1, 1, 20000), RNG.uniform(-1e-9, 1e-9, 2000), np.exp(RNG.uniform(-744, 709, 20000)),
                 -np.exp(RNG.uniform(-744, 0, 5000))]
    return np.concatenate(parts)


@pytest.mark.parametrize("pair", PAIRS, ids=["exp", "log", "log1p"])
def test_within_one_ulp_of_numpy(pair):
    fn, numpy_fn = pair
    a = _arguments(numpy_fn)
    assert _ulps(_elementwise(fn)(a), numpy_fn(a)) <= 1.0


@pytest.mark.parametrize("pair", PAIRS, ids=["exp", "log", "log1p"])
def test_special_values_as_numpy(pair):
    """inf, NaN, 0 (with log1p's sign of zero), -1, subnormals, overflow and underflow: as NumPy gives them."""
    fn, numpy_fn = pair
    with np.errstate(all="ignore"):
        want = numpy_fn(SPECIAL)
    got = _elementwise(fn)(SPECIAL)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):
        close = np.isfinite(want) & (np.abs(got - want) <= np.spacing(np.abs(want)))
    assert (same | close).all(), list(zip(SPECIAL[~(same | close)], got[~(same | close)], want[~(same | close)]))
    zeros = want == 0.0
    assert (np.signbit(got[zeros]) == np.signbit(want[zeros])).all()


@pytest.mark.parametrize("pair", PAIRS, ids=["exp", "log", "log1p"])
def test_python_arrays_and_other_dtypes_are_numpy(pair):
    """In Python they are NumPy's; under Numba a float32 keeps its dtype, an int is taken as a float, and an
    array goes to NumPy's (Numba's) ufunc."""
    fn, numpy_fn = pair
    a = RNG.uniform(0.1, 3.0, 7)
    np.testing.assert_array_equal(fn(a), numpy_fn(a))
    assert fn(2.5) == numpy_fn(2.5)
    run = numba.njit(lambda v, s, i: (fn(v), fn(s), fn(i)))
    arr, single, integer = run(a, np.float32(1.5), 2)
    np.testing.assert_allclose(arr, numpy_fn(a), rtol=1e-15)
    assert run.nopython_signatures[0].return_type[1] == numba.float32
    assert np.isclose(single, numpy_fn(np.float32(1.5)), rtol=1e-6)
    assert np.isclose(integer, numpy_fn(2.0), rtol=1e-15)
