"""Cleanup passes over the generated function, one module each (compiler.py runs them):

deadcode   eliminate_dead_code, drop_dead_stacks
copies     propagate_copies
cse        common_subexpressions
fusion     fuse_elementwise (and the elementwise functions Numba fuses into one loop)
scalarize  scalar_where, scalar_sum_grads
"""
from .copies import propagate_copies
from .cse import common_subexpressions
from .deadcode import drop_dead_stacks, eliminate_dead_code
from .fusion import fuse_elementwise
from .scalarize import scalar_sum_grads, scalar_where

__all__ = ["common_subexpressions", "drop_dead_stacks", "eliminate_dead_code", "fuse_elementwise",
           "propagate_copies", "scalar_sum_grads", "scalar_where"]
