"""Hidden Markov models whose E-step is the gradient of the log-partition function.

An HMM is an exponential family over state paths z_1..z_T.  With natural
parameters ``eta = (log_pi, log_A, log_B)`` the joint log-probability of a
path and the observations is

    log p(z, x) = log_pi[z_1] + sum_t log_A[z_{t-1}, z_t] + sum_t log_B[z_t, x_t]
                = <eta, t(z, x)>,

where the sufficient statistics ``t(z, x)`` are the indicator of the first
state, the transition counts and the emission counts.  The forward recursion
computes the log-partition ``log Z(eta) = log sum_z exp <eta, t(z, x)>`` (which
is also the log-likelihood log p(x) when the parameters are normalised), and
the exponential-family identity

    grad log Z(eta) = E_{p(z | x)}[t(z, x)]

says that its gradient *is* the E-step: expected first-state occupancy,
expected transition counts and expected emission counts.  The backward pass of
forward-backward is therefore nothing but reverse-mode differentiation of the
forward pass, and that is exactly how this module gets it: the only inference
code written by hand is the forward recursion :func:`log_Z` (plain NumPy, easy
to read); srcdiff generates its adjoint.

The same pattern gives

* posterior marginals for any emission family: differentiate
  :func:`log_Z_obs` with respect to the (T, K) matrix of per-time log
  emission densities (used by the Gaussian-emission HMM);
* input-output HMMs (:func:`log_Z_io`), whose transition matrix is selected
  by an input symbol at every step;
* Viterbi decoding: replacing ``logsumexp`` by ``max`` gives the max-product
  recursion (:func:`viterbi_score_obs`), and the gradient of the best-path
  score with respect to the emission scores is the indicator of the best path
  (when it is unique).

Zero probabilities (forbidden transitions, structural zeros of a left-to-right
model) are represented by ``-inf`` natural parameters; their expected counts
come out as exact zeros.
"""
import uuid
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..chunk_kernel import ChunkKernel
from ._errors import VINonFiniteError, VIValueError

__all__ = [
    "log_Z", "log_Z_obs", "log_Z_io", "log_Z_gaussian",
    "viterbi_score", "viterbi_score_obs",
    "e_step", "e_step_obs", "e_step_io", "e_step_gaussian",
    "posterior_marginals", "gaussian_log_density",
    "m_step", "fit_em", "fit_em_gaussian", "HMMResult", "GaussianHMMResult",
    "viterbi", "viterbi_decode", "viterbi_counts",
    "random_hmm",
]


# ---------------------------------------------------------------------------
# Log-partition functions (plain NumPy; srcdiff differentiates these)
# ---------------------------------------------------------------------------

def log_Z(log_pi, log_A, log_B, data):
    """Log-partition (log-likelihood) of a categorical HMM via the forward recursion.

    log_pi (K,), log_A (K, K) with rows "from" and columns "to", log_B (K, V),
    data (T,) int64 symbols.  Gradients w.r.t. (log_pi, log_A, log_B) are the
    expected first-state indicator, transition counts and emission counts.
    """
    log_alpha = log_pi + log_B[:, data[0]]
    for t in range(1, data.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, data[t]]
    return logsumexp(log_alpha)


