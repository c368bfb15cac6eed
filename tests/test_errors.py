"""Error catalogue: every construct srcdiff declines raises SrcdiffError at the user's file:line
with advice -- never an internal exception (AttributeError, KeyError, numba TypingError, ...).

Each sample function marks the line the error should point at with a `# <- tag` comment.
"""
import functools
import importlib.util
import inspect
import re
import math  # noqa: F401
import warnings

import numpy as np
import pytest
import scipy.integrate

import srcdiff
from gradcheck import check_grad, numerical_grad

G = 1.0
CONFIG = {"lam": 0.5, "mu": 0.1}


def line_of(tag: str) -> int:
    with open(__file__) as fh:
        hits = [i for i, l in enumerate(fh, 1) if l.rstrip().endswith(f"# <- {tag}")]
    assert len(hits) == 1, tag
    return hits[0]


def where(tag: str) -> str:
    return f"{__file__}:{line_of(tag)}"


# ---- samples ---------------------------------------------------------------------------------
def uses_try(x):
    try:  # <- try
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_with(x):
    with np.errstate(all="ignore"):  # <- with
        y = x * 2.0
    return y


def uses_yield(x):
    yield x * 2.0  # <- yield


def uses_global(x):
    global G  # <- global
    G = x
    return x * 2.0


def uses_nonlocal(x):
    s = x

    def inner(y):
        nonlocal s  # <- nonlocal
        s = s + y
        return s
    return inner(x)


def uses_class(x):
    class C:  # <- class
        pass
    return x * 2.0


class Model:
    def method(self, x):  # <- method
        return x * 2.0


def draws_noise(x):
    return x * np.random.normal()  # <- npdraw


def draws_from_generator(x, rng):
    return x * rng.normal()  # <- rngdraw


def makes_a_generator(x):
    eps = np.random.default_rng(0).normal(size=3)  # <- mkrng
    return np.sum(x * eps)


def where_of_the_condition_alone(x):
    return np.sum(x[np.where(x > 0.0)])  # <- where1


def sorts_a_list(x):
    return np.sum(np.array(sorted(x)) * np.arange(3.0))  # <- sorted


def uses_quad(x):
    return scipy.integrate.quad(np.sin, 0.0, x)[0]  # <- quad


def iterates_a_comprehension_of_a_zip(x, y):
    vals = [u * v for u, v in zip(x, y)]  # <- zipcomp
    return max(abs(v) for v in vals)


def maps_a_function(x, y):
    vals = list(map(np.sin, x))  # <- map
    return vals[0] * y[0]


def array_out(x):  # <- array_out
    return x * 2.0


def star_args(*args):  # <- star
    return args[0] * 2.0


def kw_only(x, *, y=1.0):  # <- kwonly
    return x * y


def list_comp(x):
    return np.max([x * i for i in range(3)])  # <- listcomp


def gen_exp_while(x):
    while sum(x * i for i in range(3)) < 10.0:  # <- genwhile
        x = x * 2.0
    return x


def lambda_arg(x):
    return np.sum(np.apply_along_axis(lambda v: v * 2.0, 0, x))  # <- lambda


def reduce_lambda(x):
    return functools.reduce(lambda a, b: a * b, x)  # <- reduce


def isinstance_test(x):
    if isinstance(x, float):  # <- isinstance
        return x * x
    return np.sum(x * x)


def str_format(x):
    assert np.ndim(x) == 1, "need a vector, got {}".format(np.ndim(x))  # <- format
    return np.sum(x)


def config_items(x):
    s = 0.0
    for k, v in CONFIG.items():  # <- config_items
        s = s + v * np.sum(x * x)
    return s


def config_as_argument(x, cfg):     # (config_items' advice: the dict an argument, left out of wrt)
    s = 0.0
    for k, v in cfg.items():
        s = s + v * np.sum(x * x)
    return s


def list_item_written(x):
    vals = [0.0, 0.0, 0.0]  # <- list_items
    for i in range(3):
        vals[i] = x[i] * 2.0
    return sum(vals)


def math_prod(x):
    return math.prod([x[0], x[1]])  # <- math_prod


def vectorized_lambda(x):
    f = np.vectorize(lambda v: v * v)  # <- vectorize
    return np.sum(f(x))


def closure_counter(x):
    total = [0.0]

    def add(v):
        total[0] = total[0] + v  # <- closure_write
    for v in x:
        add(v)
    return total[0]


def function_value(x):
    def sq(v):
        return v * v
    g = sq  # <- funcvalue
    fs = [g]        # (a function bound to a name and only called works: tests/test_closures.py, act_bound_once)
    return fs[0](x)


def two_params(x, y):  # <- two_params
    return x * y


def none_until_first_iteration(x, a):
    r = None  # <- none_first
    for i in range(3):
        if r is None:
            r = x * a[i]
        else:
            r = r * np.sin(a[i])
    return r


def view_then_write(M):
    buf = M.copy()
    row = buf[0]
    buf[0, 1] = 3.0 * buf[1, 1]  # <- view_write
    return np.sum(row * row)


def name_alias_write(a):
    buf = a.copy()
    if a[0] > 0:
        b = buf         # b is buf's array on one path only: which array the write changes is not known
    else:
        b = a * 2.0
    b[1] = a[0] * a[0]  # <- alias_write
    return np.sum(buf * buf)


def view_in_loop(M):
    buf = M.copy()
    row = buf[0]
    s = 0.0
    for i in range(2):
        s = s + row[i] * row[i]
        buf[0, i + 1] = np.sin(s)  # <- loop_view_write
    return s


def nested_varargs(x):
    def g(v, *ks):  # <- nested_varargs
        return v * ks[0]
    return g(x, 2.0)


def lambda_kwargs(x):
    g = lambda v, **ks: v * 2.0  # <- lambda_kwargs
    return g(x)


def decorated_nested(x):
    @staticmethod
    def g(v):  # <- decorated
        return v * 2.0
    return g(x)


def complex_constant(x):
    return np.abs(x * 1j)  # <- complex


def real_fn(x):  # <- real_fn
    return x * 2.0


def real_sum(x, y):  # <- real_sum
    return np.sum(x * x * y)


async def async_fn(x):  # <- async
    return x * 2.0


def match_stmt(x):
    match 1:  # <- match
        case 1:
            return x * 2.0
    return x


def starred_assign(x):
    first, *rest = x  # <- starred
    return first


def kwargs_call(x):
    kw = {"axis": 0}
    return np.sum(x, **kw)  # <- kwargs


def no_return(x):  # <- no_return
    y = x * 2.0


def _inner_loss(x):
    return np.sum(x ** 4)


def hessian_inside(x):
    return np.trace(srcdiff.hessian(_inner_loss)(x))  # <- hessian_inside


_ns: dict = {}
exec("def made_by_exec(x):\n    return x * 2.0\n", _ns)
made_by_exec = _ns["made_by_exec"]


