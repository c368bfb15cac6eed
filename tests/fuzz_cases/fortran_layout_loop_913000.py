# N=2 params=x,a,M,n,flag n=2 seq=list
# backends: jit
# regression (fuzz 913000 under Numba, jvp, fixed): alpha15, bound to a column of np.linalg.svd's Vh (Fortran order under Numba) and again in the loop to a C array, was unified by Numba as layout A, and an array expression over it failed ("Don't know how to allocate array with layout 'A'"): transforms/layouts.py
import math

import numpy as np
from scipy.special import logsumexp


def f(x, a, M, n, flag, *, scale=-0.7):
    buf6 = np.copy(M)
    sq16 = M[:, :2]
    alpha15 = ((np.linalg.svd((np.eye(2, 2) * np.array([[3.0], [1.0]]) + 0.3 * np.tanh(M)), full_matrices=False)[2] ** 2))[:, 0]
    for i17 in range(2):
        pass
        alpha15 = logsumexp(alpha15[:, None] + sq16, axis=0)
    return np.dot((a)[[1, 0]], (M[0]).astype(float)) + scale * x + np.sum(buf6) + np.sum(alpha15)
