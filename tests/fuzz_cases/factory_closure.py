# N=2 params=x,a,M,n,flag n=2 seq=tuple
# F2 (fuzz_findings.md): functions returned by factories were declined ("cannot call the local value 'g'");
# now bound and called later, called directly, made in a loop (transforms/factories.py)
import numpy as np


def make(c):
    def g(u):
        return np.sin(u) * c
    return g


def make1(c):
    return lambda u: np.tanh(u * c) + c


def f(x, a, M, n, flag):
    g = make(x)
    s = make1(a[1])(x)
    for i in range(n):
        h = make1(a[i])
        s = s + h(g(a[0]))
    return g(np.sum(a)) + np.sum(M) + s
