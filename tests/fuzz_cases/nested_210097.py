import numpy as np
import srcdiff
from scipy.special import logsumexp


def helper1(p0, p1):
    for i2 in range(1, 2):
        p0 = 0.5 * p0 + 0.5 * np.tanh(p1)
        p0 = 0.5 * p0 + 0.5 * np.tanh((np.square((-p1)) / (1.5 + np.square(np.mean(np.sum(p0, axis=0))))))
        p0 = np.sin((-(p0 + np.sum(p0, axis=1, keepdims=True))))
        if np.dot(p0[:, i2], p0[:, 0]) > 2.0:
            break
    if np.dot(p0[1], np.concatenate(((p0[1])[1:], (p0[1])[:1]))) > -1.2:
        t3 = 0.3
        p0 = (np.sqrt(1.0 + np.square(t3)) + np.maximum(p0, 1.5))
    else:
        p1 = np.maximum(np.log(1.0 + p1 * p1), 0.3)
        p0 = np.square(p0)
    return np.dot((np.where(1.5 > 2.0, p0, p1))[:, 0], p1)


def helper4(p0):
    for i5 in range(1, 3):
        if p0[i5] > 0.3:
            return -1.2
        t6 = np.dot(((np.sin((np.ones((2, 3)) * -1.2)) + logsumexp(np.sum((np.ones((2, 3)) * 0.3), axis=1)[:, None] + (np.ones((2, 3)) * 2.0), axis=0)))[:, 1], (((i5 * 0.25) + p0)[None, :] * np.maximum((np.ones((2, 3)) * 2.0), (np.ones((2, 3)) * -0.7))))
        if p0[0] > 0.5:
            return np.sum(p0[:i5 + 1])
        if np.maximum(-1.2, 0.5) > 0.3:
            break
    return (np.sum(logsumexp((np.ones((2, 3)) * -0.7) + (p0)[None, :], axis=1)) + p0[1])


def f(x, a, M):
    x = np.sin(-0.7)
    t7 = (np.exp(np.tanh(M)) + np.mean(M))
    sq9 = 0.5 * ((M + M))[:, 1:3]
    alpha8 = np.sum((t7[0][None, :] * M), axis=1)
    for i10 in range(3):
        alpha8 = logsumexp(alpha8[:, None] + sq9, axis=0) + np.tanh(M)[:, i10]
    for i11 in range(2):
        t7 = np.sin(M)
    if np.mean(t7[1]) > 0.5:
        t7 = np.sqrt(1.0 + np.square((t7 / (1.5 + np.square((M / (1.5 + np.square(t7))))))))
        c12 = np.tanh((2.0 - a[2]))
        while c12 < 2.0:
            t7 = np.sin((-M))
            c12 = c12 + 0.75 + 0.25 * np.tanh(a[1])
    else:
        for i13 in range(1):
            if x > 0.3:
                break
            if (-x) > 2.0:
                return np.sum(a)
            t14 = (i13 * 0.25)
            if np.exp(np.tanh((i13 * 0.25))) > -0.7:
                return (-np.sum(t7[1]))
    return np.sum(helper1((-t7), np.where(t7 > 1.5, t7, M))) + np.sum(t7) + np.sum(alpha8)


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
