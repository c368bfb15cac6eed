"""Where a straight-line PTX kernel stores: each address as a linear form over the kernel's parameters.

NVVM (CUDA 13.0's libnvvm, through numba-cuda 0.30) compiled `out[0, c] = v` followed by
`for j in range(n): out[1 + j, c] = v` (the same value, into the next rows of an array whose row stride is
a kernel parameter) to stores at rows 0, 1, 3, 6, ... instead of 0, 1, 2, 3: rows left unwritten and rows
past the end written. A GPU shows it as garbage in the gradient; the CUDA simulator runs Python and cannot.
`store_offsets` reads the addresses off the PTX, so a machine without a GPU can check that a kernel writes
each row of its result once.

Each register holds a dict {symbol: coefficient}: "1" for the constant part, "P<i>" for the i-th kernel
parameter, an opaque name for anything that is not an add, shift, multiply by a constant or move."""
from __future__ import annotations

import re


def _linear_ops(op, args, val):
    def add(a, b, k=1):
        r = dict(a)
        for s, c in b.items():
            r[s] = r.get(s, 0) + k * c
        return {s: c for s, c in r.items() if c}

    def scale(a, k):
        return {s: c * k for s, c in a.items()}

    def const(a):
        return a.get("1", 0) if set(a) <= {"1"} else None

    if op.startswith(("add.s64", "add.s32", "add.u64")):
        return add(val(args[1]), val(args[2]))
    if op.startswith(("sub.s64", "sub.u64")):
        return add(val(args[1]), val(args[2]), -1)
    if op.startswith("shl.b64") and const(val(args[2])) is not None:
        return scale(val(args[1]), 2 ** const(val(args[2])))
    if op.startswith("mul.lo.s64") and const(val(args[2])) is not None:
        return scale(val(args[1]), const(val(args[2])))
    if op.startswith(("mov", "cvta")):
        return val(args[-1])
    return None


def store_offsets(ptx: str, space: str = "global") -> list[dict]:
    """The addresses of the `st.<space>` instructions of the kernel (the `.entry`), in program order, each
    minus the first one's. Raises ValueError if the kernel branches after its first store (a loop the
    decoder cannot follow)."""
    body = ptx[ptx.index(".entry"):]
    regs: dict = {}
    stores = []

    def val(tok):
        tok = tok.strip()
        if re.fullmatch(r"-?\d+", tok):
            return {"1": int(tok)}
        return regs.get(tok, {tok: 1})

    for line in body.splitlines():
        m = re.match(r"\s*(@%p\d+\s+)?(\S+)\s+(.*);", line)
        if not m:
            continue
        op, args = m.group(2), [a.strip() for a in m.group(3).split(",")]
        if op.startswith("bra") and stores:
            raise ValueError("the kernel branches after its first store")
        if op.startswith(f"st.{space}"):
            stores.append(val(args[0].strip("[]")))
            continue
        if op.startswith("ld.param"):
            regs[args[0]] = {"P" + args[1].split("_param_")[-1].strip("]"): 1}
            continue
        lin = _linear_ops(op, args, val)
        regs[args[0]] = lin if lin is not None else {f"{args[0]}@{len(regs)}": 1}
    if not stores:
        return []
    first = stores[0]
    return [{s: c - first.get(s, 0) for s, c in {**{k: 0 for k in first}, **st}.items() if c - first.get(s, 0)}
            for st in stores]


def rows_written(ptx: str, itemsize: int = 8) -> list[int]:
    """The rows of a (rows, B) C-ordered float64 result that the kernel's global stores write, counted from the
    lowest, sorted: each offset must be a multiple of one parameter (the row length B) times the
    item size. Raises ValueError for any other address."""
    rows = []
    symbols = set()
    for off in store_offsets(ptx):
        if not off:
            rows.append(0)
            continue
        if len(off) != 1 or "1" in off:
            raise ValueError(f"a store at {off}, not a whole number of rows from the first")
        (sym, coef), = off.items()
        symbols.add(sym)
        rows.append(coef // itemsize)
    if len(symbols) > 1:
        raise ValueError(f"stores strided by several parameters: {sorted(symbols)}")
    return sorted(r - min(rows) for r in rows)
