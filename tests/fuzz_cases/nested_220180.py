import numpy as np
import srcdiff
from scipy.special import logsumexp


def f(x, a, M):
    def inner1(u):
        def inner2(z):
            return z * np.max(a)
        w3 = logsumexp(np.maximum(M[1], 2.0))
        return logsumexp(M + ((-a))[None, :], axis=1)[1]
    c4 = np.tanh(np.sum((a)[1:] * (a)[:-1]))
    while c4 < 2.0:
        t5 = (inner1(np.sum((np.mean(M, axis=0))[:2])) * np.ones((2, 2)))
        t6 = (np.concatenate(((np.where(a > -0.7, a, a))[1:], (np.where(a > -0.7, a, a))[:1]))[None, :] * (inner1((x * 0.3)) * np.ones((2, 2))))
        c4 = c4 + 0.75 + 0.25 * np.tanh(inner1(a[0]))
    buf7 = np.zeros(2)
    if np.dot(np.concatenate(((a)[1:], (a)[:1])), np.exp(0.3 * np.sin(a))) > 0.5:
        for i8 in range(1):
            a = np.sin((inner1(logsumexp(M + ((inner1(-1.2) * np.ones(2)))[None, :], axis=1)[1]) * np.ones(2)))
    else:
        M = np.where((-M) > 0.3, ((M * (M)[:, 0][:, None]) / (1.5 + np.square(np.maximum(M, -0.7)))), (np.dot((M)[:, 1], M)[None, :] * (M[1][None, :] * M)))
    return ((-M))[0, 1] + np.sum(buf7)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