# ---- catalogue -------------------------------------------------------------------------------
def _declined(f, args, jit=False, wrt=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(srcdiff.SrcdiffError) as info:
            srcdiff.grad(f, wrt=wrt, jit=jit)(*args)
    return str(info.value)


def _assert_located(msg, tag, *advice_words):
    assert where(tag) in msg, msg
    assert "hint:" in msg, msg
    for w in advice_words:
        assert w in msg, msg


def star_args_to_numpy(x):
    args = (x, 2.0)
    return np.power(*args)  # <- star_args


STATEMENTS = [
    (uses_try, "try", "outside"),
    (uses_with, "with", "outside"),
    (uses_yield, "yield", "return"),
    (uses_global, "global", "argument"),
    (uses_nonlocal, "nonlocal", "argument"),
    (uses_class, "class", "outside"),
    (list_comp, "listcomp", "comprehension"),
    (gen_exp_while, "genwhile", "assignment of its own"),
    (lambda_arg, "lambda", "write the loop or comprehension out"),
    (function_value, "funcvalue", "call it"),
    (reduce_lambda, "reduce", "write the loop out"),
    (isinstance_test, "isinstance", "np.ndim(x) == 0"),
    (str_format, "format", "write an f-string"),
    (config_items, "config_items", "pass the dict in as an argument"),
    (list_item_written, "list_items", "make it an array: vals = np.zeros(n)"),
    (math_prod, "math_prod", "use np.prod"),
    (vectorized_lambda, "vectorize", "np.array([g(v) for v in w])"),
    (closure_counter, "closure_write", "return the new value from add"),
    (hessian_inside, "hessian_inside", "jvp of a gradient"),   # (advice was "call functions by name")
    # (it said "np.power: missing a required argument: 'x2'", of a call that passes both)
    (star_args_to_numpy, "star_args", ("np.power(*args): srcdiff binds a call's arguments", "one by one")),
]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, tag, advice", STATEMENTS, ids=[t for _, t, _ in STATEMENTS])
def test_declined_construct(f, tag, advice, jit):
    arg = np.ones(3) if tag in ("lambda", "hessian_inside", "reduce", "isinstance", "format", "config_items",
                                "list_items", "math_prod", "vectorize", "closure_write") else 0.5
    _assert_located(_declined(f, [arg], jit), tag, *((advice,) if isinstance(advice, str) else advice))


def test_advice_of_the_library_call_declines_works():
    """What the declines of reduce_lambda, isinstance_test, str_format, config_items, list_item_written, math_prod and
    vectorized_lambda say to write instead."""
    def looped(x):
        acc = x[0]
        for v in x[1:]:
            acc = acc * v
        return acc

    def by_rank(x):
        if np.ndim(x) == 0:
            return x * x
        return np.sum(x * x)

    def f_string(x):
        assert np.ndim(x) == 1, f"need a vector, got {np.ndim(x)}"
        return np.sum(x)

    def as_array(x):
        vals = np.zeros(3)
        for i in range(3):
            vals[i] = x[i] * 2.0
        return sum(vals)

    def by_np_prod(x):
        return np.prod([x[0], x[1]])

    def comprehension(x):
        g = lambda v: v * v
        return np.sum(np.array([g(v) for v in x]))

    def counter_returned(x):
        def add(s, v):
            return s + v
        s = 0.0
        for v in x:
            s = add(s, v)
        return s
    x = np.array([0.3, -0.7, 1.2])
    for f, args in [(looped, [x]), (by_rank, [x]), (by_rank, [0.7]), (f_string, [x]),
                    (config_as_argument, [x, CONFIG]), (as_array, [x]), (by_np_prod, [x]), (comprehension, [x]),
                    (counter_returned, [x])]:
        check_grad(f, args, wrt=0)


def test_bound_method():
    msg = _declined(Model().method, [0.5])
    assert "bound method" in msg and "plain function" in msg, msg


def test_bound_method_located():
    assert where("method") in _declined(Model().method, [0.5])


def test_callable_instance():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(Model())
    assert "Model" in str(info.value)


def test_callable_instance_advice():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(Model())
    assert "hint:" in str(info.value)


def test_builtin_callable():
    with pytest.raises(srcdiff.SrcdiffError, match="Python functions"):
        srcdiff.grad(np.sin)(0.5)


def test_unknown_library_function():
    # (was: the error pointed at a try/except inside scipy/_quadpack_py.py)
    msg = _declined(uses_quad, [0.5])
    _assert_located(msg, "quad", "rule")


@pytest.mark.parametrize("f, args, tag, advice", [
    (draws_noise, [0.5], "npdraw", "draw the noise outside"),
    (draws_from_generator, [0.5, np.random.default_rng(0)], "rngdraw", "draw the noise outside"),
    (sorts_a_list, [np.array([0.3, -0.1, 0.9])], "sorted", "np.sort(x)"),
    (makes_a_generator, [np.array([0.3, -0.1, 0.9])], "mkrng", "draw the noise outside"),   # (was: "register a rule")
    (where_of_the_condition_alone, [np.array([0.3, -0.1, 0.9])], "where1", "x[condition]"),   # (was: a TypeError)
    (iterates_a_comprehension_of_a_zip, [np.array([0.3, -0.1]), np.array([0.5, 2.0])], "zipcomp", "np.array([...])"),
    (maps_a_function, [np.array([0.3, -0.1]), np.array([0.5, 2.0])], "map", "[f(v) for v in x]"),
])
def test_random_draws_and_sorted_name_what_to_do(f, args, tag, advice):
    # (were: np.random.normal "classes, instances and bound methods are not supported", rng.normal() "compute it
    # with NumPy functions", sorted(x) "register a rule"; zip(...) of a named comprehension iterated, list(map(...))
    # "call to builtins.zip: classes, instances and bound methods are not supported", found by hand)
    _assert_located(_declined(f, args), tag, advice)


def test_unknown_library_function_is_srcdiff_error():
    _declined(uses_quad, [0.5])     # at least no internal exception escapes


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_non_scalar_output_points_to_vjp(jit):
    msg = _declined(array_out, [np.ones(3)], jit)
    assert "vjp" in msg and "jacobian" in msg, msg


def test_non_scalar_output_located():
    assert where("array_out") in _declined(array_out, [np.ones(3)])


def test_value_and_grad_non_scalar():
    with pytest.raises(srcdiff.SrcdiffError, match="vjp"):
        srcdiff.value_and_grad(array_out)(np.ones(3))


def test_missing_source():
    msg = _declined(made_by_exec, [0.5])
    assert "source" in msg and "hint:" in msg and ".py file" in msg, msg


def test_missing_source_lambda_from_eval():
    with pytest.raises(srcdiff.SrcdiffError, match="source"):
        srcdiff.grad(eval("lambda x: x * 2.0"))(0.5)


@pytest.mark.parametrize("wrt", ["z", 2, -3, ("x", "z"), ("x", "x"), 1.5, True])
def test_bad_wrt_fails_at_grad_time(wrt):
    # no call: the error must come from grad(...) itself
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(two_params, wrt=wrt)
    assert "two_params" in str(info.value) or "wrt" in str(info.value)


@pytest.mark.parametrize("make", [srcdiff.value_and_grad, srcdiff.vjp,
                                  lambda f, wrt: srcdiff.differentiate(f, wrt=wrt)])
def test_bad_wrt_other_transforms(make):
    with pytest.raises(srcdiff.SrcdiffError):
        make(two_params, wrt="nope")


def test_bad_wrt_located():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(two_params, wrt="z")
    assert where("two_params") in str(info.value)


def test_star_args_declined_at_def():
    """*args is declined when the transform is made, at the def line (keyword-only parameters are fine:
    tests/test_signatures.py)."""
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(star_args)
    _assert_located(str(info.value), "star", "name every parameter")
    assert srcdiff.grad(kw_only)(0.5, y=3.0) == pytest.approx(3.0)


def cube(x):
    return x * x * x


def test_nested_transform():
    """grad(grad(f)) is the second derivative (forward mode over the generated gradient)."""
    g = srcdiff.grad(cube)
    assert g(3.0) == pytest.approx(27.0)
    assert srcdiff.grad(g)(3.0) == pytest.approx(18.0)


def test_source_of_foreign_function():
    with pytest.raises(srcdiff.SrcdiffError):
        srcdiff.source(two_params)


# ---- views read after a write to their array (a silently wrong gradient before: now declined) ---------
def head_view_then_write(w):
    x = w * 1.0
    head = x[:2]
    x[0] = x[1] * 3.0  # <- viewwrite
    return np.sum(head * head)


def transpose_then_write(w):
    x = w * 1.0
    t = x.T
    x[0, 1] = x[1, 0] * 2.0  # <- transposewrite
    return np.sum(t * t)


def write_through_view(w):
    x = w * 1.0
    r = x[0]
    r[1] = r[0] * 5.0  # <- throughview
    return np.sum(x ** 2)


def view_before_loop(w):
    x = w * 1.0
    first = x[0]
    s = 0.0
    for i in range(3):
        s = s + np.sum(first)
        x[0, i % 2] = s  # <- loopwrite
    return s


def alias_then_write(w):
    x = w * 1.0
    y = x
    x[1] = 0.0  # <- aliaswrite
    return np.sum(y ** 2)


def swapaxes_then_write(w):
    x = w * 1.0
    t = np.swapaxes(x, 0, 1)           # (also np.moveaxis, np.broadcast_to, np.flip, np.atleast_2d: test_aliasing.py)
    x[0, 1] = x[1, 0] * 2.0  # <- swapwrite
    return np.sum(t * t)


def not_copied_then_write(w):
    x = w * 1.0
    t = np.array(x, copy=False)
    x[1] = 0.0  # <- nocopywrite
    return np.sum(t ** 2)


ALIASED = [(head_view_then_write, "viewwrite", (3,), "np.copy"), (transpose_then_write, "transposewrite", (2, 2), "np.copy"),
           (write_through_view, "throughview", (2, 2), "itself"), (view_before_loop, "loopwrite", (2, 2), "np.copy"),
           (alias_then_write, "aliaswrite", (3,), "np.copy"), (swapaxes_then_write, "swapwrite", (2, 2), "np.copy"),
           (not_copied_then_write, "nocopywrite", (3,), "np.copy")]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, tag, shape, advice", ALIASED, ids=[a[1] for a in ALIASED])
def test_view_read_after_write_is_declined(f, tag, shape, advice, jit):
    msg = _declined(f, [np.linspace(0.3, 1.1, int(np.prod(shape))).reshape(shape)], jit)
    _assert_located(msg, tag, advice, "shares memory")


# ---- found by the reliability audit (issue 7): each was an internal exception or a wrong gradient ----
AUDIT = [
    # in-place writes that another name sees (was: a silently wrong gradient)
    (view_then_write, np.ones((2, 3)), "view_write", "copy"),
    (name_alias_write, np.ones(3), "alias_write", "copy"),
    (view_in_loop, np.ones((2, 3)), "loop_view_write", "copy"),
    # nested functions srcdiff calls positionally (was: TypeError / NameError in generated code)
    (nested_varargs, 0.5, "nested_varargs", "name each parameter"),
    (lambda_kwargs, 0.5, "lambda_kwargs", "name each parameter"),
    (decorated_nested, 0.5, "decorated", "without the decorator"),
    # complex numbers (was: a wrong gradient)
    (complex_constant, 0.5, "complex", "real and imaginary"),
    # declined before, now with advice
    (async_fn, 0.5, "async", "ordinary def"),
    (match_stmt, 0.5, "match", "if/elif"),
    (starred_assign, np.ones(3), "starred", "index"),
    (kwargs_call, np.ones(3), "kwargs", "literal keywords"),
    (no_return, 0.5, "no_return", "return"),
]


@pytest.mark.parametrize("f, arg, tag, advice", AUDIT, ids=[t for _, _, t, _ in AUDIT])
def test_declined_audit(f, arg, tag, advice):
    _assert_located(_declined(f, [arg]), tag, advice)


def test_aliased_write_declined_in_forward_mode():
    # (forward mode follows views -- a tangent of buf[0] is a view of buf's tangent -- but not `b = buf`)
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.jvp(name_alias_write)(np.ones(3), np.ones(3))
    _assert_located(str(info.value), "alias_write", "copy")


def test_none_tested_in_a_loop_declined_under_numba():
    """`r = None` tested in a loop that binds r (tests/test_unbound.py: the Python backend computes it; it was a
    wrong gradient in both backends while the placeholder pass made r 0.0): Numba cannot type r."""
    msg = _declined(none_until_first_iteration, [0.5, np.array([0.3, -0.4, 0.5])], jit=True, wrt=(0, 1))
    assert where("none_first") in msg and "bound on some paths only" in msg, msg


def test_aliased_write_declined_under_numba():
    _assert_located(_declined(view_then_write, [np.ones((2, 3))], jit=True), "view_write", "copy")


@pytest.mark.parametrize("arg", [0.5 + 1.0j, np.array([1.0 + 0.5j, 2.0])], ids=["complex", "complex_array"])
def test_complex_argument(arg):
    msg = _declined(real_fn, [arg])
    assert where("real_fn") in msg and "complex" in msg and "hint:" in msg, msg


@pytest.mark.parametrize("make", [srcdiff.jvp, srcdiff.hvp], ids=["jvp", "hvp"])
def test_complex_argument_forward(make):
    # was: jvp returned complex numbers (grad declined them)
    with pytest.raises(srcdiff.SrcdiffError) as info:
        make(real_sum)(np.array([1.0 + 0.5j, 2.0]), np.ones(2), np.ones(2))
    _assert_located(str(info.value), "real_sum", "real and imaginary")


NUMBA_CANNOT = [(np.float16, "x"), (np.longdouble, "x"), (np.float16, "y")]


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.value_and_grad, srcdiff.jvp, srcdiff.hvp],
                         ids=["grad", "value_and_grad", "jvp", "hvp"])
