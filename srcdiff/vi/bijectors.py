"""Bijections from unconstrained reals to constrained supports.

Each bijector is a class whose static methods are module-level plain functions
(``exp_forward``, ``softplus_log_det_jacobian``, ...) written in the
srcdiff-differentiable NumPy vocabulary (no lambdas, no helper calls):

* ``forward(u)``: unconstrained ``u`` -> constrained ``x``;
* ``inverse(x)``: constrained ``x`` -> unconstrained ``u``;
* ``log_det_jacobian(u)``: elementwise ``log |dx/du|`` at ``u`` (sum it for the
  log-determinant of the vector transform).

For a latent ``x = forward(u)`` with density ``p(x)``, the unconstrained density
is ``log p(forward(u)) + sum(log_det_jacobian(u))``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._errors import VIValueError

__all__ = [
    "Bijector", "Identity", "Exp", "Softplus", "Sigmoid", "get",
    "identity_forward", "identity_inverse", "identity_log_det_jacobian",
    "exp_forward", "exp_inverse", "exp_log_det_jacobian",
    "softplus_forward", "softplus_inverse", "softplus_log_det_jacobian",
    "sigmoid_forward", "sigmoid_inverse", "sigmoid_log_det_jacobian",
]


# ---------------------------------------------------------------------------
# Differentiable plain-NumPy functions (bound as static methods below)
# ---------------------------------------------------------------------------

def identity_forward(u):
    return u + 0.0


def identity_inverse(x):
    return x + 0.0


def identity_log_det_jacobian(u):
    return 0.0 * u


def exp_forward(u):
    return np.exp(u)


def exp_inverse(x):
    return np.log(x)


def exp_log_det_jacobian(u):
    return u + 0.0


def softplus_forward(u):
    return np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))


def softplus_inverse(x):
    # log(exp(x) - 1) = x + log(1 - exp(-x))
    return x + np.log(-np.expm1(-x))


def softplus_log_det_jacobian(u):
    # log sigmoid(u) = -softplus(-u)
    return -(np.maximum(-u, 0.0) + np.log1p(np.exp(-np.abs(u))))


def sigmoid_forward(u):
    return expit(u)


def sigmoid_inverse(x):
    return np.log(x) - np.log1p(-x)


def sigmoid_log_det_jacobian(u):
    # log(s (1 - s)) = -softplus(u) - softplus(-u) = -|u| - 2 log1p(exp(-|u|))
    return -np.abs(u) - 2.0 * np.log1p(np.exp(-np.abs(u)))


# ---------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------

class Bijector:
    """Base class; subclasses define static ``forward``, ``inverse``, ``log_det_jacobian``."""

    name = "bijector"

    @staticmethod
    def forward(u):
        raise NotImplementedError

    @staticmethod
    def inverse(x):
        raise NotImplementedError

    @staticmethod
    def log_det_jacobian(u):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Identity(Bijector):
    """Real line -> real line, x = u."""

    name = "identity"

    forward = staticmethod(identity_forward)
    inverse = staticmethod(identity_inverse)
    log_det_jacobian = staticmethod(identity_log_det_jacobian)


class Exp(Bijector):
    """Real line -> (0, inf), x = exp(u)."""

    name = "exp"

    forward = staticmethod(exp_forward)
    inverse = staticmethod(exp_inverse)
    log_det_jacobian = staticmethod(exp_log_det_jacobian)


class Softplus(Bijector):
    """Real line -> (0, inf), x = log(1 + exp(u)) (computed stably)."""

    name = "softplus"

    forward = staticmethod(softplus_forward)
    inverse = staticmethod(softplus_inverse)
    log_det_jacobian = staticmethod(softplus_log_det_jacobian)


class Sigmoid(Bijector):
    """Real line -> (0, 1), x = 1 / (1 + exp(-u))."""

    name = "sigmoid"

    forward = staticmethod(sigmoid_forward)
    inverse = staticmethod(sigmoid_inverse)
    log_det_jacobian = staticmethod(sigmoid_log_det_jacobian)


_BY_NAME = {c.name: c for c in (Identity, Exp, Softplus, Sigmoid)}


def get(name_or_instance: "str | Bijector | type[Bijector]") -> Bijector:
    """Return a bijector instance from a name ("identity", "exp", "softplus", "sigmoid")."""
    if isinstance(name_or_instance, Bijector):
        return name_or_instance
    if isinstance(name_or_instance, type) and issubclass(name_or_instance, Bijector):
        return name_or_instance()
    key = str(name_or_instance).lower()
    if key not in _BY_NAME:
        raise VIValueError(f"unknown bijector {name_or_instance!r}; choose from {sorted(_BY_NAME)}")
    return _BY_NAME[key]()
