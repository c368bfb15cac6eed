"""Run srcdiff's benchmarks, each in its own process, and print (or write into README.md) one table.

    python benchmarks/run_all.py [--repeats 21] [--threads 1] [--quick] [--markdown] [--write-readme]

Every row compares srcdiff with one peer or bound measured in the same process as srcdiff: the core
benchmarks (recurrence, logistic, HMM log Z, MLP) report each peer's warm time against srcdiff's; the
other scripts (HMM E-step against the hand-written kernel, generation time against program size,
checkpointing against the taped gradient, cold first calls) report a summary row of their own through
``--json`` (key "summary"). A script that is missing or fails is listed under the table, never
silently dropped. The last column says whether the row meets its goal (issue 22's goals, as tests of the
measured times: CORE's checks here, each summary script's own), and a line under the table names the rows
that do not, so the README needs no hand-written account of the table.

--markdown      print the dated table with the machine described (CPU, cores, BLAS in use, threads,
                versions, load average before and after), as the README's speed section shows it
--write-readme  also replace the table between the README's ``speed-table`` markers
--quick         skip the slow autograd peer
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
START, END = "<!-- speed-table:start -->", "<!-- speed-table:end -->"

# (script, label, goal, checks) of the benchmarks that follow _common's protocol (rows of method/first/warm).
# checks: {first word of a peer's method, or "srcdiff" for srcdiff's own time: test of (srcdiff's warm time,
# the peer's warm time)}; a row's "met" column says whether every test that applies to it holds
CORE = [("recurrence.py", "(a) 20 000-step recurrence, in-place writes, grad (a, b)",
         "<= 1.5x hand-written Numba; faster than JAX",
         {"numba": lambda me, it: me <= 1.5 * it, "jax": lambda me, it: me < it}),
        ("logistic.py", "(b) logistic loss, N=20 000, D=100, grad (w, b)",
         "<= 1.0 ms; 2x faster than JAX",
         {"srcdiff": lambda me, it: me <= 1.0e-3, "jax": lambda me, it: 2 * me <= it}),
        ("hmm_logz.py", "(c) HMM log Z, K=20, T=2 000, grad of all parameters",
         "faster than JAX; 50x autograd",
         {"jax": lambda me, it: me < it, "autograd": lambda me, it: 50 * me <= it}),
        ("mlp.py", "(d) MLP of examples/mlp.py, batch 32, 64-64-10",
         "no slower than JAX",
         {"jax": lambda me, it: me <= it})]
QUICK_PEERS = {"recurrence.py": "numba-hand,jax", "logistic.py": "numba-hand,numba-hand-parallel,numpy-hand,jax",
               "hmm_logz.py": "jax", "mlp.py": "numpy-hand,jax"}
# scripts that write {"summary": [row, ...]} to --json PATH; each row has the table's keys
SUMMARY = ["hmm_estep.py", "first_call.py", "generation_scaling.py", "checkpointing.py"]
COLUMNS = ("benchmark", "srcdiff", "first call: cold / disk cache", "compared with", "its time",
           "ratio (its / srcdiff)", "goal", "met")


def fmt(t):
    if t is None:
        return "-"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} us"


def machine_description() -> str:
    """CPU, cores, memory, the BLAS NumPy and Numba call, thread settings and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
        mem = f", {mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        mem = ""
    import numpy
    blas = "unknown BLAS"
    try:
        info = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info.get('name')} {info.get('version')}"
    except Exception:  # noqa: BLE001 -- older NumPy: leave it unknown rather than fail the run
        pass
    import numba
    versions = [f"Python {platform.python_version()}", f"NumPy {numpy.__version__}", f"Numba {numba.__version__}"]
    for name in ("jax", "autograd", "hmmlearn"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except Exception:  # noqa: BLE001 -- a peer that is not installed is simply not listed
            pass
    return (f"{cpu}, {os.cpu_count()} cores{mem}; BLAS: {blas}; BLAS/XLA threads: "
            f"{os.environ.get('SRCDIFF_BENCH_THREADS', '1')}; " + ", ".join(versions))


def run_script(script, tmp, extra):
    out = os.path.join(tmp, script + ".json")
    cmd = [sys.executable, os.path.join(HERE, script), "--json", out] + extra
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, text=True)
    if proc.returncode != 0 or not os.path.exists(out):
        return None, f"{script} failed (exit {proc.returncode})"
    with open(out) as fh:
        return json.load(fh), None


