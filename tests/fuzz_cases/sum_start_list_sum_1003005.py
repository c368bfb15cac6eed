# N=3 params=x,a,M,n,flag n=3 seq=tuple
# backends: jit
# regression (fixed): a sum of arrays over zip whose terms' kind is known only once the "array literals" pass made
# the array of a list name summed earlier (t27 = sum(st26)) started from 0.0 where zip runs no iteration: Numba
# could not unify it with the array ("Cannot unify array(float64, 1d, C) and float64 for 'total_sum10.5'", a
# decline under jit=True; nested fuzz seed 1003005, minimised). compiler._array_literals makes the starts again.
import numpy as np


def f(x, a, M, n, flag):
    st26 = [-1.2, (M)[0, 0]]
    t27 = sum(st26)
    u31 = ((n * 0.25) - t27) * x * np.ones(3)
    return np.mean(sum(a * (e38 * 0.5 + e39) for e38, e39 in zip(u31, u31))) + t27
