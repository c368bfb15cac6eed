"""Helpers for forward mode over generated reverse-mode code (Hessian-vector products).

The generated gradient code keeps values in Python lists used as stacks (`s = []`, `s.append(v)`,
`v = s.pop()`). The front end reads those statements as calls of the three functions below; forward
mode writes its output back with list syntax, so Numba never compiles these (they also run as-is).
"""

import numpy as np
from numba.extending import register_jitable

__all__ = ["stack", "push", "pop", "cholesky_grad_jvp"]


def stack():
    """A new, empty stack (`[]`)."""
    return []


def push(s, v):
    """`s.append(v)`."""
    s.append(v)


def pop(s):
    """`s.pop()`."""
    return s.pop()


@register_jitable
def lower_half(p):
    """Lower triangle of p with the diagonal halved (a copy)."""
    q = np.tril(p)
    for i in range(q.shape[0]):
        q[i, i] *= 0.5
    return q


@register_jitable
def cholesky_grad_jvp(L, dL, v, dv):
    """Tangent of cholesky_grad(L, v) = sym(L⁻ᵀ Φ(Lᵀ v) L⁻¹) for tangents dL of L and dv of v."""
    Lc = np.ascontiguousarray(L)
    Linv = np.linalg.inv(Lc)
    LinvT = np.ascontiguousarray(Linv.T)
    P = lower_half(np.ascontiguousarray(Lc.T) @ np.ascontiguousarray(v))
    dP = lower_half(np.ascontiguousarray(dL.T) @ np.ascontiguousarray(v)
                     + np.ascontiguousarray(Lc.T) @ np.ascontiguousarray(dv))
    S = LinvT @ P @ Linv
    dS = LinvT @ dP @ Linv - LinvT @ np.ascontiguousarray(dL.T) @ S - S @ np.ascontiguousarray(dL) @ Linv
    return 0.5 * (dS + dS.T)