@pytest.mark.parametrize("dtype, which", NUMBA_CANNOT, ids=["float16", "longdouble", "float16_not_wrt"])
def test_dtype_numba_does_not_compile(make, dtype, which):
    """Under jit=True an argument of a dtype Numba does not compile is declined naming it and what to pass
    (was: "Numba crashed compiling the generated code ... please report"); the Python backend takes it, and
    its gradient is right."""
    from gradcheck import numerical_grad
    x, y = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    args = [x.astype(dtype), y] if which == "x" else [x, y.astype(dtype)]
    extra = [] if make in (srcdiff.grad, srcdiff.value_and_grad) else [np.ones(2)]
    with pytest.raises(srcdiff.SrcdiffError) as info:
        make(real_sum, jit=True)(*args, *extra)
    msg = str(info.value)
    _assert_located(msg, "real_sum", np.dtype(dtype).name, "float32", "jit=False")
    if make is srcdiff.grad:
        expect = numerical_grad(real_sum, [np.asarray(a, float) for a in args], 0)
        np.testing.assert_allclose(make(real_sum)(*args), expect, rtol=2e-3)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_object_array_argument(jit):
    # was: TypeError from NumPy inside the generated code (Python), Numba's "non-precise type" (jit)
    msg = _declined(real_sum, [np.array([0.5, 1.5], dtype=object), np.ones(2)], jit=jit)
    _assert_located(msg, "real_sum", "dtype object", "float64")


@pytest.mark.parametrize("arg", [None, "s"], ids=["None", "str"])
def test_wrt_argument_of_unsupported_type(arg):
    # was: TypeError from the runtime or the generated code (a dict is differentiated item by item now:
    # tests/test_structured_args.py)
    msg = _declined(real_fn, [arg])
    assert where("real_fn") in msg and type(arg).__name__ in msg and "hint:" in msg, msg


def test_view_used_up_before_write_is_not_declined():
    def f(x):
        buf = x.copy()
        s = 0.0
        for i in range(3):
            s = s + np.sum(buf[:i + 1] ** 2)
            buf[i] = np.sin(s)
        return s + np.sum(buf)
    x = np.array([0.3, -0.2, 0.5])
    from gradcheck import numerical_grad
    np.testing.assert_allclose(srcdiff.grad(f)(x), numerical_grad(f, [x], 0), rtol=1e-5, atol=1e-7)


def scalar_or_array(x):
    if x[0] > 0.0:
        y = x * 2.0
    else:
        y = 1.0  # <- numba_type
    return np.sum(y)


def test_numba_compile_failure_names_the_function():
    # (was: no file:line, then the def line) -- y is an array on one path and a float on the other: Python
    # runs it, Numba cannot type it, and the error names the line of the generated statement it failed on
    msg = _declined(scalar_or_array, [np.array([0.3, -0.2, 0.5])], jit=True)
    assert "Numba could not compile" in msg
    _assert_located(msg, "numba_type", "jit=False")


def number_then_arrays(x, a):
    acc = 0.0  # <- inner_acc
    for i in range(2):
        acc = acc + x * a
    return np.sum(acc * acc)


def slope_of_number_then_arrays(x, a):
    return srcdiff.grad(number_then_arrays)(x, a)


def test_a_numba_decline_of_a_jvp_of_a_gradient_cites_the_users_line():
    """jvp of h, which calls srcdiff.grad(f): forward mode inlines the gradient's generated statements and cited
    their lines as lines of h's file (the decline named a line of the gradient's module, "h.py:245" of a 67-line
    file with no text, nested fuzz seed 1015125); it cites f's line the statement was made from (line_comments.py)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(srcdiff.SrcdiffError) as info:
            srcdiff.jvp(slope_of_number_then_arrays, jit=True)(0.5, np.array([1.0, 2.0]), 1.0)
    msg = str(info.value)
    assert "Numba could not compile" in msg, msg
    _assert_located(msg, "inner_acc", "jit=False")
    assert "acc = 0.0" in msg, msg


def accumulates_arrays_from_zero(w, x):
    acc = 0
    for xi in x:  # <- acc_loop
        acc = acc + np.tanh(xi * w)
    return np.sum(acc ** 2)


def test_a_number_that_a_loop_makes_an_array_is_named_under_numba():
    """`acc = 0` before a loop that adds arrays to it: Python runs it (the Python backend differentiates it), Numba
    cannot type `acc`; the error said only to run with jit=False: it names `acc` and says to start it as an array."""
    from gradcheck import numerical_grad
    w, x = np.array([0.3, -0.2, 0.5]), np.arange(6.0).reshape(2, 3) / 5
    np.testing.assert_allclose(srcdiff.grad(accumulates_arrays_from_zero)(w, x),
                               numerical_grad(accumulates_arrays_from_zero, [w, x], 0), rtol=1e-5, atol=1e-7)
    msg = _declined(accumulates_arrays_from_zero, [w, x], jit=True, wrt=0)
    _assert_located(msg, "acc_loop", "`acc` is a number on one path and an array on another")
    assert "np.zeros" in msg and "jit=False" in msg, msg
    assert "`y` is a number on one path" in _declined(scalar_or_array, [np.array([0.3, -0.2, 0.5])], jit=True)


def power_by_recursion(x, n):
    if n == 0:  # <- rec_split
        return 1.0
    return x * power_by_recursion(x, n - 1)  # <- rec_result


def sums_a_recursive_power(x):
    return np.sum(power_by_recursion(x, 3))


def test_a_recursive_function_returning_a_number_and_an_array_is_named_under_numba():
    """A recursive helper returning 1.0 where it ends and an array elsewhere: Python runs it, Numba cannot type its
    result; the advice said only to run with jit=False: it says what the function's returns do and what to write."""
    x = np.array([0.7, 1.2, -0.4])
    np.testing.assert_allclose(srcdiff.grad(sums_a_recursive_power)(x), 3 * x ** 2)
    msg = _declined(sums_a_recursive_power, [x], jit=True)
    # (Numba fails where the two returns join: the copy of the recursion in the gradient's module cites that join
    # as the `if` whose paths return a number and an array; before its lines had a table, the caller's line)
    split = where("rec_split") in msg and where("rec_result") not in msg
    _assert_located(msg, "rec_split" if split else "rec_result", "returns a number on one path and an array on another",
                    "np.ones_like")
    with pytest.raises(srcdiff.SrcdiffError) as info:     # (forward mode: its tangent's name, d_result4)
        srcdiff.jvp(sums_a_recursive_power, jit=True)(x, np.ones(3))
    _assert_located(str(info.value), "rec_result", "returns a number on one path and an array on another")


def float32_matmul(x, y):
    return np.sum(np.sin(1.3 * (x @ y)))


def test_numba_float32_matmul():
    # was the example of the test above: under Numba 1.3 * <float32> is float64, and the adjoint's
    # product mixed float32 and float64, which Numba's BLAS calls do not type (runtime/products.py and solves.py cast)
    from gradcheck import numerical_grad
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    got = srcdiff.grad(float32_matmul, wrt=(0, 1), jit=True)(x, y)
    for k, g in enumerate(got):
        ref = numerical_grad(float32_matmul, [x.astype(float), y.astype(float)], k)
        np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-4)


def _numba_crashes(c, M):   # Numba raises a bare AttributeError from its lowering on this
    e = None
    if c:
        e = (np.exp(M), M[0])
    if c:
        return e[0][0, 0]
    return 0.0


