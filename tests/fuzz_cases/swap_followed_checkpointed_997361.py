# N=4 params=xa,M,n,flag n=2 seq=dict checkpoints=2
# regression (fixed): a write through a second name of a swapped buffer in a checkpointed loop (dict argument):
# a silently wrong d/dxa['a'] ([-1.2706, ...] vs central differences) after aliasing.follow_writes first followed
# such writes (0d22a9c, this session, never in a stopped main); right since aa1db17 (fuzz seed 997361, Python)
import math
import operator

import numpy as np
from scipy.special import logsumexp


def bump1(buf, s):
    buf[1] = buf[1] * 1.1 + 0.1 * np.tanh(s)


def integ22(fun, u, k):
    for i in range(2):
        u = u + k * fun(u)
    return u


def f(xa, M, n, flag):
    acc23 = 0.0
    for v25 in xa.values():
        acc23 = acc23 + 0.1 * np.sum(v25 ** 2)
    x, a = xa["x"] + 0.1 * acc23, xa["a"]
    x = x + 0.1 * sum(np.sum(v27 ** 2) for v27 in xa.values())
    buf3 = np.copy(M)
    buf4 = M.copy()
    u5, u6 = M, ((np.cumprod(M, axis=1)) - np.max((np.cumprod(M, axis=1)), axis=0, keepdims=True))
    al7 = buf3
    al7[0, 0] = al7[0, 0] * 0.9 + 0.1 * np.tanh(np.sum((u6)[np.arange(2), np.argmax(u5, axis=1)]))
    u5 = np.tanh(((np.expand_dims(a, 0) * u6) * (operator.mod(M, (1.5 + np.square(u6))))))
    for i8 in range(a.shape[0]):
        for i9, (e10, e11) in enumerate(zip(a, a)):
            vals12 = [(max([np.sin(0.3), e11])) for i14 in range(4)]
            t13 = np.asarray(vals12) * -1.2
            t17 = np.sum(np.array(vals12) ** 2) * len(vals12)
        else:
            buf4, buf3 = buf3, buf4
            buf4[1, 3] = buf4[1, 3] * 1.1 + 0.1 * np.tanh(np.dot(u6[1], a))
            buf4, buf3 = buf3, 0.5 * buf4 + 0.5 * np.tanh(buf3 * (np.max(u5, axis=(0, 1))))
            buf4[1, 0] = buf4[1, 0] * 1.1 + 0.1 * np.tanh(np.exp(np.tanh((i8 * 0.25))))
        b18 = flag and (np.exp2(np.tanh(buf3[1, 0]))) > 0.0
    else:
        u19, u20 = logsumexp((a).astype(float)), np.array([[-1.2, x, a[3], x], [buf4[1, 0], x, buf4[0, 3], a[1]]])
        k21 = 1 - 1
    return 2.0 + np.sum(buf3) + np.sum(buf4) + np.sum(u5) + np.sum(u6) + integ22(np.sin, (x if x > 0.0 else a[3]), 0.25)
