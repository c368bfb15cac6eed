"""Generated ELBO gradients: ``elbo_grad`` writes the ELBO as a small readable Python function and
lets srcdiff differentiate it.

For a model ``log_joint(z, *data)`` and a Gaussian family ``q`` (``MeanFieldNormal`` /
``FullRankNormal``, flat parameter vector ``lam``), ``elbo_grad`` writes (into srcdiff's cache
directory, so ``inspect.getsource`` and tracebacks see real lines) a function such as::

    def elbo(lam, eps, x, y):            # eps: (K, d) standard-normal draws
        total = 0.0
        for k in range(eps.shape[0]):
            z = meanfield_reparam(lam, eps[k])
            total = total + log_joint(z, x, y)
        return total / eps.shape[0] + meanfield_entropy(lam)

with the user's function and the family's functions bound as module globals, and then calls
``srcdiff.value_and_grad(elbo, wrt=0, jit=jit)``.  With ``num_samples=1`` it also writes
``elbo_one`` (the same for a single draw, without the loop, so its adjoint keeps no per-iteration
tape), which is what runs whenever the noise has one row.  The object returned is callable as
``(lam, rng_or_eps, *data) -> (elbo_estimate, grad)``; ``srcdiff.source(obj)`` shows the
generated adjoint code and ``obj.elbo_source`` the ELBO that was differentiated.

Bounds
------
* ``kl=None`` (default): ``E_q[log p(x, z)] + H[q]`` with the entropy in closed form.
* ``kl="analytic"``: ``E_q[log p(x | z)] - KL(q || N(prior_mean, diag(prior_std)^2))``; then
  ``log_joint`` is the log-likelihood only, the Gaussian prior is ``prior_mean`` / ``prior_std``
  (scalars or length-d arrays; default N(0, I)).

Splitting the prior from the likelihood (minibatches)
-----------------------------------------------------
Pass ``log_prior=`` (a function ``log_prior(z)``) to make ``log_joint`` the log-likelihood
``log_lik(z, *batch)``; the bound then uses ``log_lik(z, *batch) + log_prior(z)``.  With
``data_size=N`` the likelihood term is scaled by ``N / |S|`` where ``|S| = batch[0].shape[0]``
(every data argument is batched along axis 0), which keeps the minibatch ELBO and its gradient
unbiased for the full-data ones.  ``data_size`` needs the prior to be separate: ``log_prior=``
or ``kl="analytic"``.

Estimators
----------
* ``"reparam"``: the pathwise gradient of the Monte Carlo bound above (``z = reparam(lam, eps)``).
* ``"score"``: the score-function (REINFORCE / BBVI) estimator
  ``1/K sum_k (f_k - b_k) grad_lam log q(z_k | lam)`` with
  ``f_k = log p(x, z_k) - log q(z_k | lam)`` (``entropy="mc"``) or ``f_k = log p(x, z_k)`` plus the
  exact ``grad H[q]`` / ``-grad KL`` (``entropy="analytic"``, the default).  ``z_k`` are drawn from q
  and held fixed; srcdiff generates ``grad_lam log q`` and the per-sample ``f_k``.  Baselines
  (``baseline=``): ``None``; ``"loo"`` (default) the leave-one-out mean ``b_k = mean_{j != k} f_j``
  (unbiased, needs K >= 2); ``"optimal"`` the per-coordinate control-variate scale
  ``a_j = Cov(f h_j, h_j) / Var(h_j)`` of Ranganath et al. (2014), for sample k estimated from the
  other K - 1 samples, which keeps it unbiased (lowest variance, needs K >= 3).
  ``benchmarks/vi_score_variance.py`` measures the variance reductions.
"""
from __future__ import annotations

import inspect
import keyword
import math

import numpy as np

from .. import api, backends
from ..generated import Generated, ModuleFacts
from ..errors import SrcdiffError
from . import families
from ._errors import VITypeError, VIValueError, positive_int
from scipy.linalg import solve_triangular

