import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0):
    t2 = (np.ones(3) * 0.3)
    return (-p0)


def f(x, a, M):
    c3 = np.tanh(x)
    while c3 < 2.0:
        for i4 in range(1, 1):
            t5 = ((helper1(np.sum(logsumexp(M + (a)[None, :], axis=1))) * np.ones(3)))[::-1]
            if np.sin(x) > -0.7:
                return logsumexp(M + ((x + t5))[None, :], axis=1)[0]
            t6 = (-logsumexp(np.sum((helper1(a[2]) * np.ones((2, 3))), axis=1)[:, None] + M, axis=0))
        for i7 in range(1):
            t8 = a
        c3 = c3 + 0.75 + 0.25 * np.tanh((a[0] + -0.7))
    if np.dot(np.dot((M)[:, 0], M), a) > -0.7:
        if logsumexp(M + (a)[None, :], axis=1)[1] > 2.0:
            return ((-a[1]) - np.exp(np.tanh(x)))
    else:
        for i9 in range(3):
            t10 = (np.dot(((M * x))[:, 1], (M + M)) * (logsumexp(a) / (1.5 + np.square(np.maximum(2.0, 1.5)))))
            M = 0.5 * M + 0.5 * np.tanh(M)
            if (t10[0] / (1.5 + np.square(0.5))) > -0.7:
                return np.sum(((a - a))[::-1] * (M)[1])
            t11 = ((helper1(np.sum(M)) * np.ones((2, 3))) * np.sum((helper1((i9 * 0.25)) * np.ones((2, 3))), axis=1, keepdims=True))
        for i12 in range(a.shape[0]):
            t13 = helper1(x)
            t14 = (-M)
    return (-(x - a[0]))


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
