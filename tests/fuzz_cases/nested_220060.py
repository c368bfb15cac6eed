import numpy as np
import srcdiff
from scipy.special import logsumexp


def f(x, a, M):
    for i1 in range(1, 2):
        if x > 1.5:
            if (i1 * 0.25) > 0.3:
                return np.sum(M[1])
            if (x + x) > 0.3:
                break
        if np.where(1.5 > -1.2, x, x) > 0.5:
            break
        for i2 in range(2):
            if np.sum((a)[::-1] * a) > 1.5:
                break
        c3 = np.tanh(np.sum((M[1])[:2]))
        while c3 < 2.0:
            t4 = logsumexp(M[:, i1][:, None] + M, axis=0)
            t5 = M
            c3 = c3 + 0.75 + 0.25 * np.tanh(x)
    return (np.tanh(-1.2) - np.dot(M[0], a))


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
