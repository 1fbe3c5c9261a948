"""Flatness of a loss at a point: Hessian top eigenvalue (Lanczos) and trace (Hutchinson).

For any `loss(params_flat (P,)) -> scalar` (a landscape's `f`, or a network's minibatch loss
through `torch.func.functional_call`), Hessian-vector products H v = ∇(∇L · v) come from double
backward (Pearlmutter 1994) or forward-over-reverse `torch.func.jvp(grad(L))`, never forming H.

* `top_eigenvalue`: λ_max(H) by implicitly restarted Lanczos, `scipy.sparse.linalg.eigsh` on a
  `LinearOperator` (Yao et al. 2020, PyHessian §3; Keskar et al. 2017 sharpness).
* `hutchinson_trace`: tr H = E[vᵀ H v] for Rademacher v (Hutchinson 1989; Avron & Toledo 2011);
  mean of m draws with a Student-t confidence interval mean ± t_{m-1} s/√m.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse.linalg as sla
import scipy.stats
import torch

METHODS = ("double_backward", "jvp")


def _check(loss, x):
    if not callable(loss):
        raise ValueError(f"loss must be callable params_flat -> scalar, got {type(loss).__name__}")  # noqa: TRY004
    if not torch.is_tensor(x) or x.dim() != 1:
        raise ValueError(f"x must be a 1-D tensor (params_flat), got "
                         f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")


def hvp_fn(loss: Callable, x: torch.Tensor, method: str = "double_backward") -> Callable:
    """v (P,) -> H(x) v (P,), H = ∇²loss(x)."""
    _check(loss, x)
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    x = x.detach()
    if method == "jvp":
        g = torch.func.grad(loss)
        return lambda v: torch.func.jvp(g, (x,), (v,))[1]
    xr = x.clone().requires_grad_(True)
    with torch.enable_grad():
        (gx,) = torch.autograd.grad(loss(xr), xr, create_graph=True)

    def hvp(v):
        (hv,) = torch.autograd.grad(gx, xr, grad_outputs=v, retain_graph=True)
        return hv.detach()
    return hvp


def hessian_operator(loss: Callable, x: torch.Tensor, method: str = "double_backward") -> sla.LinearOperator:
    """The Hessian at x as a scipy LinearOperator on float64 numpy vectors."""
    f = hvp_fn(loss, x, method)
    P = x.numel()

    def matvec(v):
        vt = torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(-1)).to(x.device, x.dtype)
        return f(vt).to("cpu", torch.float64).numpy()
    return sla.LinearOperator((P, P), matvec=matvec, dtype=np.float64)


def top_eigenvalue(loss: Callable, x: torch.Tensor, k: int = 1, tol: float = 1e-6,
                   maxiter: int | None = None, method: str = "double_backward", seed: int = 0):
    """The k largest (algebraic) Hessian eigenvalues at x, descending; a float when k = 1."""
    _check(loss, x)
    P = x.numel()
    if not isinstance(k, int) or not 1 <= k < P:
        raise ValueError(f"k must be an integer in [1, P-1] = [1, {P - 1}], got {k!r}")
    v0 = np.random.default_rng(seed).standard_normal(P)
    vals = sla.eigsh(hessian_operator(loss, x, method), k=k, which="LA", tol=tol, maxiter=maxiter,
                     v0=v0, return_eigenvectors=False)
    vals = np.sort(vals)[::-1]
    return float(vals[0]) if k == 1 else vals


class TraceEstimate(NamedTuple):
    mean: float
    stderr: float
    low: float
    high: float
    samples: int
    confidence: float


def hutchinson_trace(loss: Callable, x: torch.Tensor, samples: int = 100, confidence: float = 0.95,
                     method: str = "double_backward", seed: int = 0) -> TraceEstimate:
    """tr ∇²loss(x) ≈ (1/m) Σ vᵢᵀ H vᵢ, vᵢ Rademacher; CI mean ± t_{m-1, (1+c)/2} · s/√m."""
    _check(loss, x)
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    f = hvp_fn(loss, x, method)
    gen = torch.Generator().manual_seed(int(seed))
    vals = []
    for _ in range(samples):
        v = (torch.randint(0, 2, (x.numel(),), generator=gen) * 2 - 1).to(x.device, x.dtype)
        vals.append(float((v * f(v)).sum()))
    a = np.asarray(vals)
    mean, se = float(a.mean()), float(a.std(ddof=1) / np.sqrt(samples))
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2, samples - 1)) * se
    return TraceEstimate(mean, se, mean - half, mean + half, samples, confidence)
