"""Programs with in-place writes and several names for arrays that srcdiff must NOT decline
(tests/test_errors.py::test_aliasing_check_accepts): the aliases never see a write they then read."""
import numpy as np

def rebind_in_loop(x, a):
    h = np.zeros(3)
    for t in range(3):
        h[t] = x * (t + 1.0)
        h = h * 0.5 + a
    return np.sum(h * h)

def branch_arrays(x, a):
    if x > 0:
        y = a.copy()
    else:
        y = np.zeros(3)
    y[1] = x * x
    return np.sum(y * a)

def double_buffer(x, a):
    prev = a.copy()
    cur = np.zeros(3)
    for t in range(3):
        for i in range(3):
            cur[i] = np.sin(prev[i] * x)
        prev, cur = cur, prev
    return np.sum(prev)

def write_then_view(x, a):
    y = a.copy()
    y[0] = x * 2.0
    z = y[1:]
    return np.sum(z * z) + np.sum(y)

def carried_buffer(x, a):
    y = a.copy()
    s = 0.0
    for t in range(3):
        y[t] = y[t] * x
        s = s + np.sum(y[:t + 1])
    return s
