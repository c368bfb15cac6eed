"""Cleanup passes over the generated function, one module each (compiler.py runs them):

deadcode   eliminate_dead_code, eliminate_unread, drop_dead_stacks, without_lone_line_comments
faint      drop_faint: what only feeds itself (deadcode's last step)
owned      owned_arrays: the new arrays no other name can keep out of sight, with their views (deadcode's)
copies     propagate_copies, drop_copy_backs, coalesce_copies, propagate_and_coalesce, coalesce_carried,
           merge_copy_then_add
cse        common_subexpressions
fusion     fuse_elementwise (and the elementwise functions Numba fuses into one loop)
names      NameIndex: the reads and assignments of each name, shared by fusion and scalarize
scalarize  scalar_where, scalar_sum_grads
rowfusion  record_row_facts, fuse_rows (jit: a loss over the rows of x @ w in one pass over x)
rowchunks  one_chunk_apart (jit="parallel", the compiled form: the chunks' loop for one chunk without threads),
           on_threads (that loop's `if`, which function_parts.apart moves into a function of its own)
"""
from .copies import (coalesce_carried, coalesce_copies, drop_copy_backs, merge_copy_then_add, propagate_and_coalesce,
                     propagate_copies)
from .cse import common_subexpressions
from .deadcode import drop_dead_stacks, eliminate_dead_code, eliminate_unread, without_lone_line_comments
from .fusion import fuse_elementwise
from .names import NameIndex
from .rowchunks import on_threads, one_chunk_apart
from .rowfusion import fuse_rows, record_row_facts
from .scalarize import scalar_sum_grads, scalar_where

__all__ = ["NameIndex", "coalesce_carried", "coalesce_copies", "common_subexpressions", "drop_copy_backs",
           "drop_dead_stacks", "eliminate_dead_code", "eliminate_unread", "without_lone_line_comments",
           "fuse_elementwise", "fuse_rows", "merge_copy_then_add", "on_threads", "one_chunk_apart", "propagate_and_coalesce", "propagate_copies",
           "record_row_facts", "scalar_sum_grads", "scalar_where"]
