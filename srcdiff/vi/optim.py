"""Stochastic-gradient optimisers for variational inference.

All optimisers here perform gradient **ASCENT**: ``step(params, grad)`` returns
``params + (step)`` moving *along* ``grad``, because the VI objective (the ELBO)
is maximised.  To minimise a loss ``f``, pass ``-grad f`` (or maximise ``-f``).

Every optimiser is a small stateful object:

* ``step(params, grad) -> new_params`` never modifies its inputs;
* ``reset()`` forgets all state (moments, step counter, adapted step size);
* ``t`` counts the steps taken since construction / the last reset.

State arrays are allocated lazily on the first step, with the shape of
``params`` (any shape; VI code uses a flat 1-D ``lam``).

The adaptive optimisers (AdaGrad, RMSProp, AdaDelta, Adam) update their state and
write the new parameters in one fused pass (a small ``numba.njit(cache=True)``
kernel): an SVI step on a small model is tens of microseconds, and the ten or so
NumPy temporaries of a textbook Adam step were a fifth of it.  The kernels follow
the formulas in the class docstrings exactly (``tests/test_vi_optim.py`` checks
them against the NumPy formulas).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._errors import VITypeError, VIValueError

# ---------------------------------------------------------------------------
# Fused update kernels on 1-D float64 arrays: ``S`` holds the optimiser's state rows (updated in
# place); the new parameters are returned.  ``first``: the state holds nothing yet (after a reset).
# ---------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _adagrad_kernel(p, g, S, lr, eps, first):
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        gi = g[i]
        Gi = gi * gi if first else S[0, i] + gi * gi
        S[0, i] = Gi
        out[i] = p[i] + lr * gi / (math.sqrt(Gi) + eps)
    return out


@njit(cache=True, nogil=True)
def _rmsprop_kernel(p, g, S, lr_t, decay, eps, grow, first):
    """S[0] = running mean of g^2, S[1] = the previous gradient; returns (new params, lr_t)."""
    if grow > 0.0 and not first:
        agree = 0.0
        for i in range(p.shape[0]):
            agree += g[i] * S[1, i]
        if agree > 0.0:
            lr_t *= 1.0 + grow
        elif agree < 0.0:
            lr_t /= 1.0 + grow
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        gi = g[i]
        g2 = gi * gi
        vi = (1.0 - decay) * g2 if first else decay * S[0, i] + (1.0 - decay) * g2
        S[0, i] = vi
        S[1, i] = gi
        out[i] = p[i] + lr_t * gi / (math.sqrt(vi) + eps)
    return out, lr_t


@njit(cache=True, nogil=True)
def _adadelta_kernel(p, g, S, rho, eps, lr):
    """S[0] = running mean of g^2, S[1] = running mean of dx^2."""
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        gi = g[i]
        e = rho * S[0, i] + (1.0 - rho) * gi * gi
        S[0, i] = e
        dx = math.sqrt(S[1, i] + eps) / math.sqrt(e + eps) * gi
        S[1, i] = rho * S[1, i] + (1.0 - rho) * dx * dx
        out[i] = p[i] + lr * dx
    return out


@njit(cache=True, nogil=True)
def _adam_kernel(p, g, S, lr, b1, b2, eps, c1, c2):
    """S[0] = first moment m, S[1] = second moment v; c1, c2 = the bias corrections 1 - b**t."""
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        gi = g[i]
        mi = b1 * S[0, i] + (1.0 - b1) * gi
        vi = b2 * S[1, i] + (1.0 - b2) * gi * gi
        S[0, i] = mi
        S[1, i] = vi
        out[i] = p[i] + lr * (mi / c1) / (math.sqrt(vi / c2) + eps)
    return out


def _unflat(out: np.ndarray, params: np.ndarray) -> np.ndarray:
    return out if params.ndim == 1 else out.reshape(params.shape)


def _state(opt, S, rows: int, n: int) -> np.ndarray:
    """The state array ``S`` (zeros of shape (rows, n) when None), checked against ``n``."""
    if S is None:
        return np.zeros((rows, n))
    if S.shape[1] != n:
        raise VIValueError(f"{type(opt).__name__}.step: {n} parameters after steps on {S.shape[1]}",
                           advice="call .reset() (or use a new optimiser) for new parameters")
    return S


class Optimizer:
    """Base class for ascent optimisers."""

    name = "optimizer"

    def __init__(self) -> None:
        self.t = 0
        self._S = None  # fused-kernel state (rows of length params.size)

    def reset(self) -> None:
        """Forget all optimiser state."""
        self.t = 0
        self._S = None

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Return ``params`` moved uphill along ``grad`` (ascent)."""
        params = np.asarray(params, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        if params.shape != grad.shape:
            raise VIValueError(f"{type(self).__name__}.step: params shape {params.shape} != grad shape "
                               f"{grad.shape}")
        new = self._step(params, grad)
        self.t += 1
        return new

    def _step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return params + self._update(grad)

    def _update(self, grad: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        keys = [k.lstrip("_") for k in vars(self) if (not k.startswith("_") or k == "_lr") and k != "t"]
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in keys if np.isscalar(getattr(self, k)))
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Fixed-step ascent with optional heavy-ball momentum: v = m v + g; p += lr v."""

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise VIValueError("momentum must be in [0, 1)")
        self.lr = float(lr)
        self.momentum = float(momentum)
        self._v = None

    def reset(self) -> None:
        super().reset()
        self._v = None

    def _update(self, grad):  # NumPy reference (the fused kernel in _step is what runs)
        if self.momentum == 0.0:
            return self.lr * grad
        self._v = grad if self._v is None else self.momentum * self._v + grad
        return self.lr * self._v


class RobbinsMonro(Optimizer):
    """Decaying step ``lr0 * (t + tau) ** (-kappa)`` (t = 0, 1, ...).

    For ``0.5 < kappa <= 1`` the steps satisfy the Robbins-Monro conditions
    (sum of steps diverges, sum of squares converges), so noisy unbiased
    gradients converge.  ``lr`` is accepted as an alias of ``lr0``.
    """

    name = "robbins-monro"

    def __init__(self, lr0: float = 0.1, tau: float = 1.0, kappa: float = 0.7, *,
                 lr: float | None = None):
        super().__init__()
        if lr is not None:
            lr0 = lr
        if not 0.5 < kappa <= 1.0:
            raise VIValueError("kappa must satisfy 0.5 < kappa <= 1 (Robbins-Monro conditions)")
        if tau <= 0.0:
            raise VIValueError("tau must be > 0")
        self.lr0 = float(lr0)
        self.tau = float(tau)
        self.kappa = float(kappa)

    @property
    def lr(self) -> float:
        """Alias of ``lr0`` (so ``fit(..., lr=)`` and ``opt.lr = ...`` work as for the others)."""
        return self.lr0

    @lr.setter
    def lr(self, value: float) -> None:
        self.lr0 = float(value)

    def step_size(self, t: int | None = None) -> float:
        """Step size used at step ``t`` (default: the next step)."""
        t = self.t if t is None else t
        return self.lr0 * (t + self.tau) ** (-self.kappa)

    def _update(self, grad):  # NumPy reference (the fused kernel in _step is what runs)
        return self.step_size() * grad


class AdaGrad(Optimizer):
    """AdaGrad: G += g^2; p += lr g / (sqrt(G) + eps)."""

    name = "adagrad"

    def __init__(self, lr: float = 0.1, eps: float = 1e-8):
        super().__init__()
        self.lr = float(lr)
        self.eps = float(eps)
        self._G = None

    def reset(self) -> None:
        super().reset()
        self._G = None

    def _update(self, grad):  # NumPy reference of the fused kernel
        self._G = grad * grad if self._G is None else self._G + grad * grad
        return self.lr * grad / (np.sqrt(self._G) + self.eps)

    def _step(self, params, grad):
        first = self._S is None
        self._S = _state(self, self._S, 1, params.size)
        return _unflat(_adagrad_kernel(params.reshape(-1), grad.reshape(-1), self._S, self.lr, self.eps, first),
                       params)


class RMSProp(Optimizer):
    """RMSProp: v = decay v + (1 - decay) g^2; p += lr_t g / (sqrt(v) + eps).

    ``grow=None``: ``lr_t = lr`` always.  With ``grow=eps_g > 0`` the step size
    adapts from the second step on: if the current and previous gradients agree
    in direction (``dot(g_t, g_{t-1}) > 0``) then ``lr_t = lr_{t-1} * (1 + eps_g)``;
    if they disagree (``< 0``) then ``lr_t = lr_{t-1} / (1 + eps_g)``; an exactly
    zero dot product leaves it unchanged.  The current value is ``self.lr_t``.
    """

    name = "rmsprop"

    def __init__(self, lr: float = 0.01, decay: float = 0.9, eps: float = 1e-8,
                 grow: float | None = None):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise VIValueError("decay must be in [0, 1)")
        if grow is not None and grow <= 0.0:
            raise VIValueError("grow must be > 0 (or None)")
        self.lr = float(lr)
        self.decay = float(decay)
        self.eps = float(eps)
        self.grow = None if grow is None else float(grow)
        self.reset()

    @property
    def lr(self) -> float:
        """The step size; setting it (``opt.lr = ...``, ``fit(..., optimizer=opt, lr=...)``) restarts the
        adapted ``lr_t`` from it, which is what the steps use (a new ``lr`` was once ignored)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = float(value)
        self.lr_t = self._lr

    def reset(self) -> None:
        super().reset()
        self._v = None
        self._g_prev = None
        self.lr_t = self.lr

    def _update(self, grad):  # NumPy reference (the fused kernel in _step is what runs)
        if self.grow is not None and self._g_prev is not None:
            agree = float(np.vdot(grad, self._g_prev))
            if agree > 0.0:
                self.lr_t *= 1.0 + self.grow
            elif agree < 0.0:
                self.lr_t /= 1.0 + self.grow
        self._g_prev = grad.copy()
        g2 = grad * grad
        self._v = (1.0 - self.decay) * g2 if self._v is None else \
            self.decay * self._v + (1.0 - self.decay) * g2
        return self.lr_t * grad / (np.sqrt(self._v) + self.eps)

    def _step(self, params, grad):
        first = self._S is None
        self._S = _state(self, self._S, 2, params.size)
        out, self.lr_t = _rmsprop_kernel(params.reshape(-1), grad.reshape(-1), self._S, self.lr_t, self.decay,
                                         self.eps, 0.0 if self.grow is None else self.grow, first)
        return _unflat(out, params)


class AdaDelta(Optimizer):
    """AdaDelta (Zeiler 2012), ascent form.

    Eg2 = rho Eg2 + (1-rho) g^2;  dx = sqrt(Edx2 + eps) / sqrt(Eg2 + eps) * g;
    Edx2 = rho Edx2 + (1-rho) dx^2;  p += lr dx  (``lr = 1`` is the original).
    """

    name = "adadelta"

    def __init__(self, rho: float = 0.95, eps: float = 1e-6, lr: float = 1.0):
        super().__init__()
        if not 0.0 <= rho < 1.0:
            raise VIValueError("rho must be in [0, 1)")
        self.rho = float(rho)
        self.eps = float(eps)
        self.lr = float(lr)
        self._Eg2 = None
        self._Edx2 = None

    def reset(self) -> None:
        super().reset()
        self._Eg2 = None
        self._Edx2 = None

    def _update(self, grad):  # NumPy reference (the fused kernel in _step is what runs)
        if self._Eg2 is None:
            self._Eg2 = np.zeros_like(grad)
            self._Edx2 = np.zeros_like(grad)
        self._Eg2 = self.rho * self._Eg2 + (1.0 - self.rho) * grad * grad
        dx = np.sqrt(self._Edx2 + self.eps) / np.sqrt(self._Eg2 + self.eps) * grad
        self._Edx2 = self.rho * self._Edx2 + (1.0 - self.rho) * dx * dx
        return self.lr * dx

    def _step(self, params, grad):
        self._S = _state(self, self._S, 2, params.size)
        return _unflat(_adadelta_kernel(params.reshape(-1), grad.reshape(-1), self._S, self.rho, self.eps,
                                        self.lr), params)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, ascent form."""

    name = "adam"

    def __init__(self, lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        super().__init__()
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise VIValueError("b1 and b2 must be in [0, 1)")
        self.lr = float(lr)
        self.b1 = float(b1)
        self.b2 = float(b2)
        self.eps = float(eps)
        self._m = None
        self._v = None

    def reset(self) -> None:
        super().reset()
        self._m = None
        self._v = None

    def _update(self, grad):  # NumPy reference (the fused kernel in _step is what runs)
        if self._m is None:
            self._m = np.zeros_like(grad)
            self._v = np.zeros_like(grad)
        t = self.t + 1
        self._m = self.b1 * self._m + (1.0 - self.b1) * grad
        self._v = self.b2 * self._v + (1.0 - self.b2) * grad * grad
        m_hat = self._m / (1.0 - self.b1 ** t)
        v_hat = self._v / (1.0 - self.b2 ** t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def _step(self, params, grad):
        self._S = _state(self, self._S, 2, params.size)
        t = self.t + 1
        return _unflat(_adam_kernel(params.reshape(-1), grad.reshape(-1), self._S, self.lr, self.b1, self.b2,
                                    self.eps, 1.0 - self.b1 ** t, 1.0 - self.b2 ** t), params)


_REGISTRY: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "robbins-monro": RobbinsMonro,
    "robbinsmonro": RobbinsMonro,
    "adagrad": AdaGrad,
    "rmsprop": RMSProp,
    "adadelta": AdaDelta,
    "adam": Adam,
}


def get(name_or_instance: "str | Optimizer | type[Optimizer]", **kw) -> Optimizer:
    """Build an optimiser.

    Accepts a name ("sgd", "robbins-monro", "adagrad", "rmsprop", "adadelta",
    "adam"; case-insensitive, ``_`` and spaces treated as ``-``), an Optimizer
    subclass, or an instance (returned as is; ``kw`` must then be empty).
    """
    if isinstance(name_or_instance, Optimizer):
        if kw:
            raise VITypeError("keyword arguments cannot be applied to an optimiser instance")
        return name_or_instance
    if isinstance(name_or_instance, type) and issubclass(name_or_instance, Optimizer):
        return name_or_instance(**kw)
    if not isinstance(name_or_instance, str):
        raise VITypeError(f"expected a name or Optimizer, got {type(name_or_instance).__name__}")
    key = name_or_instance.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in _REGISTRY:
        raise VIValueError(f"unknown optimiser {name_or_instance!r}; choose from "
                         "'sgd', 'robbins-monro', 'adagrad', 'rmsprop', 'adadelta', 'adam'")
    return _REGISTRY[key](**kw)
