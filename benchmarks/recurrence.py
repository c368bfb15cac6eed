"""(a) Scalar recurrence with in-place writes: value and gradient w.r.t. two scalars.

    ys[0] = y0
    ys[t + 1] = ys[t] + dt * (a * ys[t] - b * ys[t] ** 2)      t = 0 .. n-1, n = 20 000
    loss = sum((ys - obs) ** 2)                                 (fit of a logistic-growth ODE)

Timed: value and gradient d loss / d(a, b).

* srcdiff       ``srcdiff.value_and_grad(simulate, wrt=("a", "b"), jit=True)`` of the loop below
* numba-hand    a hand-written Numba adjoint: forward loop storing ys, then a backward loop
* jax           ``jax.jit(jax.value_and_grad(f, argnums=(0, 1)))`` with ``lax.scan``, x64
* autograd      ``autograd.value_and_grad`` of the same recurrence as a Python loop building a
                list (autograd cannot differentiate in-place writes); few repeats
* bounds        srcdiff's generated function compiled as before transforms/bounds.py: Numba's
                bounds check at every access (its own tests, one per loop, left in); the note
                gives both against the hand-written kernel, with the load average

    python benchmarks/recurrence.py [--n 20000] [--repeats 21] [--peers numba-hand,jax,autograd,bounds]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (first: pins BLAS/XLA threads before NumPy is imported)

import numpy as np  # noqa: E402

A, B, Y0, DT = 1.5, 0.7, 0.5, 1e-3


def simulate(a, b, y0, dt, n, obs):
    ys = np.zeros(n + 1)
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + dt * (a * ys[t] - b * ys[t] ** 2)
    return np.sum((ys - obs) ** 2)


def make_obs(n):
    """A noisy trajectory of the same model with other parameters."""
    rng = np.random.default_rng(0)
    ys = np.empty(n + 1)
    ys[0] = Y0
    for t in range(n):
        ys[t + 1] = ys[t] + DT * (1.2 * ys[t] - 0.5 * ys[t] ** 2)
    return ys + 0.01 * rng.normal(size=n + 1)


# --------------------------------------------------------------------------- peers

def make_numba_hand():
    import numba

    @numba.njit(cache=True, nogil=True)
    def hand(a, b, y0, dt, n, obs):
        ys = np.empty(n + 1)
        ys[0] = y0
        for t in range(n):
            y = ys[t]
            ys[t + 1] = y + dt * (a * y - b * y * y)
        loss = 0.0
        for i in range(n + 1):
            r = ys[i] - obs[i]
            loss += r * r
        # backward: g = d loss / d ys[t+1], carried down the chain
        g = 2.0 * (ys[n] - obs[n])
        ga = 0.0
        gb = 0.0
        for t in range(n - 1, -1, -1):
            y = ys[t]
            ga += g * dt * y
            gb -= g * dt * y * y
            g = g * (1.0 + dt * (a - 2.0 * b * y)) + 2.0 * (y - obs[t])
        return loss, (ga, gb)

    return hand


def make_jax(n):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    def f(a, b, y0, dt, obs):
        def step(y, _):
            y1 = y + dt * (a * y - b * y ** 2)
            return y1, y1

        _, traj = lax.scan(step, y0, None, length=n)
        ys = jnp.concatenate([jnp.reshape(y0, (1,)), traj])
        return jnp.sum((ys - obs) ** 2)

    return jax.jit(jax.value_and_grad(f, argnums=(0, 1))), jnp


def make_autograd():
    import autograd
    import autograd.numpy as anp

    def f(a, b, y0, dt, n, obs):
        y = y0
        loss = (y - obs[0]) ** 2
        for t in range(n):
            y = y + dt * (a * y - b * y ** 2)
            loss = loss + (y - obs[t + 1]) ** 2
        return loss

    vg = autograd.value_and_grad(f, argnum=(0, 1))
    return vg


def per_access_checks(vg):
    """The function srcdiff generated for `vg`, compiled with Numba's check at every access (as all
    jitted code was before transforms/bounds.py tested indices once per loop)."""
    import numba
    return numba.njit(nogil=True, error_model="numpy", boundscheck=True)(vg.last.function.py_func)


# --------------------------------------------------------------------------- main

def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000)
    args = p.parse_args(argv)
    C.setup_cache(args)
    n = args.n
    obs = make_obs(n)

    import srcdiff
    vg = srcdiff.value_and_grad(simulate, wrt=("a", "b"), jit=True)
    call = lambda: vg(A, B, Y0, DT, n, obs)  # noqa: E731
    first = C.first_call(call)
    if args.second_process:
        C.report_second_process(first)
        return
    ref = call()
    warm, k = C.median_time(call, args.repeats)
    rows = [{"method": "srcdiff", "first": first, "warm": warm, "n": k}]
    second = C.second_process_first_call(os.path.abspath(__file__), args)
    if second is not None:
        rows.append({"method": "srcdiff, 2nd process (disk cache)", "first": second, "warm": None, "n": "-"})
    skipped, notes = [], []

    if C.want(args, "numba-hand"):
        hand = make_numba_hand()
        call = lambda: hand(A, B, Y0, DT, n, obs)  # noqa: E731
        f0 = C.first_call(call)
        C.check_close("numba-hand", call(), ref)
        w, k = C.median_time(call, args.repeats)
        rows.append({"method": "numba hand-written adjoint", "first": f0, "warm": w, "n": k})

    if C.want(args, "bounds"):
        checked = per_access_checks(vg)
        call = lambda: checked(A, B, Y0, DT, n, obs)  # noqa: E731
        f0 = C.first_call(call)
        C.check_close("bounds", call(), ref)
        w, k = C.median_time(call, args.repeats)
        rows.append({"method": "srcdiff with Numba's per-access bounds checks", "first": f0, "warm": w, "n": k})
        hand_row = next((r for r in rows if r["method"] == "numba hand-written adjoint"), None)
        if hand_row is not None:
            notes.append(f"against the hand-written kernel: srcdiff {warm / hand_row['warm']:.2f}x, with "
                         f"per-access bounds checks {w / hand_row['warm']:.2f}x (load average "
                         f"{os.getloadavg()[0]:.2f})")

    if C.want(args, "jax"):
        try:
            jvg, jnp = make_jax(n)
        except ImportError as e:
            skipped.append(f"jax ({e})")
        else:
            a_, b_, y0_, dt_, obs_ = (jnp.asarray(v) for v in (A, B, Y0, DT, obs))
            call = lambda: jvg(a_, b_, y0_, dt_, obs_)  # noqa: E731
            f0 = C.first_call(call)
            C.check_close("jax", call(), ref)
            w, k = C.median_time(call, args.repeats)
            rows.append({"method": "jax jit(value_and_grad), lax.scan", "first": f0, "warm": w, "n": k})

    if C.want(args, "autograd"):
        try:
            avg = make_autograd()
        except ImportError as e:
            skipped.append(f"autograd ({e})")
        else:
            call = lambda: avg(A, B, Y0, DT, n, obs)  # noqa: E731
            w, k, res = C.slow_time(call, args.slow_repeats)
            C.check_close("autograd", res, ref)
            rows.append({"method": "autograd (Python loop)", "first": None, "warm": w, "n": k})

    C.finish("recurrence", f"(a) scalar recurrence, n={n}, value+grad w.r.t. (a, b)", rows, skipped, args, notes)


if __name__ == "__main__":
    main()
