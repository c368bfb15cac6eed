# N=3 params=x,a,M,n,flag n=1 seq=tuple checkpoints=1
import math

import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0, p1):
    for i2 in range(3):
        if np.sum(((p1[1] * (p1[1] > 0.1)))[::-1] * (p0 if p0[0] > 0.1 else p1[1])) > 0.5:
            b3 = sum([p0[2], -1.2, 1.5]) > 0.1
        elif 0.0 < p0[2] < 2.0:
            u4, u5 = (lambda y6: y6 * p1)(np.sin(p0[i2])), p0
    print('p0 =', p0)
    return p0[0]


def rec7(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec7(u, depth - 1)) + 0.5 * np.sum(((np.ones(3) * 2.0))[1::2] * 0.5)


def f(x, a, M, n, flag):
    buf8 = np.zeros((2, 3))
    if not (n > 0):
        for i9 in range(1, n):
            print('a =', a)
            b10 = not flag
            buf8[i9 % 2, 2] += np.sum(logsumexp(buf8 + (a)[[0, 1, 2]], axis=1))
            assert M is not None, 'lost M'
        for i11 in range(1):
            if i11 > 0:
                x = 0.5 * x + 0.5 * np.tanh(prev12)
            prev12 = x
    elif (buf8[1, 2] > -0.3) or (x > 0.0):
        if n > 1:
            return (rec7(x, 2) * (x if x > 0.3 else -0.7))
    elif -0.5 < np.sum((a)[(a) < -0.3] * 0.5) < 0.5:
        c13 = np.tanh(((n * 0.25) - (n * 0.25)))
        while c13 < 2.0:
            c13 = c13 + 0.75 + 0.25 * np.tanh((n * 0.25))
            t14 = x
        b15 = flag and x > -0.5
    else:
        assert np.all(np.isfinite(a))
    buf8[1, 1] += np.square(((-0.5) ** 2 * x))
    return rec7((x if a[2] > 0.5 else x), 2) + np.sum(buf8)


def h(x, a, M, n, flag):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2), jit=True)(x, a, M, n, flag)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
