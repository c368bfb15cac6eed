# N=2 params=x,a,M,n,flag n=1 seq=tuple
# fuzz seeds 88 and 90 (minimised; on main too): an argument array written (`M[1] = ...`) and then bound again (`M = 0.5 * M + ...`): the caller's arrays pass left such a parameter out, so after grad the caller's M was as before the call, not as f leaves it
import numpy as np


def f(x, a, M, n, flag):
    M[1] = np.tanh(M[1]) * 0.5 + M[0]
    for i in range(3):
        M = 0.5 * M + 0.5 * np.tanh(M)
    return np.sum(M) * x + np.sum(a)