__all__ = ["elbo_grad", "ELBOGrad", "meanfield_kl_normal", "fullrank_kl_normal", "fullrank_factor",
           "fullrank_reparam_v", "fullrank_log_q_v", "fullrank_entropy_v", "fullrank_tables"]


# ---------------------------------------------------------------------------
# Closed-form KL(q || N(prior_mean, diag(prior_std)^2)) for the two families (srcdiff vocabulary)
# ---------------------------------------------------------------------------

def meanfield_kl_normal(lam, prior_mean, prior_std):
    """KL(N(mu, diag sigma^2) || N(prior_mean, diag prior_std^2)) for lam = [mu, log sigma]."""
    p = np.reshape(lam, (2, -1))
    r = np.exp(p[1]) / prior_std
    m = (p[0] - prior_mean) / prior_std
    return np.sum(0.5 * (r * r + m * m - 1.0) - p[1] + np.log(prior_std))


def fullrank_factor(lam, d, scatter, diag_mask):
    """C (d, d) from lam without loops: ``scatter`` (d*d, T) places the row-major lower-triangular
    entries, ``diag_mask`` (T,) marks the log-diagonal ones (see FullRankNormal)."""
    v = lam[d:]
    v = v + diag_mask * (np.exp(v) - v)
    return np.reshape(scatter @ v, (d, d))


def fullrank_reparam_v(lam, eps, scatter, diag_mask):
    """z = mu + C eps, as FullRankNormal.reparam (eps (d,) or (k, d))."""
    d = eps.shape[-1]
    C = fullrank_factor(lam, d, scatter, diag_mask)
    return lam[:d] + eps @ np.transpose(C)


def fullrank_log_q_v(lam, z, scatter, diag_mask):
    """log q(z), as FullRankNormal.log_q."""
    d = z.shape[-1]
    C = fullrank_factor(lam, d, scatter, diag_mask)
    w = solve_triangular(C, np.transpose(z - lam[:d]), lower=True)
    return (-0.5 * np.sum(w * w, axis=0) - np.sum(diag_mask * lam[d:])
            - 0.5 * d * math.log(2.0 * math.pi))


def fullrank_entropy_v(lam, scatter, diag_mask):
    """H[q] = sum(log C_ii) + d/2 log(2 pi e), as FullRankNormal.entropy_fn."""
    d = lam.shape[0] - diag_mask.shape[0]
    return np.sum(diag_mask * lam[d:]) + 0.5 * d * math.log(2.0 * math.pi * math.e)


def fullrank_kl_normal(lam, prior_mean, prior_std, scatter, diag_mask):
    """KL(N(mu, C C^T) || N(prior_mean, diag prior_std^2)); C from lam as in FullRankNormal."""
    d = prior_mean.shape[0]
    C = fullrank_factor(lam, d, scatter, diag_mask)
    m = (lam[:d] - prior_mean) / prior_std
    A = np.transpose(C) / prior_std  # A[j, i] = C[i, j] / prior_std[i]
    return (0.5 * (np.sum(A * A) + np.sum(m * m) - d) + np.sum(np.log(prior_std))
            - np.sum(diag_mask * lam[d:]))


def fullrank_tables(d: int):
    """(scatter, diag_mask) constants for the loop-free FullRankNormal functions above."""
    q = families.FullRankNormal(d)
    T = q.num_tril
    scatter = np.zeros((d * d, T))
    scatter[q.tril_rows * d + q.tril_cols, np.arange(T)] = 1.0
    return scatter, q.diag_mask.astype(np.float64)


# ---------------------------------------------------------------------------
# Writing the ELBO source
# ---------------------------------------------------------------------------

_RESERVED = {"lam", "eps", "z", "k", "total", "scale", "out", "np", "math", "elbo", "log_weights",
             "log_q_one", "regulariser", "PRIOR_MEAN", "PRIOR_STD",
             "TRIL_SCATTER", "TRIL_DIAG"}


