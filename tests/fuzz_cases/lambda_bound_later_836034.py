# N=3 params=xa,M,n,flag n=2 seq=tuple
# regression (plain fuzz 836034, fixed): lam5 called (line 25) before it is bound again in a loop over pairs in a dead branch; the call selected among every binding, the loop's too, whose body reads the loop's w23: NameError in the gradient of sin(f / 2), which calls f
import math

import numpy as np
from scipy.special import logsumexp


def bump1(buf, s):
    if s > 2.0:
        return
    buf[1] = 0.5 * buf[1] + np.sin(s)


def walk2(pairs, s):
    t = s
    for w, v in pairs:
        t = 0.5 * t + 1 * 0.1 * np.sum(np.tanh(w @ v + t))
    return t


def f(xa, M, n, flag):
    x, a = xa
    buf4 = np.zeros((2, 3))
    lam5 = lambda u6: (a) + u6
    t7 = lam5(((M).min()))
    lam5 = lambda u6: (np.concatenate(((a)[1:], (a)[:1]))) * u6
    buf8 = np.zeros(3)
    if sum(sum([a[1], x, x]) for e11, e12 in zip(t7, a)) > 0.3:
        t13 = (np.positive(M[1]))
        buf4[0] = (t7 if x > 0.1 else a)
    elif -0.3 < 1.5 < 1.0:
        lam15 = lambda u16: (sum(2.0 for i17 in range(3) if i17 == 1)) + u16; lam19 = lambda u20: ((a / (1.5 + np.square((n * 0.25))))) + u20; lam21 = lambda u22: u22
        for w23, v24 in (((walk2(((M, a), (M * a[2], np.tanh(a))), a[2]) * np.ones((2, 3))), np.log(1.0 + t7 * t7)), ((M / (1.5 + np.square(M))), lam19(0.5)),):
            lam5 = lambda u26: ((np.dot((w23)[:, 1], M) if n > 1 else (walk2(((M, a), (M * x, np.tanh(a))), x) * np.ones(3)))) + u26
            al27 = buf4
            al27[0, 1] = al27[0, 1] * 0.9 + 0.1 * np.tanh(np.max(w23[1]))
        else:
            k28 = 1 + 0
    elif (n > 1) and (-0.5 < 0.3 < 0.5):
        if np.exp(np.tanh((lambda y29: y29 * x)(-1.2))) > 0.1:
            k30 = 1 - 2
            k30 += 1
            print('x =', x)
    assert np.all(np.isfinite(M))
    return buf4[0, 0] + np.sum(buf4) + np.sum(t7) + np.sum(buf8)
