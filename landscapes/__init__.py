"""landscapes: analytic test objectives with value / gradient / Hessian and critical points.

`get(name, **params) -> Landscape`, `names()`; see `landscapes.analytic` for the formulas and
docs/CONTRACTS.md for the interface.
"""
from . import analytic  # noqa: F401  (fills the registry)
from .core import CriticalPoint, Landscape, classify, get, names, register

__all__ = ["CriticalPoint", "Landscape", "classify", "get", "names", "register"]

from .data import logistic_regression, make_classification, split, teacher_student  # noqa: E402
from .hetero import Heterogeneous, hetero_quadratics  # noqa: E402
from .noise import NOISES, Oracle, oracle  # noqa: E402

__all__ += ["Heterogeneous", "hetero_quadratics", "logistic_regression", "make_classification",
            "split", "teacher_student", "NOISES", "Oracle", "oracle"]