def test_numba_internal_crash_is_srcdiff_error():
    # (the log-domain placeholder bug, test_regressions.test_early_return_then_log_domain_recursion, reached
    # the user as a bare AttributeError from numba/core/lowering.py)
    import numba
    from srcdiff import api
    with pytest.raises(AttributeError) as raw:
        numba.njit(_numba_crashes)(True, np.ones((2, 2)))
    with pytest.raises(srcdiff.SrcdiffError) as info:
        api.translate_error(raw.value, srcdiff.grad(real_fn, jit=True))
    msg = str(info.value)
    assert "Numba crashed" in msg and where("real_fn") in msg and "jit=False" in msg, msg


def einsum_diagonal(x):
    return np.einsum("ii->", x)  # <- einsum_diag


def einsum_ellipsis(x):
    return np.sum(np.einsum("...i,i->...", x, x[0]))  # <- einsum_dots


def norm_ambiguous(x):
    return np.linalg.norm(x, 1)  # <- norm_ord


def norm_axis_none(x):
    return np.linalg.norm(x, np.inf, axis=None)  # <- norm_axis_none


def norm_fro_one_axis(x):
    return np.sum(np.linalg.norm(x, "fro", axis=0))  # <- norm_fro_axis


def norm_operator(x):
    return np.linalg.norm(x, 1, axis=(0, 1))  # <- norm_operator


def roll_axes_mismatch(x):
    return np.sum(np.roll(x, (1, 2), 0))  # <- roll_axes


def tile_unknown_reps(x):
    reps = (2, 2)
    return np.sum(np.tile(x, reps))  # <- tile_reps


def tensordot_unknown_axes(x):
    axes = 1
    return np.sum(np.tensordot(x, x, axes))  # <- tensordot_axes


def cross_first_axis(x):
    return np.sum(np.cross(x, x, axis=0))  # <- cross_axis


def trapezoid_x_on_axis0(x):
    return np.trapezoid(x, x[:, 0], axis=0)[0]  # <- trapezoid_axis


def median_tuple_axis(x):
    return np.median(x, axis=(0, 1))  # <- median_axes


def polyval_array_coefficients(x):
    return np.sum(np.polyval(x[0], x))  # <- polyval_p


def cov_weights(x):
    return np.sum(np.cov(x, fweights=np.array([1, 2, 1])))  # <- cov_weights


def interp_outside_values(x):
    return np.sum(np.interp(x, np.array([0.0, 1.0]), np.array([1.0, 2.0]), left=0.0))  # <- interp_left


def gradient_two_spacings(x):
    return np.sum(np.gradient(x, 0.1, 0.2))  # <- gradient_spacings


def meshgrid_sparse(x):
    X, Y = np.meshgrid(x[0], x[1], sparse=True)  # <- meshgrid_sparse
    return np.sum(X * Y)


@pytest.mark.parametrize("f, tag, advice", [(einsum_diagonal, "einsum_diag", "np.trace"),
                                            (gradient_two_spacings, "gradient_spacings", "axis="),
                                            (meshgrid_sparse, "meshgrid_sparse", "None"),
                                            (einsum_ellipsis, "einsum_dots", "ellipsis"),
                                            (norm_ambiguous, "norm_ord", "axis="),
                                            (norm_axis_none, "norm_axis_none", "axis="),
                                            (norm_fro_one_axis, "norm_fro_axis", "two axes"),
                                            (norm_operator, "norm_operator", "ord='fro'"),
                                            (roll_axes_mismatch, "roll_axes", "one axis at a time"),
                                            (tile_unknown_reps, "tile_reps", "literal"),
                                            (tensordot_unknown_axes, "tensordot_axes", "np.einsum"),
                                            (cross_first_axis, "cross_axis", "np.moveaxis"),
                                            (trapezoid_x_on_axis0, "trapezoid_axis", "np.moveaxis"),
                                            (median_tuple_axis, "median_axes", "one int axis at a time"),
                                            (polyval_array_coefficients, "polyval_p", "Horner"),
                                            (cov_weights, "cov_weights", "fweights="),
                                            (interp_outside_values, "interp_left", "left=")])
def test_declined_composite(f, tag, advice):
    """NumPy functions srcdiff writes out in primitives decline the forms they cannot write out."""
    _assert_located(_declined(f, [np.ones((3, 3))]), tag, advice)


# ---- arguments a rule gives no derivative for: declined, never treated as constants ------------------------
def arange_from_value(a):
    t = np.arange(a, a + 3.0)  # <- arange_value
    return np.sum(t * t)


def _double_first(x, y):
    return 2.0 * x + 0.0 * y


srcdiff.adjoint(_double_first, vjp=("2.0 * g", None), jvp="2.0 * dx")


def rule_without_second_derivative(x, y):
    return _double_first(x, y * y)  # <- no_rule_param


@pytest.mark.parametrize("mode", ["grad", "jvp"])
@pytest.mark.parametrize("f, tag, advice", [(arange_from_value, "arange_value", "np.arange(n)"),
                                            (rule_without_second_derivative, "no_rule_param", "argument 'y'")])
def test_undifferentiable_argument_declined(f, tag, advice, mode):
    """An argument the rule table has no derivative for is declined where it depends on the variables
    being differentiated (a silent zero before, for np.clip's bounds and np.linspace's ends)."""
    with pytest.raises(srcdiff.SrcdiffError) as info:
        if mode == "grad":
            srcdiff.grad(f, wrt=-1 if f is rule_without_second_derivative else 0)(*[0.5] * f.__code__.co_argcount)
        else:
            srcdiff.jvp(f, wrt=-1 if f is rule_without_second_derivative else 0)(
                *[0.5] * f.__code__.co_argcount, 1.0)
    _assert_located(str(info.value), tag, advice)


def test_rule_argument_without_derivative_may_be_constant():
    """The same rule is fine where that argument does not depend on what is differentiated."""
    g = srcdiff.grad(rule_without_second_derivative, wrt=0)(0.5, 3.0)
    assert g == 2.0


# ---- eigh / svd / pinv: the forms srcdiff declines ----------------------------------------------------------
def svd_full_vectors(x):
    U, s, Vh = np.linalg.svd(x)  # <- svd_full
    return np.sum(U[:, 0] ** 2) + np.sum(s)


def eigh_kept_whole(x):
    res = np.linalg.eigh(x + x.T)  # <- eigh_tuple
    return np.sum(res[0])


def svd_kept_whole(x):
    res = np.linalg.svd(x, full_matrices=False)  # <- svd_tuple
    return np.sum(res[1])


def eigh_upper_triangle(x):
    w, V = np.linalg.eigh(x + x.T, UPLO="U")  # <- eigh_uplo
    return np.sum(w)


def eigvalsh_upper_triangle(x):
    return np.sum(np.linalg.eigvalsh(x + x.T, "U"))  # <- eigvalsh_uplo


def eigh_output_out_of_range(x):
    return np.sum(np.linalg.eigh(x + x.T)[2])  # <- eigh_index


def svd_hermitian(x):
    return np.sum(np.linalg.svd(x + x.T, hermitian=True)[1])  # <- svd_hermitian


def pinv_hermitian(x):
    return np.sum(np.linalg.pinv(x + x.T, hermitian=True))  # <- pinv_hermitian


SPECTRAL = [(svd_full_vectors, "svd_full", "full_matrices=False"),
            (eigh_kept_whole, "eigh_tuple", "w, V = np.linalg.eigh(a)"),
            (svd_kept_whole, "svd_tuple", "U, s, Vh = np.linalg.svd(a, full_matrices=False)"),
            (eigh_upper_triangle, "eigh_uplo", "symmetrise"),
            (eigvalsh_upper_triangle, "eigvalsh_uplo", "symmetrise"),
            (eigh_output_out_of_range, "eigh_index", "out of range"),
            (svd_hermitian, "svd_hermitian", "hermitian=True"),
            (pinv_hermitian, "pinv_hermitian", "drop hermitian=True")]


@pytest.mark.parametrize("mode", ["grad", "jvp"])
@pytest.mark.parametrize("f, tag, advice", SPECTRAL, ids=[t for _, t, _ in SPECTRAL])
def test_declined_decomposition_form(f, tag, advice, mode):
    """U and Vh of a full SVD have no derivative (their extra columns are arbitrary), eigh / svd results must be
    unpacked or indexed with a number, and the triangle / hermitian options are not differentiated."""
    x = np.array([[2.0, 0.3, 0.1], [0.2, 1.0, 0.4], [0.1, 0.5, -1.0]])
    with pytest.raises(srcdiff.SrcdiffError) as info:
        if mode == "grad":
            srcdiff.grad(f)(x)
        else:
            srcdiff.jvp(f)(x, np.ones((3, 3)))
    _assert_located(str(info.value), tag, advice)


def det_of_stack(a):
    return np.sum(np.linalg.det(a))  # <- det_stack


def inv_of_stack(a):
    return np.sum(np.linalg.inv(a) ** 2)  # <- inv_stack


def stack_as_data(w, a):
    return w * np.sum(np.linalg.det(a))


@pytest.mark.parametrize("f, tag", [(det_of_stack, "det_stack"), (inv_of_stack, "inv_stack")])
def test_stack_of_matrices_declined(f, tag):
    """np.linalg's adjoints here take one matrix: a stack (rank 3) got a wrong gradient before (np.transpose
    reversed every axis); now it is declined at the line."""
    a = np.random.default_rng(0).normal(size=(3, 3, 3)) + 3.0 * np.eye(3)
    _assert_located(_declined(f, [a]), tag, "loop over the stack")


