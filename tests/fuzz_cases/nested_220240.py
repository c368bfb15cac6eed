import numpy as np
import srcdiff
from scipy.special import logsumexp


def f(x, a, M):
    if 0.5 > 2.0:
        c1 = np.tanh(a[0])
        while c1 < 2.0:
            t2 = ((-np.sqrt(1.0 + np.square(M))) * np.sum((np.sum(logsumexp(M + (M[1])[None, :], axis=1)) * M), axis=1, keepdims=True))
            c1 = c1 + 0.75 + 0.25 * np.tanh(x)
    else:
        for i3 in range(a.shape[0]):
            t4 = (np.sum(np.log(1.0 + a * a)) * np.maximum(a, 2.0))
            a = 0.5 * a + 0.5 * np.tanh(M[0])
            if np.maximum((i3 * 0.25), x) > -1.2:
                return np.maximum(np.sum(logsumexp(M + t4, axis=1)), logsumexp(M))
            t5 = np.sum((np.dot((np.maximum(M, -0.7))[:, 0], (M + (M)[:, 1:2])))[:2])
        if np.exp(np.tanh(a[1])) > 0.5:
            return (-(x / (1.5 + np.square(x))))
    t6 = np.where(logsumexp(a) > 2.0, M, ((x * M) * ((M / (1.5 + np.square(a[1]))))[:, 1:2]))
    t7 = a
    return t7[1] + np.sum(t6) + np.sum(t7)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