def _ident(name: str, fallback: str, taken: set) -> str:
    base = name if name.isidentifier() and not keyword.iskeyword(name) else fallback
    out, i = base, 1
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def _family_fns(q):
    """{role: (function, extra argument names)} for the family's differentiable pieces."""
    if isinstance(q, families.FullRankNormal):
        # loop-free versions (a constant scatter matrix instead of nested loops over C's entries)
        extra = ("TRIL_SCATTER", "TRIL_DIAG")
        return {"reparam": (fullrank_reparam_v, extra), "log_q": (fullrank_log_q_v, extra),
                "entropy_fn": (fullrank_entropy_v, extra), "kl": (fullrank_kl_normal, extra)}
    fns = {}
    for attr in ("reparam", "log_q", "entropy_fn"):
        f = getattr(type(q), attr, None) or getattr(q, attr, None)
        if not inspect.isfunction(f):
            raise SrcdiffError(f"{q!r} has no plain function .{attr}(lam, ...) to differentiate")
        fns[attr] = (f, ())
    kl = getattr(q, "kl_fn", None)
    if inspect.isfunction(kl):
        fns["kl"] = (kl, ())
    elif isinstance(q, families.MeanFieldNormal):
        fns["kl"] = (meanfield_kl_normal, ())
    return fns


