# N=4 params=x,a,M,n,flag n=4 seq=tuple
# regression (plain fuzz 1470 of the generator's nested defs taking a pair, fixed): a nested def with a tuple parameter called twice; the front end flattened the lifted function's unit in place for the first call, so the second (with the pair) stayed a call: inner16_jvp() missing an argument (seed 1048: "name 'rt' is not defined")
import math
import operator

import numpy as np
from scipy.special import logsumexp


def helper1(pk):
    p0, p1, = pk
    return np.array([np.array([(i2 * 0.25), -0.7, (i2 * 0.25), (i2 * 0.25)]) * (i2 + 1.0) for i2 in range(2)])


def helper5(p0, p1=0.3, *, q2=2.0):
    for i6 in range(2):
        p1, q2 = q2, p1
        u7, u8 = np.exp(np.tanh((np.ones((2, 4)) * -1.2))), q2
    else:
        t9 = sum([np.sum(p0) for i10, e12 in enumerate(p0) if p0[i10] > -0.3])
    return (lambda y13: y13 * (np.ones((2, 4)) * 0.3))((p1 + p1))


def rec14(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec14(u, depth - 1)) + 0.5 * (np.logaddexp2(2.0, 0.3))


def f(x, a, M, n, flag):
    buf15 = np.zeros((2, 4))
    def inner16(uv):
        u, u2 = uv
        w17 = (rec14(np.sum(helper5(p0=a)), 1) * np.ones(4))
        return M[1]
    M = ((operator.truediv(np.tanh(M), (1.5 + np.square(M)))) + -0.7)
    buf18 = np.copy(a)
    pairs21 = ((sum([M, M, M]), (rec14(x, 1) * np.ones(4))), ((a[None, :] * M), ((a).astype(int) * M[0])),)
    for w19, v20 in pairs21:
        u22, u23 = (rec14(math.sin(buf18[3]), 1) * np.ones((2, 4))), (np.arctan(np.sum(inner16((x, x)))))
        t24 = np.maximum(M[0], 0.5)
        lam25, lam27, lam29 = lambda u26: (logsumexp(w19 + v20, axis=1)[1]) + u26, lambda u28: ((np.matmul(v20, a))) + u28, lambda u30: ((np.clip(w19[1], -0.5, 0.5))) + u30
    else:
        b31 = not flag
        u32, u33 = (np.sum(inner16((x, a[3]))) * np.maximum((n * 0.25), x)), 2.0
    return 2.0 + np.sum(buf15) + np.sum(buf18)
