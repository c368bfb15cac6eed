# N=4 params=x,a,M,n,flag n=2 seq=list
# regression (fixed): forward mode declined np.stack of a name bound to a tuple ('np.stack needs a literal tuple or list of arrays to differentiate') when an item is a loop-carried value rebound to np.linalg.norm(M + np.array([[0.0], [1.0]]), axis=0) (grad differentiates it; plain fuzz 900015 of the generator's tuples passed to NumPy functions, reduced)
import math

import numpy as np
from scipy.special import logsumexp


def f(x, a, M, n, flag):
    t = a * 1.0
    for row in M:
        st = (a, t)
        u = np.stack(st)
        t = np.linalg.norm(M + np.array([[0.0], [1.0]]), axis=0)
    return np.sum(t) + x
