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
"""
from __future__ import annotations

import numpy as np

__all__ = ["Optimizer", "SGD", "RobbinsMonro", "AdaGrad", "RMSProp", "AdaDelta", "Adam", "get"]


class Optimizer:
    """Base class for ascent optimisers."""

    name = "optimizer"

    def __init__(self) -> None:
        self.t = 0

    def reset(self) -> None:
        """Forget all optimiser state."""
        self.t = 0

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Return ``params`` moved uphill along ``grad`` (ascent)."""
        params = np.asarray(params, dtype=np.float64)
        grad = np.asarray(grad, dtype=np.float64)
        if params.shape != grad.shape:
            raise ValueError(f"params shape {params.shape} != grad shape {grad.shape}")
        new = params + self._update(grad)
        self.t += 1
        return new

    def _update(self, grad: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        keys = [k for k in vars(self) if not k.startswith("_") and k != "t"]
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in keys if np.isscalar(getattr(self, k)))
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Fixed-step ascent with optional heavy-ball momentum: v = m v + g; p += lr v."""

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError("momentum must be in [0, 1)")
        self.lr = float(lr)
        self.momentum = float(momentum)
        self._v = None

    def reset(self) -> None:
        super().reset()
        self._v = None

    def _update(self, grad):
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
            raise ValueError("kappa must satisfy 0.5 < kappa <= 1 (Robbins-Monro conditions)")
        if tau <= 0.0:
            raise ValueError("tau must be > 0")
        self.lr0 = float(lr0)
        self.tau = float(tau)
        self.kappa = float(kappa)

    def step_size(self, t: int | None = None) -> float:
        """Step size used at step ``t`` (default: the next step)."""
        t = self.t if t is None else t
        return self.lr0 * (t + self.tau) ** (-self.kappa)

    def _update(self, grad):
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

    def _update(self, grad):
        self._G = grad * grad if self._G is None else self._G + grad * grad
        return self.lr * grad / (np.sqrt(self._G) + self.eps)


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
            raise ValueError("decay must be in [0, 1)")
        if grow is not None and grow <= 0.0:
            raise ValueError("grow must be > 0 (or None)")
        self.lr = float(lr)
        self.decay = float(decay)
        self.eps = float(eps)
        self.grow = None if grow is None else float(grow)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self._v = None
        self._g_prev = None
        self.lr_t = self.lr

    def _update(self, grad):
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


class AdaDelta(Optimizer):
    """AdaDelta (Zeiler 2012), ascent form.

    Eg2 = rho Eg2 + (1-rho) g^2;  dx = sqrt(Edx2 + eps) / sqrt(Eg2 + eps) * g;
    Edx2 = rho Edx2 + (1-rho) dx^2;  p += lr dx  (``lr = 1`` is the original).
    """

    name = "adadelta"

    def __init__(self, rho: float = 0.95, eps: float = 1e-6, lr: float = 1.0):
        super().__init__()
        if not 0.0 <= rho < 1.0:
            raise ValueError("rho must be in [0, 1)")
        self.rho = float(rho)
        self.eps = float(eps)
        self.lr = float(lr)
        self._Eg2 = None
        self._Edx2 = None

    def reset(self) -> None:
        super().reset()
        self._Eg2 = None
        self._Edx2 = None

    def _update(self, grad):
        if self._Eg2 is None:
            self._Eg2 = np.zeros_like(grad)
            self._Edx2 = np.zeros_like(grad)
        self._Eg2 = self.rho * self._Eg2 + (1.0 - self.rho) * grad * grad
        dx = np.sqrt(self._Edx2 + self.eps) / np.sqrt(self._Eg2 + self.eps) * grad
        self._Edx2 = self.rho * self._Edx2 + (1.0 - self.rho) * dx * dx
        return self.lr * dx


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, ascent form."""

    name = "adam"

    def __init__(self, lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        super().__init__()
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError("b1 and b2 must be in [0, 1)")
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

    def _update(self, grad):
        if self._m is None:
            self._m = np.zeros_like(grad)
            self._v = np.zeros_like(grad)
        t = self.t + 1
        self._m = self.b1 * self._m + (1.0 - self.b1) * grad
        self._v = self.b2 * self._v + (1.0 - self.b2) * grad * grad
        m_hat = self._m / (1.0 - self.b1 ** t)
        v_hat = self._v / (1.0 - self.b2 ** t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


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
            raise TypeError("keyword arguments cannot be applied to an optimiser instance")
        return name_or_instance
    if isinstance(name_or_instance, type) and issubclass(name_or_instance, Optimizer):
        return name_or_instance(**kw)
    if not isinstance(name_or_instance, str):
        raise TypeError(f"expected a name or Optimizer, got {type(name_or_instance).__name__}")
    key = name_or_instance.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in _REGISTRY:
        raise ValueError(f"unknown optimiser {name_or_instance!r}; choose from "
                         "'sgd', 'robbins-monro', 'adagrad', 'rmsprop', 'adadelta', 'adam'")
    return _REGISTRY[key](**kw)
