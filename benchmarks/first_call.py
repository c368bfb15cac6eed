"""Time to the first gradient: a new process, `jit=True`, from `srcdiff.value_and_grad(...)` to the result.

For each core program the time is measured in fresh subprocesses (interpreter start-up and imports are
not counted, as a user's program has imported its libraries before it asks for a gradient):

* first use     nothing cached: an empty cache directory and an empty runtime-helper cache (the first
                gradient ever computed on an installation): generate, compile everything with Numba, run
* disk cache    a second process on the cache the first one filled: no generation, Numba's cached code
* cold          an empty cache directory, the runtime helpers compiled by an earlier process (cached once
                per installation in ~/.cache/srcdiff/runtime): generate, compile the function, run --
                what a new or edited function costs
* background    (--background) `jit="background"`, cold as above: the first answer comes from the Python
                backend while Numba compiles in another process
* jax           JAX's first call of `jax.jit(jax.value_and_grad(f))` (trace + XLA compile + run), where
                JAX is installed (x64); skipped cleanly otherwise

Programs: (a) the 20 000-step recurrence of benchmarks/recurrence.py, (b) the logistic loss of
benchmarks/logistic.py (N=20 000, D=100), (c) HMM log Z (K=20, T=2 000, V=101), (d) the HMM E-step
`srcdiff.vi.hmm.e_step`, (e) a 50-step Elman RNN (hidden 32, inputs 8), (f) the loss of examples/mlp.py
(batch 32, 64 inputs, 64 hidden, 10 classes). Every srcdiff result is
checked against the Python backend (jit=False) in the same process, after the timing.

    python benchmarks/first_call.py [--only recurrence,hmm] [--repeats 1] [--background] [--no-jax]
                                    [--json PATH] [--quick] [--cpu]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name -> (label, setup: defines f, args, wrt, jax_f (a jax.numpy version of f or None), call: the timed
# expression, evaluated with `vg` the srcdiff transform)
PROGRAMS = {
    "recurrence": ("(a) recurrence, 20 000 steps", '''
def f(a, b, y0, dt, n, obs):
    ys = np.zeros(n + 1)
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + dt * (a * ys[t] - b * ys[t] ** 2)
    return np.sum((ys - obs) ** 2)

n = 20000
obs = np.sin(np.linspace(0.0, 3.0, n + 1)) + 1.0
args = (1.1, 0.45, 0.5, 0.001, n, obs)
wrt = (0, 1)

def jax_f(a, b, y0, dt, n, obs):
    def step(y, _):
        y1 = y + dt * (a * y - b * y ** 2)
        return y1, y1
    _, ys = lax.scan(step, y0, None, length=n)
    ys = jnp.concatenate([jnp.array([y0]), ys])
    return jnp.sum((ys - obs) ** 2)
jax_static = (4,)
'''),
    "logistic": ("(b) logistic loss, N=20 000, D=100", '''
def f(w, b, x, y):
    z = x @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z) + 1e-3 * np.sum(w ** 2)

rng = np.random.default_rng(0)
x = rng.normal(size=(20000, 100))
y = (rng.random(20000) < 0.5).astype(np.float64)
args = (rng.normal(size=100) * 0.1, 0.1, x, y)
wrt = (0, 1)

def jax_f(w, b, x, y):
    z = x @ w + b
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + 1e-3 * jnp.sum(w ** 2)
jax_static = ()
'''),
    "hmm": ("(c) HMM log Z, K=20, T=2 000", '''
from scipy.special import logsumexp

def f(log_pi, log_A, log_B, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha)

rng = np.random.default_rng(0)
K, T, V = 20, 2000, 101
args = (np.log(rng.dirichlet(np.ones(K))), np.log(rng.dirichlet(np.ones(K), size=K)),
        np.log(rng.dirichlet(np.ones(V), size=K)), rng.integers(0, V, T).astype(np.int64))
wrt = (0, 1, 2)

def jax_f(log_pi, log_A, log_B, y):
    from jax.scipy.special import logsumexp as jlse
    def step(la, yt):
        return jlse(la[:, None] + log_A, axis=0) + log_B[:, yt], None
    la, _ = lax.scan(step, log_pi + log_B[:, y[0]], y[1:])
    return jlse(la)
jax_static = ()
'''),
    "e_step": ("(d) HMM E-step, srcdiff.vi.hmm.e_step, K=20, T=2 000", '''
from srcdiff.vi import hmm
rng = np.random.default_rng(0)
K, T, V = 20, 2000, 101
params = (np.log(rng.dirichlet(np.ones(K))), np.log(rng.dirichlet(np.ones(K), size=K)),
          np.log(rng.dirichlet(np.ones(V), size=K)))
data = rng.integers(0, V, T).astype(np.int64)
f = hmm.log_Z
args = params + (data,)
wrt = (0, 1, 2)
E_STEP = True
jax_f = None
'''),
    "mlp": ("(f) MLP of examples/mlp.py, batch 32, 64-64-10", '''
from scipy.special import logsumexp

def f(W1, b1, W2, b2, x, y_onehot, l2):   # examples/mlp.py's loss
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    nll = -np.sum(y_onehot * log_p) / x.shape[0]
    return nll + l2 * (np.sum(W1 * W1) + np.sum(W2 * W2))

rng = np.random.default_rng(0)
d, hidden, batch = 64, 64, 32
args = (rng.normal(0.0, 1.0 / np.sqrt(d), (d, hidden)), np.zeros(hidden),
        rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, 10)), np.zeros(10),
        rng.random((batch, d)), np.eye(10)[rng.integers(0, 10, batch)], 1e-4)
wrt = (0, 1, 2, 3)

def jax_f(W1, b1, W2, b2, x, y_onehot, l2):
    from jax.scipy.special import logsumexp as jlse
    h = jnp.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    log_p = z - jlse(z, axis=1, keepdims=True)
    return -jnp.sum(y_onehot * log_p) / x.shape[0] + l2 * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))
jax_static = ()
'''),
    "rnn": ("(e) Elman RNN, 50 steps, hidden 32", '''
def f(W, U, b, V, xs, targets):
    h = np.zeros(W.shape[0])
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
        loss = loss + np.sum((V @ h - targets[t]) ** 2)
    return loss / xs.shape[0]

rng = np.random.default_rng(0)
H, D, O, T = 32, 8, 4, 50
args = (rng.normal(size=(H, H)) * 0.2, rng.normal(size=(H, D)) * 0.3, np.zeros(H),
        rng.normal(size=(O, H)) * 0.3, rng.normal(size=(T, D)), rng.normal(size=(T, O)))
wrt = (0, 1, 2, 3)

def jax_f(W, U, b, V, xs, targets):
    def step(h, xt):
        x, tg = xt
        h = jnp.tanh(W @ h + U @ x + b)
        return h, jnp.sum((V @ h - tg) ** 2)
    _, losses = lax.scan(step, jnp.zeros(W.shape[0]), (xs, targets))
    return jnp.sum(losses) / xs.shape[0]
jax_static = ()
'''),
}

CHILD = '''
import os, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {folder!r})
import numpy as np
import srcdiff
from first_call_program import *
mode = {mode!r}
if mode == "jax":
    import jax
    jax.config.update("jax_enable_x64", True)
    jvg = jax.jit(jax.value_and_grad(jax_f, argnums=wrt), static_argnums=jax_static)
    jargs = tuple(a if k in jax_static or not isinstance(a, np.ndarray) else jnp.asarray(a)
                  for k, a in enumerate(args))
    t0, c0 = time.perf_counter(), time.process_time()
    value, grads = jvg(*jargs)
    jax.block_until_ready(grads)
    print("FIRST", time.perf_counter() - t0, time.process_time() - c0)
else:
    jit = "background" if mode == "background" else True
    t0, c0 = time.perf_counter(), time.process_time()
    if globals().get("E_STEP"):
        value, grads = hmm.e_step(params, data, jit=jit)
    else:
        value, grads = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*args)
    t, c = time.perf_counter() - t0, time.process_time() - c0
    ref_value, ref_grads = srcdiff.value_and_grad(f, wrt=wrt)(*args)
    assert np.isclose(value, ref_value, rtol=1e-9), (value, ref_value)
    for g, r in zip(grads, ref_grads):
        assert np.allclose(g, r, rtol=1e-7, atol=1e-10), "gradient differs from the Python backend"
    print("FIRST", t, c)
'''


def run_child(name, mode, cache, folder, runtime=None, cpu=False):
    """The first-call time of program `name` in a new process (`mode`: cold, warm, background or jax);
    the program is a real module in `folder` (srcdiff reads functions' source files). `cpu`: the CPU time
    of the process (time.process_time) instead of the wall time, for a loaded machine."""
    with open(os.path.join(folder, "first_call_program.py"), "w") as fh:
        fh.write("import numpy as np\n" + ("import jax.numpy as jnp\nfrom jax import lax\n" if mode == "jax" else "")
                 + textwrap.dedent(PROGRAMS[name][1]))
    code = CHILD.format(root=ROOT, folder=folder, mode=mode)
    env = dict(os.environ, SRCDIFF_CACHE_DIR=cache)
    if runtime:
        env["SRCDIFF_RUNTIME_CACHE_DIR"] = runtime
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("FIRST ")][-1]
    return float(line.split()[2 if cpu else 1]), None


def have_jax() -> bool:
    try:
        import importlib.util
        return importlib.util.find_spec("jax") is not None
    except (ImportError, ValueError):
        return False


def fmt(t):
    if t is None:
        return "-"
    return f"{t:.2f} s" if t >= 1 else f"{t * 1e3:.0f} ms"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="comma-separated programs: " + ",".join(PROGRAMS))
    p.add_argument("--repeats", type=int, default=1, help="fresh processes per measurement (median)")
    p.add_argument("--background", action="store_true", help='also time jit="background"')
    p.add_argument("--no-jax", action="store_true")
    p.add_argument("--json", metavar="PATH", help='print the {"summary": [...]} rows for run_all.py as one JSON '
                   'line and write them to PATH ("-": print only)')
    p.add_argument("--quick", action="store_true", help="one process per measurement")
    p.add_argument("--cpu", action="store_true", help="report the first call's CPU time (process_time of the "
                   "child) instead of its wall time: comparable on a machine shared with other work")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(PROGRAMS)
    repeats = 1 if args.quick else args.repeats
    jax = have_jax() and not args.no_jax
    if not jax and not args.no_jax:
        print("(JAX is not installed: its first call is not measured)")
    print(f"load average before: {os.getloadavg()[0]:.1f}" + ("; times are CPU time (process_time)" if args.cpu else ""))
    print("| program | first use | disk cache | cold (helpers cached) | "
          + ("background (first answer) | " if args.background else "") + ("JAX first call |" if jax else ""))
    print("|---|---:|---:|---:|" + ("---:|" if args.background else "") + ("---:|" if jax else ""))
    rows = []
    for name in names:
        times = {"first": [], "warm": [], "cold": [], "background": [], "jax": []}
        problems = []

        def measure(what, mode, cache, folder, runtime):
            t, err = run_child(name, mode, cache, folder, runtime, cpu=args.cpu)
            times[what].append(t)
            problems.append(err)
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="srcdiff_first_call_") as tmp:
                folder, runtime = os.path.join(tmp, "src"), os.path.join(tmp, "runtime")
                os.mkdir(folder)
                measure("first", "cold", os.path.join(tmp, "cache1"), folder, runtime)
                measure("warm", "warm", os.path.join(tmp, "cache1"), folder, runtime)
                measure("cold", "cold", os.path.join(tmp, "cache2"), folder, runtime)
                if args.background:
                    measure("background", "background", os.path.join(tmp, "cache3"), folder, runtime)
            if jax and "jax_f = None" not in PROGRAMS[name][1]:
                with tempfile.TemporaryDirectory() as tmp:
                    measure("jax", "jax", os.path.join(tmp, "cache"), tmp, None)

        def med(ts):
            ts = [t for t in ts if t is not None]
            return statistics.median(ts) if ts else None
        f, w, c, b, j = (med(times[k]) for k in ("first", "warm", "cold", "background", "jax"))
        cells = [PROGRAMS[name][0], fmt(f), fmt(w), fmt(c)] + ([fmt(b)] if args.background else []) \
            + ([fmt(j)] if jax else [])
        print("| " + " | ".join(cells) + " |", flush=True)
        for err in problems:
            if err:
                print(f"  {name}: {err}")
        rows.append({"benchmark": f"first call, {PROGRAMS[name][0]}", "srcdiff": "jit=True",
                     "first call: cold / disk cache": f"{fmt(c)} / {fmt(w)} (first use {fmt(f)}"
                                                       + (f", background {fmt(b)})" if b is not None else ")"),
                     "compared with": "JAX first call" if j is not None else "-",
                     "its time": fmt(j), "ratio (its / srcdiff)": f"{j / c:.2f}x" if j and c else "-",
                     "goal": "< 1 s cold, < 0.3 s from the disk cache",
                     "met": "-" if c is None or w is None else "yes" if c < 1.0 and w < 0.3 else "**no**"})
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        summary = {"name": "first_call", "summary": rows}
        print(json.dumps(summary))
        if args.json != "-":
            with open(args.json, "w") as fh:
                json.dump(summary, fh, indent=1)


if __name__ == "__main__":
    main()
