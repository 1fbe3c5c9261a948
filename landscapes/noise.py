"""Stochastic gradient oracles: `oracle(x, t, rng) -> (loss (..., K), grad (..., K, d))`.

Gradient noise s has Cov = C/B (docs/theory.md §0: C per-sample covariance, B per-worker batch).
Models:
- 'none':       g = ∇f_k(x_k).
- 'isotropic':  g = ∇f_k + (σ/√B) z, C = σ² I.
- 'covariance': g = ∇f_k + S z/√B, S Sᵀ = C (C (d, d) or per worker (K, d, d), symmetric PSD).
- 'hessian':    C = σ² H(x_ref), H the (global) Hessian at a minimum x_ref (Xie et al. 2021,
                docs/theory.md §2); H(x_ref) must be PSD.
- 'loss':       Cov = scale · (2 L_k(x_k)/B) · H(x_ref): Mori et al. 2022's loss-proportional
                noise (docs/theory.md §2) in its near-minimum form, where the Hessian at θ is
                replaced by the Hessian H* at the reference minimum. L_k is worker k's exact
                loss at its iterate and must be >= 0; the noise vanishes where L_k = 0.
- 'minibatch':  finite-sum sampling: each worker draws B indices of its shard uniformly with
                replacement and returns that minibatch's mean loss and gradient (data-based
                `Heterogeneous` problems only).
For the Gaussian models the returned loss is the exact loss (no noise).

`rng` is a `landscapes.rng.Streams` (x must be (R, K, d), draws of shape (K, d) per replica) or
a `torch.Generator` (draws of x's full shape). Draws depend on (t, stream) only: calling twice
at the same t gives the same noise (the same minibatch), on purpose.
"""
from __future__ import annotations

import math

import torch

from . import rng as _rng

NOISES = ("none", "isotropic", "covariance", "hessian", "loss", "minibatch")


def _sqrt_psd(M: torch.Tensor, what: str) -> torch.Tensor:
    """S with S Sᵀ = M for symmetric PSD M (..., d, d) via eigh; ValueError naming `what` if not."""
    if not torch.isfinite(M).all():
        raise ValueError(f"{what} must be finite")
    scale = M.abs().amax().clamp(min=1e-300)
    if (M - M.transpose(-1, -2)).abs().amax() > 1e-10 * scale:
        raise ValueError(f"{what} must be symmetric")
    lam, V = torch.linalg.eigh(0.5 * (M + M.transpose(-1, -2)))
    if lam.amin() < -1e-10 * scale:
        raise ValueError(f"{what} must be positive semi-definite, smallest eigenvalue {float(lam.amin()):.3g}")
    return V * lam.clamp(min=0).sqrt().unsqueeze(-2)


