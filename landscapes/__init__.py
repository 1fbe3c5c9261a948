"""landscapes: analytic test objectives with value / gradient / Hessian and critical points.

`get(name, **params) -> Landscape`, `names()`; see `landscapes.analytic` for the formulas and
docs/CONTRACTS.md for the interface.
"""
from . import analytic  # noqa: F401  (fills the registry)
from .core import CriticalPoint, Landscape, classify, get, names, register

__all__ = ["CriticalPoint", "Landscape", "classify", "get", "names", "register"]