def test_stack_of_matrices_as_constant_data():
    a = np.random.default_rng(1).normal(size=(3, 3, 3)) + 3.0 * np.eye(3)
    assert np.isclose(srcdiff.grad(stack_as_data)(2.0, a), np.sum(np.linalg.det(a)))


# ---- a generated function failing on its arguments (shapes, indices) -------------------------------------
def mismatch(x, y):
    return np.sum(np.tanh(x) * (1.0 - y * y))  # <- mismatch


def mismatch_in_sum(x, y):
    s = np.sum(x * y, axis=0)  # <- mismatch_sum
    return np.sum(s)


def inner_dim(x, w):
    h = x @ w  # <- inner_dim
    return np.sum(np.tanh(h))


def loop_reads(x, n):
    s = 0.0
    for i in range(n):  # <- loop_for
        s = s + x[i] * x[i]  # <- loop_read
    return s


def rank_two(x):
    return np.sum(x[:, 0] * x[:, 1])  # <- rank_two


def read_at(x, n):
    ys = np.tanh(x)
    return ys[n]  # <- read_at


FAILURES = [   # (function, arguments, wrt, the tags the error may name, exception type, words of the message)
    (mismatch, (np.ones(3), np.ones(4)), (0, 1), ("mismatch",), ValueError, ("broadcast", "(3,)", "(4,)")),
    (mismatch_in_sum, (np.ones((2, 3)), np.ones((2, 4))), 0, ("mismatch_sum",), ValueError, ("broadcast",)),
    (inner_dim, (np.ones((2, 3)), np.ones((4, 5))), (0, 1), ("inner_dim",), ValueError, ("3", "4")),
    # the read of x[i] is in the backward sweep (the forward sum is dead); jitted, the bounds test before the loop
    (loop_reads, (np.ones(3), 5), 0, ("loop_read", "loop_for"), IndexError, ("out of",)),
    (read_at, (np.ones(3), 7), 0, ("read_at",), IndexError, ("7",)),
]


def _failure(make, f, args, wrt, jit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(srcdiff.SrcdiffError) as info:
            make(f, wrt=wrt, jit=jit)(*args)
    return info.value


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, args, wrt, tags, kind, words", FAILURES, ids=[c[0].__name__ for c in FAILURES])
def test_failure_on_arguments_named_at_line(f, args, wrt, tags, kind, words, jit):
    """A gradient whose arguments make a line fail (as they make f fail) raises a SrcdiffError that is also the
    exception NumPy raised (`except ValueError` keeps working), at the user's line with the argument shapes --
    under Numba too, whose compiled code's exceptions name no line (srcdiff reruns the module as Python)."""
    err = _failure(srcdiff.grad, f, args, wrt, jit)
    msg = str(err)
    assert isinstance(err, kind), (type(err), msg)
    assert any(where(t) in msg for t in tags), msg
    assert err.lineno in [line_of(t) for t in tags] and err.filename == __file__, msg
    assert "hint:" in msg and "float64 (" in msg, msg
    for w in words:
        assert w in msg, msg
    assert "srcdiff_generated" not in msg and ".cache" not in msg and "ew_" not in msg, msg


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_failure_in_backward_sweep_says_so(jit):
    msg = str(_failure(srcdiff.grad, read_at, (np.ones(3), 7), 0, jit))
    assert "derivative of this line" in msg and "please report" in msg, msg
    msg = str(_failure(srcdiff.grad, mismatch, (np.ones(3), np.ones(4)), (0, 1), jit))
    assert "derivative" not in msg and "mismatch itself fails" in msg, msg


MODES = [(srcdiff.value_and_grad, ()), (srcdiff.vjp, (1.0,)), (srcdiff.jvp, ((np.ones(3), np.ones(4)),)),
         (srcdiff.hvp, ((np.ones(3), np.ones(4)),))]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("make, extra", MODES, ids=[m.__name__ for m, _ in MODES])
def test_failure_named_in_every_mode(make, extra, jit):
    """value_and_grad and vjp run as grad does; jvp and hvp (forward mode, over the generated gradient for hvp)
    name the user's line, not the generated gradient's."""
    err = _failure(make, mismatch, (np.ones(3), np.ones(4)) + extra, (0, 1), jit)
    assert isinstance(err, ValueError) and where("mismatch") in str(err), str(err)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_failure_named_on_the_steady_call_path(jit):
    """A call with arguments of the types of an earlier good call takes the fast path (api's per-signature
    entry): its error is translated there too, and good calls after it still work."""
    g = srcdiff.grad(read_at, jit=jit)
    x = np.linspace(0.1, 0.5, 3)
    good = g(x, 1)
    for _ in range(2):
        with pytest.raises(IndexError, match="7") as info:
            g(x, 7)
        assert where("read_at") in str(info.value), str(info.value)
        assert np.array_equal(g(x, 1), good) and good[1] == 1.0 - np.tanh(x[1]) ** 2


def test_wrong_rank_named_in_both_backends():
    """Indexing a vector as a matrix: an IndexError at the line in Python; jitted, Numba's typing declines it
    at compile time (a SrcdiffError, not an IndexError: no call ran)."""
    err = _failure(srcdiff.grad, rank_two, (np.ones(3),), 0, False)
    assert isinstance(err, IndexError) and where("rank_two") in str(err), str(err)
    err = _failure(srcdiff.grad, rank_two, (np.ones(3),), 0, True)
    assert where("rank_two") in str(err), str(err)


def test_failure_rerun_out_of_time_falls_back_to_def(monkeypatch):
    """A compiled failure whose Python rerun takes longer than RERUN_SECONDS is reported at the def line,
    advising jit=False, with Numba's message."""
    from srcdiff import error_reports
    monkeypatch.setattr(error_reports, "RERUN_SECONDS", -1.0)
    err = _failure(srcdiff.grad, mismatch, (np.ones(3), np.ones(4)), (0, 1), True)
    assert isinstance(err, ValueError) and "jit=False" in str(err), str(err)
    assert err.lineno == mismatch.__code__.co_firstlineno and "ew_" not in str(err), str(err)


def test_failure_errors_pickle_and_keep_their_kind():
    """SrcdiffValueError and friends cross process boundaries (srcdiff.dask's workers) as themselves."""
    import pickle
    from srcdiff import errors
    err = errors.SrcdiffIndexError("index 7 is out of bounds", "f.py", 3, advice="check n")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is errors.SrcdiffIndexError and str(back) == str(err)
    assert (back.filename, back.lineno, back.advice) == ("f.py", 3, "check n")
    assert errors.runtime_error_type(np.linalg.LinAlgError("singular")) is errors.SrcdiffLinAlgError
    assert errors.runtime_error_type(KeyError("k")) is None
    assert issubclass(errors.SrcdiffValueError, (errors.FailedOnArguments, ValueError))


HELPER_SRC = '''import numpy as np


def scaled(a, b):
    c = np.tanh(a)
    return c * b
'''

CALLER_SRC = '''import numpy as np
from errors_helper_mod import scaled


def through_helper(x, y):
    z = scaled(x, y)
    return np.sum(z)
'''


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.hvp], ids=["grad", "hvp"])
def test_failure_in_an_inlined_helper_names_its_file(make, jit):
    """A statement inlined from a function of another module fails: the error names that module's file and line
    (the line table keeps each cited line's file), also through the generated gradient hvp differentiates."""
    import gradcheck
    helper = gradcheck.source_module("errors_helper_mod", HELPER_SRC)
    caller = gradcheck.source_module("errors_caller_mod", CALLER_SRC)
    args = (np.ones(3), np.ones(4)) + ((np.ones(3),) if make is srcdiff.hvp else ())
    err = _failure(make, caller.through_helper, args, 0, jit)
    assert isinstance(err, ValueError) and (err.filename, err.lineno) == (helper.__file__, 6), str(err)
    assert "return c * b" in str(err) and "through_helper" in str(err), str(err)


# ---- a call of the user's function as a statement (redteam: NameError in the generated code) --------------
def bump(buf, i, v):
    buf[i] += v * buf[i - 1]


def calls_bump(x, a):
    b = a.copy()
    bump(b, 1, x)
    bump(b, 2, x * x)
    return np.sum(b ** 2)


def bump_returning(buf, i, v):
    buf[i] += v * buf[i - 1]
    return buf


def assigns_bump(x, a):
    b = a.copy()
    for i in range(1, 3):
        b = bump_returning(b, i, x)
    return np.sum(b ** 2)


def bump_down(buf, i, v):
    if i > 0:
        buf[i] += v * buf[i - 1]
        bump_down(buf, i - 1, v)  # <- bumpdown


def calls_bump_down(x, a):
    b = a.copy()
    bump_down(b, 2, x)
    return np.sum(b ** 2)


