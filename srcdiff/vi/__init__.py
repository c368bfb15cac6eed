"""srcdiff.vi: variational inference and exponential-family inference built on srcdiff gradients."""
import importlib

from . import bijectors, distributions, families, optim
from .bijectors import Exp, Identity, Sigmoid, Softplus
from .distributions import *  # noqa: F401,F403  (log densities, KL, entropies, samplers)
from .families import FullRankNormal, MeanFieldNormal
from .optim import SGD, AdaDelta, AdaGrad, Adam, RMSProp, RobbinsMonro
from .elbo import ELBOGrad, elbo_grad
from .fit import VIResult, fit

_SUBMODULES = ("hmm", "kalman")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
