"""The `Landscape` record, its critical points, and the name registry (docs/CONTRACTS.md).

A landscape is data (name, dim, bounds, params) plus hand-written, vectorised value /
gradient / Hessian functions on float64 tensors with any leading batch axes, and a
strategy that locates its critical points (see `landscapes.critical`). Critical points are
computed on first access and cached on the instance; `get` also caches instances keyed on
hashable parameters, so repeated `get(name, **same)` calls share the computation.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .registry import Registry, did_you_mean  # noqa: F401  (did_you_mean: kept as landscapes.core.did_you_mean)

DTYPE = torch.float64


@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """A point with grad f = 0: location, value, kind ('min', 'saddle-k', 'max' or
    'degenerate' when a Hessian eigenvalue is numerically zero) and Hessian eigenvalues
    (ascending)."""
    x: torch.Tensor
    value: float
    kind: str
    hessian_eigvals: torch.Tensor


def classify(eigvals: torch.Tensor, rtol: float = 1e-8) -> str:
    """Morse index by eigenvalue signs: 0 negative -> 'min', all -> 'max', k -> 'saddle-k';
    any |eigenvalue| <= rtol * max(1, max|eigenvalue|) -> 'degenerate'."""
    eig = eigvals.reshape(-1)
    d = eig.numel()
    scale = max(1.0, float(eig.abs().max())) if d else 1.0
    if bool((eig.abs() <= rtol * scale).any()):
        return "degenerate"
    k = int((eig < 0).sum())
    if k == 0:
        return "min"
    if k == d:
        return "max"
    return f"saddle-{k}"


def as_input(x, dim: int) -> torch.Tensor:
    """Tensor view of x as float (float64 for non-tensors / integer tensors); checks that the
    trailing axis has length `dim` (ValueError naming the expected shape otherwise)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=DTYPE)
    elif not x.is_floating_point():
        x = x.to(DTYPE)
    if x.ndim == 0 or x.shape[-1] != dim:
        raise ValueError(f"x must have shape (..., {dim}) (expected trailing dim {dim}); "
                         f"got shape {tuple(x.shape)}")
    return x


@dataclass(frozen=True, eq=False)
class Landscape:
    """Objective f: R^dim -> R with analytic derivatives.

    `f(x) -> (...)`, `grad(x) -> (..., dim)`, `hess(x) -> (..., dim, dim)` for x of shape
    `(..., dim)`. `critical_points` (cached) lists `CriticalPoint`s sorted by value, found by
    `critical_fn(landscape) -> Tensor (m, dim)` of candidate locations (then each is polished
    by Newton and classified by its Hessian eigenvalues). `note` states how complete the list
    is (e.g. restricted for dim > 2)."""
    name: str
    dim: int
    bounds: torch.Tensor
    params: dict
    value_fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    grad_fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    hess_fn: Callable[[torch.Tensor], torch.Tensor] = field(repr=False)
    critical_fn: Callable[[Landscape], torch.Tensor] | None = field(default=None, repr=False)
    note: str = ""

    def f(self, x) -> torch.Tensor:
        return self.value_fn(as_input(x, self.dim))

    def grad(self, x) -> torch.Tensor:
        return self.grad_fn(as_input(x, self.dim))

    def hess(self, x) -> torch.Tensor:
        return self.hess_fn(as_input(x, self.dim))

    @functools.cached_property
    def critical_points(self) -> list[CriticalPoint]:
        if self.critical_fn is None:
            return []
        pts = self.critical_fn(self)
        if pts.numel() == 0:
            return []
        pts = polish(self, pts.reshape(-1, self.dim).to(DTYPE))
        vals = self.f(pts)
        eigs = torch.linalg.eigvalsh(self.hess(pts))
        out = [CriticalPoint(x=pts[i].clone(), value=float(vals[i]), kind=classify(eigs[i]),
                             hessian_eigvals=eigs[i].clone()) for i in range(pts.shape[0])]
        return sorted(out, key=lambda c: (c.value, c.x.tolist()))

    def minima(self) -> list[CriticalPoint]:
        return [c for c in self.critical_points if c.kind == "min"]

    def saddles(self) -> list[CriticalPoint]:
        return [c for c in self.critical_points if c.kind.startswith("saddle")]

    def maxima(self) -> list[CriticalPoint]:
        return [c for c in self.critical_points if c.kind == "max"]


def polish(land: Landscape, x: torch.Tensor, steps: int = 4) -> torch.Tensor:
    """A few Newton steps x <- x - H^{-1} grad, each kept only where it lowers ||grad||."""
    for _ in range(steps):
        g = land.grad_fn(x)
        step, info = torch.linalg.solve_ex(land.hess_fn(x), g.unsqueeze(-1))
        y = x - step[..., 0]
        ok = (info == 0) & torch.isfinite(y).all(-1)
        y = torch.where(ok[:, None], y, x)
        better = land.grad_fn(y).norm(dim=-1) < g.norm(dim=-1)
        x = torch.where(better[:, None], y, x)
    return x


# ---------------------------------------------------------------- registry
LANDSCAPES = Registry("landscape")
register = LANDSCAPES.register  # decorator adding a builder `fn(**params) -> Landscape` under a name


def names() -> list[str]:
    """Registered landscape names, sorted."""
    return LANDSCAPES.names()


def get(name: str, **params) -> Landscape:
    """Build landscape `name` with keyword parameters (defaults documented per builder).

    Unknown name or parameter -> ValueError listing the valid ones; invalid parameter
    values -> ValueError naming the parameter."""
    fn = LANDSCAPES.check(name, params)
    key = tuple(sorted(params.items()))
    try:
        hash(key)
    except TypeError:
        return fn(**params)
    return _cached_build(name, key)


@functools.lru_cache(maxsize=256)
def _cached_build(name: str, key: tuple) -> Landscape:
    return LANDSCAPES.builder(name)(**dict(key))
