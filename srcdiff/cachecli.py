"""`python -m srcdiff cache info|clear`: what srcdiff's compile cache holds, and emptying it."""
from __future__ import annotations

import argparse
import os
import sys

from . import backends


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m srcdiff cache",
                                     description="srcdiff's cache of generated modules and Numba code")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="where the cache is, how many modules it holds, and their size")
    clear = sub.add_parser("clear", help="remove cached modules (all, or the least recently used)")
    clear.add_argument("--keep-mb", type=float, default=0.0,
                       help="keep the most recently used modules up to this many MB")
    args = parser.parse_args(argv)
    folder = backends.cache_dir()
    items = backends.entries(folder)
    total = sum(size for _, size, _, _ in items)
    if args.command == "info":
        print(f"cache directory: {folder} (mode 700, checked owned by you)")
        print(f"modules: {len(items)}, {total / 2 ** 20:.1f} MB (cap {backends.MAX_BYTES / 2 ** 20:.0f} MB, "
              "SRCDIFF_CACHE_MAX_MB)")
        index = os.path.join(folder, "index")
        records = len([n for n in os.listdir(index) if n.endswith(".json")]) if os.path.isdir(index) else 0
        print(f"index records (function + specialisation -> module, signed): {records}")
        return 0
    removed = backends.evict(int(args.keep_mb * 2 ** 20), folder=folder)
    backends.prune_index(folder, everything=args.keep_mb <= 0)   # records of removed modules
    for name in os.listdir(folder):       # leftovers of interrupted writes
        if ".tmp" in name:
            os.remove(os.path.join(folder, name))
    print(f"removed {removed} of {len(items)} modules from {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
