# N=2 params=x,a,M,n,flag n=2 seq=list
# regression (F5, fixed): a value first bound in a loop body and read in the next iteration: d/da wrong (zeros)
import numpy as np
from scipy.special import logsumexp


def f(x, a, M, n, flag):
    for i11 in range(2):
        if i11 > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev12)
        prev12 = np.where(logsumexp(M) > 0.0, np.max(a), np.maximum(a[i11], -0.7))
    return np.sqrt(1.0 + np.square(x))
