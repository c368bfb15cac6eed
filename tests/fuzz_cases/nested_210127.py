import numpy as np
import srcdiff
from scipy.special import logsumexp


def f(x, a, M):
    if (np.sum(M[0]) - x) > 0.3:
        c1 = np.tanh(a[2])
        while c1 < 2.0:
            x += (x * np.dot(np.sum(M, axis=0), (M)[0]))
            c1 = c1 + 0.75 + 0.25 * np.tanh(x)
    else:
        M = M
    sq3 = np.tanh(M[:, :2])
    alpha2 = ((x + M))[:, 0]
    for i4 in range(2):
        alpha2 = logsumexp(alpha2[:, None] + sq3, axis=0)
    c5 = np.tanh(np.dot(M[0], a))
    while c5 < 2.0:
        for i6 in range(1, 1):
            t7 = np.dot((M)[:, 2], ((-M) + M))
            if np.sum(M[:, i6]) > -1.2:
                return np.dot(M[:, i6], M[:, 2])
        c5 = c5 + 0.75 + 0.25 * np.tanh(np.sqrt(1.0 + np.square(x)))
    x += (-(np.max(a) + (x / (1.5 + np.square(x)))))
    a = (-((a + x) / (1.5 + np.square(np.dot((M)[:, 2], M)))))
    return (a[2] * (a)[1]) + np.sum(alpha2)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
