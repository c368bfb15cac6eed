"""transforms/optimize/cse.py: a read of an array before and after an in-place write into memory it shares
through another name (`b = buf`, `row = M[0]`, `t = M.T`, a slice, `a += v`) are two values. Common-subexpression
elimination merged them (it forgot the reads of the written name only), so the second read vanished before the
aliasing check could see it: value and gradient 0.0 for 2.25 and 3.0, silently (h23c). Now each is declined at the
write, naming the user's variables, in grad and value_and_grad on both backends; forward mode, which follows element
and slice writes, gives the derivative where the second name is a view and declines a plain second name."""
import inspect
import sys

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def second_name(x):
    buf = np.zeros(3)
    b = buf
    y = x * b[0]
    buf[0] = x   # <- second_name
    return y + x * b[0]


def row_of_argument(x, M):
    row = M[0]
    y = x * row[0]
    M[0, 0] = x   # <- row_of_argument
    return y + x * row[0]


def transpose(x):
    M = np.zeros((2, 2))
    t = M.T
    y = x * t[0, 0]
    M[0, 0] = x   # <- transpose
    return y + x * t[0, 0]


def added_in_place(x):
    a = np.zeros(2)
    b = a
    y = x * b[0]
    a += x   # <- added_in_place
    return y + x * b[0]


def slice_summed(x):
    a = np.zeros(2)
    b = a[:]
    y = x * np.sum(b)
    a[0] = x   # <- slice_summed
    return y + x * np.sum(b)


def rebound_in_a_branch(x, c):
    buf = np.zeros(3)
    b = buf
    y = x * b[0]
    buf[0] = x   # <- rebound_in_a_branch
    if c > 0:
        buf = np.ones(3)
    return y + x * b[0]


def _line(tag):
    src, _ = inspect.getsourcelines(sys.modules[__name__])
    return next(i for i, line in enumerate(src, 1) if f"# <- {tag}" in line)


CASES = [(second_name, (1.5,), "`b` shares memory with `buf`"),
         (row_of_argument, (1.5, np.zeros((2, 2))), "`row` shares memory with `M`"),
         (transpose, (1.5,), "`t` shares memory with `M`"),
         (added_in_place, (1.5,), "`b` shares memory with `a`"),
         (slice_summed, (1.5,), "`b` shares memory with `a`"),
         (rebound_in_a_branch, (1.5, 1.0), "`b` shares memory with `buf`")]


@JIT
@pytest.mark.parametrize("transform", ["grad", "value_and_grad"])
@pytest.mark.parametrize("f, args, words", CASES, ids=[c[0].__name__ for c in CASES])
def test_a_read_after_a_write_through_another_name_is_declined(f, args, words, transform, jit):
    with pytest.raises(srcdiff.SrcdiffError) as info:      # (it was 0.0 for value 2.25 and d/dx 3.0)
        getattr(srcdiff, transform)(f, jit=jit)(*[np.copy(a) for a in args])
    msg = str(info.value)
    assert f"test_reads_across_writes.py:{_line(f.__name__)}" in msg, msg
    assert words in msg, msg


FOLLOWED = (row_of_argument, transpose, slice_summed)     # views: forward mode follows writes through them


@pytest.mark.parametrize("f, args, words", CASES, ids=[c[0].__name__ for c in CASES])
def test_forward_mode_follows_the_write_into_a_view_and_declines_a_second_name(f, args, words):
    jvp = srcdiff.jvp(f, wrt=0)
    if f not in FOLLOWED:     # (a plain second name: `a += v` and `b = buf` are not followed in forward mode)
        with pytest.raises(srcdiff.SrcdiffError, match=words.replace("`", ".")):
            jvp(*[np.copy(a) for a in args], 1.0)
        return
    value, tangent = jvp(*[np.copy(a) for a in args], 1.0)      # (it was 0.0 and 0.0)
    assert np.isclose(value, f(*[np.copy(a) for a in args]))
    expected = numerical_grad(lambda *v: f(*[np.copy(a) for a in v]), list(args), 0)
    assert np.isclose(tangent, expected, atol=1e-6), (tangent, expected)


def read_again_after_rebinding(x):
    buf = np.zeros(3)
    b = buf
    y = x * b[0]
    b = np.ones(3) * x
    buf[0] = x
    return y + x * b[0] + buf[0] * b[1]


@JIT
def test_a_name_bound_again_before_the_write_is_its_own_array(jit):
    value, g = srcdiff.value_and_grad(read_again_after_rebinding, jit=jit)(1.5)
    assert np.isclose(value, read_again_after_rebinding(1.5))
    assert np.isclose(g, numerical_grad(read_again_after_rebinding, [1.5], 0), atol=1e-6)
