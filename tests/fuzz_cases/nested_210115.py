import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0):
    if 2.0 > 1.5:
        return np.dot(logsumexp(p0, axis=0), np.maximum(p0[1], p0[0]))
    return (logsumexp((p0)[:, 0][:, None] + p0, axis=0))[0]


def f(x, a, M):
    t2 = M
    for i3 in range(1, a.shape[0]):
        for i4 in range(1, 1):
            if (a[i4] + x) > 0.3:
                return np.sum(t2[:, i4:] * x)
            t5 = np.sqrt(1.0 + np.square(np.sin(helper1(M))))
        t6 = logsumexp(logsumexp(np.sum((a * t2), axis=1)[:, None] + M, axis=0))
        for i7 in range(2):
            if t6 > -1.2:
                return np.where(x > 1.5, np.sum((a)[::-1] * M[0]), np.square(-1.2))
            M = 0.5 * M + 0.5 * np.tanh(M)
            if (1.5 + t6) > 2.0:
                return logsumexp(t2 + np.where(x > -0.7, a, a), axis=1)[1]
        a = np.sin((helper1(np.exp(0.3 * np.sin(M))) * np.ones(2)))
    sq9 = M[:, :2]
    alpha8 = np.sum((helper1(t2) * np.ones((2, 2))), axis=1)
    for i10 in range(2):
        alpha8 = logsumexp(alpha8[:, None] + sq9, axis=0)
    for i11 in range(1):
        for i12 in range(1):
            t13 = np.maximum(M[0], 0.5)
    for i14 in range(2):
        t15 = np.maximum(np.maximum((x * t2[0]), 1.5), 0.5)
        if np.exp(0.3 * np.sin(-1.2)) > 0.5:
            return (i14 * 0.25)
        if ((-a[0]) / (1.5 + np.square(0.5))) > -1.2:
            if logsumexp(t2[0]) > 0.5:
                break
            t2 = np.sin(np.where(np.dot(np.exp(np.tanh(t15)), logsumexp(t2, axis=0)) > -0.7, M, np.sqrt(1.0 + np.square(np.where(M > 2.0, M, M)))))
        for i16 in range(1):
            t17 = np.dot(t2[:, i16], t2[:, 1])
            t18 = t2
    return np.dot(a, M[1]) + np.sum(t2) + np.sum(alpha8)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
