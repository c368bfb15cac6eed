"""``fit``: stochastic variational inference with a generated ELBO gradient and an ascent optimiser."""
from __future__ import annotations

import math
import time

import numpy as np

from ..chunk_kernel import ChunkKernel
from . import families, optim
from ._errors import VINonFiniteError, VITypeError, VIValueError, positive_float, positive_int
from .elbo import ELBOGrad, elbo_grad

__all__ = ["fit", "VIResult"]

_DEFAULT_LR = {"adam": 0.05, "sgd": 1e-3, "robbins-monro": 0.1, "robbinsmonro": 0.1, "adagrad": 0.1,
               "rmsprop": 0.01, "adadelta": 1.0}


class VIResult:
    """What :func:`fit` returns.

    ``params`` (the fitted ``lam``), ``q`` (the family), ``mean``, ``cov``, ``std``, ``elbo_trace``
    (per-step ELBO estimates, np.array; NaN at ``skipped_steps``, those ``fit(skip_nonfinite=True)``
    skipped), ``elbo_grad`` (the generated gradient; ``srcdiff.source`` works on it), ``optimizer``,
    ``seconds``; ``plot(path)`` saves the ELBO trace.
    """

    def __init__(self, params, q, elbo_trace, grad_fn, optimizer, seconds, skipped_steps=()):
        self.params, self.q = params, q
        self.elbo_trace = np.asarray(elbo_trace, dtype=np.float64)
        self.elbo_grad, self.optimizer, self.seconds = grad_fn, optimizer, seconds
        self.skipped_steps = np.asarray(skipped_steps, dtype=np.int64)

    @property
    def mean(self) -> np.ndarray:
        return self.q.mean(self.params)

    @property
    def cov(self) -> np.ndarray:
        return self.q.cov(self.params)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def source(self) -> str:
        return self.elbo_grad.source

    def sample(self, n: int, rng=None) -> np.ndarray:
        """``n`` draws from the fitted q, shape (n, d)."""
        return self.q.sample(self.params, rng, n)

    def final_elbo(self, window: int = 100) -> float:
        """Mean of the last ``window`` ELBO estimates."""
        return float(np.nanmean(self.elbo_trace[-window:]))

    def plot(self, path: str, title: str | None = None, window: int | None = None) -> str:
        """Save the ELBO trace (raw and moving average) to ``path`` with matplotlib's Agg backend."""
        import matplotlib
        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        tr = self.elbo_trace[np.isfinite(self.elbo_trace)]
        fig = Figure(figsize=(6, 3.5))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(tr, lw=0.6, alpha=0.45, label="ELBO estimate")
        w = window or max(1, len(tr) // 50)
        if w > 1 and len(tr) > w:
            ma = np.convolve(tr, np.ones(w) / w, mode="valid")
            ax.plot(np.arange(w - 1, len(tr)), ma, lw=1.5, label=f"moving average ({w})")
        lo = np.percentile(tr, 5) if len(tr) > 20 else tr.min()
        ax.set_ylim(lo - 0.1 * abs(lo), tr.max() + 0.05 * abs(tr.max()) + 1e-9)
        ax.set_xlabel("step")
        ax.set_ylabel("ELBO")
        ax.set_title(title or f"{type(self.q).__name__}, {self.elbo_grad.estimator} estimator")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        return path

    def __repr__(self):
        return (f"VIResult({self.q!r}, steps={len(self.elbo_trace)}, "
                f"final ELBO ~ {self.final_elbo():.4g}, {self.seconds:.2f}s)")


def fit(log_joint, q, data=(), steps: int = 1000, num_samples: int = 1, estimator: str = "reparam",
        optimizer="adam", batch_size: int | None = None, seed=0, lr: float | None = None,
        progress: bool = True, *, init=None, kl=None, log_prior=None, prior_mean=0.0, prior_std=1.0,
        baseline="loo", entropy="analytic", jit: bool = True, grad_fn: ELBOGrad | None = None,
        average: float = 0.25, callback=None, skip_nonfinite: bool = False) -> VIResult:
    """Maximise the ELBO of ``log_joint(z, *data)`` over the parameters of family ``q``.

    * ``data``: tuple of arrays passed after ``z``.  With ``batch_size`` each step uses a random
      minibatch (rows along axis 0: consecutive slices of a per-epoch shuffle, so each batch is a
      uniformly random subset drawn without replacement) and the likelihood is scaled by
      ``N / batch_size``; ``log_joint`` is then the log-likelihood and the prior must come from
      ``log_prior=`` or ``kl="analytic"`` (see :mod:`srcdiff.vi.elbo`).
    * ``estimator``, ``num_samples``, ``kl``, ``baseline``, ``entropy``, ``jit``: as in
      :func:`srcdiff.vi.elbo_grad` (or pass a ready ``grad_fn``, with ``data_size=N`` for minibatches).
    * ``optimizer``: a name from :mod:`srcdiff.vi.optim` or an instance; ``lr`` sets the step size
      of a named one (Adam default 0.05).  Optimisers ascend.
    * ``average``: return the mean of ``lam`` over the last ``average`` fraction of the steps (Polyak-Ruppert
      averaging, which removes most of the constant-step-size jitter; 0 returns the last iterate).
    * ``init``: initial ``lam`` (default ``q.init_params(seed)``); ``callback(step, lam, elbo)``
      is called every step when given.
    * A step whose ELBO estimate or gradient is NaN or infinite (``log_joint`` returned NaN or -inf
      for a draw of z: a model undefined on part of the support q covers, all of R^d) raises
      :class:`VINonFiniteError` naming the step, the value and the draw. ``skip_nonfinite=True``
      skips such steps instead: ``lam`` is not updated, the trace holds NaN there, and the steps are
      listed in ``result.skipped_steps`` (an error if every step is skipped).
    """
    data = tuple(a if _is_dask(a) else np.asarray(a) for a in (data if isinstance(data, (tuple, list)) else (data,)))
    dask_data = any(_is_dask(a) for a in data)
    if not isinstance(q, families.GaussianFamily) and grad_fn is None:
        raise VITypeError(f"q must be a variational family such as vi.MeanFieldNormal(d), got {q!r}")
    steps, num_samples, batch_size, lr = _checked_sizes(steps, num_samples, batch_size, lr, average)
    rng = np.random.default_rng(seed)
    data, batch_size, N = _rows(data, batch_size, dask_data,
                                full_data_prior=grad_fn is not None or log_prior is not None or kl is not None,
                                estimator=grad_fn.estimator if grad_fn is not None else estimator)
    if grad_fn is None:
        grad_fn = elbo_grad(log_joint, q, num_samples=num_samples, estimator=estimator,
                            data_size=N, kl=kl, jit=jit, log_prior=log_prior, prior_mean=prior_mean,
                            prior_std=prior_std, baseline=baseline, entropy=entropy)
    _check_data_size(grad_fn, N, batch_size)
    opt = _optimizer(optimizer, lr)
    lam = _initial_params(q, init, seed)
    K, d = grad_fn.num_samples, q.d
    trace = np.empty(steps)
    averaged = _PolyakAverage(lam, steps - int(round(float(average) * steps)) if average else steps)
    skipped = []
    batches = _batches(data, batch_size, N, rng, dask_data)
    draws = _Draws(rng, steps, K, d)
    try:
        step_fn = _step_function(grad_fn, lam, K, d, data, batches, dask_data)
        bar = _Progress(steps, grad_fn, trace) if progress else None
        t0 = time.perf_counter()
        for t in range(steps):
            batch = batches.next() if batches is not None else data
            eps = draws.at(t)
            value, g = step_fn(lam, eps, *batch)
            if math.isfinite(value) and math.isfinite(g.dot(g) if g.ndim == 1 else float(np.sum(g * g))):
                lam = opt.step(lam, g)
            elif skip_nonfinite:
                skipped.append(t)
                value = math.nan
            else:
                raise _nonfinite(t, value, g, lam, eps, batch, q, log_joint, log_prior, grad_fn)
            trace[t] = value
            averaged.add(t, lam)
            if callback is not None:
                callback(t, lam, value)
            if bar is not None:
                bar.step(t)
        seconds = time.perf_counter() - t0
    finally:   # the next load runs in a background thread: stop it even when a step raises
        if isinstance(batches, _DaskBatches):
            batches.close()
    if bar is not None:
        bar.close()
    if len(skipped) == steps:
        raise VINonFiniteError(f"vi.fit skipped every one of its {steps} steps (skip_nonfinite=True): the ELBO "
                               "estimate or its gradient was not finite at every draw", *_where(log_joint),
                               advice="log_joint must be finite where q puts its mass; check it at q's mean")
    return VIResult(averaged.result(lam), q, trace, grad_fn, opt, seconds, skipped)


def _step_function(grad_fn, lam, K, d, data, batches, dask_data):
    """The compiled gradient, built before the clock and the progress bar start; from then on fit calls it
    directly (``ELBOGrad.compiled``: no per-step argument checks or dispatch)."""
    if dask_data and batches is None:     # full-data ELBO: one task per chunk (srcdiff.dask)
        return _DaskELBO(grad_fn, lam, K, data)
    first = batches.peek() if batches else data
    return grad_fn.compiled(lam, np.zeros((K, d)), *first, fixed_k=True)


class _Draws:
    """The standard normal draws of each step, generated in blocks of steps (one Generator call per block,
    not per step)."""

    def __init__(self, rng, steps, K, d):
        self.rng, self.steps, self.K, self.d = rng, steps, K, d
        self.block = int(max(1, min(steps, 2 ** 16 // max(1, K * d))))
        self.noise = None

    def at(self, t):
        j = t % self.block
        if j == 0:
            self.noise = self.rng.standard_normal((min(self.block, self.steps - t), self.K, self.d))
        return self.noise[j]


class _PolyakAverage:
    """The mean of the iterates from step `first` on (Polyak-Ruppert averaging); the last iterate if none."""

    def __init__(self, lam, first):
        self.first, self.total, self.n = first, np.zeros_like(lam), 0

    def add(self, t, lam):
        if t >= self.first:
            self.total += lam
            self.n += 1

    def result(self, lam):
        return self.total / self.n if self.n else lam


def _rows(data, batch_size, dask_data, full_data_prior, estimator):
    """(data, batch_size, N): Dask arrays aligned in chunks, batch_size None for the full data, N the number of
    rows the likelihood is scaled to (None: no scaling); VIValueError for data that cannot be batched."""
    N = None
    if dask_data:
        data = _aligned_dask(data)
        if batch_size is None or batch_size >= data[0].shape[0]:
            batch_size = None
            if not full_data_prior:
                raise VIValueError("the full-data ELBO over Dask arrays sums log_joint over chunks, so log_joint "
                                   "must be the log-likelihood and the prior separate: pass log_prior= or "
                                   "kl='analytic' (or batch_size= for minibatches)")
            if estimator != "reparam":
                raise VIValueError("the full-data ELBO over Dask arrays needs estimator='reparam' "
                                   "(or pass batch_size= for minibatches)")
            N = data[0].shape[0]
    if batch_size is not None:
        if not data:
            raise VIValueError("batch_size needs data: fit(log_lik, q, data=(X, y), batch_size=...)")
        N = data[0].shape[0] if data[0].ndim else 0
        if any(a.ndim == 0 or a.shape[0] != N for a in data):
            raise VIValueError("all data arrays must have the same number of rows to be minibatched, got shapes "
                               f"{[a.shape for a in data]}")
        if not batch_size <= N:
            raise VIValueError(f"batch_size must be in 1..{N} (the number of data rows), got {batch_size}")
    return data, batch_size, N


def _check_data_size(grad_fn, N, batch_size):
    """VIValueError unless ``grad_fn`` scales the likelihood of a part of the data (minibatches, or the chunks
    of Dask arrays) to all ``N`` rows, if fit runs it on parts (N not None): a ready one built without
    ``data_size=N`` would count each part's likelihood as if it were all the data (a posterior too wide, or
    too narrow), without a sign."""
    given = getattr(grad_fn, "data_size", N)
    if N is not None and (given is None or float(given) != float(N)):
        parts = "minibatches" if batch_size is not None else "the chunks"
        raise VIValueError(f"vi.fit runs grad_fn on {parts} of the {N} data rows, but grad_fn was built with "
                           f"data_size={given!r}: its likelihood term would not be scaled to all the rows",
                           advice=f"build it with vi.elbo_grad(..., data_size={N}) (and log_prior= or kl='analytic'), "
                                  "or leave grad_fn out and let fit build it")


def _batches(data, batch_size, N, rng, dask_data):
    if dask_data and batch_size is not None:
        return _DaskBatches(data, batch_size, rng)
    return _Batches(data, batch_size, rng) if batch_size is not None and batch_size < N else None


def _optimizer(optimizer, lr):
    if isinstance(optimizer, str):
        key = optimizer.strip().lower().replace("_", "-").replace(" ", "-")
        return optim.get(optimizer, lr=lr if lr is not None else _DEFAULT_LR.get(key, 0.01))
    opt = optim.get(optimizer)
    if lr is not None:
        opt.lr = lr
    return opt


def _initial_params(q, init, seed):
    if init is None:
        return q.init_params(seed)
    lam = np.array(init, dtype=np.float64)
    if lam.shape != (q.num_params,):
        raise VIValueError(f"init must have shape ({q.num_params},) for {q!r}, got {lam.shape}")
    return lam


class _Progress:
    """tqdm's bar over fit's steps, updated every 1% with the mean ELBO estimate since the last update."""

    def __init__(self, steps, grad_fn, trace):
        self.steps, self.trace, self.every, self.bar = steps, trace, max(1, steps // 100), None
        try:
            from tqdm.auto import tqdm
        except ImportError:  # the bar is an optional extra (pip install "srcdiff[vi]")
            import warnings
            warnings.warn("vi.fit: install tqdm for a progress bar (or pass progress=False)", stacklevel=3)
            return
        self.bar = tqdm(total=steps, desc=f"VI ({grad_fn.estimator})", leave=False, mininterval=0.25)

    def step(self, t):
        if self.bar is not None and (t + 1) % self.every == 0:
            self.bar.update(self.every)
            self.bar.set_postfix(elbo=f"{np.mean(self.trace[max(0, t - self.every + 1):t + 1]):.4g}", refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.update(self.steps - self.bar.n)
            self.bar.close()


def _checked_sizes(steps, num_samples, batch_size, lr, average):
    """fit's counts as ints and step size as a float, or VIValueError / VITypeError naming the bad one."""
    if not 0.0 <= float(average) < 1.0:
        raise VIValueError(f"average is the fraction of the last steps whose iterates are averaged: "
                           f"0 <= average < 1, got {average}")
    return (positive_int("steps", steps), positive_int("num_samples", num_samples),
            None if batch_size is None else positive_int("batch_size", batch_size),
            None if lr is None else positive_float("lr", lr))


def _where(log_joint) -> tuple:
    """(file, line) of the user's log_joint, for errors."""
    code = getattr(getattr(log_joint, "py_func", log_joint), "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else (None, None)


def _nonfinite(t, value, g, lam, eps, batch, q, log_joint, log_prior, grad_fn) -> VINonFiniteError:
    """The error for a step whose ELBO estimate or gradient is not finite: the step, the values, and the
    first draw of z at which log_joint (or log_prior) is not finite, evaluated here again in NumPy."""
    bad = int(np.sum(~np.isfinite(g)))
    what = f"the ELBO estimate is {float(value)!r}" + (f" and {bad} of the {g.size} gradient entries are not finite"
                                                        if bad else "")
    culprit = ""
    if log_joint is not None and hasattr(q, "reparam") and not any(_is_dask(a) for a in batch):
        for k, z in enumerate(q.reparam(lam, eps)):
            for name, fn, args in (("log_joint", log_joint, (z, *batch)), ("log_prior", log_prior, (z,))):
                if fn is None:
                    continue
                try:
                    with np.errstate(all="ignore"):
                        v = float(fn(*args))
                except Exception:   # noqa: BLE001 (only a diagnosis: the step already failed)
                    continue
                if not math.isfinite(v):
                    culprit = f"; {name}(z{', *data' if name == 'log_joint' and batch else ''}) is {v!r} at draw " \
                              f"{k} of this step, z = {np.array2string(z, precision=4, threshold=8)}"
                    break
            if culprit:
                break
    estimator = getattr(grad_fn, "estimator", "reparam")
    return VINonFiniteError(
        f"vi.fit, step {t}: {what}{culprit}", *_where(log_joint),
        advice="log_joint must be finite wherever q puts mass (all of R^d): write constrained latents through "
               "a transform (e.g. exp(z) for a positive one), or pass skip_nonfinite=True to skip the steps whose "
               "draws fall where it is not" + ("; a gradient that overflowed wants a smaller lr or a better init"
                                               if math.isfinite(value) or estimator != "reparam" else ""))


class _Batches:
    """Minibatches without replacement: each epoch shuffles the rows once (one copy of the data) and
    hands out consecutive slices (views) of ``batch_size`` rows; a remainder shorter than a batch is
    skipped, so every batch is a uniformly random subset of exactly ``batch_size`` rows."""

    def __init__(self, data, batch_size, rng):
        self.data, self.b, self.rng = data, batch_size, rng
        self.n = data[0].shape[0]
        self.pos = self.n  # shuffle on the first call

    def peek(self):
        return tuple(a[:self.b] for a in self.data)

    def next(self):
        if self.pos + self.b > self.n:
            perm = self.rng.permutation(self.n)
            self.shuffled = tuple(np.ascontiguousarray(a[perm]) for a in self.data)
            self.pos = 0
        i, self.pos = self.pos, self.pos + self.b
        return tuple(a[i:i + self.b] for a in self.shuffled)


# ---------------------------------------------------------------------------------------------------
# Data in Dask arrays (larger than memory): minibatches from random chunks, or the full-data gradient
# ---------------------------------------------------------------------------------------------------

def _is_dask(a) -> bool:
    return type(a).__module__.startswith("dask.array")


def _aligned_dask(data):
    """All data as Dask arrays with the first one's row chunks (NumPy data joins them), checked."""
    import dask.array as da
    from .. import dask as sdask
    first = next(a for a in data if _is_dask(a))
    out = []
    for a in data:
        if not _is_dask(a):
            if a.ndim == 0 or a.shape[0] != first.shape[0]:
                raise VIValueError(f"all data arrays must have the same number of rows, got shapes "
                                   f"{[x.shape for x in data]}")
            a = da.from_array(a, chunks=(first.chunks[0],) + tuple((n,) for n in a.shape[1:]))
        out.append(a)
    sdask.row_chunks(out, [f"data[{k}]" for k in range(len(out))])
    return tuple(out)


class _DaskBatches:
    """Minibatches of ``batch_size`` rows from Dask arrays without loading them: a load draws random
    chunks (each with probability proportional to its rows, so every row is equally likely; empty chunks
    never) until it holds at least 64 batches, shuffles their rows once and hands out consecutive slices;
    the next load is computed in the background (on the current Dask scheduler) meanwhile."""

    def __init__(self, data, batch_size, rng):
        from concurrent.futures import ThreadPoolExecutor
        self.data, self.b, self.rng = data, batch_size, rng
        self.rows = np.array(data[0].chunks[0], dtype=np.int64)
        self.p = self.rows / self.rows.sum()
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending = self.pool.submit(self._load, self._choose())
        self.current, self.pos = None, 0

    def _choose(self):
        # among the chunks that have rows: with replace=False NumPy cannot draw a chunk of probability 0
        full = np.flatnonzero(self.rows)
        order = full[self.rng.choice(full.size, size=full.size, replace=False, p=self.p[full])]
        picked, total = [], 0
        for i in order:
            picked.append(int(i))
            total += int(self.rows[i])
            if total >= 64 * self.b:
                break
        perm_seed = int(self.rng.integers(2 ** 63))
        return sorted(picked), perm_seed

    def _load(self, choice):
        import dask
        blocks, perm_seed = choice
        got = dask.compute([[a.blocks[i] for i in blocks] for a in self.data])[0]
        parts = [np.concatenate([np.asarray(c) for c in cs]) for cs in got]
        perm = np.random.default_rng(perm_seed).permutation(parts[0].shape[0])
        return tuple(np.ascontiguousarray(p[perm]) for p in parts)

    def _advance(self):
        self.current = self.pending.result()
        self.pos = 0
        self.pending = self.pool.submit(self._load, self._choose())

    def peek(self):
        if self.current is None:
            self._advance()
        return tuple(a[:self.b] for a in self.current)

    def next(self):
        if self.current is None or self.pos + self.b > self.current[0].shape[0]:
            self._advance()
        i, self.pos = self.pos, self.pos + self.b
        return tuple(a[i:i + self.b] for a in self.current)

    def close(self):
        self.pending.cancel()
        self.pool.shutdown(wait=True)


class ELBOChunk(ChunkKernel):
    """A chunk's share of the full-data ELBO: with ``data_size=N`` the generated ELBO of a chunk of
    ``n`` rows is ``(N/n) loglik(chunk) + prior + entropy``; ``n/N`` of it, summed over the chunks, is
    ``loglik(all rows) + prior + entropy`` and its gradient the full-data gradient (same noise)."""

    def __init__(self, t, n_total):
        super().__init__(t)
        self.n_total = float(n_total)

    def __call__(self, lam, eps, *data):
        w = data[0].shape[0] / self.n_total
        value, g = self.t(lam, eps, *data)
        return w * float(value), w * g


class _DaskELBO:
    """``(lam, eps, *data) -> (ELBO, gradient)`` over all the rows of Dask arrays, one task per chunk."""

    def __init__(self, grad_fn, lam, K, data):
        from .. import dask as sdask
        self.sum = sdask.sum_over_chunks
        grad_fn.check_arguments(lam, data)
        self.kernel = ELBOChunk(grad_fn.reparam_transform(K), data[0].shape[0])

    def __call__(self, lam, eps, *data):
        return self.sum(self.kernel, lam, eps, *data)
