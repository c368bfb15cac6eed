# N=2 params=x,a,M,n,flag n=2 seq=tuple
# regression (F4, fixed): np.array of a nested list holding a parameter: d/dx comes back 0
import numpy as np


def f(x, a, M, n, flag):
    p = np.sum(np.array([[a[0], 0.5], [x, 0.5]]), axis=1)
    return np.sum(p) + np.sum(M)
