import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0):
    for i2 in range(2):
        if np.sum(logsumexp((np.ones((2, 2)) * 0.3) + p0, axis=1)) > -1.2:
            break
        t3 = (np.max((p0 + (np.ones((2, 2)) * -0.7))) * ((p0)[1] + p0[i2]))
        if np.square(t3) > 2.0:
            break
        t4 = (np.ones((2, 2)) * 0.3)
    return np.where((-(np.ones((2, 2)) * -0.7)) > 0.3, ((np.ones((2, 2)) * 1.5) - (np.ones((2, 2)) * 0.5)), (np.ones((2, 2)) * -1.2))


def f(x, a, M):
    for i5 in range(1, a.shape[0]):
        for i6 in range(1, a.shape[0]):
            M = np.sin((np.where((a)[0] > 2.0, helper1(a), (x - M)) + np.sum(np.where((M[0][None, :] * M) > 0.5, np.sin(M), M), axis=1, keepdims=True)))
            a = np.sin(a)
            M = 0.5 * M + 0.5 * np.tanh(np.square((logsumexp(M, axis=0)[None, :] * (M / (1.5 + np.square(x))))))
            if (x - (i5 * 0.25)) > -1.2:
                break
    for i7 in range(1):
        M = 0.5 * M + 0.5 * np.tanh(np.tanh(np.exp(0.3 * np.sin((-M)))))
        c8 = np.tanh((i7 * 0.25))
        while c8 < 2.0:
            if 1.5 > -0.7:
                return (i7 * 0.25)
            c8 = c8 + 0.75 + 0.25 * np.tanh(x)
        if np.exp(0.3 * np.sin((i7 * 0.25))) > -1.2:
            return np.sum((np.dot((M)[:, 0], M))[:2])
        if -0.7 > 2.0:
            t9 = a
        else:
            if (-a[i7]) > 1.5:
                break
    return np.where(logsumexp(M + a, axis=1)[1] > -1.2, np.sum(helper1(M[1])), np.sum((M[0])[::-1] * M[1]))


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