def log_Z_obs(log_pi, log_A, log_b):
    """Forward recursion with a (T, K) matrix of per-time log emission densities.

    Works for any emission family.  The gradient w.r.t. ``log_b`` is the matrix
    of posterior marginals gamma[t, k] = p(z_t = k | x); the gradient w.r.t.
    ``log_A`` is the expected transition-count matrix.
    """
    log_alpha = log_pi + log_b[0]
    for t in range(1, log_b.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_b[t]
    return logsumexp(log_alpha)


def log_Z_io(log_pi, log_A, log_B, inputs, data):
    """Input-output HMM: the transition into time t uses ``log_A[inputs[t]]``.

    log_A has shape (U, K, K) for U input symbols; ``inputs[0]`` is unused.
    The gradient w.r.t. log_A holds the expected transition counts per input.
    """
    log_alpha = log_pi + log_B[:, data[0]]
    for t in range(1, data.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A[inputs[t]], axis=0) + log_B[:, data[t]]
    return logsumexp(log_alpha)


def log_Z_gaussian(log_pi, log_A, means, log_vars, x):
    """Log-likelihood of an HMM with scalar Gaussian emissions N(means[k], exp(log_vars[k])).

    Differentiable in all of (log_pi, log_A, means, log_vars); e.g.
    d/d means[k] = sum_t gamma[t, k] (x_t - means[k]) / var_k.
    """
    log_b = -0.5 * (np.log(2.0 * np.pi) + log_vars[None, :]
                    + (x[:, None] - means[None, :]) ** 2 / np.exp(log_vars)[None, :])
    log_alpha = log_pi + log_b[0]
    for t in range(1, x.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_b[t]
    return logsumexp(log_alpha)


def viterbi_score(log_pi, log_A, log_B, data):
    """Log-probability of the single best state path (max-product recursion).

    Its gradient w.r.t. (log_pi, log_A, log_B) are the first-state indicator,
    transition counts and emission counts *of the best path* (when unique).
    """
    log_delta = log_pi + log_B[:, data[0]]
    for t in range(1, data.shape[0]):
        log_delta = np.max(log_delta[:, None] + log_A, axis=0) + log_B[:, data[t]]
    return np.max(log_delta)


def viterbi_score_obs(log_pi, log_A, log_b):
    """Best-path score with (T, K) per-time log emission scores.

    The gradient w.r.t. ``log_b`` is the one-hot (T, K) indicator of the best
    path when that path is unique.
    """
    log_delta = log_pi + log_b[0]
    for t in range(1, log_b.shape[0]):
        log_delta = np.max(log_delta[:, None] + log_A, axis=0) + log_b[t]
    return np.max(log_delta)


# ---------------------------------------------------------------------------
# Cached srcdiff derivatives
# ---------------------------------------------------------------------------

_DERIVATIVES = {}


def _value_and_grad(fn, wrt, jit=True):
    """Module-level cache of ``srcdiff.value_and_grad(fn, wrt=wrt, jit=jit)``."""
    key = (fn.__name__, wrt, bool(jit))
    vg = _DERIVATIVES.get(key)
    if vg is None:
        import srcdiff  # imported lazily: srcdiff.vi is loaded by srcdiff itself
        vg = srcdiff.value_and_grad(fn, wrt=wrt, jit=jit)
        _DERIVATIVES[key] = vg
    return vg


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


def _i64(a, n=None, what="symbols"):
    """A non-empty 1-D int64 sequence; with ``n``, checked to lie in range(n).

    The range check matters: the jitted derivatives index without bounds checks.
    """
    a = np.ascontiguousarray(a)
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError("sequences must be non-empty 1-D arrays")
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{what} must have an integer dtype, got {a.dtype}")
    if n is not None and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"{what} must lie in range({n}), got values in [{a.min()}, {a.max()}]")
    return a.astype(np.int64, copy=False)


def _check_shapes(log_pi, log_A, emissions, per_time=False, io=False):
    """Validate (K,), (K, K) -- (U, K, K) when ``io`` -- and (K, V) -- (T, K) when
    ``per_time`` -- shapes."""
    K = log_pi.shape[0] if log_pi.ndim == 1 else -1
    ok = (K > 0 and log_A.ndim == (3 if io else 2) and log_A.shape[-2:] == (K, K)
          and emissions.ndim == 2
          and (emissions.shape[1] == K if per_time else emissions.shape[0] == K)
          and emissions.shape[0] > 0 and emissions.shape[1] > 0)
    if not ok:
        want = "(T, K)" if per_time else "(K, V)"
        want_A = "(U, K, K)" if io else "(K, K)"
        raise ValueError(f"inconsistent shapes: log_pi {log_pi.shape}, log_A {log_A.shape}, "
                         f"emissions {emissions.shape}; expected (K,), {want_A} and {want}")


def _clean(g):
    # Expected counts are sums of non-negative terms; remove -0.0 and tiny
    # negative round-off so that log(count) is well defined in the M-step.
    return np.maximum(np.asarray(g, dtype=np.float64), 0.0)


def _check_params(**arrays):
    """VIValueError for NaN or +inf in log-parameters (log-probabilities are finite, or -inf for zero)."""
    for name, a in arrays.items():
        bad = np.isnan(a) | (a == np.inf)
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise VIValueError(f"{name}{list(at)} is {float(a[at])!r}: natural parameters are log-probabilities, "
                               "finite or -inf (probability 0)")


def _top(name, a, axis=None):
    """The maxima of log-parameter `a` (along `axis`), 0 where all is -inf: the shift that brings its largest
    entries to 0 (an all -inf part stays -inf). Checks `a` on the way: a NaN or +inf is its maximum."""
    m = a.max(axis=axis)
    if axis is None:
        m = float(m)
        if not m < np.inf:                 # NaN or +inf
            _check_params(**{name: a})
        return m if m > -np.inf else 0.0
    if not (m < np.inf).all():
        _check_params(**{name: a})
    m[m == -np.inf] = 0.0
    return m


class _Shifted:
    """log_pi and log_A (and log_B, per symbol: its column) less their maxima, checked: a forward pass
    over them never meets log-parameters around 1e20 (whose posteriors once summed to 86), the posterior
    is the same, and the log-likelihood gets the shifts back. Made once per E-step over many sequences."""

    def __init__(self, log_pi, log_A, log_B=None):
        self.c_pi, self.c_A = _top("log_pi", log_pi), _top("log_A", log_A)
        self.log_pi, self.log_A = log_pi - self.c_pi, log_A - self.c_A
        if log_B is not None:
            self.c_B = _top("log_B", log_B, axis=0)
            self.log_B = log_B - self.c_B

    def categorical(self, vg, data, inputs=None, what="the sequence"):
        """Checked E-step of one sequence of a categorical (``inputs``: input-output) HMM."""
        rest = (data,) if inputs is None else (inputs, data)
        value, grads = vg(self.log_pi, self.log_A, self.log_B, *rest)
        value = float(value) + float(self.c_B[data].sum())
        return self._checked(value, grads, data.shape[0], what, lambda: self.log_B[:, data].T, inputs, data)

    def observed(self, vg, log_b, what="the sequence"):
        """Checked E-step of one sequence from its (T, K) per-time log emission densities."""
        c_b = _top("log_b", log_b, axis=1)
        value, grads = vg(self.log_pi, self.log_A, log_b - c_b[:, None])
        return self._checked(float(value) + float(c_b.sum()), grads, log_b.shape[0], what, lambda: log_b)

    def _checked(self, value, grads, T, what, log_b, inputs=None, symbols=None):
        value += self.c_pi + (T - 1) * self.c_A
        if value == -np.inf:
            raise _impossible(self.log_pi, self.log_A, log_b(), what, inputs, symbols)
        grads = tuple(_clean(g) for g in grads)
        start = float(grads[0].sum())
        if not (np.isfinite(value) and abs(start - 1.0) < 1e-6):
            raise VINonFiniteError(f"the E-step of {what} gave log-likelihood {value!r} and posterior start "
                                   f"probabilities summing to {start!r}, not 1")
        return value, grads


def _impossible(log_pi, log_A, log_b, what, inputs=None, symbols=None):
    """VIValueError for a sequence of probability 0 at the first time no state can account for it (a
    forward pass in log space, only on this error path). `log_b`: its (T, K) log emission densities;
    `inputs`: an input-output HMM's, selecting log_A[inputs[t]]; `symbols`: its symbols, to name them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if not np.any(log_pi > -np.inf):
            return VIValueError("log_pi is -inf in every state: no state can start a sequence (probability 0)")
        dead = np.flatnonzero(~np.any(log_b > -np.inf, axis=1))
        if dead.size:
            t = int(dead[0])
            seen = (f"symbol {int(symbols[t])} has probability 0 in every state (log_B[:, {int(symbols[t])}] is -inf)"
                    if symbols is not None else "the observation there has probability 0 in every state")
            return VIValueError(f"{what} is impossible (probability 0) at t={t}: {seen}")
        alpha = log_pi + log_b[0]
        for t in range(log_b.shape[0]):
            if t:
                A = log_A if inputs is None else log_A[inputs[t]]
                alpha = logsumexp(alpha[:, None] + A, axis=0) + log_b[t]
            if not np.any(alpha > -np.inf):
                return VIValueError(f"{what} is impossible (probability 0) at t={t}: no state "
                                    + ("can start it" if t == 0 else f"reachable from those possible at t={t - 1} can "
                                       "emit the observation at t") + " (forbidden transitions or emissions)")
    return VIValueError(f"{what} has log-likelihood -inf under these parameters")


# ---------------------------------------------------------------------------
# E-steps
# ---------------------------------------------------------------------------

def e_step(natural_params, data, jit=True):
    """E-step of a categorical HMM for one sequence, as the gradient of :func:`log_Z`.

    Parameters
    ----------
    natural_params : (log_pi, log_A, log_B) with shapes (K,), (K, K), (K, V).
    data : (T,) integer array of symbols in ``range(V)``.

    Returns
    -------
    log_likelihood : float
    expected_stats : (E[1{z_1 = k}] (K,), E[transition counts] (K, K), E[emission counts] (K, V))

    A sequence of probability zero under the parameters (``log_pi`` all -inf, a symbol with
    probability 0 in every state, forbidden transitions) raises ``VIValueError`` naming the first
    impossible time step, as do NaN or +inf parameters. Parameters are shifted so that each one's
    largest entry is 0 before the forward pass (the posterior does not change; the log-likelihood
    gets the shifts back), so log-parameters of any magnitude give a posterior that sums to 1.
    """
    log_pi, log_A, log_B = (_f64(p) for p in natural_params)
    _check_shapes(log_pi, log_A, log_B)
    vg = _value_and_grad(log_Z, (0, 1, 2), jit)
    return _Shifted(log_pi, log_A, log_B).categorical(vg, _i64(data, log_B.shape[1]))


def e_step_obs(log_pi, log_A, log_b, jit=True):
    """E-step for arbitrary emissions given (T, K) log emission densities ``log_b``.

    Returns ``(log_likelihood, (gamma_0 (K,), expected transitions (K, K), gamma (T, K)))``
    from the gradient of :func:`log_Z_obs`. Checked as :func:`e_step` is (an observation with
    density 0 in every state, NaN in ``log_b``: ``VIValueError``).
    """
    log_pi, log_A, log_b = _f64(log_pi), _f64(log_A), _f64(log_b)
    _check_shapes(log_pi, log_A, log_b, per_time=True)
    vg = _value_and_grad(log_Z_obs, (0, 1, 2), jit)
    return _Shifted(log_pi, log_A).observed(vg, log_b)


def posterior_marginals(natural_params, data, jit=True):
    """(T, K) posterior state marginals p(z_t | x) of a categorical HMM (gradient of log_Z_obs)."""
    log_pi, log_A, log_B = (_f64(p) for p in natural_params)
    log_b = _f64(log_B[:, _i64(data, log_B.shape[1])].T)
    return e_step_obs(log_pi, log_A, log_b, jit=jit)[1][2]


def e_step_io(natural_params, inputs, data, jit=True):
    """E-step of an input-output HMM (gradient of :func:`log_Z_io`).

    natural_params = (log_pi (K,), log_A (U, K, K), log_B (K, V)); ``inputs`` and
    ``data`` are (T,) integer arrays (``inputs[t]`` selects the transition into t).
    Returns ``(log_likelihood, (E first state, E transition counts per input (U, K, K),
    E emission counts))``. Checked as :func:`e_step` is.
    """
    log_pi, log_A, log_B = (_f64(p) for p in natural_params)
    _check_shapes(log_pi, log_A, log_B, io=True)
    shifted = _Shifted(log_pi, log_A, log_B)
    inputs = _i64(inputs, log_A.shape[0], "inputs")
    data = _i64(data, log_B.shape[1])
    if inputs.shape != data.shape:
        raise ValueError("inputs and data must have the same length")
    vg = _value_and_grad(log_Z_io, (0, 1, 2), jit)
    return shifted.categorical(vg, data, inputs)


def gaussian_log_density(means, variances, x):
    """(T, K) matrix of log N(x_t; means[k], variances[k]) for scalar observations."""
    x = _f64(x)[:, None]
    means = _f64(means)[None, :]
    variances = _f64(variances)[None, :]
    return -0.5 * (np.log(2.0 * np.pi * variances) + (x - means) ** 2 / variances)


def e_step_gaussian(log_pi, log_A, means, variances, x, jit=True):
    """E-step of a scalar-Gaussian HMM.

    Returns ``(log_likelihood, (gamma_0, expected transitions, gamma (T, K)))``;
    gamma is the gradient of :func:`log_Z_obs` w.r.t. the log emission densities.
    NaN in ``x`` or the means, or variances that are not finite and positive, raise ``VIValueError``.
    """
    _check_gaussian(means, variances)
    return e_step_obs(log_pi, log_A, gaussian_log_density(means, variances, _finite_sequence(x)), jit=jit)


def _check_gaussian(means, variances):
    means, variances = _f64(means), _f64(variances)
    if not np.all(np.isfinite(means)):
        raise VIValueError(f"the Gaussian means must be finite, got {means}")
    if not np.all(np.isfinite(variances) & (variances > 0)):
        raise VIValueError(f"the Gaussian variances must be finite and > 0, got {variances}")


def _finite_sequence(x, what="the sequence"):
    """A sequence of scalar observations as a float64 vector; VIValueError at its first NaN or inf."""
    x = _f64(x).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise VIValueError(f"{what} holds {float(x[bad[0]])!r} at t={int(bad[0])}: observations must be finite")
    return x


# ---------------------------------------------------------------------------
# M-step and EM
# ---------------------------------------------------------------------------

def _log_normalize_counts(counts, previous):
    """Row-normalise expected counts in log space.

    Zero counts give log(0) = -inf.  Rows whose total count is zero (a state
    that is never visited) keep their previous value.
    """
    counts = _clean(counts)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        new = np.log(counts) - np.log(total)
    return np.where(total > 0, new, previous)


def m_step(expected_stats, previous=None):
    """Maximum-likelihood natural parameters from summed expected statistics.

    ``expected_stats = (start counts (K,), transition counts (..., K, K), emission counts (K, V))``.
    ``previous`` (natural params) supplies rows whose counts are all zero.
    """
    c_pi, c_A, c_B = expected_stats
    if previous is None:
        previous = tuple(np.full(np.shape(c), -np.log(np.shape(c)[-1])) for c in expected_stats)
    return tuple(_log_normalize_counts(c, p) for c, p in zip((c_pi, c_A, c_B), previous))


@dataclass
class HMMResult:
    """Result of :func:`fit_em`: natural parameters and per-iteration log-likelihood.

    ``loglik_trace[i]`` is the total log-likelihood of the parameters *entering*
    iteration i (computed by that iteration's E-step), as in hmmlearn.
    """
    log_pi: np.ndarray
    log_A: np.ndarray
    log_B: np.ndarray
    loglik_trace: np.ndarray
    converged: bool = False
    n_iter: int = 0

    @property
    def natural_params(self):
        return (self.log_pi, self.log_A, self.log_B)

    @property
    def startprob(self):
        return np.exp(self.log_pi)

    @property
    def transmat(self):
        return np.exp(self.log_A)

    @property
    def emissionprob(self):
        return np.exp(self.log_B)


def random_hmm(n_states, n_symbols, seed=0, concentration=1.0):
    """Random normalised natural parameters (log_pi, log_A, log_B) drawn from Dirichlet priors."""
    rng = np.random.default_rng(seed)
    a = np.full(n_states, concentration)
    pi = rng.dirichlet(a)
    A = rng.dirichlet(a, size=n_states)
    B = rng.dirichlet(np.full(n_symbols, concentration), size=n_states)
    return np.log(pi), np.log(A), np.log(B)


def fit_em(sequences, n_states, n_symbols, n_iter=100, tol=1e-6, seed=0, init=None,
           jit=True, callback=None, client=None):
    """Baum-Welch EM for a categorical HMM over sequences of different lengths.

    The E-step of every sequence is ``srcdiff.value_and_grad(log_Z)``; expected
    statistics are summed over sequences and normalised in the M-step.  Zero
    expected counts stay zero (log 0 = -inf), so forbidden transitions in
    ``init`` remain forbidden.

    Parameters
    ----------
    sequences : iterable of (T_i,) integer arrays.
    init : optional (log_pi, log_A, log_B); otherwise a random model from ``seed``.
    tol : stop when the log-likelihood increases by less than ``tol``.
    callback : optional ``callback(iteration, loglik, natural_params)``.
    client : optional ``distributed.Client``: each E-step then runs on its workers, one task per
        batch of sequences (the batches stay on the workers across iterations; the generated
        E-step travels once), and the statistics are summed here. ``sequences`` may then also be a
        ``dask.bag`` of sequences (one task per partition). Same result to rounding. A worker that
        dies takes its batches with it: they are computed again (the scheduler keeps a copy of each
        batch's task; a bag's partitions are recomputed from its graph) and the fit goes on.

    Sequences of probability 0 under the parameters, and NaN or +inf parameters, raise
    ``VIValueError`` naming the sequence (see :func:`e_step`).
    """
    if init is None:
        params = random_hmm(n_states, n_symbols, seed=seed)
    else:
        params = tuple(_f64(p).copy() for p in init)
    remote = None
    _check_shapes(*params)
    vg = _value_and_grad(log_Z, (0, 1, 2), jit)
    if client is not None:
        remote = _RemoteBatches(client, sequences, lambda s: _i64(s, n_symbols))
        for T in remote.length_classes(n_states, n_symbols):
            vg.prepare(*params, np.zeros(T, dtype=np.int64))
        remote.ship(vg)
    else:
        sequences = [_i64(s, n_symbols) for s in sequences]
    trace = []
    converged = False
    it = 0
    for it in range(1, n_iter + 1):
        _Shifted(*params)         # checks them here, before any work is sent
        if remote is not None:
            total, stats = remote.sum(_e_step_batch, params, n_symbols)
        else:
            total, stats = _e_step_batch(vg, params, sequences, n_symbols)
        if not np.isfinite(total):
            raise VINonFiniteError(f"fit_em, iteration {it}: the total log-likelihood is {total!r}")
        trace.append(total)
        if callback is not None:
            callback(it - 1, total, params)
        params = m_step(stats, previous=params)
        if len(trace) > 1 and trace[-1] - trace[-2] < tol:
            converged = True
            break
    return HMMResult(*params, loglik_trace=np.array(trace), converged=converged, n_iter=it)


@dataclass
class GaussianHMMResult:
    """Result of :func:`fit_em_gaussian` (scalar Gaussian emissions)."""
    log_pi: np.ndarray
    log_A: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    loglik_trace: np.ndarray
    converged: bool = False
    n_iter: int = 0

    @property
    def log_vars(self):
        return np.log(self.variances)


def fit_em_gaussian(sequences, n_states, n_iter=100, tol=1e-6, seed=0, init=None,
                    min_variance=1e-6, jit=True, client=None):
    """EM for an HMM with scalar Gaussian emissions.

    Posterior marginals gamma come from the gradient of :func:`log_Z_obs`
    w.r.t. the per-time log emission densities; the M-step is the usual
    gamma-weighted mean and variance (floored at ``min_variance``).

    ``init`` is an optional ``(log_pi, log_A, means, variances)``; by default the
    means start at spread-out quantiles of the data and all variances at the
    data variance.

    ``client``: run each E-step on a ``distributed.Client``'s workers, as in :func:`fit_em`
    (``sequences`` may then be a ``dask.bag``, which needs ``init``).
    """
    remote = None
    if client is not None and _is_bag(sequences):
        if init is None:
            raise ValueError("fit_em_gaussian over a dask.bag needs init=(log_pi, log_A, means, variances): "
                             "the default init reads all the data")
    else:
        sequences = [_finite_sequence(s, f"sequence {i}") for i, s in enumerate(sequences)]
    if init is None:
        rng = np.random.default_rng(seed)
        allx = np.concatenate(sequences)
        qs = (np.arange(n_states) + 0.5) / n_states
        means = np.quantile(allx, qs) + 1e-3 * allx.std() * rng.standard_normal(n_states)
        variances = np.full(n_states, max(allx.var(), min_variance))
        log_pi = np.full(n_states, -np.log(n_states))
        A = 0.5 * np.eye(n_states) + 0.5 * rng.dirichlet(np.ones(n_states), size=n_states)
        log_A = np.log(A / A.sum(axis=1, keepdims=True))
    else:
        log_pi, log_A, means, variances = (_f64(p).copy() for p in init)
    vg = _value_and_grad(log_Z_obs, (0, 1, 2), jit)
    if client is not None:
        remote = _RemoteBatches(client, sequences, _finite_sequence)
        for T in remote.length_classes(n_states):
            vg.prepare(log_pi, log_A, np.zeros((T, n_states)))
        remote.ship(vg)
    trace = []
    converged = False
    it = 0
    for it in range(1, n_iter + 1):
        _Shifted(log_pi, log_A)   # checks them here, before any work is sent
        _check_gaussian(means, variances)
        params = (log_pi, log_A, means, variances)
        if remote is not None:
            total, (c_pi, c_A, w, wd, wdd) = remote.sum(_e_step_gaussian_batch, params)
        else:
            total, (c_pi, c_A, w, wd, wdd) = _e_step_gaussian_batch(vg, params, sequences)
        if not np.isfinite(total):
            raise VINonFiniteError(f"fit_em_gaussian, iteration {it}: the total log-likelihood is {total!r}")
        trace.append(total)
        log_pi = _log_normalize_counts(c_pi, log_pi)
        log_A = _log_normalize_counts(c_A, log_A)
        used = w > 0
        step = np.where(used, wd / np.where(used, w, 1.0), 0.0)        # new mean - old mean
        new_vars = np.where(used, wdd / np.where(used, w, 1.0) - step ** 2, variances)
        means, variances = means + step, np.maximum(new_vars, min_variance)
        if len(trace) > 1 and trace[-1] - trace[-2] < tol:
            converged = True
            break
    return GaussianHMMResult(log_pi, log_A, means, variances, np.array(trace), converged, it)


# ---------------------------------------------------------------------------
# E-steps on a Dask cluster (fit_em(..., client=...))
# ---------------------------------------------------------------------------

def _is_bag(x):
    return type(x).__module__.startswith("dask.bag")


def _sequence_name(first, i):
    return f"sequence {first + i}" if first is not None else f"sequence {i} of its dask.bag partition"


def _e_step_batch(vg, params, seqs, n_symbols, first=0):
    """Summed log-likelihood and expected statistics of a batch of sequences (numbered from ``first``;
    None for a dask.bag partition), with the checks of e_step. Runs here, or on a worker with the E-step
    ``vg`` generated on the client."""
    total = 0.0
    stats = [np.zeros_like(p) for p in params]
    shifted = _Shifted(*params)
    for i, seq in enumerate(seqs):
        value, grads = shifted.categorical(vg, _i64(seq, n_symbols), what=_sequence_name(first, i))
        total += value
        for acc, g in zip(stats, grads):
            acc += g
    return total, stats


def _e_step_gaussian_batch(vg, params, xs, first=0):
    """Summed log-likelihood and (start, transition, weight, weighted d, weighted d^2) statistics, where
    d = x - means[k] is each observation's offset from the state's current mean: the M-step's variance
    E[d^2] - E[d]^2 then subtracts numbers of the size of the spread, not of x (E[x^2] - E[x]^2 of data
    around 1e8 with unit spread cancels every digit: EM found variances of 2 and 10 for 0.2)."""
    log_pi, log_A, means, variances = params
    K = log_pi.shape[0]
    total = 0.0
    stats = [np.zeros(K), np.zeros((K, K)), np.zeros(K), np.zeros(K), np.zeros(K)]
    shifted = _Shifted(log_pi, log_A)
    for i, x in enumerate(xs):
        what = _sequence_name(first, i)
        x = _finite_sequence(x, what)
        value, (g0, gA, gamma) = shifted.observed(vg, gaussian_log_density(means, variances, x), what)
        total += value
        d = x[:, None] - means[None, :]
        for acc, v in zip(stats, (g0, gA, gamma.sum(axis=0), np.sum(gamma * d, axis=0), np.sum(gamma * d * d, axis=0))):
            acc += v
    return total, stats


def _held(seqs):
    """A batch of sequences, as the result of the task that carries them (see _RemoteBatches)."""
    return seqs


class _RemoteBatches:
    """Sequences held on a distributed cluster's workers in batches (a task holds many short sequences;
    about four batches per worker thread), and the generated E-step sent once (srcdiff.dask.ship).

    A batch is the result of a task that carries its sequences (``client.submit``), not scattered data:
    the scheduler keeps the task, so a batch lost with a killed worker is computed again from it (as a
    ``dask.bag``'s partitions are from its graph), and the next E-step goes on. The scheduler so holds a
    pickled copy of the sequences: for more than it should hold, pass a ``dask.bag`` that reads them."""

    def __init__(self, client, sequences, check):
        self.client = client
        if _is_bag(sequences):
            self.lengths = None
            self.batches = client.compute(sequences.to_delayed())
            self.firsts = [None] * len(self.batches)
        else:
            seqs = [check(s) for s in sequences]
            if not seqs:
                raise ValueError("fit_em needs at least one sequence")
            self.lengths = {s.shape[0] for s in seqs}
            threads = max(1, sum(client.nthreads().values()))
            size = -(-len(seqs) // min(len(seqs), 4 * threads))
            token = uuid.uuid4().hex
            self.firsts = list(range(0, len(seqs), size))
            import dask   # a batch is data in its task by design here: no "large graph" advice to the user
            with dask.config.set({"distributed.admin.large-graph-warning-threshold": 2 ** 62}):
                self.batches = [client.submit(_held, seqs[i:i + size], key=f"srcdiff-hmm-batch-{token}-{i}",
                                              pure=False) for i in self.firsts]
        self.vg = None

    def length_classes(self, *sizes):
        """Sequence lengths standing for every way a length can compare with the model's sizes (the
        generated code is specialised on which axes have equal lengths): 1, each size, and another."""
        other = next(t for t in range(2, max(sizes) + 3) if t not in sizes)
        classes = {1: 1, **{k: k for k in sizes}}
        if self.lengths is None:
            return sorted(set(classes.values()) | {other})
        return sorted({classes.get(t, other) for t in self.lengths})

    def ship(self, vg):
        from .. import dask as sdask
        self.vg = sdask.ship(ChunkKernel(vg), self.client)

    def sum(self, fn, params, *extra):
        """``fn(E-step, params, batch, *extra, first)`` summed over the batches (``first``: the number of
        the batch's first sequence)."""
        n = len(self.batches)
        futures = self.client.map(fn, [self.vg] * n, [params] * n, self.batches, *[[e] * n for e in extra],
                                  self.firsts, pure=False)
        results = self.client.gather(futures)
        total = sum(r[0] for r in results)
        stats = [sum(r[1][j] for r in results) for j in range(len(results[0][1]))]
        return total, stats


# ---------------------------------------------------------------------------
# Viterbi
# ---------------------------------------------------------------------------

def viterbi(log_pi, log_A, log_B, data):
    """Plain Viterbi with back-pointers (reference implementation, no srcdiff).

    Returns ``(best_path (T,) int64, best_log_prob)``.
    """
    log_pi, log_A, log_B = _f64(log_pi), _f64(log_A), _f64(log_B)
    data = _i64(data, log_B.shape[1])
    T, K = data.shape[0], log_pi.shape[0]
    back = np.zeros((T, K), dtype=np.int64)
    delta = log_pi + log_B[:, data[0]]
    for t in range(1, T):
        scores = delta[:, None] + log_A
        back[t] = np.argmax(scores, axis=0)
        delta = scores[back[t], np.arange(K)] + log_B[:, data[t]]
    path = np.zeros(T, dtype=np.int64)
    path[-1] = np.argmax(delta)
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, float(np.max(delta))


def _is_path_indicator(g):
    return bool(np.all((g == 0.0) | (g == 1.0)) and np.all(g.sum(axis=1) == 1.0))


def viterbi_decode(natural_params, data, jit=True, seed=0):
    """Best state path from the gradient of the max-product recursion.

    ``d viterbi_score_obs / d log_b`` is the one-hot (T, K) indicator of the
    best path when that path is unique, and the path is its row-wise argmax.

    Exact ties are common with discrete emissions (two paths that visit the
    same states in a different order have identical scores); the gradient then
    spreads over the tied paths.  In that case the per-time scores are
    perturbed by independent noise of relative size ~1e-12 (seeded) so that
    one optimal path is singled out, and the gradient is recomputed.

    Returns ``(best_path (T,) int64, best_log_prob)``. Checked and shifted as :func:`e_step` is (a
    sequence of probability 0 raises ``VIValueError`` naming its first impossible time step).
    """
    log_pi, log_A, log_B = (_f64(p) for p in natural_params)
    _check_shapes(log_pi, log_A, log_B)
    data = _i64(data, log_B.shape[1])
    shifted = _Shifted(log_pi, log_A, log_B)       # as e_step: log-parameters of any magnitude
    log_b = _f64(shifted.log_B[:, data].T)
    vg = _value_and_grad(viterbi_score_obs, (2,), jit)

    def indicator(lb):
        value, grads = vg(shifted.log_pi, shifted.log_A, lb)
        g = grads[0] if isinstance(grads, (tuple, list)) else grads
        return float(value), np.asarray(g)

    value, g = indicator(log_b)
    if value == -np.inf:
        raise _impossible(shifted.log_pi, shifted.log_A, log_b, "the sequence", symbols=data)
    if not _is_path_indicator(g):
        rng = np.random.default_rng(seed)
        finite = np.isfinite(log_b)
        scale = 1e-12 * max(1.0, abs(value))
        for _ in range(5):
            noise = np.where(finite, scale * rng.random(log_b.shape), 0.0)
            _, g = indicator(log_b + noise)
            if _is_path_indicator(g):
                break
    value += shifted.c_pi + (data.shape[0] - 1) * shifted.c_A + float(shifted.c_B[data].sum())
    return np.argmax(g, axis=1).astype(np.int64), value


def viterbi_counts(natural_params, data, jit=True):
    """Hard ("Viterbi") E-step: best-path score and its (start, transition, emission) counts.

    The counts are the gradient of :func:`viterbi_score`.  Tied optimal paths
    of a categorical HMM have identical sufficient statistics for generic
    parameters (that is why they tie), so the counts are well defined even
    when the best path is not unique. Checked and shifted as :func:`e_step` is.
    """
    log_pi, log_A, log_B = (_f64(p) for p in natural_params)
    _check_shapes(log_pi, log_A, log_B)
    vg = _value_and_grad(viterbi_score, (0, 1, 2), jit)
    return _Shifted(log_pi, log_A, log_B).categorical(vg, _i64(data, log_B.shape[1]))
