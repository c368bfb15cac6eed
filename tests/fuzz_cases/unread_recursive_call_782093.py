# N=3 params=x,a,M,n,flag n=3 seq=tuple
# regression (fixed): the calls of a recursive helper without effects that only a write dropped by a later pass read
# stayed, as unread code (fuzz seed 782093, the 'source' oracle): the callees' purity is noted on the function for the
# passes that eliminate dead code again.
import math
import scipy.special

import numpy as np
from scipy.special import logsumexp


DEBUG = False
LIMIT = 2


def helper1(pk):
    p0, p1, = pk
    return (np.arccos((0.9 * np.tanh((np.power((1.5 + np.square(-0.7)), (0.9 * np.tanh(0.3))))))))


def helper2(p0, *, q1=1.5):
    u3, u4 = np.sin((scipy.special.xlogy(p0, (1.5 + np.square(p0))))), np.square(p0)
    return p0[0]


def rec5(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec5(u, depth - 1)) + 0.5 * u


def f(x, a, M, n, flag):
    buf6 = np.zeros(3)
    sq8 = M[:, :2]
    alpha7 = np.sum(np.sqrt(1.0 + np.square(M)), axis=1)
    for i9 in range(3):
        alpha7 = logsumexp(alpha7[:, None] + sq8, axis=0)
    al10 = buf6
    al10[0] = al10[0] * 0.9 + 0.1 * np.tanh(rec5(1.5, 2))
    for i11 in range(1):
        for i12 in range(2):
            if i12 > 0:
                x = 0.5 * x + 0.5 * np.tanh(prev13)
            prev13 = np.mean((-a))
        c14 = np.tanh(math.tanh((LIMIT * 0.25)))
        k15 = 0
        while k15 < LIMIT:
            c14 = c14 + 0.75 + 0.25 * np.tanh(np.sum((a)[1:] * (a)[:-1]))
            k15 += 1
            if x > 0.0:
                return sum(sum(np.sum((a)[1::2] * 0.5) for j17 in range(2)) for i16 in range(3))
        lam18 = lambda u19: ((n * 0.25)) + u19; lam20 = lambda u21: (((-0.5) ** 2.0 * a)) + u21; lam22 = lambda u23: (np.sum(M[:, i11])) + u23
    return np.log(1.0 + (a)[1] * (a)[1]) + np.sum(buf6) + np.sum(alpha7)
