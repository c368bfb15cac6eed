# N=2 params=x,a,M,n,flag n=1 seq=tuple
# regression (F1, fixed): `continue` skips the loop's increment, the gradient never ends
# backends: py   (under Numba the hang cannot be interrupted from inside the process; long mode kills it)
# (fuzz seed 27; the for loop is lowered to a while whose `i += 1` sits under `if not skip`)
import numpy as np


def f(x, a, M, n, flag):
    for i2 in range(1, 3):
        if flag:
            return x
        if np.max(M) > 0.0:
            continue
    return x * np.sum(a)
