# N=3 params=x,a,M,n,flag n=1 seq=list
# regression (CUDA fuzz 1007127, jvp, fixed): helper1's lambda stays a call (its value unread), and its primal's module name lam1 is a local of f, the value of rec6's own lambda inlined there (lam1 = u * u): the jvp called a float ('float' object is not callable)
import math

import numpy as np
from scipy.special import logsumexp


def helper1(pk):
    p0, p1, = pk
    p1 = (lambda y2: y2 * sum([p1, p1], 0.3))(1.5)
    return -0.7


def rec6(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec6(u, depth - 1)) + 0.5 * (lambda y7: y7 * u)(u)


def make5(c):
    return lambda u: sum([(0.5 / (1.5 + np.square(u))), helper1([(np.ones(3) * 2.0), (np.ones((2, 3)) * -1.2)]), c])


def f(x, a, M, n, flag, *, scale=1.0, neg=False):
    fn10 = make5(x)
    t19 = fn10(a[2])
    return rec6((math.cosh(2.0 * math.tanh(x))), 1) + t19 + np.sum(M) * scale
