"""Hypothesis strategies for objectives (needs `hypothesis`, a dev dependency).

- `hetero_quadratics(...)`: `landscapes.hetero_quadratics(K, d, zeta, hess_spread, mu, seed)`
  with ζ² and the Hessian spread drawn in stated ranges. Guarantees (by construction,
  landscapes/hetero.py): every A_k is SPD with eigenvalues in [mu, mu(1 + hess_spread)],
  ∇f(x*) = 0 and ζ²(x*) = zeta² (docs/theory.md §5).
- `landscapes_with_critical_points(names)`: an analytic `Landscape` (landscapes.analytic) with
  at least one critical point, returned with its (cached) list of critical points.
- `step_sizes(L, region=..., ...)`: a step size inside a stated stability region:
  'gd':   lr·L in (0, 2): gradient descent on an L-smooth quadratic, spectral radius
          max_j |1 − lr·λ_j| < 1 for eigenvalues λ_j in (0, L];
  'dsgd': lr·L < 1 + λ_min(W) for symmetric doubly stochastic W and 0 ≺ A_k ≼ L·I: the D-SGD
          map W ⊗ I − lr·blkdiag(A_k) is symmetric with eigenvalues in
          [λ_min(W) − lr·L, 1 − lr·μ] (Weyl), so its spectral radius is < 1;
  'atc':  lr·L < 1 with symmetric W: W(I − lr𝒜) is similar to (I − lr𝒜)^½ W (I − lr𝒜)^½,
          whose spectral norm is <= ‖W‖·‖I − lr𝒜‖ < 1 on quadratics with 0 ≺ A_k ≼ L·I.
  A draw is lr = u · bound with u in [lo, hi] ⊂ (0, 1).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from . import core
from .hetero import hetero_quadratics as _hq

__all__ = ["REGIONS", "hetero_quadratics", "landscapes_with_critical_points", "lr_bound", "step_sizes"]

REGIONS = ("gd", "dsgd", "atc")

# landscapes whose critical points are cheap to compute (< 0.5 s) and finite in number
CHEAP = ("double_gaussian", "double_well_2d", "himmelblau", "quadratic", "quartic", "styblinski_tang",
         "symmetric")


@st.composite
def hetero_quadratics(draw, K=None, d=None, *, zeta=(0.0, 2.0), hess_spread=(0.0, 3.0), mu=(0.5, 2.0),
                      min_K: int = 2, max_K: int = 6, max_d: int = 3):
    """A `Heterogeneous` quadratic problem; K, d fixed or drawn; zeta, hess_spread, mu fixed
    numbers or (lo, hi) ranges. The drawn values are in `problem.params`."""
    def val(v, name, lo_ok=0.0):
        if isinstance(v, tuple):
            lo, hi = v
            if not lo_ok <= lo <= hi:
                raise ValueError(f"{name} range must satisfy {lo_ok} <= lo <= hi, got {v}")
            return draw(st.floats(lo, hi))
        return float(v)
    K = draw(st.integers(min_K, max_K)) if K is None else K
    d = draw(st.integers(1, max_d)) if d is None else d
    z = val(zeta, "zeta") if K > 1 else 0.0
    return _hq(K, d, zeta=z, hess_spread=val(hess_spread, "hess_spread"), mu=val(mu, "mu", 1e-12),
               seed=draw(st.integers(0, 2 ** 20)))


@st.composite
def landscapes_with_critical_points(draw, names=CHEAP, kinds=None):
    """(landscape, critical_points) for a name drawn from `names`; `kinds` (e.g. {'min'}) keeps
    only landscapes with at least one critical point of those kinds."""
    bad = [n for n in names if n not in core.names()]
    if bad:
        raise ValueError(f"names: unknown landscape {bad[0]!r}; choose from {', '.join(core.names())}")
    land = core.get(draw(st.sampled_from(tuple(names))))
    cps = [c for c in land.critical_points if kinds is None or c.kind in kinds]
    from hypothesis import assume
    assume(len(cps) > 0)
    return land, cps


def lr_bound(L: float, region: str = "gd", W=None) -> float:
    """The step-size bound of `region` (module docstring): 2/L, (1 + λ_min(W))/L or 1/L."""
    if not (isinstance(L, (int, float)) and np.isfinite(L) and L > 0):
        raise ValueError(f"L (largest Hessian eigenvalue) must be a positive finite number, got {L!r}")
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    if region == "gd":
        return 2.0 / L
    if W is None:
        raise ValueError(f"W (mixing matrix or Topology) is required for region {region!r}")
    W = np.asarray(W.W().numpy() if hasattr(W, "W") else W, dtype=np.float64)
    if not np.allclose(W, W.T, atol=1e-10):
        raise ValueError(f"region {region!r} is stated for a symmetric W")
    if region == "dsgd":
        return (1.0 + float(np.linalg.eigvalsh(W).min())) / L
    return 1.0 / L


def step_sizes(L: float, region: str = "gd", W=None, lo: float = 0.05, hi: float = 0.95):
    """Strategy of lr = u · lr_bound(L, region, W), u uniform in [lo, hi] ⊂ (0, 1)."""
    if not 0 < lo <= hi < 1:
        raise ValueError(f"lo, hi must satisfy 0 < lo <= hi < 1, got {lo}, {hi}")
    b = lr_bound(L, region, W)
    return st.floats(lo, hi).map(lambda u: u * b)
