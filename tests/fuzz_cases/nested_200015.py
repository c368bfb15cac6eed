import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0):
    if np.log(1.0 + np.sqrt(1.0 + np.square(0.5)) * np.sqrt(1.0 + np.square(0.5))) > -1.2:
        t2 = np.maximum(np.where((-1.2 - 0.5) > 2.0, np.max(p0[0]), 0.3), (2.0 / (1.5 + np.square(-0.7))))
    else:
        t3 = (np.tanh((p0 + 2.0)) + p0)
    for i4 in range(1):
        if (i4 * 0.25) > -1.2:
            break
        if np.sum(p0) > 1.5:
            return np.exp(np.tanh(p0))
    return p0


def f(x, a, M):
    for i5 in range(2):
        if logsumexp(np.maximum(M, 0.3)) > 1.5:
            a = np.sin(np.dot((helper1(helper1(M)))[:, 0], ((x * x) - (M * a[i5]))))
        else:
            if (-a[2]) > 2.0:
                break
    for i6 in range(1, a.shape[0]):
        a = 0.5 * a + 0.5 * np.tanh((x + np.sqrt(1.0 + np.square(a))))
        c7 = np.tanh(logsumexp(M + (a)[None, :], axis=1)[0])
        while c7 < 2.0:
            t8 = np.mean(((i6 * 0.25) + (M - x)), axis=0)
            if (x / (1.5 + np.square(a[2]))) > 2.0:
                return (np.where(x > -0.7, t8[i6], x) + np.sum(logsumexp(M + M[0], axis=1)))
            c7 = c7 + 0.75 + 0.25 * np.tanh(np.sum(helper1(M)))
        t9 = (-np.where(np.sum(M) > 1.5, np.where(a[i6] > 0.3, a, a), np.dot((M)[:, 1], M)))
    t10 = np.sum(helper1((x + (-M))), axis=0)
    if np.sum((t10)[::-1] * t10) > 1.5:
        return (logsumexp(t10) * (a[2] + x))
    M = M
    return logsumexp(M + ((t10 * -0.7))[None, :], axis=1)[0] + np.sum(t10)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
