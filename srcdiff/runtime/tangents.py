"""Helpers for forward mode over generated reverse-mode code (Hessian-vector products).

The generated gradient code keeps values in Python lists used as stacks (`s = []`, `s.append(v)`,
`v = s.pop()`). The front end reads those statements as calls of the three functions below; forward
mode writes its output back with list syntax, so Numba never compiles these (they also run as-is).
"""

__all__ = ["stack", "push", "pop"]


def stack():
    """A new, empty stack (`[]`)."""
    return []


def push(s, v):
    """`s.append(v)`."""
    s.append(v)


def pop(s):
    """`s.pop()`."""
    return s.pop()