def only_bumps(x, a):  # <- procedure
    bump(a, 1, x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_call_of_own_function_as_a_statement(jit):
    """`bump(b, 1, x)` (a helper that writes into its argument and returns nothing) stayed a call of a name the
    generated module lacks (NameError), and its write had no derivative; it was then declined; now it is
    inlined (its value, None, goes to a name nothing reads) and its write differentiated. A recursive one
    called so (it would stay a call) is declined at its line with the form that works (return the array and
    assign it); a function that returns nothing, differentiated itself, at its def."""
    from gradcheck import check_grad
    args = [0.8, np.array([0.3, 0.5, -1.1])]
    check_grad(calls_bump, args, wrt=(0, 1), jit=jit)
    check_grad(assigns_bump, args, jit=jit)
    g = srcdiff.grad(calls_bump, wrt=(0, 1), jit=jit)(*args)
    _, dot = srcdiff.jvp(calls_bump, wrt=(0, 1), jit=jit)(*args, (0.5, np.ones(3)))
    np.testing.assert_allclose(dot, 0.5 * g[0] + np.sum(g[1]), rtol=1e-12)
    msg = _declined(calls_bump_down, args, jit)
    _assert_located(msg, "bumpdown", "return buf", "which srcdiff cannot inline")
    msg = _declined(only_bumps, args, jit)
    _assert_located(msg, "procedure", "end the function with a return", "must return a value on every path")


# ---- a decline met in a gradient differentiated again names the user's line (nested fuzz 791163) ---------------
def swaps_written_in_two_loops(x, a):
    buf2 = a * 1.0
    buf18 = np.copy(a)
    for i in range(0, 3):
        if x > 0.0:
            buf2, buf18 = buf18, 0.5 * buf2 + 0.5 * np.tanh(buf18 * buf18[2])
            buf2[2 - i] = buf2[2 - i] * 1.1 + 0.1 * np.tanh(np.sum(a))
            buf18, buf2 = buf2, buf18
            buf18[i] = buf18[i] * 1.1 + 0.1 * np.tanh(x)
        for j in range(1, 3):
            buf2, buf18 = buf18, 0.5 * buf2 + 0.5 * np.tanh(buf18 * buf2[2 - j])
            buf2[j] = buf2[j] * 1.1 + 0.1 * np.tanh(x * j)    # the line the decline names
    return np.sum(buf2) + np.sum(buf18 * buf18)


def test_a_decline_inside_a_gradient_differentiated_again_names_the_users_line():
    # reverse mode over srcdiff's gradient declined at a line of the generated gradient's file (a temporary
    # file the user never wrote); it now names the user's line that code was made from, and the generated line
    def h(x, a):
        gx, ga = srcdiff.grad(swaps_written_in_two_loops, wrt=(0, 1))(x, a)
        return gx * gx + np.sum(ga * ga)
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(h, wrt=(0, 1))(0.4, np.array([0.3, -0.2, 0.5]))
    lines, first = inspect.getsourcelines(swaps_written_in_two_loops)
    at = first + next(k for k, ln in enumerate(lines) if "the line the decline names" in ln)
    assert (e.value.filename, e.value.lineno) == (__file__, at), str(e.value)
    assert "in the code srcdiff generated from this line" in str(e.value)
    assert "buf2[j] = buf2[j] * 1.1" in str(e.value)
    # the array as the user's line writes it (the gradient writes a version of buf18 there: "`buf18` shares memory
    # with `buf18` (another binding of it)" before, `buf18v11` before that), and no name the user never wrote
    head = str(e.value).split(" (in the code srcdiff generated")[0]
    assert "`buf18` shares memory with `buf2`, which this assignment writes in place" in head, str(e.value)
    names = re.findall(r"`(\w+)`", str(e.value))
    assert set(names) <= {"buf18", "buf2"}, str(e.value)


GLOBAL_BUFFER = np.zeros(3)


def writes_a_global_array(x):
    GLOBAL_BUFFER[0] = x[0] * 2.0
    GLOBAL_BUFFER[1] += x[1]
    return np.sum(GLOBAL_BUFFER * x)


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_write_into_a_module_level_array(make):
    """Globals are compiled in read-only: a write into one failed at run time ("assignment destination is
    read-only", under the arguments' description); it is declined before, at the line, saying why."""
    args = (np.ones(3),) if make is srcdiff.grad else (np.ones(3), np.ones(3))
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_errors\.py:\d+: an in-place write into the module-level array "
                       r"GLOBAL_BUFFER(.|\n)*Captured values(.|\n)*hint: write into a copy \(global_buffer = "
                       r"GLOBAL_BUFFER\.copy\(\)\)"):
        make(writes_a_global_array)(*args)


GLOBAL_LIST = [0.0, 1.0]
GLOBAL_DICT = {"a": 1.0}


def appends_to_a_global_list(x):
    GLOBAL_LIST.append(2.0)
    return np.sum(x)


def writes_a_global_list_item(x):
    GLOBAL_LIST[1] += 1.0
    return np.sum(x) * GLOBAL_LIST[1]


def writes_a_global_dict_item(x):
    GLOBAL_DICT["a"] = 3.0
    return np.sum(x) * GLOBAL_DICT["a"]


@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f, what", [(appends_to_a_global_list, r"a call of \.append\(\) that changes the module-level "
                                      r"list GLOBAL_LIST(.|\n)*hint: write into a copy \(global_list = list\(GLOBAL_LIST\)\)"),
                                     (writes_a_global_list_item, r"an in-place write into the module-level list GLOBAL_LIST"),
                                     (writes_a_global_dict_item, r"an in-place write into the module-level dict "
                                      r"GLOBAL_DICT(.|\n)*hint: write into a copy \(global_dict = GLOBAL_DICT\.copy\(\)\)")])
def test_write_into_a_module_level_list_or_dict(make, jit, f, what):
    """A module-level list or dict written inside the function: the append reached the Python backend as a
    method of the read-only array the list is compiled in as ('numpy.ndarray' object has no attribute 'append', an
    internal traceback), the item write failed at run time or in Numba's typing; the dict's said 'used as a
    value'. Declined at the line as an array's write is, and the globals are left as they were."""
    args = (np.ones(3),) if make is srcdiff.grad else (np.ones(3), np.ones(3))
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_errors\.py:\d+: " + what):
        make(f, jit=jit)(*args)
    assert GLOBAL_LIST == [0.0, 1.0] and GLOBAL_DICT == {"a": 1.0}


# ---- a recursive helper that returns a tuple: named as such (it said "the differentiated function returns a
# tuple", of a function that returns a number), at its first return of a tuple (it was the `if` line above) ------
def _pair_steps(a, b, n):
    if n == 0:
        return a, b  # <- rec_tuple
    return _pair_steps(a * 0.9 + 0.1 * b, b - 0.1 * a * a, n - 1)


def uses_pair_steps(a, b):
    u, v = _pair_steps(a, b, 3)
    return u * v


def test_recursive_helper_returning_a_tuple_is_named():
    _assert_located(_declined(uses_pair_steps, [0.7, 0.4]), "rec_tuple", "recursive function '_pair_steps' returns "
                    "a tuple", "np.array((a, b))")


# ---- a helper four calls deep (a call that stays a call, not recursive) returning a tuple: it was declined as "the
# recursive function 'swap' returns a tuple"; named now for what it is, with the advice to call it fewer calls deep --
def _swap4(a, b):
    return b * 1.0, a * 2.0  # <- deep_swap


def _swap3(a, b):
    u, v = _swap4(a, b)
    return u * v


def _swap2(a, b):
    return _swap3(a, b) + 1.0


def _swap1(a, b):
    return _swap2(a, b) * 2.0


def uses_swap_four_deep(a, b):
    return _swap1(a, b)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_helper_four_calls_deep_returning_a_tuple_is_not_called_recursive(jit):
    msg = _declined(uses_swap_four_deep, [0.7, 0.4], jit=jit, wrt=(0, 1))
    _assert_located(msg, "deep_swap", "'_swap4' returns a tuple", "nested four calls deep", "fewer calls deep")
    assert "recursive" not in msg, msg


# ---- a dict passed whole to a srcdiff transform made inside the differentiated function (`srcdiff.grad(mlp)(p,
# x)`): it was declined as "a dict passed whole to a function that is not one of yours", whose advice (pass
# list(p.values())) does not apply; now the tuple case's message and advice: its items as separate arguments -----
def _mlp_of_dict(p, x):
    return np.sum(np.tanh(p["W"] * x + p["b"]))


def uses_grad_of_a_dict(p, x):
    g = srcdiff.grad(_mlp_of_dict)(p, x)  # <- dict_to_transform
    return np.sum(g["W"] ** 2)


def test_a_dict_passed_whole_to_an_inner_transform_gets_the_tuple_advice():
    p = {"W": np.array([0.3, -0.2]), "b": np.array([0.1, 0.4])}
    msg = _declined(uses_grad_of_a_dict, [p, np.array([1.0, 2.0])])
    _assert_located(msg, "dict_to_transform", "a dict passed whole to srcdiff.grad(_mlp_of_dict)",
                    "a srcdiff transform called inside", "separate arguments", 'p["W"], p["b"]')
    assert "not one of yours" not in msg, msg


# ---- a tuple holding a differentiated value passed to a function four calls deep (which stays a call): the
# value's derivative was dropped, a zero gradient (fuzz seed 980280); the call now calls the function made for
# the tuple's structure (inline.ForCall, tests/test_inline.py checks the values). Still declined, at the call's
# line in the callee's file: a helper that indexes the tuple by a variable, which no function can take item by
# item ------------------------------------------------------------------------------------------------------
def _deep_tuple_helper(pk):
    i = len(pk) - 1
    return np.ones((2, 4)) * pk[i]


def _deep3(u):
    return np.tanh(np.sum(_deep_tuple_helper((u, u))))  # <- deep_tuple


