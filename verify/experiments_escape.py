"""Shared escape experiments for `verify.claims_escape` and `verify.claims_flatness`
(docs/theory.md §2): the escape problems (`Case`), the exact absorbing Markov chain of discrete
C-SGD (`chain_escape`), the exact SDE mean exit time (`continuous_steps`) and the Monte Carlo
escape of a network's centroid (`mc_escape`).

Escape event (identical in chain and simulation): after a step, the iterate (the centroid x̄ of
the K workers; K = 1 for C-SGD) lies outside the open interval (L, M) of its basin; far walls
that cannot be reached are L = −inf. The boundaries lie on cell edges of the chain grid.

Monte Carlo runs every replica to a step cap c and summarises the censored exit times with
`analysis.stats.censored_mean_ci`, which chooses its interval from the data:
- exit times consistent with an exponential law (KS test): escapes / observed steps with the
  exact Poisson interval. Its target under the chain is the censored mean
  m_c = Σ_{n<c} S(n) / (1 − S(c)) (S = survival), which tends to the mean as c → ∞;
- otherwise (e.g. a long plateau before the first escapes, coefficient of variation far from 1):
  the Kaplan–Meier restricted mean E min(T, c) = Σ_{n<c} S(n) with a bootstrap interval.
`chain_target` gives the chain's value of whichever estimand was used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

import dynamics
from analysis.escape import markov_chain_1d, mfpt_1d
from analysis.stats import bootstrap_ci, censored_mean_ci, exponentiality, km_restricted_mean, poisson_rate
from dynamics.simulate import simulate
from landscapes import core
from landscapes.noise import oracle


@dataclass(frozen=True)
class Case:
    """One escape problem: landscape, start x0 (a minimum), basin (L, M) along coordinate 0,
    barrier dV, largest Hessian eigenvalue h_a at the minimum (η·λ_max flag), Hessians at the
    minimum / saddle (None: no saddle)."""
    name: str
    landscape: str
    x0: tuple
    L: float
    M: float
    dV: float
    h_a: float
    H_a: tuple | None = None
    H_b: tuple | None = None


QUARTIC = Case("quartic", "quartic", (-1.0,), -math.inf, 1.0, 0.25, 2.0, (2.0,), (-1.0,))
DW2D = Case("double_well_2d", "double_well_2d", (-1.0, 0.0), -math.inf, 1.0, 1.0, 8.0,
            ((8.0, 0.0), (0.0, 2.0)), ((-4.0, 0.0), (0.0, 2.0)))
DG_SHARP = Case("double_gaussian/sharp", "double_gaussian", (-0.9989214298005994,), -2.0, 0.5,
                0.9282539941305621, 15.929794533391819)
DG_FLAT = Case("double_gaussian/flat", "double_gaussian", (1.5,), -0.6, 4.5, 0.9243788081353285,
               1.7777777777777777)


def potential_1d(case: Case):
    """(V, V') along coordinate 0 as numpy functions. double_well_2d separates: with isotropic
    noise the x-coordinate of C-SGD is itself the 1-D chain of V(x) = (x² − 1)² exactly."""
    if case.landscape == "double_well_2d":
        return (lambda x: (np.asarray(x) ** 2 - 1) ** 2), (lambda x: 4 * np.asarray(x) * (np.asarray(x) ** 2 - 1))
    land = core.get(case.landscape)

    def V(x):
        return land.f(torch.as_tensor(np.asarray(x, float))[..., None]).numpy()

    def g(x):
        return land.grad(torch.as_tensor(np.asarray(x, float))[..., None])[..., 0].numpy()
    return V, g


def chain_grid(case: Case, s: float, per_s: float = 20.0, pad: float = 7.0) -> np.ndarray:
    """Uniform cell centres with Δ ≤ s/per_s and L, M on cell edges; `pad`·s of absorbing
    overshoot cells beyond each finite boundary; a far reflecting end 1.6 left of x0 if L = −inf."""
    x0 = case.x0[0]
    lo = case.L if math.isfinite(case.L) else x0 - 1.6
    n = math.ceil((case.M - lo) / (s / per_s))
    delta = (case.M - lo) / n
    left = math.ceil(pad * s / delta) if math.isfinite(case.L) else 0
    right = math.ceil(pad * s / delta)
    return lo + delta * (np.arange(-left, n + right) + 0.5)


def chain_escape(case: Case, eta: float, D: float, cap: int | None = None):
    """(ChainResult, censored mean m_c at step cap `cap` or None) of C-SGD x' = x − η∇V + sξ,
    s² = 2Dη (docs/theory.md §2 Markov chain; mean steps by Richardson over Δ, Δ/2). With a cap
    the result carries the survival S(0..cap) for `chain_target`."""
    s = math.sqrt(2 * D * eta)
    _, g = potential_1d(case)
    L, M = case.L, case.M
    res = markov_chain_1d(chain_grid(case, s), eta, g, s, lambda x: (x > M) | (x < L), case.x0[0],
                          second=False, n_survival=0 if cap is None else cap + 1)
    mc = None if cap is None else chain_target(res.survival, cap, "poisson")
    return res, mc


def chain_target(survival, cap: int, method: str) -> float:
    """The chain's value of the Monte Carlo estimand at cap c (module docstring): 'poisson' ->
    Σ_{n<c} S(n)/(1 − S(c)); 'km-bootstrap' -> Σ_{n<c} S(n) (restricted mean)."""
    S = np.asarray(survival, float)
    if S.size < cap + 1:
        raise ValueError(f"survival: need S(0..cap) = {cap + 1} values, got {S.size}")
    if method == "poisson":
        return float(S[:cap].sum() / (1 - S[cap]))
    if method == "km-bootstrap":
        return float(S[:cap].sum())
    raise ValueError(f"method must be 'poisson' or 'km-bootstrap', got {method!r}")


def mfpt_interval(V, x0: float, L: float, M: float, D: float, n: int = 200001) -> float:
    """SDE exit time from (L, M), both ends absorbing (docs/theory.md §2 quadrature
    generalised): with φ = e^{−V/D}, Φ(y) = ∫_L^y φ, T(x) = ∫_L^x (C − Φ/D)/φ, T(M) = 0."""
    from scipy.integrate import cumulative_trapezoid as ct
    y = np.linspace(L, M, n)
    v = V(y) / D
    phi = np.exp(-(v - v.max()))
    Phi = ct(phi, y, initial=0)
    psi = np.exp(v - v.max())
    a = ct(psi, y, initial=0)
    b = ct(psi * Phi, y, initial=0)
    C = b[-1] / a[-1] / D
    T = C * a - b / D
    return float(np.interp(x0, y, T))


def continuous_steps(case: Case, eta: float, D: float) -> float:
    """Exact SDE mean exit time / η (steps): mfpt_1d (reflecting far left) or the two-sided
    quadrature when L is finite."""
    V, _ = potential_1d(case)
    if math.isfinite(case.L):
        return mfpt_interval(V, case.x0[0], case.L, case.M, D) / eta
    return mfpt_1d(V, case.x0[0], case.M, D).mean / eta


@dataclass
class EscapeSample:
    """Monte Carlo escape times of one cell: `times` (R kept replicas; inf = not escaped by `cap`),
    `mean` the censored_mean_ci dict (value, ci_low, ci_high, method, events, exposure, cv),
    `diverged` the fraction of replicas dropped because a worker left |x| ≤ divergence."""
    times: np.ndarray
    cap: int
    mean: dict
    diverged: float

    @property
    def escapes(self) -> int:
        return int(np.isfinite(self.times).sum())

    @property
    def method(self) -> str:
        return self.mean["method"]

    @property
    def exposure(self) -> float:
        """Observed replica-steps, Σ_r min(T_r, cap)."""
        return float(np.minimum(self.times, self.cap).sum())

    def poisson(self, level: float = 0.95):
        """Escapes / exposure with the exact Poisson interval (analysis.stats.poisson_rate):
        valid only for exponential exit times (benchmarks read it)."""
        return poisson_rate(self.escapes, self.exposure, level)


def mc_escape(case: Case, eta: float, D: float, cap: int, R: int, seed: int,
              method: str = "csgd", K: int = 1, topology=None, B: int = 1, level: float = 0.95,
              divergence: float | None = None, make=None) -> EscapeSample:
    """Monte Carlo escape of the centroid: `simulate` with isotropic noise σ² = 2DKB/η (so
    D_c = ησ²/(2KB) = D), stopped when the centroid leaves (L, M); censored at `cap` and
    summarised by `analysis.stats.censored_mean_ci`.

    With `divergence` set, a replica in which some worker leaves |x| ≤ divergence (the step size
    is unstable on the landscape's walls) is not an escape: it is dropped from the sample and
    counted in `.diverged`. `make(name, topology, lr=...)` builds the method (default
    dynamics.make; negative controls pass a sabotaged builder)."""
    land = core.get(case.landscape)
    sigma = math.sqrt(2 * D * K * B / eta)
    meth = (make or dynamics.make)(method, topology, lr=eta)
    orc = oracle(land, "isotropic", sigma=sigma, batch=B)
    x0 = torch.tensor(case.x0, dtype=torch.float64).expand(K, land.dim).clone()
    L, M = case.L, case.M
    res = simulate(meth, orc, x0, cap, replicas=R, seed=seed, recorders={}, record_every=[],
                   stop=lambda p: (p[:, 0] > M) | (p[:, 0] < L), stop_on="centroid", divergence=divergence)
    esc, div = res.event_kind == "stop", res.event_kind == "diverged"
    t = np.where(esc, res.event_step, np.inf).astype(float)[~div]
    if t.size == 0:
        raise ValueError(f"divergence: every replica diverged ({method}, eta={eta}); no escape sample")
    return EscapeSample(t, int(cap), censored_mean(t, cap, level=level, seed=seed), float(div.mean()))


def censored_mean(times, cap: int, level: float = 0.95, seed: int = 0, n_boot: int = 1000,
                  alpha_ks: float = 0.01) -> dict:
    """`analysis.stats.censored_mean_ci` for times censored at one common cap (our Monte
    Carlo), with the same choice of interval (exponential accepted by KS at alpha_ks -> Poisson;
    rejected -> Kaplan–Meier restricted mean with a bootstrap interval). With a common cap the KM
    restricted mean is mean(min(T, cap)), so the bootstrap resamples that mean directly
    (vectorised; the same estimator as stats.km_restricted_mean, checked on the point value)."""
    t = np.asarray(times, float)
    ex = exponentiality(t, cap)
    if math.isnan(ex["p_ks"]) or ex["p_ks"] >= alpha_ks:
        out = censored_mean_ci(t, cap, level=level, seed=seed, alpha_ks=alpha_ks)
        out["p_ks"] = ex["p_ks"]
        return out
    m = np.minimum(t, cap)
    out = bootstrap_ci(np.mean, m, level=level, n_boot=n_boot, seed=seed)
    km = km_restricted_mean(t, cap)
    if not math.isclose(km, out["value"], rel_tol=1e-9):
        raise ValueError(f"times: KM restricted mean {km} != mean(min(T, cap)) {out['value']}")
    seen = np.isfinite(t) & (t <= cap)
    out.update(method="km-bootstrap", events=int(seen.sum()), exposure=float(m.sum()), cv=ex["cv"],
               p_ks=ex["p_ks"])
    return out