def core_rows(label, goal, checks, result):
    """One table row per peer of a core benchmark, srcdiff's warm and first-call times repeated; "met" holds
    where srcdiff's own test (checks["srcdiff"]) and the peer's (by the first word of its method) both hold,
    "-" where neither applies. A variant of srcdiff the script times too (method `srcdiff, jit="parallel"`)
    gets rows of its own against the peers with a goal and the hand-written kernels on all threads."""
    rows = result["rows"]
    mine = next(r for r in rows if r["method"] == "srcdiff")
    second = next((r["first"] for r in rows if r["method"].startswith("srcdiff, 2nd")), None)
    table = _rows_against(label, goal, checks, mine, second, rows, lambda r: True)
    for variant in (r for r in rows if r["method"].startswith("srcdiff, jit=") and r.get("warm") is not None):
        table += _rows_against(f"{label}, {variant['method'][len('srcdiff, '):]}", goal, checks, variant, None, rows,
                               lambda r: r["method"].split()[0].split("-")[0] in checks or "all threads" in r["method"])
    return table


def _rows_against(label, goal, checks, mine, second, rows, wanted):
    table = []
    for r in rows:
        if r["method"].startswith("srcdiff") or r.get("warm") is None or not wanted(r):
            continue
        tests = [t for t in (checks.get("srcdiff"), checks.get(r["method"].split()[0].split("-")[0])) if t]
        met = verdict(all(t(mine["warm"], r["warm"]) for t in tests)) if tests else "-"
        table.append({"benchmark": label, "srcdiff": fmt(mine["warm"]),
                      "first call: cold / disk cache": f"{fmt(mine['first'])} / {fmt(second)}",
                      "compared with": r["method"], "its time": fmt(r["warm"]),
                      "ratio (its / srcdiff)": f"{r['warm'] / mine['warm']:.2f}x", "goal": goal, "met": met})
    return table


def verdict(ok: bool) -> str:
    """The "met" column's word for a goal's test (the summary scripts write the same words)."""
    return "yes" if ok else "**no**"


def markdown(rows, machine, load_before, load_after, problems) -> str:
    today = datetime.date.today().isoformat()
    lines = [f"Measured {today} with `python benchmarks/run_all.py --markdown` on: {machine}. "
             f"Load average (1 min) {load_before:.1f} before the run and {load_after:.1f} after. "
             "Ratio > 1: srcdiff is faster (or smaller).", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    previous = [None] * len(COLUMNS)
    for row in rows:
        cells = [str(row.get(c, "")) for c in COLUMNS]
        shown = list(cells)
        if cells[0] == previous[0]:   # one benchmark's peers under one label: repeat nothing
            shown = [cells[i] if i in (3, 4, 5) or cells[i] != previous[i] else "" for i in range(len(cells))]
        previous = cells
        cells = shown
        lines.append("| " + " | ".join(cells) + " |")
    missed = [row for row in rows if row.get("met", "-") not in ("yes", "-")]
    lines.append(f"\nGoals met in {sum(row.get('met') == 'yes' for row in rows)} rows, not met in {len(missed)}"
                 + (": " + "; ".join(r["benchmark"] + ("" if r["compared with"] == "-" else f" against {r['compared with']}")
                                  for r in missed) if missed else "")
                 + ".")
    for p in problems:
        lines.append(f"\nNot measured: {p}.")
    return "\n".join(lines)


def write_readme(table: str) -> None:
    with open(README) as fh:
        text = fh.read()
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} markers to replace")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(README, "w") as fh:
        fh.write(head + START + "\n" + table + "\n" + END + tail)
    print(f"wrote the table into {README}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=21)
    p.add_argument("--threads", default="1")
    p.add_argument("--quick", action="store_true", help="skip autograd")
    p.add_argument("--markdown", action="store_true", help="print the README's dated speed table")
    p.add_argument("--write-readme", action="store_true", help="write the table into README.md")
    p.add_argument("--only", help="comma-separated script names to run (default: all)")
    args = p.parse_args()
    os.environ["SRCDIFF_BENCH_THREADS"] = args.threads
    wanted = set(args.only.split(",")) if args.only else None
    load_before = os.getloadavg()[0]

    rows, problems = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for script, label, goal, checks in CORE:
            if wanted and script not in wanted:
                continue
            extra = ["--repeats", str(args.repeats), "--threads", args.threads]
            if args.quick:
                extra += ["--peers", QUICK_PEERS[script]]
            result, problem = run_script(script, tmp, extra)
            if problem:
                problems.append(problem)
            else:
                rows += core_rows(label, goal, checks, result)
        for script in SUMMARY:
            if wanted and script not in wanted:
                continue
            if not os.path.exists(os.path.join(HERE, script)):
                problems.append(f"{script} (not in benchmarks/)")
                continue
            result, problem = run_script(script, tmp, ["--quick"] if args.quick else [])
            if problem:
                problems.append(problem)
            elif not result.get("summary"):
                problems.append(f"{script} wrote no summary rows")
            else:
                rows += result["summary"]

    table = markdown(rows, machine_description(), load_before, os.getloadavg()[0], problems)
    print("\n" + (table if args.markdown or args.write_readme else table.split("\n", 2)[2]))
    if args.write_readme:
        write_readme(table)


if __name__ == "__main__":
    main()
