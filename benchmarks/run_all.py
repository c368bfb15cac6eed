"""Run the three srcdiff benchmarks (each in its own process) and print one markdown table.

    python benchmarks/run_all.py [--repeats 21] [--threads 1] [--quick]

--quick passes --peers so that the slow autograd peer is skipped.
Extra arguments after ``--`` are passed to every benchmark script.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = [("recurrence.py", "(a) recurrence, n=20k, grad (a, b)"),
           ("logistic.py", "(b) logistic, N=20k, D=100, grad (w, b)"),
           ("hmm_logz.py", "(c) HMM log Z, K=20, T=2000, grad (log_pi, log_A, log_B)")]
QUICK_PEERS = {"recurrence.py": "numba-hand,jax", "logistic.py": "numpy-hand,jax", "hmm_logz.py": "jax"}


def fmt(t):
    if t is None:
        return "-"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} us"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--threads", default="1")
    p.add_argument("--quick", action="store_true", help="skip autograd")
    p.add_argument("extra", nargs=argparse.REMAINDER)
    args = p.parse_args()
    extra = [a for a in args.extra if a != "--"]

    results, machine = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for script, label in SCRIPTS:
            out = os.path.join(tmp, script + ".json")
            cmd = [sys.executable, os.path.join(HERE, script), "--repeats", str(args.repeats),
                   "--threads", args.threads, "--json", out] + extra
            if args.quick:
                cmd += ["--peers", QUICK_PEERS[script]]
            print("$", " ".join(cmd[1:]), flush=True)
            proc = subprocess.run(cmd, text=True)
            if proc.returncode != 0 or not os.path.exists(out):
                print(f"!! {script} failed (exit {proc.returncode})")
                continue
            with open(out) as fh:
                r = json.load(fh)
            machine = r["machine"]
            results.append((label, r))

    print("\n## srcdiff benchmarks\n")
    print(f"Machine: {machine}.  Ratio = method warm time / srcdiff warm time (> 1: srcdiff is faster).\n")
    print("| benchmark | method | first call | warm median | time / srcdiff |")
    print("|---|---|---:|---:|---:|")
    for label, r in results:
        base = next((row["warm"] for row in r["rows"] if row["method"] == "srcdiff"), None)
        for i, row in enumerate(r["rows"]):
            ratio = "-" if base is None or row.get("warm") is None else f"{row['warm'] / base:.2f}x"
            print(f"| {label if i == 0 else ''} | {row['method']} | {fmt(row.get('first'))} | "
                  f"{fmt(row.get('warm'))} | {ratio} |")
    for label, r in results:
        for s in r["skipped"]:
            print(f"\n{label}: skipped {s}")


if __name__ == "__main__":
    main()