def _deep2(u):
    return _deep3(u) * 2.0


def _deep1(u):
    return _deep2(u) + 0.0


def uses_deep_tuple(a):
    s = np.sum(a * a)
    return _deep1(s)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_tuple_indexed_by_a_variable_four_calls_deep_is_declined_not_dropped(jit):
    a = np.array([0.3, -0.2, 0.5])
    _assert_located(_declined(uses_deep_tuple, [a], jit=jit), "deep_tuple", "_deep_tuple_helper",
                    "indexes the tuple by a variable", "arguments of their own")
    with pytest.raises(srcdiff.SrcdiffError, match="stays a call"):
        srcdiff.vjp(lambda x: _deep1(np.sum(x * x)) * x, jit=jit)(a, np.ones(3))
    # forward mode passes the tuple whole with a tuple of tangents: right
    v = np.array([1.0, 0.5, -0.3])
    assert srcdiff.jvp(uses_deep_tuple, jit=jit)(a, v)[1] == pytest.approx(
        (uses_deep_tuple(a + 1e-6 * v) - uses_deep_tuple(a - 1e-6 * v)) / 2e-6, rel=1e-6)


# ---- a function of yours that stays a call (recursive, four calls deep) writing into its parameter's array: the
# caller's forward sweep runs it, writing the array, and its pullback ran it again from the changed array: d/dy
# off by 1.25 (recursive) and by 2.0 (four deep) on main, silently; declined at the write. Forward mode runs it
# once, as Python does; a copy made at the function's start is fine ---------------------------------------------
def _rec_writes(buf, n, y):
    if n == 0:
        return buf
    buf[n % 2] = buf[n % 2] * y[0]  # <- rec_writes
    return _rec_writes(buf, n - 1, y)


def calls_rec_writes(x, y):
    r = _rec_writes(x, 3, y)
    return np.sum(r * r)


def _rec_copies(buf, n, y):
    buf = buf.copy()
    if n == 0:
        return buf
    buf[n % 2] = buf[n % 2] * y[0]
    return _rec_copies(buf, n - 1, y)


def calls_rec_copies(x, y):
    r = _rec_copies(x, 3, y)
    return np.sum(r * r)


def _h4_writes(buf, v):
    buf[0] = buf[0] * v[1]  # <- deep_writes
    return np.sum(buf * v)


def _h3_writes(b, v):
    return _h4_writes(b, v) * 2.0


def _h2_writes(b, v):
    return _h3_writes(b, v) + 1.0


def _h1_writes(b, v):
    return _h2_writes(b, v) * 0.5


def calls_deep_writes(x, y):
    b = x * 1.0
    return _h1_writes(b, y) + np.sum(b)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_call_that_stays_a_call_writing_into_its_argument_is_declined(jit):
    from gradcheck import numerical_grad
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    _assert_located(_declined(calls_rec_writes, [x.copy(), y], jit=jit, wrt=1), "rec_writes",
                    "_rec_writes writes into its parameter 'buf'", "buf = buf.copy()")
    _assert_located(_declined(calls_deep_writes, [x.copy(), y], jit=jit, wrt=1), "deep_writes",
                    "_h4_writes writes into its parameter 'buf'", "fewer calls deep")
    for f in (calls_rec_copies, calls_rec_writes):
        want = numerical_grad(lambda a, b: f(a.copy(), b), [x, y], 1)
        if f is calls_rec_copies:
            np.testing.assert_allclose(srcdiff.grad(f, wrt=1, jit=jit)(x.copy(), y), want, rtol=1e-6, atol=1e-8)
        v = np.array([0.3, 0.2, -0.1])
        assert srcdiff.jvp(f, wrt=1, jit=jit)(x.copy(), y, v)[1] == pytest.approx(want @ v, rel=1e-6)


def _put_entry(buf, i, v):
    buf[i] = v  # <- put_entry
    return 0.0


def _rec_writes_through_a_helper(buf, n, y):
    if n <= 0:
        return np.sum(buf) * y
    t = _put_entry(buf, n % 2, buf[n % 2] * 0.5 + y)
    return _rec_writes_through_a_helper(buf, n - 1, y) * 0.9 + t + y * buf[0]


def calls_rec_writes_through_a_helper(y, buf):
    return _rec_writes_through_a_helper(buf, 3, y) + np.sum(buf ** 2)


def _rec_writes_through_a_second_name(buf, n, y):
    if n <= 0:
        return np.sum(buf) * y
    b = buf
    b[n % 2] = buf[n % 2] * 0.5 + y  # <- second_name
    return _rec_writes_through_a_second_name(buf, n - 1, y) * 0.9 + y * buf[0]


def calls_rec_writes_through_a_second_name(y, buf):
    return _rec_writes_through_a_second_name(buf, 3, y) + np.sum(buf ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_recursion_writing_into_its_argument_through_a_helper_is_declined(jit):
    """A recursive function stays a call; one writing into its argument is declined, but a write made by a helper
    inlined into it was not seen (the decline read the function's own statements): d/dy 5.74 for 7.69, silently;
    so was one through a second name (`b = buf; b[i] = v`: 4.47 for 7.69). The decline reads the function in SSA
    with its calls inlined (follow_writes makes the second name's write one through buf), and names the line."""
    msg = _declined(calls_rec_writes_through_a_helper, [0.4, np.array([0.3, 0.7])], jit=jit)
    _assert_located(msg, "put_entry", "_rec_writes_through_a_helper writes into its parameter 'buf' (in _put_entry, "
                    "which it calls)", "buf = buf.copy()")
    msg = _declined(calls_rec_writes_through_a_second_name, [0.4, np.array([0.3, 0.7])], jit=jit)
    _assert_located(msg, "second_name", "_rec_writes_through_a_second_name writes into its parameter 'buf'")


def dict_made_inside(x, a):
    d = {"w": x, "b": a}
    return d["w"] * np.sum(d["b"])


def _scaled(t):
    p, d = t
    return p * d["w"]


def tuple_holding_a_dict(x, a):
    return _scaled((x, {"w": np.sum(a)}))


def dict_read_at_once(x, a):
    return {"w": x, "b": a}["w"] * np.sum(a)


def dict_read_at_once_bound(x, a):      # (the advice of dict_read_at_once)
    d = {"w": x, "b": a}
    return d["w"] * np.sum(a)


def test_a_dict_made_inside_is_read_at_its_keys():
    """A dict display bound to a name in the differentiated function, with no dict argument, or in a tuple passed to a
    helper (both were declined): each item its own variable, as a copy of a dict argument's
    (tests/test_dict_results.py)."""
    for f in (dict_made_inside, tuple_holding_a_dict, dict_read_at_once_bound):
        check_grad(f, [0.4, np.array([0.3, -0.5])], wrt=(0, 1))


@pytest.mark.parametrize("f", [dict_read_at_once])
def test_a_dict_made_inside_says_what_to_write_instead(f):
    """A dict display in the differentiated function (or in a tuple passed to a helper) said 'Dict expressions are
    not supported' with the hint 'f-strings, starred and dict/set displays cannot be differentiated': what to do
    instead was left to guess. It names the construct and says: pass the dict in, or use a tuple."""
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f, wrt=(0, 1))(0.4, np.array([0.3, -0.5]))
    lines, first = inspect.getsourcelines(f)
    assert (info.value.filename, info.value.lineno) == (__file__, first + 1), str(info.value)
    assert "dict displays `{...}` used as values where srcdiff cannot make each item" in str(info.value)
    assert "pass the dict in as an argument" in info.value.advice and "bind the dict to a name" in info.value.advice


def array_or_number_by_flag(x, flag):
    b = x * 2.0
    if flag:
        b = 1.0
    c = b * x
    return np.sum(c)


def test_numba_typing_failure_names_the_users_variable():
    """Numba's typing failure in the generated code named that code's version of b and Numba's version of that,
    defined at a line of the generated file: "for 'b2.2', defined at /root/.cache/srcdiff/...py (16)". It names `b`
    at the user's line."""
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(array_or_number_by_flag, jit=True)(np.ones(3), True)
    text = str(e.value)
    lines, first = inspect.getsourcelines(array_or_number_by_flag)
    at = first + next(k for k, ln in enumerate(lines) if "c = b * x" in ln)
    assert re.search(r"Cannot unify .* for `b`, defined at line \d+\n", text), text
    assert (e.value.filename, e.value.lineno) == (__file__, at), text
    assert "b2" not in text and ".py (" not in text and "srcdiff/" not in text.split("\n")[0].split(":", 2)[-1], text


def _large_function_module(tmp_path, keyword_only, index="0"):
    """A module whose `f(xa, M, k, scale)` is over inline.MAX_STATEMENTS statements (it stays a call) and reads its
    tuple argument xa at the index `index` (a constant, or `k`), and `fs` that calls it passing its own tuple
    argument and scale by keyword (scale a keyword-only parameter or a plain one)."""
    body = "".join(f"    s = s + np.sin(s + {j} * 0.01) * x\n" for j in range(150))
    call = "f(xa, M, 0, scale=scale)"
    source = (f"import numpy as np\n\n\ndef f(xa, M, k, {'*, ' if keyword_only else ''}scale=1.0):\n"
              f"    x = np.sum(xa[{index}] * xa[{index}]) + np.sum(xa[1] * xa[1])\n    s = 0.0\n{body}"
              f"    return s * np.sum(M) * scale\n\n\ndef fs(xa, M, scale=1.0):\n    return np.sin(0.5 * {call})\n")
    path = tmp_path / f"large_{int(keyword_only)}_{index}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, str(path)


