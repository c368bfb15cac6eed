# N=2 params=x,a,M,n,flag n=2 seq=tuple
# xfail: F2 (fuzz_findings.md): README lists "functions returned by factories", srcdiff declines them
# ("cannot call the local value 'g'")
import numpy as np


def make(c):
    def g(u):
        return np.sin(u) * c
    return g


def f(x, a, M, n, flag):
    g = make(x)
    return g(np.sum(a)) + np.sum(M)