class Oracle:
    """Callable oracle; attributes `problem` (= `landscape`), `noise`, `batch`, `sigma`,
    `cov` (per-sample covariance C for the constant Gaussian models, else None), `x_ref`,
    `scale`, `stream`."""

    def __init__(self, problem, noise="none", batch=1, sigma=1.0, C=None, x_ref=None,
                 scale=1.0, stream=0, with_loss=True):
        if noise not in NOISES:
            import difflib
            close = difflib.get_close_matches(str(noise), NOISES, n=2)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise ValueError(f"noise must be one of {list(NOISES)}, got {noise!r}{hint}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an integer >= 1, got {batch}")
        for nm, v in (("sigma", sigma), ("scale", scale)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < math.inf):
                raise ValueError(f"{nm} must be a finite number >= 0, got {v!r}")
        if isinstance(stream, bool) or not isinstance(stream, int) or stream < 0:
            raise ValueError(f"stream must be an integer >= 0, got {stream!r}")
        self.problem = self.landscape = problem
        self.noise, self.batch, self.sigma, self.scale, self.stream = noise, batch, float(sigma), float(scale), int(stream)
        self.with_loss = bool(with_loss)
        self.hetero = hasattr(problem, "f_i")
        self.dim = int(problem.dim)
        self._loss = problem.f_i if self.hetero else problem.f
        self._grad = problem.grad_i if self.hetero else problem.grad
        d = self.dim
        self.cov = self.x_ref = self._S = None
        if noise == "isotropic":
            self.cov = self.sigma ** 2 * torch.eye(d, dtype=torch.float64)
        elif noise == "covariance":
            if C is None:
                raise ValueError("C must be given for noise='covariance'")
            try:
                C = torch.as_tensor(C, dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(f"C must be a real (d, d) matrix, got {C!r}") from None
            ok = C.shape == (d, d) or (self.hetero and C.shape == (problem.K, d, d))
            if not ok:
                raise ValueError(f"C must have shape ({d}, {d})" + (f" or ({problem.K}, {d}, {d})" if self.hetero else "")
                                 + f", got {tuple(C.shape)}")
            self._S = _sqrt_psd(C, "C")
            self.cov = C
        elif noise in ("hessian", "loss"):
            if x_ref is None:
                if getattr(problem, "x_star", None) is not None:
                    x_ref = problem.x_star
                elif hasattr(problem, "minima") and problem.minima():
                    x_ref = problem.minima()[0].x
                else:
                    raise ValueError(f"x_ref must be given for noise={noise!r} (no known minimum)")
            try:
                self.x_ref = torch.as_tensor(x_ref, dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(f"x_ref must be a real vector of shape ({d},), got {x_ref!r}") from None
            if self.x_ref.shape != (d,):
                raise ValueError(f"x_ref must have shape ({d},), got {tuple(self.x_ref.shape)}")
            H = problem.hess(self.x_ref)
            self._S = _sqrt_psd(H, "Hessian at x_ref")
            if noise == "hessian":
                self._S = self.sigma * self._S
                self.cov = self.sigma ** 2 * H
            elif getattr(problem, "f_star", None) is not None and problem.f_star < 0:
                raise ValueError(f"noise='loss' needs a loss >= 0; problem.f_star = {problem.f_star}")
        elif noise == "minibatch":
            if getattr(problem, "sample_grad_i", None) is None:
                raise ValueError("noise='minibatch' needs a data-based problem with sample_grad_i")
            self._sizes = problem.shard_sizes

    def _shape_ok(self, x, rng):
        if x.ndim < 2 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., K, {self.dim}), got {tuple(x.shape)}")
        if isinstance(rng, _rng.Streams) and (x.ndim != 3 or x.shape[0] != rng.R):
            raise ValueError(f"x must have shape (R={rng.R}, K, d) with a Streams source, got {tuple(x.shape)}")

    def _normal(self, x, t, rng):
        shape = x.shape[-2:] if isinstance(rng, _rng.Streams) else x.shape
        return _rng.normal(rng, t, tuple(shape), self.stream)

    def __call__(self, x, t, rng):
        x = torch.as_tensor(x, dtype=torch.float64)
        self._shape_ok(x, rng)
        if self.noise == "minibatch":
            lead = x.shape[-2:-1] if isinstance(rng, _rng.Streams) else x.shape[:-1]
            u = _rng.uniform(rng, t, tuple(lead) + (self.batch,), self.stream)
            sizes = self._sizes[:, None]
            idx = torch.minimum(torch.floor(u * sizes).to(torch.int64), sizes - 1)
            loss = self.problem.sample_loss_i(x, idx) if self.with_loss else None
            return loss, self.problem.sample_grad_i(x, idx)
        need_loss = self.with_loss or self.noise == "loss"
        loss, g = (self._loss(x) if need_loss else None), self._grad(x)
        if self.noise == "none":
            return loss, g
        z = self._normal(x, t, rng)
        if self.noise == "isotropic":
            return loss, g + (self.sigma / math.sqrt(self.batch)) * z
        if self._S.ndim == 3:
            s = torch.einsum("kij,...kj->...ki", self._S, z)
        else:
            s = z @ self._S.transpose(-1, -2)
        if self.noise == "loss":
            if bool((loss < 0).any()):
                raise ValueError("noise='loss' needs loss >= 0 at every worker's iterate")
            s = torch.sqrt(2.0 * self.scale * loss.clamp(min=0) / self.batch).unsqueeze(-1) * s
            return loss, g + s
        return loss, g + s / math.sqrt(self.batch)


def oracle(problem, noise="none", batch=1, sigma=1.0, C=None, x_ref=None, scale=1.0, stream=0,
           with_loss=True) -> Oracle:
    """Build `oracle(x, t, rng) -> (loss (..., K), grad (..., K, d))` for a `Landscape` (all
    workers share it) or a `Heterogeneous` problem (worker k on f_k); see the module docstring.
    `with_loss=False` skips the loss (returned as None) for methods that never read it."""
    return Oracle(problem, noise, batch, sigma, C, x_ref, scale, stream, with_loss)
