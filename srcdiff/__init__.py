"""srcdiff: source-transformation automatic differentiation for Python/NumPy.

    @srcdiff.differentiate(wrt=("w", "b"), jit=True)
    def loss(w, b, x, y): ...
    dw, db = loss.grad(w, b, x, y)
    print(srcdiff.source(loss.grad))
"""
from .version import __version__  # noqa: E402,F401

from .errors import SrcdiffError  # noqa: E402
from .rules import adjoint  # noqa: E402
from .api import differentiate, grad, source, value_and_grad, vjp  # noqa: E402
from .export import export  # noqa: E402

__all__ = ["SrcdiffError", "adjoint", "differentiate", "export", "grad", "source", "value_and_grad", "vjp"]
from .forward_api import hessian, hvp, jacobian, jvp  # noqa: E402

__all__ += ["hessian", "hvp", "jacobian", "jvp"]


def __getattr__(name):
    """Lazy submodules: srcdiff.cuda imports numba-cuda, srcdiff.dask imports Dask, only when first used;
    srcdiff.vi loads on first use too."""
    if name in ("cuda", "dask", "vi"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