def test_a_tuple_passed_to_a_function_too_large_to_inline_names_the_reasons(tmp_path):
    """A function over 400 statements stays a call; passed a tuple holding a differentiated value that it indexes by a
    variable, the decline gave the reasons of the others only ("stays a call (nested four calls deep, or
    recursive)": plain fuzz 1006002, 1006090's hvp of sin(f / 2)). It names the size."""
    xa, M = (0.4, np.array([0.3, -0.2])), np.ones(2)
    mod, path = _large_function_module(tmp_path, False, index="k")
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(mod.fs)(xa, M)
    assert e.value.filename == path and "stays a call (nested four calls deep, recursive, or too large to inline: " \
        "over 400 statements)" in str(e.value) and "indexes the tuple by a variable" in str(e.value), str(e.value)
    assert "split into functions of fewer statements" in e.value.advice


@pytest.mark.parametrize("keyword_only", [False, True], ids=["plain", "keyword_only"])
def test_a_tuple_passed_to_a_function_too_large_to_inline_is_taken_item_by_item(tmp_path, keyword_only):
    """The call of a function over 400 statements passing a tuple calls the function made for the tuple's structure
    (inline.ForCall), which takes its items as values of their own. With keyword-only parameters it was declined
    (plain fuzz 1006002, 1006090, 1006140): the call passes them by position after the others, which
    inline.parameter_names left out, so the call's arguments and the parameters did not match."""
    xa, M = (0.4, np.array([0.3, -0.2])), np.ones(2)
    mod, _ = _large_function_module(tmp_path, keyword_only)
    g = srcdiff.grad(mod.fs)(xa, M)
    h = 1e-6
    assert g[0] == pytest.approx((mod.fs((0.4 + h, xa[1]), M) - mod.fs((0.4 - h, xa[1]), M)) / (2 * h), rel=1e-5)
    for j in range(2):
        e = np.eye(2)[j] * h
        fd = (mod.fs((0.4, xa[1] + e), M) - mod.fs((0.4, xa[1] - e), M)) / (2 * h)
        assert g[1][j] == pytest.approx(fd, rel=1e-5)


def writes_an_item_of_a_rebound_tuple(xa, y):
    for j in range(3):
        xa[1][j] = y * j  # <- tuple_item_write
    xa = (xa[0] * 2.0, xa[1])
    return np.sum(xa[0]) + np.sum(xa[1]) * y


def writes_an_item_through_a_name(xa, y):
    a = xa[1].copy()
    for j in range(3):
        a[j] = y * j
    xa = (xa[0] * 2.0, a)
    return np.sum(xa[0]) + np.sum(xa[1]) * y


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_write_into_an_item_of_a_rebound_tuple_argument_says_bind_the_item(jit):
    """`xa[1][j] = v` of a tuple argument the function binds again (`xa = (...)`) was declined with the hint "write
    x[i, j] = v instead of x[i][j] = v", which is wrong for a tuple's item (xa[1, j] indexes the tuple). The decline
    names xa and the write, and says to bind the item to a name first, which works (the second function)."""
    msg = _declined(writes_an_item_of_a_rebound_tuple, [(np.ones(3), np.ones(3)), 0.5], jit=jit, wrt=1)
    _assert_located(msg, "tuple_item_write", "the write xa[1][j] = ... into an item of the tuple argument `xa`, which the function binds again",
                    "`a = xa[1]`, then `a[j] = v`")
    assert "xa[1, j]" not in msg and "x[i, j]" not in msg, msg
    check_grad(writes_an_item_through_a_name, [(np.ones(3), np.full(3, 0.3)), 0.5], wrt=1, jit=jit)


def writes_into_a_transpose(x, B):
    B = B * 1.0
    B.T[0, 1] = x[0]  # <- transpose_write
    return np.sum(B * B)


def writes_into_a_reshape(x):
    a = x * 2.0
    a.reshape(2, 2)[0, 1] = x[0]  # <- reshape_write
    return np.sum(a)


def test_a_write_into_a_computed_array_quotes_the_users_target():
    """`B.T[0, 1] = v` was declined as "the write np.transpose(B)[0, 1] = ...", resolve's spelling of the user's
    `B.T`: the message quotes the target as the user wrote it (also `a.reshape(2, 2)[0, 1]`, resolve's np.reshape)."""
    msg = _declined(writes_into_a_transpose, [np.ones(2), np.ones((2, 2))])
    _assert_located(msg, "transpose_write", "the write B.T[0, 1] = ... is not supported", "bind the array")
    assert "np.transpose" not in msg, msg
    msg = _declined(writes_into_a_reshape, [np.ones(4)])
    _assert_located(msg, "reshape_write", "the write a.reshape(2, 2)[0, 1] = ... is not supported")
    assert "np.reshape" not in msg, msg


def writes_a_row_the_loop_walks(P, y):
    s = 0.0
    for u, v in zip(P[0], P[1]):
        P[1, 0] = y * u  # <- loop_walks_P
        s = s + v * y
    return s


def walks_copies_of_the_rows(P, y):
    Q = P * 1.0     # (written here, not the caller's P: the finite differences call it again)
    s = 0.0
    for u, v in zip(np.copy(Q[0]), np.copy(Q[1])):
        Q[1, 0] = y * u
        s = s + v * y + Q[1, 0] * u
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_write_into_an_array_a_loop_walks_names_the_array(jit):
    """A write into P inside `for u, v in zip(P[0], P[1])` was declined as a write "into the array the loop over
    `the loop's iterable` walks": neither P nor what the loop walks was named. It names P, the loop's iterables
    (both rows: a copy of one alone is declined in turn) and the copy to loop over, which works (the second)."""
    msg = _declined(writes_a_row_the_loop_walks, [np.ones((2, 3)), 0.5], jit=jit, wrt=1)
    _assert_located(msg, "loop_walks_P", "writes in place into `P`", "the loop over `P[0]` and `P[1]`",
                    "np.copy(P[0]) in place of P[0], np.copy(P[1]) in place of P[1]")
    assert "the loop's iterable" not in msg, msg
    check_grad(walks_copies_of_the_rows, [np.full((2, 3), 0.7), 0.5], wrt=1, jit=jit)


def _doubled_weights(params):
    return dict(params, W=params["W"] * 2.0)


def reads_a_helpers_dict_by_get(params, x):
    d = _doubled_weights(params)
    w = d.get("W", 0.0)  # <- helpers_dict_get
    return np.sum(w * x)


def _doubled_weights_tuple(params):
    return params["W"] * 2.0, params["b"]


def reads_a_helpers_tuple(params, x):
    W, b = _doubled_weights_tuple(params)
    return np.sum(W * x) + b


def reads_a_copy_made_here_by_get(params, x):
    d = dict(params, W=params["W"] * 2.0)
    return np.sum(d.get("W", 0.0) * x) + d.get("b", 0.0) * d.get("c", 1.5)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_get_of_a_dict_a_helper_returns_works(jit):
    """`d = make(params); d.get("W", 0.0)` was declined with "method .get() is not supported" and the hint "compute
    it with NumPy functions, or register a rule"; then with a decline naming d and the helper (a dict a helper
    returned was not read at all). A helper returning a copy of its dict at once (`return dict(params, W=...)`,
    transforms/copy_returns.py) is now read like one bound to a name first: `.get` of it, a helper's tuple and a
    copy made here all give the gradient central differences give."""
    params = {"W": np.array([0.3, -0.4, 0.8]), "b": 0.6}
    x = np.array([1.0, 2.0, -0.5])
    for f in (reads_a_helpers_dict_by_get, reads_a_helpers_tuple, reads_a_copy_made_here_by_get):
        got = srcdiff.grad(f, jit=jit)(params, x)
        items = lambda W, b: f({"W": W, "b": b}, x)
        for k, key in enumerate(("W", "b")):
            np.testing.assert_allclose(got[key], numerical_grad(items, [params["W"], params["b"]], k), rtol=1e-5,
                                       atol=1e-6, err_msg=f"{f.__name__}: d/d {key}")


def writes_an_item_of_a_tuple_it_made(x):
    t = (np.zeros(3), np.zeros(3))
    t[1][0] = x[1]  # <- made_tuple_item_write
    return np.sum(t[1] * x)


def writes_the_item_before_the_tuple(x):
    r = np.zeros(3)
    r[0] = x[1]
    t = (np.zeros(3), r)
    return np.sum(t[1] * x)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_write_into_an_item_of_a_tuple_the_function_makes_says_write_before(jit):
    """The same write into a tuple the function makes: binding the item to a name first is declined in turn (a write
    through a view of t's item), so the advice there is to write into the array before the tuple is built (which
    works: the second function), or to make t one array."""
    msg = _declined(writes_an_item_of_a_tuple_it_made, [np.array([0.2, 0.8, 1.0])], jit=jit)
    _assert_located(msg, "made_tuple_item_write", "the write t[1][0] = ... into an item of the tuple/list `t`",
                    "write into the item array before you put it in `t`", "make `t` one array (`t[1, 0] = v`")
    assert "`a = t[1]`" not in msg, msg
    check_grad(writes_the_item_before_the_tuple, [np.array([0.2, 0.8, 1.0])], jit=jit)
