# N=3 params=xa,M,n,flag n=3 seq=tuple checkpoints=2
# backends: py
# fuzz seed 20411: a checkpointed loop whose forward loop and backward sweep dead code elimination both emptied (AttributeError in checkpoints._unsegmented)
import math

import numpy as np
from scipy.special import logsumexp


DEBUG = True
LIMIT = 1


def make1(c):
    return lambda u: ((c if -0.5 < c < 0.5 else (c / (1.5 + np.square(c))))) * u


def f(xa, M, n, flag):
    x, a = xa
    fn2 = make1(logsumexp(M[0]))
    buf3 = a * 1.0
    buf3[2] *= np.tanh((fn2(a[1]) if x > 0.5 else (-1.2 * buf3[0])))
    for row4 in M:
        t5 = (sum([(M)[::-1, ::-1], M]) if buf3[2] > 0.0 else (np.sqrt(1.0 + np.square(M)) + (M * (M)[:, 0][:, None])))
        if (-1.0 < x < 0.3) or (-0.3 < x < 1.0):
            return fn2(math.sin((LIMIT * 0.25)))
        if DEBUG:
            return buf3[0]
    for i6 in range(3):
        if i6 > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev7)
        prev7 = fn2((i6 * 0.25))
    if not DEBUG:
        return (a)[1]
    for i8 in reversed(range(3)):
        u9, u10 = a, a
        if (0.0 < a[i8] < 2.0) and ((LIMIT * 0.25) > -0.5):
            return np.mean((M)[[0, 1]])
        if -0.5 < np.sum(M) < 0.5:
            break
        assert M is not None, 'lost M'
    return logsumexp(np.sqrt(1.0 + np.square(M))) + np.sum(buf3)
