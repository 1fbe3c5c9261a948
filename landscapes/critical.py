"""Critical-point search: roots of grad f inside the landscape's bounds.

- `scan_1d`: dense sign-change scan of a scalar derivative on a uniform grid, each bracket
  refined by Brent's method (exact grid zeros kept). Misses only tangential (even-order)
  roots, i.e. degenerate critical points.
- `newton_search`: vectorised Newton on the analytic Hessian, x <- x - H(x)^{-1} grad(x), from
  every node of a uniform grid over the bounds (steps clipped to a tenth of the box),
  converged iterates kept if inside the bounds, then de-duplicated. Newton finds roots of
  the gradient irrespective of their Morse index (minima, saddles and maxima alike).
- `product_points`: critical points of a separable f(x) = sum_i g(x_i) are exactly the
  Cartesian products of the 1-D critical points of g.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from scipy.optimize import brentq

DTYPE = torch.float64
MAX_POINTS = 10_000


def scan_1d(dg: Callable[[torch.Tensor], torch.Tensor], lo: float, hi: float,
            n: int = 20_001) -> torch.Tensor:
    """Roots of the scalar function dg (elementwise on tensors) in [lo, hi], ascending."""
    t = torch.linspace(lo, hi, n, dtype=DTYPE)
    g = dg(t)
    roots = [float(t[i]) for i in torch.nonzero(g == 0).flatten().tolist()]
    sc = torch.nonzero((g[:-1] * g[1:]) < 0).flatten().tolist()

    def scalar(u: float) -> float:
        return float(dg(torch.tensor([u], dtype=DTYPE))[0])

    for i in sc:
        roots.append(brentq(scalar, float(t[i]), float(t[i + 1]), xtol=1e-15, rtol=8.9e-16,
                            maxiter=200))
    roots.sort()
    tol = 1e-9 * (hi - lo)
    out: list[float] = []
    for r in roots:
        if not out or r - out[-1] > tol:
            out.append(r)
    return torch.tensor(out, dtype=DTYPE)


def dedupe(x: torch.Tensor, tol: float) -> torch.Tensor:
    """Greedy merge of rows of x (m, d) closer than tol (infinity norm); first kept."""
    keep: list[torch.Tensor] = []
    for row in x:
        if not keep or bool(((torch.stack(keep) - row).abs().max(dim=-1).values > tol).all()):
            keep.append(row)
    return torch.stack(keep) if keep else x[:0]


def grid(bounds: torch.Tensor, n: int) -> torch.Tensor:
    """Uniform n^d grid over the box `bounds` (d, 2) as (n^d, d)."""
    axes = [torch.linspace(float(a), float(b), n, dtype=DTYPE) for a, b in bounds]
    return torch.cartesian_prod(*axes).reshape(-1, bounds.shape[0])


def newton_search(grad: Callable, hess: Callable, bounds: torch.Tensor, n: int | None = None,
                  iters: int = 100, starts: torch.Tensor | None = None,
                  patience: int = 8) -> torch.Tensor:
    """Distinct roots of grad inside bounds from Newton started on a uniform grid (or from
    the rows of `starts`). A start is abandoned once ||grad|| has not improved for
    `patience` iterations (Newton cycling in a region without a root) or it leaves the box
    enlarged by a quarter of its width on each side.

    n defaults to 64 nodes per axis for d <= 2 and about 2000 starts in all for d > 2."""
    d = bounds.shape[0]
    if n is None:
        n = 64 if d <= 2 else max(3, round(2000 ** (1.0 / d)))
    lo, hi = bounds[:, 0], bounds[:, 1]
    width = hi - lo
    margin = 0.25 * width
    rmax = 0.1 * float(width.min())
    x = grid(bounds, n) if starts is None else starts.to(DTYPE).reshape(-1, d)
    active = torch.arange(x.shape[0])
    best = torch.full((x.shape[0],), math.inf, dtype=DTYPE)
    stall = torch.zeros(x.shape[0], dtype=torch.long)
    for _ in range(iters):
        if active.numel() == 0:
            break
        xa = x[active]
        ga = grad(xa)
        gn = ga.norm(dim=-1)
        improved = gn < best[active]
        best[active] = torch.minimum(gn, best[active])
        stall[active] = torch.where(improved, 0, stall[active] + 1)
        step, info = torch.linalg.solve_ex(hess(xa), ga.unsqueeze(-1))
        step = step[..., 0]
        ok = (info == 0) & torch.isfinite(step).all(-1)
        nrm = step.norm(dim=-1, keepdim=True)
        xa = xa - step * torch.clamp(rmax / nrm.clamp_min(1e-300), max=1.0)
        x[active] = torch.where(ok[:, None], xa, x[active])
        done = ok & (step.abs() <= 1e-13 * width).all(-1)
        keep = (ok & ~done & (stall[active] < patience)
                & ((xa >= lo - margin) & (xa <= hi + margin)).all(-1))
        active = active[keep]
    g = grad(x)
    step, info = torch.linalg.solve_ex(hess(x), g.unsqueeze(-1))
    conv = ((info == 0) & torch.isfinite(g).all(-1) & torch.isfinite(step).all(-1).all(-1)
            & (step[..., 0].abs() <= 1e-9 * width).all(-1))
    inside = ((x >= lo - 1e-12 * width) & (x <= hi + 1e-12 * width)).all(-1)
    x = x[conv & inside]
    if x.shape[0] == 0:
        return x
    # round to merge the many starts that reach the same root, then merge neighbours
    q = torch.unique(torch.round((x - lo) / (1e-7 * width)), dim=0)
    reps = lo + q * (1e-7 * width)
    return dedupe(reps, 1e-5 * float(width.max()))


def product_points(roots: torch.Tensor, curv: torch.Tensor, values: torch.Tensor, d: int,
                   limit: int = MAX_POINTS) -> tuple[torch.Tensor, str]:
    """Critical points of sum_i g(x_i) from the 1-D critical points `roots` of g.

    All m^d products when m^d <= limit; otherwise only the products of 1-D minima
    (curv > 0), i.e. all minima of f, when that fits; otherwise only the global minimum.
    Returns the points and a note saying which set was returned."""
    m = roots.numel()
    if m == 0:
        return roots.reshape(0, d), "no critical points in bounds"
    if m ** d <= limit:
        return _cart(roots, d), "complete (product of the 1-D critical points)"
    mins = roots[curv > 0]
    if mins.numel() and mins.numel() ** d <= limit:
        return _cart(mins, d), (f"minima only ({m}^{d} critical points exceed {limit}); "
                                "saddles/maxima not listed")
    best = roots[curv > 0][torch.argmin(values[curv > 0])] if mins.numel() else roots[0]
    return best.repeat(d).reshape(1, d), "global minimum only (too many critical points)"


def _cart(r: torch.Tensor, d: int) -> torch.Tensor:
    if d == 1:
        return r.reshape(-1, 1)
    return torch.cartesian_prod(*([r] * d)).reshape(-1, d)


def finite_check(name: str, value) -> float:
    """float(value), or ValueError naming `name` when it is not a finite real number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


__all__ = [
    "MAX_POINTS",
    "dedupe",
    "finite_check",
    "grid",
    "newton_search",
    "product_points",
    "scan_1d",
]
