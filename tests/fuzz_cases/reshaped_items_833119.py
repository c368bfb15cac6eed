# N=4 params=xa,M,n,flag n=3 seq=list checkpoints=1
# regression (plain fuzz 833119, fixed): an array of a list comprehension whose filter keeps no item in the loop's first iteration changes size between iterations: the backward sweep kept the later iteration's adjoint shape (broadcast error)
import math

import numpy as np
from scipy.special import logsumexp


def helper1(pk):
    p0 = pk[0]
    k2 = 0 + 1
    for i3 in range(3):
        assert np.all(np.isfinite(p0))
        b4 = logsumexp((np.ones(4) * 2.0)) > 0.5
        b5 = b4 and ((i3 * 0.25) - (k2 * 0.25)) > -0.5
    return np.exp(np.tanh(sum([(np.ones((2, 4)) * 0.5), (np.ones((2, 4)) * 1.5), (np.ones((2, 4)) * 0.5)])))


def helper6(pk):
    p0, p1 = pk[0], pk[1]
    return (np.mean((p1[None, :] * p0), axis=(1, 0)))


def bump7(buf, s):
    for j in range(1, 4):
        buf[j] += 0.1 * np.tanh(s * buf[j - 1])


def make8(c):
    return lambda u: (((c * c) * 0.3)) * u


def make9(c):
    def g(u):
        return (np.mean((np.ones((2, 4)) * 1.5))) * u
    return g


def rec10(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec10(u, depth - 1)) + 0.5 * 0.3


def walk11(pairs, s):
    t = s
    for k, (w, v) in enumerate(pairs):
        t = 0.5 * t + (k + 1) * 0.1 * np.sum(np.tanh(w @ v + t))
    return t


def f(xa, M, n, flag=False, *, scale=-0.7, neg=False):
    x, a = xa
    fn13 = make8(a[2])
    fn14 = make9(sum(x for i15 in range(4) if neg))
    buf17 = np.copy(a)
    t18 = np.where(np.sum(M[M < 0.1] * 0.5) > -0.3, np.maximum(M, ((-0.5) ** 2.0 * buf17[3])), np.array([(a - -1.2), np.sum(M, axis=0)]))
    x, scale = scale, x
    for i19 in range(n):
        t20 = (w21 := (t18)[[0, 0]]) * 0.5 + np.tanh(w21)
        k22 = 1 - 2
        if (w23 := scale) > 0.5:
            print('x =', x)
            bump7(buf17, np.sum(a[a > 0.1]))
        else:
            u24, u25 = (np.arccosh((1.5 + np.square((a * (M[0] > -0.5)))))), (n * 0.25)
        c26 = np.tanh(a[i19])
        while (r27 := c26 + 0.1 * np.tanh(np.mean(t20))) < 2.0:
            c26 = c26 + 0.75 + 0.25 * np.tanh(x)
            w21 = np.sin((lambda y28: y28 * (helper6((t18, a,)) * np.ones((2, 4))))(np.sum(((helper6((w21, a,)) * np.ones(4)))[1:] * ((helper6((w21, a,)) * np.ones(4)))[:-1])))
        else:
            bump7(buf17, np.sum(np.array([a[2] for i29 in range(4) if i19 > 0])))
    else:
        lam32 = lambda u33: (np.sum((a)[1:] * (a)[:-1])) + u33; lam34 = lambda u35: (fn13((n * 0.25))) + u35; lam36 = lambda u37: (-0.7) + u37
    return math.sin(np.sum(helper1((a[2],)))) + scale + np.sum(buf17) + np.sum(t18)
