# N=3 params=x,a,M n=2 seq=tuple
# regression (fixed): nested fuzz seed 1003002, minimised: f writes into its argument M, then binds M anew in a
# loop; its gradient holds the caller's array as `M_caller` and writes it back. Reverse mode over it declined
# ("`M` shares memory with `M` (another binding of it)"), then left the caller's M restored, and jvp(h) wrote into
# the caller's tangent of M (tests/test_caller_arrays.py)
import numpy as np
import srcdiff


def f(x, a, M):
    M[1, 1] += 0.5 * x
    for i in range(2):
        M = 0.5 * M + 0.5 * np.tanh(M * a[i])
    return np.sum(M) + x


def h(x, a, M):
    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)
