# N=3 params=xa,M,n,flag n=2 seq=tuple
# fuzz seed 223 of h21a's generator (minimised; 'lists': a stack popped fewer times than appended, in a while loop
# over its len that may break): the appends' adjoints popped the adjoint stack past its end ('pop from empty list');
# with that guarded (`if len(d_s) > 0: ... else: zero`), hvp with the tuple argument was wrong (desugar.zero_sum_starts
# took the guard for a sum's start and kept the zero); and `len(lst13) * x` after the pops read the length before
# them (cse merged the two len(lst13)).
import numpy as np


def f(xa, M, n, flag):
    x, a = xa[0], xa[1]
    lst13 = []
    for i14 in range(3):
        lst13.append(a[i14] * x)
    acc15 = 0.0
    while len(lst13) > 1:
        acc15 = acc15 * 0.5 + lst13.pop()
        if acc15 > 1.5:
            break
    return np.sin(x) + acc15 * acc15 + np.sum(M[0] * a) + len(lst13) * x
