# N=2 params=xa,M,n,flag n=1 seq=list checkpoints=1
# backends: jit
# regression (fixed): hvp under jit of a matrix mask written in a loop (buf4[buf4 < -0.3] *= 0.5): forward mode over the
# gradient pops the mask with no kind known and Numba's typing crashed on it; the compiled form now indexes through
# rt.mask_get / rt.mask_put (fuzz seed 817077).
import math

import numpy as np
from scipy.special import logsumexp


def make1(c):
    return lambda u: (np.sum((logsumexp(((np.ones((2, 2)) * 0.3))[:, 0][:, None] + (np.ones((2, 2)) * 0.3), axis=0))[(logsumexp(((np.ones((2, 2)) * 0.3))[:, 0][:, None] + (np.ones((2, 2)) * 0.3), axis=0)) > 0.5])) * u


def f(xa, M, n, flag):
    x, a = xa
    fn3 = make1((n * 0.25))
    buf4 = np.copy(M)
    for i5 in range(2):
        if i5 > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev6)
        prev6 = (np.sum((a)[::-1] * a) * x)
    for i7 in reversed(range(2)):
        buf4[buf4 < -0.3] *= 0.5
        if flag:
            break
    lam8 = lambda u9: (np.sum(logsumexp(buf4 + (fn3((n * 0.25)) * np.ones(2)), axis=1))) + u9
    t10 = lam8(1.5)
    lam8 = lambda u9: (lambda y11: y11 * buf4[1, 1])(u9)
    return (np.square(lam8(a[0]))) + np.sum(buf4) + t10
