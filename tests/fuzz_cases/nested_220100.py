import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0):
    return (np.exp(0.3 * np.sin((np.ones(2) * 0.3))) / (1.5 + np.square(logsumexp(np.sum((np.ones((2, 2)) * -0.7), axis=1)[:, None] + (np.ones((2, 2)) * 1.5), axis=0))))


def helper2(p0, p1):
    p1 = np.dot(((p0 + (p0)[:, 1:2]))[:, 1], np.exp(0.3 * np.sin(p0)))
    return (helper1(p1[0])[None, :] * (helper1(2.0) * np.ones((2, 2))))


def f(x, a, M):
    for i3 in range(1, 1):
        for i4 in range(2):
            if np.dot(M[1], M[0]) > 1.5:
                return np.sum(((-a))[:2])
            t5 = M
            if ((i3 * 0.25) / (1.5 + np.square((i4 * 0.25)))) > -0.7:
                break
            if (2.0 - -1.2) > -0.7:
                break
    for i6 in range(2):
        for i7 in range(1):
            if (x * 0.3) > -0.7:
                break
            a = np.sin((np.where(a[0] > 1.5, (M * np.sum(M, axis=1, keepdims=True)), (-M))).sum(axis=0))
            t8 = np.maximum(a, 0.3)
        if np.sin(2.0) > 1.5:
            return np.dot(a, a)
        t9 = np.where(((-a)[None, :] * M) > 1.5, np.maximum(M, (a[None, :] * M)), (-(M + (M)[:, 1:2])))
        if np.sum(helper2(t9, a)) > -0.7:
            return np.where((i6 * 0.25) > -1.2, logsumexp(a), np.dot(a, a))
    t10 = ((-(M / (1.5 + np.square(2.0)))) + np.sum((-M), axis=1, keepdims=True))
    for i11 in range(1):
        if (np.where(1.5 > -0.7, x, (i11 * 0.25)) / (1.5 + np.square(np.where((i11 * 0.25) > 2.0, (i11 * 0.25), -1.2)))) > 2.0:
            t12 = np.where(a > 0.3, (np.sum(helper2(M, a), axis=0) - np.sum(logsumexp(t10 + (a)[None, :], axis=1))), np.sum(M, axis=0))
        else:
            t13 = np.sqrt(1.0 + np.square(np.maximum(np.maximum(t10, 2.0), 0.3)))
        for i14 in range(1, 1):
            if x > -0.7:
                break
            t15 = M
    return np.dot((M[0] / (1.5 + np.square(a))), a) + np.sum(t10)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
