# N=2 params=x,a,M n=2 seq=tuple
# regression (fuzz3, fixed): a helper with a keyword-only parameter called twice -> TypeError h_vjp() missing 'g'
# Minimised from fuzz seed 30030 (feature kwcalls). One call works, and so does a positional default
# called both ways; two calls of a helper with a keyword-only parameter (given or defaulted) crash the
# gradient with `TypeError: helper1_vjp() missing 1 required positional argument: 'g'`.
import numpy as np


def helper1(p0, *, q1=2.0):
    return p0 * q1


def f(x, a, M):
    return helper1(x) + helper1(a[0], q1=x) + np.sum(M)
