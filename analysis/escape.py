"""Escape-time predictions (docs/theory.md §2) and the censored-exponential rate estimator.

Predictions return `Prediction(value, regime)`; `regime` says where the formula is valid.
Exact ground truth lives in `analysis.kolmogorov` (SDE: 1-D quadrature, 2-D backward
Kolmogorov) and `analysis.markov` (discrete algorithm: absorbing Markov chains); re-exported.
Times from SDE formulas are in SDE time t = k eta (divide by eta for steps).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .kolmogorov import ExitTime, as_numpy_fn, mfpt_1d, mfpt_2d  # noqa: F401
from .markov import ChainResult, markov_chain_1d, markov_chain_2d, markov_chain_two_agents_1d  # noqa: F401
from .stats import poisson_rate


class Prediction(NamedTuple):
    value: float
    regime: dict


def _pos(name, v):
    v = float(v)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {v}")
    return v


def _mat(H, name):
    H = np.atleast_2d(np.asarray(H, dtype=float))
    if H.shape[0] != H.shape[1] or not np.allclose(H, H.T):
        raise ValueError(f"{name} must be a scalar or a symmetric square matrix")
    return H


def kramers_time(H_min, H_saddle, dV: float, D: float) -> Prediction:
    """Eyring–Kramers mean exit time (docs/theory.md §2).

    E tau ~ (2 pi/|lambda_1(b)|) sqrt(|det H_b| / det H_a) e^{dV/D}, H_a positive definite,
    H_b with exactly one negative eigenvalue. Counts full crossings: compare with exact
    times absorbed well beyond the saddle (absorbing at the saddle halves the time).
    regime: dV/D (asymptotic in D -> 0; exact/Kramers ~ 1.09 at dV/D = 2.5 on the quartic).
    """
    D = _pos("D", D)
    dV = _pos("dV", dV)
    Ha, Hb = _mat(H_min, "H_min"), _mat(H_saddle, "H_saddle")
    ea, eb = np.linalg.eigvalsh(Ha), np.linalg.eigvalsh(Hb)
    if ea.min() <= 0:
        raise ValueError("H_min must be positive definite")
    if (eb < 0).sum() != 1 or np.any(eb == 0):
        raise ValueError("H_saddle must have exactly one negative eigenvalue (index-1 saddle)")
    t = 2 * np.pi / abs(eb[0]) * np.sqrt(abs(np.prod(eb)) / np.prod(ea)) * np.exp(dV / D)
    return Prediction(float(t), {"dV_over_D": dV / D, "asymptotic_ok": dV / D >= 5})


def kramers_multi(H_min, saddles: Sequence[tuple], D: float) -> Prediction:
    """Parallel saddles: rates add, 1/tau = sum_b 1/tau_b; `saddles` = [(H_b, dV_b), ...]."""
    if len(saddles) == 0:
        raise ValueError("saddles must be non-empty")
    preds = [kramers_time(H_min, Hb, dVb, D) for Hb, dVb in saddles]
    rate = sum(1 / p.value for p in preds)
    return Prediction(1 / rate, {"dV_over_D": min(p.regime["dV_over_D"] for p in preds),
                                 "rates": [1 / p.value for p in preds]})


def finite_step_correction(*, rate: float, eta: float, H_a, H_b) -> Prediction:
    """Escape RATE of discrete SGD at step size eta from the continuous (SDE) rate [derived,
    docs/theory.md §2]: k_eta ~ k0 [1 + (eta/4)(Tr H_a - Tr H_b - 2|lambda_b|)].

    `rate` is k0, a rate (1/time, per step or per unit SDE time: the factor is dimensionless);
    a mean time transforms inversely, tau_eta ~ tau_0 / [1 + (eta/4)(...)]. Keyword-only so a
    mean time cannot be passed by position. Returns the corrected rate. Invalid for
    eta h_a >= 0.3 (h_a = lambda_max(H_a)): overshoot opens new exit routes.
    """
    eta = _pos("eta", eta)
    k0 = _pos("rate", rate)
    Ha, Hb = _mat(H_a, "H_a"), _mat(H_b, "H_b")
    lb = np.linalg.eigvalsh(Hb).min()
    ha = np.linalg.eigvalsh(Ha).max()
    factor = 1 + eta / 4 * (np.trace(Ha) - np.trace(Hb) - 2 * abs(lb))
    if not factor > 0:
        raise ValueError(f"eta: correction factor 1 + (eta/4)(...) = {factor} is not positive")
    return Prediction(float(k0 * factor), {"eta_h_a": eta * ha, "valid": eta * ha < 0.3,
                                           "eta_lambda_max": eta * ha, "factor": float(factor)})


def centroid_diffusion(perron, R_k, eta: float, B: float):
    """D_c = (eta/2B) sum_k p_k^2 R_k [derived, §2]; = eta sigma^2/(2KB) for doubly stochastic."""
    eta, B = _pos("eta", eta), _pos("B", B)
    p = np.asarray(perron, dtype=float)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1):
        raise ValueError("perron must be a non-negative vector summing to 1")
    R = np.asarray(R_k, dtype=float)
    if R.ndim == 0:
        R = np.full(p.size, float(R))
    if R.shape[0] != p.size:
        raise ValueError("R_k must have one entry (scalar or matrix) per worker")
    return eta / (2 * B) * np.tensordot(p ** 2, R, axes=1)


def disagreement_variance(lams, h: float, s2: float, scheme: str = "consensus", *,
                          eta: float):
    """Per-mode disagreement variance v_j (j >= 2) and Sigma_dis = (1/K) sum_{j>=2} v_j (§2, §3).

    lams: all K eigenvalues of symmetric W (the largest, = 1, is dropped); s2 = eta^2 sigma^2/B.
    consensus v_j = s2/(1 - (lambda_j - eta h)^2); ATC lambda_j^2 s2/(1 - lambda_j^2 (1-eta h)^2);
    CTA s2/(1 - lambda_j^2 (1 - eta h)^2) (from §3: Pi_j = eta^2 r/(B(1 - lambda_j^2(1-eta h)^2))).
    Returns (v (K-1,), Sigma_dis). Unstable mode (denominator <= 0) -> ValueError.
    """
    eta, s2 = _pos("eta", eta), _pos("s2", s2)
    lam = np.sort(np.asarray(lams, dtype=float).reshape(-1))[::-1]
    if lam.size < 2 or not np.isclose(lam[0], 1):
        raise ValueError("lams must hold all K >= 2 eigenvalues of W, the largest = 1")
    l, K = lam[1:], lam.size
    if scheme == "consensus":
        num, den = s2 * np.ones_like(l), 1 - (l - eta * h) ** 2
    elif scheme == "atc":
        num, den = l ** 2 * s2, 1 - l ** 2 * (1 - eta * h) ** 2
    elif scheme == "cta":
        num, den = s2 * np.ones_like(l), 1 - l ** 2 * (1 - eta * h) ** 2
    else:
        raise ValueError(f"scheme must be one of ['consensus', 'atc', 'cta'], got {scheme!r}")
    if np.any(den <= 0):
        raise ValueError(f"h: a disagreement mode is unstable for eta*h = {eta * h}")
    v = num / den
    return v, float(v.sum() / K)


def effective_potential(V: Callable, H: Callable, Sigma_dis) -> Callable:
    """J_eff(x) = V(x) + 1/2 Tr(H(x) Sigma_dis) [derived, §2, §4]; scalars in 1-D."""
    S = np.asarray(Sigma_dis, dtype=float)

    def J(x):
        Hx = np.asarray(H(x), dtype=float)
        if S.ndim == 0:
            corr = 0.5 * (Hx * S if Hx.ndim <= 1 else np.trace(Hx, axis1=-2, axis2=-1) * S)
        else:
            corr = 0.5 * np.einsum("...ij,ji->...", Hx, S)
        return np.asarray(V(x), dtype=float) + corr
    return J


def predicted_escape_ratio(dV: float, H_a, H_b, Sigma_dis, D_c: float,
                           D_central: float | None = None) -> Prediction:
    """Decentralised / centralised mean escape time from effective barriers [derived, §2].

    Quadratic approximation (H constant near the minimum a and the saddle b, one Sigma_dis for
    the whole path, Kramers prefactor unchanged): dV_eff = dV + 1/2 Tr((H_b - H_a) Sigma_dis)
    (1-D: dV + 1/2 Sigma_dis (h_b - h_a), h_b < 0, so sharp wells lose barrier);
    ratio = exp(dV_eff/D_c - dV/D_central), D_central defaults to D_c (doubly stochastic W,
    C-SGD with batch KB). First order in Sigma_dis/D_c: rough when it is ~1.
    """
    D_c = _pos("D_c", D_c)
    Dz = D_c if D_central is None else _pos("D_central", D_central)
    Ha, Hb = _mat(H_a, "H_a"), _mat(H_b, "H_b")
    S = np.asarray(Sigma_dis, dtype=float)
    S = S * np.eye(Ha.shape[0]) if S.ndim == 0 else np.atleast_2d(S)
    shift = 0.5 * float(np.trace((Hb - Ha) @ S))
    ratio = float(np.exp((dV + shift) / D_c - dV / Dz))
    return Prediction(ratio, {"barrier_shift": shift, "dV_over_D": dV / D_c,
                              "Sigma_over_D": float(np.trace(S)) / D_c,
                              "first_order_ok": float(np.trace(S)) / D_c < 0.3})


class RateEstimate(NamedTuple):
    rate: float
    lo: float
    hi: float
    escapes: int
    exposure: float
    mean_time: float


def observed_steps(event_steps, cap: int) -> tuple[int, float]:
    """(escapes, total observed steps) from per-replica event steps (nan/inf/None/> cap =
    censored at `cap`): exposure = sum_r min(T_r, cap)."""
    if cap <= 0:
        raise ValueError(f"cap must be > 0, got {cap}")
    t = np.array([np.inf if e is None else e for e in np.asarray(event_steps, object).ravel()],
                 dtype=float)
    t = np.where(np.isnan(t), np.inf, t)
    if np.any(t < 0):
        raise ValueError("event_steps must be >= 0")
    hit = t <= cap
    return int(hit.sum()), float(np.where(hit, t, cap).sum())


def censored_exponential_rate(event_steps, total_observed_steps: float | None = None, *,
                              cap: int | None = None, level: float = 0.95) -> RateEstimate:
    """Rate = escapes / total observed steps, censored at a cap (docs/theory.md §2, Monte Carlo).

    Either event_steps = per-replica steps with `cap` (exposure computed), or event_steps =
    the number of escapes with `total_observed_steps`. CI: exact Poisson (Garwood,
    analysis.stats.poisson_rate), valid for exponential exit times only: claims use
    analysis.stats.censored_mean_ci, which checks that. The ratio is the MLE.
    """
    if total_observed_steps is None:
        if cap is None:
            raise ValueError("cap: give cap (with per-replica steps) or total_observed_steps")
        n, T = observed_steps(event_steps, cap)
    else:
        n, T = int(event_steps), float(total_observed_steps)
    if T <= 0:
        raise ValueError(f"total_observed_steps must be > 0, got {T}")
    if n < 0:
        raise ValueError("event_steps (number of escapes) must be >= 0")
    r = poisson_rate(n, T, level)
    return RateEstimate(r.rate, r.lo, r.hi, n, T, T / n if n else np.inf)
