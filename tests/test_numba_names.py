"""srcdiff/numba_names.py: the function handed to numba.njit has its locals renamed where Numba's temporaries
(`$<local><offset>.<k>`) would collide; a collision left Numba's assignment simplifier reading a temporary it had
dropped ('Type of variable ... cannot be determined', fuzz seed 916068 under jvp)."""
import importlib.util

import numba
import numpy as np
import pytest

import srcdiff
from gradcheck import exported, numerical_grad
from srcdiff.numba_names import ambiguous_names, unambiguous


def padded_cubic(a, n):
    """(a*a + a + n) * (a + 1), laid out so that (on CPython 3.11) the load of `b` after the loop makes the
    temporary `$b170.<k>` that the load of `b1` at offset 70 makes too (found by searching paddings)."""
    u0 = a
    u1 = a
    u2 = a
    u3 = a
    u4 = a
    u5 = a
    u6 = a
    u7 = a
    b1 = a + 1.0
    c = b1 * a
    for i in range(n):
        c = c + 1.0
    v0 = c
    v1 = c
    v2 = c
    v3 = c
    v4 = c
    v5 = c
    v6 = c
    v7 = c
    v8 = c
    v9 = c
    b = c
    return b * a + c


srcdiff.adjoint(padded_cubic, vjp=("g * ((2.0 * a + 1.0) * (a + 1.0) + a * a + a + n)", None),
                jvp="da * ((2.0 * a + 1.0) * (a + 1.0) + a * a + a + n)")


def calls_padded_cubic(x):
    return padded_cubic(x, 3) * np.sin(x)


def plain(a, n):
    return a * n


def test_a_local_whose_temporary_collides_is_renamed_in_the_copy_numba_compiles():
    if "b1" not in ambiguous_names(padded_cubic.__code__):
        pytest.skip("this Python lays padded_cubic's bytecode out at other offsets")
    renamed = unambiguous(padded_cubic)
    assert "b1_" in renamed.__code__.co_varnames and "b1" not in renamed.__code__.co_varnames
    assert renamed.__code__.co_code == padded_cubic.__code__.co_code and renamed.__name__ == "padded_cubic"
    assert numba.njit(renamed)(0.5, 3) == padded_cubic(0.5, 3)
    assert unambiguous(plain) is plain


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_rule_function_numba_would_misread_compiles(jit):
    """A rule registered with srcdiff.adjoint is compiled with numba.njit by srcdiff under jit=True: padded_cubic
    as written failed in Numba's front end."""
    want = numerical_grad(calls_padded_cubic, [0.5], 0)
    assert srcdiff.grad(calls_padded_cubic, jit=jit)(0.5) == pytest.approx(want, rel=1e-7)
    value, dot = srcdiff.jvp(calls_padded_cubic, jit=jit)(0.5, 2.0)
    assert value == pytest.approx(calls_padded_cubic(0.5)) and dot == pytest.approx(2.0 * want, rel=1e-7)


def lambda_in_a_loop(x, n):
    g = lambda u: np.sin(u) * x[0]
    s = 0.0
    for i in range(n):
        s = s + g(x[i % 3] * s + 0.2)
    return s


def penalty_of_a_jitted_gradient(x, n):
    g = srcdiff.grad(lambda_in_a_loop, wrt=0, jit=True)(x, n)
    return 0.5 * np.sum(g * g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_jitted_gradient_with_renamed_locals_is_differentiated_again(jit):
    """The gradient of lambda_in_a_loop has locals Numba's temporaries confuse (`s1` and `s` loaded at offset
    1..: renamed `s1_` in the copy numba.njit compiles). Differentiated again (a penalty calling the jitted
    gradient), that copy was parsed: its code is not its file's, and srcdiff declined 'the source of f_grad ...
    no longer matches the function object (the file was edited ...)'. It reads the function of the file."""
    x = np.array([0.5, 1.2, 0.7])
    if not ambiguous_names(srcdiff.grad(lambda_in_a_loop, wrt=0).specialise().function.__code__):
        pytest.skip("this Python lays the gradient's bytecode out at offsets where no local is renamed")
    got = srcdiff.grad(penalty_of_a_jitted_gradient, wrt=0, jit=jit)(x, 4)
    np.testing.assert_allclose(got, numerical_grad(penalty_of_a_jitted_gradient, [x, 4], 0), rtol=1e-5, atol=1e-7)


def sum_until(x, n):
    """Its gradient loads `s1` at an offset that runs into the one of a load of `s` (CPython 3.11): `$s1<k>`."""
    s = 0.0
    i = 0
    while i < n:
        s = s + np.sin(x[i % 3]) * x[(i + 1) % 3]
        if s > 5.0:
            break
        i += 1
    return s


def scalar_chain(x, a):
    """Its CUDA gradient's device function loads `b1` at offset 12 and `b` at 112 (CPython 3.11): `$b112`."""
    b1 = x + 1.0
    c = b1 * x
    c = c * a + 1.0
    c = c * a + 2.0
    c = c * a + 3.0
    b = c * 2.0
    return b * x + c


def functions_of(source: str) -> dict:
    code = compile(source, "generated", "exec")
    return {c.co_name: c for c in code.co_consts if hasattr(c, "co_varnames")}


def test_an_exported_module_renames_as_srcdiff_does(tmp_path):
    """srcdiff.export writes `@numba.njit` into the module's text: Numba compiled the generated functions as they
    are there, colliding temporaries and all. The module now carries the renaming (its runtime copy's
    numba_names.py, standard library only) and applies it under each numba.njit."""
    g = srcdiff.grad(sum_until, wrt=0, jit=False)
    x = np.array([0.3, -0.2, 0.5])
    want = g(x, 4)
    if not ambiguous_names(functions_of(srcdiff.source(g))["sum_until_grad"]):
        pytest.skip("this Python lays the gradient's bytecode out at other offsets")
    mod, text = exported(g, tmp_path, "sum_until_grad", jit=True)
    assert "@numba.njit(cache=True, error_model=\"numpy\")\n@unambiguous\ndef sum_until_grad(" in text
    assert not ambiguous_names(mod.sum_until_grad.py_func.__code__)
    np.testing.assert_allclose(mod.sum_until_grad(x, 4), want, rtol=1e-14)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_cuda_functions_are_renamed_as_njit_ones(monkeypatch):
    """numba-cuda names its temporaries as Numba does; the kernel and device functions srcdiff.cuda compiles are
    copies with colliding locals renamed, as the functions srcdiff hands numba.njit."""
    from numba import cuda
    k = srcdiff.cuda.vmap(srcdiff.grad(scalar_chain, wrt=0), in_axes=(0, None))
    x = np.linspace(0.1, 0.4, 4)
    compiled = []
    plain = cuda.compile_ptx
    monkeypatch.setattr(cuda, "compile_ptx", lambda fn, sig, **kw: (compiled.append(fn), plain(fn, sig, **kw))[1])
    assert ".target sm_90" in k.ptx(x, 0.5, cc=(9, 0))
    if not ambiguous_names(functions_of(srcdiff.source(k))["scalar_chain_grad_dev"]):
        pytest.skip("this Python lays the device function's bytecode out at other offsets")
    kernel = compiled[0]
    device = kernel.__globals__["scalar_chain_grad_dev"].py_func
    assert not ambiguous_names(kernel.__code__) and not ambiguous_names(device.__code__)
    assert "b1_" in device.__code__.co_varnames
