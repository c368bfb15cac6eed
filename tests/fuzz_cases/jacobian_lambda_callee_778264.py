# N=2 params=x,a,M,n,flag n=1 seq=tuple
# regression (fixed): dead-code purity of the callees that stay calls parsed a lifted lambda's unit again in forward
# mode (jacobian by columns), whose resolve met the runtime's own rt. names: "name 'rt' is not defined" (fuzz seed 778264).
import math
import scipy.special

import numpy as np
from scipy.special import logsumexp


def helper1(pk):
    p0, p1 = pk[0], pk[1]
    for i2 in range(1, 1):
        b3 = (lambda y4: y4 * p1[1])((i2 * 0.25)) > 0.3
        u5, u6 = np.sum(logsumexp((np.ones((2, 2)) * 0.5) + (p1 * (p1 > 0.0)), axis=1)), np.array([(lambda y7: y7 * p1)(-0.7), (lambda y8: y8 * p1)((i2 * 0.25))])
        pairs11 = (((u6)[[1, 1]], np.sqrt(1.0 + np.square(p1))),)
        for w9, v10 in pairs11:
            p0, u5 = u5, p0
            u12, u13 = (-(-w9)), np.exp(0.3 * np.sin(w9))
        t14 = 2.0
    for i15 in range(0, 2, 2):
        if (i15 < 1) and (i15 > 0):
            continue
        for i16 in range(1):
            p0 *= 0.5 + 0.25 * np.tanh(np.sum(p1[p1 > -0.3]))
            assert p0 is not None, 'lost p0'
            lam17 = lambda u18: (p0) + u18
            t19 = np.where(np.sum(p1[p1 > -0.3]) > -0.5, ((((-2.0) ** 3 * (np.ones((2, 2)) * 0.3))).astype(float)), np.maximum(((-1.5) ** 2.0 * (np.ones((2, 2)) * 0.3)), -1.2))
        for i20 in range(2):
            t21 = np.square((lambda y22: y22 * p1)(p0))
            k23 = 1 - 0
            k23 += 1
            lam24, lam26, lam28 = lambda u25: (np.exp(np.tanh(p1[i20]))) + u25, lambda u27: (p1[i15]) + u27, lambda u29: (logsumexp((np.ones((2, 2)) * 0.3)[:, i20][:, None] + (np.ones((2, 2)) * 1.5), axis=0)) + u29
            if i20 > 1:
                return (np.inner(np.sum(np.where((k23 * 0.25) > 0.3, (np.ones((2, 2)) * 2.0), (np.ones((2, 2)) * 1.5)), axis=1), ((np.ones((2, 2)) * -0.7)).T))
        if (i15 > 2) or (-1.2 > 0.5):
            return (np.arctanh((0.9 * np.tanh(((np.ones((2, 2)) * 2.0)).sum(axis=0)))))
    return p1


def f(x, a, M, n, flag):
    buf30 = a * 1.0
    for row31 in M:
        buf30[0] += (scipy.special.log_ndtr(x - 25.0))
        if np.dot(np.array([a[1], buf30[0], x]), np.array([1.5, 0.5, 2.0])) > 0.5:
            continue
        if flag:
            continue
        u32, u33 = np.max(row31), (sum([M, M, M]))[[0, 0]]
    buf30[1:] += np.sum(np.array([(n * 0.25), -0.7]) * np.array([1.5, 0.3]))
    t34 = M
    stop36 = a.shape[0]
    for i35 in range(1, stop36):
        stop36 = stop36 - 1
        c37 = np.tanh((lambda y38: y38 * 0.3)(x))
        while c37 < 2.0:
            c37 = c37 + 0.75 + 0.25 * np.tanh((math.pow((1.5 + np.square(x)), 0.5)))
            al39 = buf30
            al39[i35 - 1] = al39[i35 - 1] * 0.9 + 0.1 * np.tanh(buf30[0])
        c40 = np.tanh(np.sum((M)[::2]))
        while c40 < 2.0:
            c40 = c40 + 0.75 + 0.25 * np.tanh(a[stop36])
            lam41 = lambda u42: (helper1((np.dot(np.array([(n * 0.25), x]), np.array([-1.2, 2.0])), sum(M[0] * (j43 * 0.5) for j43 in range(2)),))) + u42
            u44, u45 = (lam41(np.sum(M[0])) * np.ones((2, 2))), np.sum(t34[:, stop36:] * ((stop36 * 0.25) + -1.2))
        t46 = np.sum(a[a > 0.3])
    return (round(buf30[0]) + 0.5) + np.sum(buf30) + np.sum(t34)