class _Plan:
    """Names and pieces shared by the generated functions."""

    def __init__(self, log_joint, q, data_size, kl, log_prior, prior_mean, prior_std):
        f0 = getattr(log_joint, "py_func", log_joint)
        if not inspect.isfunction(f0):
            raise SrcdiffError(f"log_joint must be a plain Python function, got {log_joint!r}")
        sig = list(inspect.signature(f0).parameters.values())
        if not sig:
            raise SrcdiffError(f"{f0.__name__} must take the latent vector z as its first argument")
        # z, then the data: the parameters without defaults (those with one keep it: the ELBO calls
        # log_joint(z, x, y) for def log_joint(z, x, y, scale=2.0))
        params = [sig[0].name] + [p.name for p in sig[1:] if p.default is p.empty
                                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.user_data = params[1:]
        taken = set(_RESERVED)
        self.fns = _family_fns(q)
        self.globals = {}
        self.names = {}
        for key, (fn, extra) in self.fns.items():
            if key == "kl" and kl is None:
                continue
            self.names[key] = _ident(fn.__name__, key, taken)
            self.globals[self.names[key]] = fn
        if isinstance(q, families.FullRankNormal):
            self.globals["TRIL_SCATTER"], self.globals["TRIL_DIAG"] = fullrank_tables(q.d)
        self.lj = _ident(f0.__name__, "log_joint", taken)
        self.globals[self.lj] = f0
        self.lp = None
        if log_prior is not None:
            lp0 = getattr(log_prior, "py_func", log_prior)
            self.lp = _ident(lp0.__name__, "log_prior", taken)
            self.globals[self.lp] = lp0
        self.kl = None
        if kl not in (None, "analytic"):
            raise SrcdiffError(f"kl must be None or 'analytic', got {kl!r}")
        if kl == "analytic":
            if "kl" not in self.fns:
                raise SrcdiffError(f"kl='analytic' knows MeanFieldNormal and FullRankNormal, not {q!r}",
                                   advice="give the family a kl_fn(lam, prior_mean, prior_std) or use kl=None")
            self.kl = True
            self.globals["PRIOR_MEAN"] = np.broadcast_to(np.asarray(prior_mean, float), (q.d,)).copy()
            self.globals["PRIOR_STD"] = np.broadcast_to(np.asarray(prior_std, float), (q.d,)).copy()
        self.data = [_ident(p, f"data{i}", taken) for i, p in enumerate(params[1:])]
        if data_size is not None:
            if not self.data:
                raise SrcdiffError("data_size needs data arguments: log_lik(z, *batch)")
            if log_prior is None and kl is None:
                raise SrcdiffError("data_size scales the likelihood by N/|S|, so the prior must be separate",
                                   advice="pass log_prior=log_prior(z) (log_joint is then the log-likelihood) "
                                          "or kl='analytic' with prior_mean/prior_std")
        self.data_size = data_size
        self.q = q

    def call(self, role: str, *args: str) -> str:
        """Source of a call to the family's `role` function with `args` (plus its constants)."""
        return f"{self.names[role]}({', '.join(args + self.fns[role][1])})"

    def model_term(self, z: str) -> str:
        call = f"{self.lj}({', '.join([z] + self.data)})"
        if self.data_size is not None:
            call = f"scale * {call}"
        if self.lp:
            call = f"{call} + {self.lp}({z})"
        return call

    def regulariser(self) -> tuple[str, str]:
        """(expression, description) of the closed-form term: + H[q] or - KL(q || prior)."""
        if self.kl:
            return "-" + self.call("kl", "lam", "PRIOR_MEAN", "PRIOR_STD"), "- KL(q || prior)"
        return self.call("entropy_fn", "lam"), "+ H[q]"

    def scale_line(self, indent="    ") -> str:
        if self.data_size is None:
            return ""
        return f"{indent}scale = {float(self.data_size)!r} / {self.data[0]}.shape[0]  # N / |S|\n"

    def header(self, kind: str) -> str:
        like = f"{self.lj}(z, {', '.join(self.data)})" if self.data else f"{self.lj}(z)"
        if self.data_size is not None:
            like = f"N/|S| * {like}"
        if self.lp:
            like += f" + {self.lp}(z)"
        return (f"# Generated by srcdiff.vi.elbo_grad ({kind}) for {self.q!r}.\n"
                f"# model term: {like}\n")


def reparam_source(plan: _Plan, one_draw: bool = False) -> tuple[str, list]:
    """The reparameterisation estimator's module: (its source, the names of the functions it defines)."""
    reg, desc = plan.regulariser()
    data = "".join(", " + d for d in plan.data)
    src = (plan.header("reparameterisation estimator") +
           f"def elbo(lam, eps{data}):\n"
           f"    \"\"\"Monte Carlo ELBO: 1/K sum_k model(z_k) {desc}, z_k = reparam(lam, eps[k]).\"\"\"\n"
           f"{plan.scale_line()}"
           f"    total = 0.0\n"
           f"    for k in range(eps.shape[0]):\n"
           f"        z = {plan.call('reparam', 'lam', 'eps[k]')}\n"
           f"        total = total + {plan.model_term('z')}\n"
           f"    return total / eps.shape[0] + {reg}\n")
    if one_draw:  # K = 1 without the loop: its adjoint needs no per-iteration tape
        src += (f"\n\ndef elbo_one(lam, eps{data}):\n"
                f"    \"\"\"The same for one draw (eps of shape (1, d)): model(z) {desc}, "
                f"z = reparam(lam, eps[0]).\"\"\"\n"
                f"{plan.scale_line()}"
                f"    z = {plan.call('reparam', 'lam', 'eps[0]')}\n"
                f"    return {plan.model_term('z')} + {reg}\n")
    return src, ["elbo", "elbo_one"] if one_draw else ["elbo"]


def score_source(plan: _Plan, mc_entropy: bool) -> tuple[str, list]:
    """The score-function estimator's module: (its source, the names of the functions it defines)."""
    minus_q = " - " + plan.call("log_q", "lam", "z[k]") if mc_entropy else ""
    reg, desc = plan.regulariser()
    src = (plan.header("score-function estimator") +
           f"def log_weights(lam, z{''.join(', ' + d for d in plan.data)}):\n"
           f"    \"\"\"f_k = model(z_k){' - log q(z_k | lam)' if mc_entropy else ''} for each row z_k of z "
           f"(draws from q, held fixed).\"\"\"\n"
           f"{plan.scale_line()}"
           f"    out = np.zeros(z.shape[0])\n"
           f"    for k in range(z.shape[0]):\n"
           f"        out[k] = {plan.model_term('z[k]')}{minus_q}\n"
           f"    return out\n\n\n"
           f"def log_q_one(lam, z):\n"
           f"    \"\"\"log q(z | lam) for one draw z: its gradient is the score.\"\"\"\n"
           f"    return {plan.call('log_q', 'lam', 'z')}\n")
    if not mc_entropy:
        src += (f"\n\ndef regulariser(lam):\n"
                f"    \"\"\"The closed-form part of the bound ({desc.strip()}).\"\"\"\n"
                f"    return {reg.lstrip('+ ')}\n")
    return src, ["log_weights", "log_q_one"] + ([] if mc_entropy else ["regulariser"])


def _load(source: str, names: list, bindings: dict):
    """Import `source`, which defines the functions `names`, with `bindings` as globals through the one loader
    of generated modules (backends.load_module: written to the cache directory, verified, keyed by source
    and bindings)."""
    return backends.load_module(Generated(source, ModuleFacts.named(names)), {"np": np, "math": math, **bindings},
                                "vi_elbo", jit=False)


# ---------------------------------------------------------------------------
# The callable
# ---------------------------------------------------------------------------

def _sig(args):
    """Cheap call signature: generated code is specialised at most on (type, ndim, dtype kind)."""
    return tuple((a.ndim, a.dtype.kind) if isinstance(a, np.ndarray) else type(a) for a in args)


class _Fast:
    """Calls a srcdiff transform's compiled function directly once it is built for a signature.

    ``Transformed.__call__`` re-derives the parameter list and argument kinds on every call (tens of
    microseconds, comparable to a whole small ELBO gradient); an SVI loop calls the same
    specialisation thousands of times.  The first call per signature goes through the transform
    (building, checking, translating errors); later calls go straight to the compiled function.
    Falls back to the transform whenever its internals are not recognised.
    """

    def __init__(self, t):
        self.t, self.fns = t, {}

    @property
    def source(self):
        return self.t.source

    def __call__(self, *args):
        key = _sig(args)
        fn = self.fns.get(key)
        if fn is not None:
            return fn(*args)
        out = self.t(*args)
        last = getattr(self.t, "last", None)
        raw = last.function if last is not None else getattr(self.t, "_fn", None)
        if callable(raw) and not self.t.many and self.t.mode in ("value_and_grad", "vjp"):
            self.fns[key] = raw
        return out


def _as_rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class ELBOGrad:
    """``(lam, rng_or_eps, *data) -> (elbo_estimate, grad)``; see :func:`elbo_grad`.

    ``rng_or_eps`` is either standard-normal noise of shape ``(K, d)`` (or ``(d,)`` for K = 1) or a
    ``numpy.random.Generator`` / seed / None, from which ``num_samples`` draws are taken.
    """

    def __init__(self, plan, q, num_samples, estimator, baseline, mc_entropy, jit):
        self.q, self.num_samples, self.estimator = q, int(num_samples), estimator
        self.baseline, self.mc_entropy, self.jit = baseline, mc_entropy, jit
        self.data_names = list(plan.user_data)
        self.data_size = plan.data_size
        if estimator == "reparam":
            self.elbo_source, names = reparam_source(plan, one_draw=self.num_samples == 1)
        else:
            self.elbo_source, names = score_source(plan, mc_entropy)
        self.module = _load(self.elbo_source, names, plan.globals)
        if estimator == "reparam":
            self._vg = _Fast(api.value_and_grad(self.module.elbo, wrt=0, jit=jit))
            self._vg1 = None
            if self.num_samples == 1:
                self._vg1 = _Fast(api.value_and_grad(self.module.elbo_one, wrt=0, jit=jit))
            self._parts = [self._vg1 or self._vg]
        else:
            self._w = _Fast(api.vjp(self.module.log_weights, wrt=0, jit=jit))
            self._h = _Fast(api.value_and_grad(self.module.log_q_one, wrt=0, jit=jit))
            self._parts = [self._w, self._h]
            if not mc_entropy:
                self._r = _Fast(api.value_and_grad(self.module.regulariser, wrt=0, jit=jit))
                self._parts.append(self._r)

    # srcdiff.source(obj) reads this
    @property
    def source(self) -> str:
        return "\n\n".join(p.source for p in self._parts)

    def noise(self, rng_or_eps):
        """``(K, d)`` standard-normal noise: ``rng_or_eps`` itself (a float array, ``(d,)`` for K = 1)
        or ``num_samples`` draws from a Generator / seed / None."""
        if isinstance(rng_or_eps, np.ndarray) and rng_or_eps.dtype.kind == "f":
            eps = rng_or_eps.reshape(1, -1) if rng_or_eps.ndim == 1 else rng_or_eps
            if eps.ndim != 2 or eps.shape[1] != self.q.d or eps.shape[0] < 1:
                raise VIValueError(f"noise eps must have shape (K, {self.q.d}) or ({self.q.d},) for {self.q!r}, "
                                   f"got {rng_or_eps.shape}")
            return eps
        if isinstance(rng_or_eps, np.ndarray):
            raise VITypeError(f"noise must be a float array, a numpy Generator, a seed or None; got an array of "
                              f"dtype {rng_or_eps.dtype}")
        return _as_rng(rng_or_eps).standard_normal((self.num_samples, self.q.d))

    def check_arguments(self, lam, data):
        """``lam`` as a float array of this family's parameter shape, and ``data`` of the right arity."""
        lam = np.asarray(lam, dtype=np.float64)
        if lam.shape != (self.q.num_params,):
            raise VIValueError(f"lam must have shape ({self.q.num_params},) for {self.q!r}, got {lam.shape}")
        if len(data) != len(self.data_names):
            raise VITypeError(f"expected data arguments ({', '.join(self.data_names)}) after lam and the noise, "
                              f"got {len(data)} (parameters of log_joint with defaults keep them)")
        return lam

    def __call__(self, lam, rng_or_eps=None, *data):
        lam = self.check_arguments(lam, data)
        eps = self.noise(rng_or_eps)
        if self.estimator == "reparam":
            value, g = self._reparam_fn(eps.shape[0])(lam, eps, *data)
            return float(value), g
        return self.score_terms(lam, eps, *data, baseline=self.baseline)

    def _reparam_fn(self, num_draws: int):
        """The generated value-and-gradient for noise of ``num_draws`` rows: the loop-free one for one."""
        return self._vg1 if self._vg1 is not None and num_draws == 1 else self._vg

    def reparam_transform(self, num_draws: int):
        """The srcdiff ``value_and_grad`` object behind the reparameterisation gradient for noise of
        ``num_draws`` rows: ``(lam, eps, *data) -> (ELBO estimate, gradient)``."""
        return self._reparam_fn(num_draws).t

    def compiled(self, lam, eps, *data, fixed_k: bool = False):
        """The gradient as a bare function ``(lam, eps, *data) -> (value, grad)`` for arguments of the
        kinds given (same dtypes and ranks; ``eps`` of shape (K, d)), without per-call checks.

        ``fit`` calls it once and then the function it returns every step: for small models the
        checks and dispatch in ``__call__`` are a noticeable fraction of a step.  ``fixed_k=True``
        promises that every later ``eps`` has as many rows as this one.
        """
        lam = self.check_arguments(lam, data)
        eps = self.noise(eps)
        self(lam, eps, *data)  # builds (and compiles) the specialisation, with the checks
        if self.estimator == "reparam":
            vg = self._reparam_fn(eps.shape[0])
            fn = vg.fns.get(_sig((lam, eps) + tuple(data))) or vg
            if vg is self._vg or fixed_k:
                return fn
            generic = self._vg  # the loop-free version is only right for one draw

            def one_draw_or_more(lam, eps, *data):
                return (fn if eps.shape[0] == 1 else generic)(lam, eps, *data)
            return one_draw_or_more
        baseline = self.baseline

        def score_step(lam, eps, *data):
            return self.score_terms(lam, eps, *data, baseline=baseline)
        return score_step

    # -- score-function pieces -----------------------------------------------------------------
    def weights_and_scores(self, lam, eps, *data):
        """Per-sample f_k (K,) and scores h_k = grad log q(z_k | lam) (K, P) for z = reparam(lam, eps)."""
        z = self.q.reparam(lam, eps)  # plain NumPy draw; held fixed below
        K = z.shape[0]
        f, _ = self._w(lam, z, *data, np.zeros(K))
        H = np.empty((K, lam.shape[0]))
        for k in range(K):
            H[k] = self._h(lam, z[k])[1]
        return np.asarray(f, dtype=np.float64), H

    def score_terms(self, lam, eps, *data, baseline="loo"):
        f, H = self.weights_and_scores(lam, eps, *data)
        K = f.shape[0]
        value = float(np.mean(f))
        if baseline is None or baseline == "none":
            g = f @ H / K
        elif baseline == "loo":
            if K < 2:
                raise SrcdiffError("the leave-one-out baseline needs num_samples >= 2",
                                   advice="use num_samples >= 2 or baseline=None")
            # f_k - mean_{j != k} f_j = K/(K-1) (f_k - mean f)
            g = (f - f.mean()) @ H / (K - 1)
        elif baseline == "optimal":
            if K < 3:
                raise SrcdiffError("the 'optimal' control variate estimates its scale from the other samples "
                                   "and needs num_samples >= 3", advice="use num_samples >= 3 or baseline='loo'")
            # g = 1/K sum_k (f_k - a_k) h_k with a_k = Cov(f h, h) / Var(h) per coordinate, estimated from
            # the K - 1 other samples: a_k is independent of sample k and E[h_k] = 0, so g is unbiased
            # (the same-sample plug-in of Ranganath et al. 2014 has an O(1/K) bias)
            fh = f[:, None] * H
            n1 = K - 1.0
            m_fh = (fh.sum(0) - fh) / n1
            m_h = (H.sum(0) - H) / n1
            cov = ((fh * H).sum(0) - fh * H) / n1 - m_fh * m_h
            var = ((H * H).sum(0) - H * H) / n1 - m_h * m_h
            a = np.divide(cov, var, out=np.zeros_like(var), where=var > 1e-300)
            g = np.mean(fh - a * H, axis=0)
        else:
            raise SrcdiffError(f"unknown baseline {baseline!r}: use None, 'loo' or 'optimal'")
        if not self.mc_entropy:
            r, gr = self._r(lam)
            value += float(r)
            g = g + gr
        return value, g

    def __repr__(self):
        return (f"ELBOGrad({self.q!r}, estimator={self.estimator!r}, num_samples={self.num_samples}, "
                f"jit={self.jit})")


def elbo_grad(log_joint, q, num_samples: int = 1, estimator: str = "reparam", data_size=None,
              kl=None, jit: bool = True, *, log_prior=None, prior_mean=0.0, prior_std=1.0,
              baseline="loo", entropy: str = "analytic") -> ELBOGrad:
    """Generate the ELBO-gradient function for ``log_joint(z, *data)`` and family ``q``: the data are
    its parameters after ``z`` that have no default (one with a default keeps it).

    Returns an :class:`ELBOGrad`, callable as ``(lam, rng_or_eps, *data) -> (elbo, grad)`` (gradient
    of the ELBO, to be ascended).  See the module docstring for the bounds, ``log_prior`` /
    ``data_size`` minibatch scaling, ``kl="analytic"`` and the score-function options
    (``baseline``: None | "loo" | "optimal"; ``entropy``: "analytic" | "mc").
    """
    if estimator not in ("reparam", "score"):
        raise SrcdiffError(f"estimator must be 'reparam' or 'score', got {estimator!r}")
    if entropy not in ("analytic", "mc"):
        raise SrcdiffError(f"entropy must be 'analytic' or 'mc', got {entropy!r}")
    num_samples = positive_int("num_samples", num_samples)
    mc = entropy == "mc"
    if mc and kl is not None:
        raise SrcdiffError("entropy='mc' estimates H[q] by sampling; it cannot be combined with kl='analytic'")
    plan = _Plan(log_joint, q, data_size, kl, log_prior, prior_mean, prior_std)
    return ELBOGrad(plan, q, num_samples, estimator, baseline, mc, jit)
