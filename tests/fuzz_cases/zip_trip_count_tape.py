# N=4 params=x,a,M,n,flag n=2 seq=tuple
# F3 (fuzz_findings.md): the inner zip loop's trip count min(len(a), len(a)) was typed a float (builtin min
# of ints) and kept in a float tape; the backward sweep's range() failed. Now an int64 tape.
import numpy as np


def f(x, a, M, n, flag):
    for i10 in range(n):
        for e11, e12 in zip(a, a):
            e12, x = x, e12
    return x * np.sum(M)
