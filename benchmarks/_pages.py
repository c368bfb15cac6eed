"""Where a benchmark's big array lies in memory: cache-line offset, 2 MiB huge pages, one buffer for every method.

Measured for the logistic loss (benchmarks/README.md, "(b) logistic loss: what moves the times"): NumPy
allocates `x` 16 bytes past a cache line and madvises huge pages for it (12-14 of its 15.3 MiB sit in 2 MiB
pages in every process, on this kernel's THP "madvise" setting); `jnp.asarray(x)` copies it into XLA's own
allocation, 64-byte aligned and in 4 KiB pages. Two methods timed on two such buffers do not read `x` under
the same conditions: streaming 16 MB through 4 KiB pages costs about 10% more than through huge pages, and
rows that cross cache lines about 10% more than aligned rows in srcdiff's logistic gradient (2026-11-27,
before rt.rows_add started its vector loop on a 32-byte boundary). `shared_copy` gives a benchmark one buffer,
aligned and in huge pages, that NumPy-based methods read directly and JAX through a zero-copy DLPack view.
"""
from __future__ import annotations

import ctypes
import mmap

import numpy as np

MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE = 14, 15, 25
HUGE = 2 << 20
_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


def madvise(addr: int, nbytes: int, advice: int) -> int:
    """madvise over the whole 2 MiB pages inside [addr, addr + nbytes) (for MADV_NOHUGEPAGE: over the 4 KiB
    pages it touches); 0, or the errno (the advice is a hint: a kernel without it leaves the pages as they are)."""
    if advice == MADV_NOHUGEPAGE:
        lo, hi = addr // mmap.PAGESIZE * mmap.PAGESIZE, addr + nbytes
    else:
        lo, hi = (addr + HUGE - 1) // HUGE * HUGE, (addr + nbytes) // HUGE * HUGE
    if hi <= lo:
        return 0
    return 0 if _libc.madvise(lo, hi - lo, advice) == 0 else ctypes.get_errno()


def copy_of(x: np.ndarray, huge: bool = True, offset: int = 64) -> np.ndarray:
    """A copy of x in a fresh buffer starting `offset` bytes past a 2 MiB boundary (64: on a cache line, and
    not on the boundary itself), in huge pages (asked for, then collapsed in place) or in 4 KiB pages."""
    # fresh pages from the kernel: memory malloc has used before may already lie in huge pages, which
    # MADV_NOHUGEPAGE leaves as they are
    raw = np.frombuffer(mmap.mmap(-1, x.nbytes + 2 * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS),
                        dtype=np.uint8)
    madvise(raw.ctypes.data, raw.nbytes, MADV_HUGEPAGE if huge else MADV_NOHUGEPAGE)
    start = (-raw.ctypes.data) % HUGE + offset
    out = raw[start:start + x.nbytes].view(x.dtype).reshape(x.shape)
    out[...] = x
    if huge:
        madvise(out.ctypes.data, out.nbytes, MADV_COLLAPSE)
    return out


def address(a) -> int:
    """The first byte of a NumPy or JAX array."""
    return a.ctypes.data if isinstance(a, np.ndarray) else a.unsafe_buffer_pointer()


def huge_kib(addr: int, nbytes: int) -> int:
    """KiB of [addr, addr + nbytes) in transparent huge pages, from /proc/self/smaps (AnonHugePages of each
    mapping the range spans, in proportion to the part of the mapping inside the range); 0 off Linux."""
    total, lo, hi, end = 0.0, None, None, addr + nbytes
    try:
        fh = open("/proc/self/smaps")
    except OSError:
        return 0
    with fh:
        for line in fh:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(v, 16) for v in head.split("-"))
            elif head == "AnonHugePages:" and lo is not None and lo < end and hi > addr:
                total += int(line.split()[1]) * (min(hi, end) - max(lo, addr)) / (hi - lo)
    return int(total)


def describe(a) -> dict:
    """Offset in a cache line and in a 2 MiB page, MiB in huge pages, MiB in all."""
    addr = address(a)
    return {"mod64": addr % 64, "mod2M": addr % HUGE, "huge_MiB": round(huge_kib(addr, a.nbytes) / 1024, 1),
            "MiB": round(a.nbytes / 2**20, 1)}


def jax_view(a: np.ndarray):
    """A JAX array reading `a`'s own buffer (DLPack, zero copy: XLA on the CPU takes a 64-byte aligned buffer
    as it is and copies any other, and float64 ones unless `jax_enable_x64` is on), or None where JAX copies."""
    import jax.numpy as jnp
    try:
        view = jnp.from_dlpack(a)
    except Exception:  # noqa: BLE001  (a JAX without DLPack import of NumPy arrays)
        return None
    return view if view.unsafe_buffer_pointer() == a.ctypes.data else None
