"""Escape-time claims (THEORY.md §2): the exact absorbing Markov chain of the discrete
algorithm against Monte Carlo, and the continuous theory (exact SDE quadrature, Eyring–Kramers,
finite-step correction) against both.

The paper's own theorems are [missing] (THEORY.md §3): every prediction here is THEORY.md's
formula, every verdict a measurement.

Escape event (used identically in chain and simulation): after a step, the iterate (the model
of C-SGD, K = 1) lies outside the open interval (L, M) of its basin; far walls that cannot be
reached are L = -inf. The boundaries lie on cell edges of the chain grid (O(Δ²) grid error).
Monte Carlo uses a step cap c; the estimator is escapes / observed steps (THEORY.md §2). Its
exact expectation under the chain is the censored mean m_c = Σ_{n<c} S(n) / (1 − S(c))
(S = survival), which tends to the mean as c → ∞; the chain is judged against MC through m_c.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

import dynamics
from analysis.escape import (
    censored_exponential_rate,
    finite_step_correction,
    kramers_time,
    markov_chain_1d,
    mfpt_1d,
)
from dynamics.simulate import simulate
from landscapes import core
from landscapes.noise import oracle

from .claims import Evidence, claim, combine, value

PAPER = "Cao, Wu, Yuan, Sayed, arXiv 2406.20006 (theorems [missing]); THEORY.md §2 formulas"


@dataclass(frozen=True)
class Case:
    """One escape problem: landscape, start x0 (a minimum), basin (L, M) along coordinate 0,
    diffusion D = ησ²/(2B), barrier dV, Hessians at the minimum / saddle (None: no saddle)."""
    name: str
    landscape: str
    x0: tuple
    L: float
    M: float
    dV: float
    h_a: float  # largest Hessian eigenvalue at the minimum (η·λ_max flag)
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
    """V along coordinate 0 as numpy (x,) -> (x,). double_well_2d separates: with isotropic
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
    overshoot cells beyond each finite boundary; a far reflecting end 1.6 left of x0 if L = -inf."""
    x0 = case.x0[0]
    lo = case.L if math.isfinite(case.L) else x0 - 1.6
    n = math.ceil((case.M - lo) / (s / per_s))
    delta = (case.M - lo) / n
    left = math.ceil(pad * s / delta) if math.isfinite(case.L) else 0
    right = math.ceil(pad * s / delta)
    return lo + delta * (np.arange(-left, n + right) + 0.5)


def chain_escape(case: Case, eta: float, D: float, cap: int | None = None):
    """Exact mean steps (Richardson) and censored mean m_c at step cap `cap` of C-SGD
    x' = x − η∇V + s ξ, s² = 2Dη (THEORY.md §2 Markov chain)."""
    s = math.sqrt(2 * D * eta)
    _, g = potential_1d(case)
    L, M = case.L, case.M
    res = markov_chain_1d(chain_grid(case, s), eta, g, s, lambda x: (x > M) | (x < L), case.x0[0],
                          second=False, n_survival=0 if cap is None else cap + 1)
    mc = None
    if cap is not None:
        S = res.survival
        mc = float(S[:cap].sum() / (1 - S[cap]))
    return res, mc


def mfpt_interval(V, x0: float, L: float, M: float, D: float, n: int = 200001) -> float:
    """SDE exit time from (L, M), both ends absorbing (THEORY.md §2 quadrature generalised):
    with φ = e^{−V/D}, Φ(y) = ∫_L^y φ, T(x) = ∫_L^x (C − Φ/D)/φ, C fixed by T(M) = 0."""
    from scipy.integrate import cumulative_trapezoid as ct
    y = np.linspace(L, M, n)
    v = V(y) / D
    phi = np.exp(-(v - v.max()))  # scaled: φ·e^{v_max}
    Phi = ct(phi, y, initial=0)
    psi = np.exp(v - v.max())  # 1/φ scaled by e^{−v_max}... ψ·φ = 1 overall
    a = ct(psi, y, initial=0)
    b = ct(psi * Phi, y, initial=0)
    C = b[-1] / a[-1] / D  # C·e^{v_max} units cancel: T = C a − b/D
    T = C * a - b / D
    return float(np.interp(x0, y, T))


def continuous_steps(case: Case, eta: float, D: float) -> float:
    """Exact SDE mean exit time / η (steps): mfpt_1d (reflecting far left) or the two-sided
    quadrature when L is finite."""
    V, _ = potential_1d(case)
    if math.isfinite(case.L):
        return mfpt_interval(V, case.x0[0], case.L, case.M, D) / eta
    return mfpt_1d(V, case.x0[0], case.M, D).mean / eta


def mc_escape(case: Case, eta: float, D: float, cap: int, R: int, seed: int,
              method: str = "csgd", K: int = 1, topology=None, B: int = 1, level: float = 0.95,
              divergence: float | None = None):
    """Monte Carlo escape of the centroid: `simulate` with isotropic noise σ² = 2DKB/η
    (so D_c = ησ²/(2KB) = D), stopped when the centroid leaves (L, M); censored estimator.

    With `divergence` set, a replica in which some worker leaves |x| ≤ divergence (the step size
    is unstable on the landscape's walls) is not an escape: it is censored at that step, and the
    returned estimate carries `.diverged` (the fraction of such replicas)."""
    land = core.get(case.landscape)
    sigma = math.sqrt(2 * D * K * B / eta)
    meth = dynamics.make(method, topology, lr=eta)
    orc = oracle(land, "isotropic", sigma=sigma, batch=B)
    x0 = torch.tensor(case.x0, dtype=torch.float64).expand(K, land.dim).clone()
    L, M = case.L, case.M
    res = simulate(meth, orc, x0, cap, replicas=R, seed=seed, recorders={}, record_every=[],
                   stop=lambda p: (p[:, 0] > M) | (p[:, 0] < L), stop_on="centroid", divergence=divergence)
    if divergence is None:
        ev = np.where(res.event_kind == "stop", res.event_step, np.inf).astype(float)
        return censored_exponential_rate(ev, cap=cap, level=level)
    esc, div = res.event_kind == "stop", res.event_kind == "diverged"
    exposure = float(np.where(esc | div, res.event_step, cap).sum())
    rate = censored_exponential_rate(int(esc.sum()), exposure, level=level)
    return _WithDivergence(rate, float(div.mean()))


class _WithDivergence:
    """A RateEstimate plus the fraction of diverged replicas (attribute access passes through)."""

    def __init__(self, rate, diverged: float):
        self._rate, self.diverged = rate, diverged

    def __getattr__(self, name):
        return getattr(self._rate, name)


def mean_ci(rate, z_level=None):
    """(point, lo, hi) of the censored mean 1/rate from a RateEstimate."""
    return 1 / rate.rate, (1 / rate.hi), (1 / rate.lo if rate.lo > 0 else math.inf)


# (case, eta, D) of claim 1; quick is a subset. D fixes ΔV/D ≈ 4 (escapes of 10²–10⁴ steps).
CASES_1 = {
    True: [(QUARTIC, 0.05, 0.0625), (QUARTIC, 0.5, 0.0625), (DG_SHARP, 0.03, 0.232),
           (DG_FLAT, 0.3, 0.231), (DW2D, 0.05, 0.25)],
    False: [(QUARTIC, e, 0.0625) for e in (0.05, 0.1, 0.15, 0.25, 0.35, 0.5)]
    + [(DG_SHARP, e, 0.232) for e in (0.005, 0.01, 0.02, 0.03, 0.045)]
    + [(DG_FLAT, e, 0.231) for e in (0.05, 0.1, 0.2, 0.3, 0.45)]
    + [(DW2D, e, 0.25) for e in (0.0125, 0.025, 0.0375, 0.05, 0.075)],
}


def _budget(mean: float, escapes: int, cap_max: int) -> tuple[int, int]:
    """(cap, R) for about `escapes` expected escapes: cap ≈ 1.5 mean (≤ cap_max steps)."""
    cap = int(min(max(1.5 * mean, 50), cap_max))
    return cap, int(min(max(escapes * mean / cap * 1.3, 200), 20000))


@claim(
    id="escape.chain_vs_monte_carlo",
    paper=PAPER,
    statement="The absorbing Markov chain of THEORY.md §2 is the exact escape law of discrete "
              "SGD at any η; the continuous theory (exact SDE mean exit time / η) fails once "
              "η·h_a ≳ 0.3 (overshoot). Escape = the iterate leaves its basin (L, M), identically "
              "in chain and simulation.",
    predicted="chain censored mean Σ_{n<c}S(n)/(1−S(c)) at the MC cap c (→ mean steps as c → ∞)",
    measured="Monte Carlo C-SGD (K = 1, isotropic noise): 1/(escapes/observed steps) with exact "
             "Poisson interval; quartic, double_gaussian both wells, double_well_2d",
    tolerance="chain inside the Bonferroni-corrected (familywise 95%) interval of every case; "
              "continuous/chain outside the MC interval for η·h_a ≥ 0.3",
    tolerance_reason="the chain is exact up to O(Δ²) grid error (Δ = s/20, Richardson), far "
                     "below MC error; the only slack is sampling error",
    tags=("synthetic",),
)
def chain_vs_monte_carlo(ctx) -> Evidence:
    cases = CASES_1[ctx.quick]
    level = 1 - 0.05 / len(cases)
    pred, meas, reg, checks, fails_cont, notes = {}, {}, {}, [], [], []
    for i, (case, eta, D) in enumerate(cases):
        key = f"{case.name}/eta={eta}"
        cap, R = _budget(continuous_steps(case, eta, D), 300 if ctx.quick else 2000,
                         600 if ctx.quick else 3000)
        chain, mc_pred = chain_escape(case, eta, D, cap)
        rate = mc_escape(case, eta, D, cap, R, ctx.seed + i, level=level)
        r95 = censored_exponential_rate(rate.escapes, rate.exposure)
        m, lo, hi = mean_ci(rate)
        cont = continuous_steps(case, eta, D)
        pred[f"{key}/chain_mean"] = value(chain.mean, chain.mean - chain.err, chain.mean + chain.err)
        pred[f"{key}/chain_censored_mean"] = mc_pred
        pred[f"{key}/continuous_steps"] = cont
        meas[f"{key}/mc_censored_mean"] = value(m, 1 / r95.hi, 1 / r95.lo)
        meas[f"{key}/mc_censored_mean_bonferroni"] = value(m, lo, hi)
        meas[f"{key}/continuous_over_chain"] = cont / chain.mean
        meas[f"{key}/escapes"] = rate.escapes
        eh = eta * case.h_a
        reg[key] = {"dV_over_D": case.dV / D, "eta_lambda_max": eh, "cap": cap, "R": R}
        ok = lo <= mc_pred <= hi
        checks.append("holds" if ok else "fails")
        if not ok:
            notes.append(f"{key}: chain {mc_pred:.1f} outside MC [{lo:.1f}, {hi:.1f}]")
        # the continuous theory against the (MC-validated) chain, the MC interval scaled to the mean
        scale = chain.mean / mc_pred
        off = not (lo * scale <= cont <= hi * scale)
        meas[f"{key}/continuous_outside_mc_interval"] = str(off)
        (fails_cont if eh >= 0.3 else []).append((key, off, cont / chain.mean))
        ctx.progress((i + 1) / len(cases), key)
    bad = [f"{k} (continuous/chain {r:.3f})" for k, off, r in fails_cont if not off]
    cont_note = ("continuous theory outside the MC interval at every η·h_a ≥ 0.3 case" if not bad else
                 "THEORY.md's 'continuous theory fails for η·h_a ≳ 0.3' is landscape-dependent: "
                 "still inside the MC interval at " + ", ".join(bad))
    return Evidence(combine(checks), predicted=pred, measured=meas, regime=reg,
                    notes="; ".join(notes + [cont_note]) if notes else
                    f"chain inside every MC interval ({len(cases)} cases, familywise 95%); " + cont_note)


def kramers_case(case: Case, D: float) -> float:
    return kramers_time(np.array(case.H_a), np.array(case.H_b), case.dV, D).value


def laplace_c1(V, a: float, b: float, h: float = 1e-2) -> float:
    """First-order Kramers correction [derived here]: exact/Kramers = 1 + c1·D + O(D^2) in 1-D,
    from the Laplace expansions of the integral of e^{-V/D} at the minimum a and of e^{V/D} at
    the barrier b: c(U at its minimum) = 5U3^2/(24U2^3) - U4/(8U2^2) (Uk the k-th derivative),
    c1 = c(V at a) + c(-V at b). Quartic: c1 = 0.75 + 0.75 = 1.5."""
    def c(f, x):
        y = [float(f(np.array([x + k * h]))[0]) for k in (-2, -1, 0, 1, 2)]
        u2 = (y[1] - 2 * y[2] + y[3]) / h ** 2
        u3 = (y[4] - 2 * y[3] + 2 * y[1] - y[0]) / (2 * h ** 3)
        u4 = (y[4] - 4 * y[3] + 6 * y[2] - 4 * y[1] + y[0]) / h ** 4
        return 5 * u3 ** 2 / (24 * u2 ** 3) - u4 / (8 * u2 ** 2)
    return float(c(V, a) + c(lambda x: -V(x), b))


ASYMPTOTIC_FACTOR = 2.0  # |exact/Kramers - 1| <= 2|c1|D: the first-order term with O(D^2) room


@claim(
    id="escape.kramers_asymptotic",
    paper=PAPER,
    statement="Eyring–Kramers is accurate to its asymptotic error O(D/ΔV) where ΔV/D ≥ 5; the "
              "finite-step correction k₀[1 + (η/4)(Tr H_a − Tr H_b − 2|λ_b|)] moves the "
              "continuous time towards the exact discrete chain where η·h_a < 0.3.",
    predicted="Kramers time (2π/|λ_b|)√(|det H_b|/det H_a)e^{ΔV/D}; corrected steps k_η",
    measured="exact SDE mean exit time (mfpt_1d quadrature; double_well_2d separates to 1-D) and "
             "the exact Markov chain mean steps",
    tolerance="|exact/Kramers − 1| ≤ 2|c₁|D (c₁ the first-order Laplace correction, derived "
              "here; quartic c₁ = 1.5); |k_η − chain| < |k₀ − chain|",
    tolerance_reason="Eyring–Kramers is the leading term of an expansion 1 + c₁D + O(D²); twice "
                     "the first-order term leaves room for the O(D²) remainder at ΔV/D ≥ 5",
    tags=("synthetic",),
)
def kramers_asymptotic(ctx) -> Evidence:
    ratios = (5, 10) if ctx.quick else (5, 7.5, 10, 15, 20)
    pred, meas, reg, checks, notes = {}, {}, {}, [], []
    for case in (QUARTIC, DW2D):
        V, _ = potential_1d(case)
        c1 = laplace_c1(V, case.x0[0], 0.0)
        pred[f"{case.name}/c1"] = c1
        for r in ratios:
            D = case.dV / r
            ex = mfpt_1d(V, case.x0[0], case.M, D)
            k = kramers_case(case, D)
            key = f"{case.name}/dV_over_D={r}"
            pred[f"{key}/kramers"] = k
            pred[f"{key}/kramers_first_order"] = k * (1 + c1 * D)
            meas[f"{key}/exact"] = value(ex.mean, ex.mean - ex.err, ex.mean + ex.err)
            meas[f"{key}/exact_over_kramers"] = ex.mean / k
            bound = ASYMPTOTIC_FACTOR * abs(c1) * D
            reg[key] = {"dV_over_D": r, "bound": bound}
            ok = abs(ex.mean / k - 1) <= bound
            checks.append("holds" if ok else "fails")
            if not ok:
                notes.append(f"{key}: exact/Kramers = {ex.mean / k:.4f} beyond 1 ± {bound:.3f}")
    etas = {QUARTIC: (0.02, 0.05, 0.1, 0.25, 0.5), DW2D: (0.005, 0.0125, 0.025, 0.05, 0.075)}
    D_of = {QUARTIC: 0.25 / 5, DW2D: 1 / 5}  # double_well_2d(x) = 4·quartic + 1: η/4, 4D ≡ quartic
    flips = []
    for case in (QUARTIC, DW2D):
        D = D_of[case]
        # quick: double_well_2d's chain is the quartic's (rescaled), so only the quartic runs
        todo = etas[case] if not ctx.quick else ((0.02, 0.1, 0.5) if case is QUARTIC else ())
        for eta in todo:
            chain, _ = chain_escape(case, eta, D)
            k0 = continuous_steps(case, eta, D)
            fs = finite_step_correction(k0, eta, np.array(case.H_a), np.array(case.H_b))
            key = f"{case.name}/eta={eta}"
            pred[f"{key}/continuous_steps"], pred[f"{key}/corrected_steps"] = k0, fs.value
            meas[f"{key}/chain_steps"] = value(chain.mean, chain.mean - chain.err, chain.mean + chain.err)
            meas[f"{key}/chain_over_continuous"] = chain.mean / k0
            meas[f"{key}/chain_over_corrected"] = chain.mean / fs.value
            reg[key] = {"dV_over_D": 5.0, "eta_lambda_max": eta * case.h_a, "valid": fs.regime["valid"]}
            better = abs(fs.value - chain.mean) < abs(k0 - chain.mean)
            flipped = 2 * k0 - fs.value  # the same correction with the opposite sign
            pred[f"{key}/corrected_sign_flipped"] = flipped
            meas[f"{key}/chain_over_sign_flipped"] = chain.mean / flipped
            if fs.regime["valid"]:
                flips.append(chain.mean / flipped)
            if fs.regime["valid"]:
                checks.append("holds" if better else "fails")
                if not better:
                    notes.append(f"{key}: correction does not improve ({chain.mean:.1f} vs k0 "
                                 f"{k0:.1f}, k_η {fs.value:.1f})")
            else:
                meas[f"{key}/correction_improves(outside_validity)"] = str(better)
    extra = (f"η·h_a < 0.3: with the sign of the η/4 term flipped, chain/corrected spans "
             f"[{min(flips):.4f}, {max(flips):.4f}] (THEORY.md §2's [derived] sign looks wrong)")
    return Evidence(combine(checks), predicted=pred, measured=meas, regime=reg,
                    notes="; ".join(notes + [extra]) if notes else
                    "Kramers within 2|c₁|D everywhere; correction improves every case with "
                    "η·h_a < 0.3; " + extra)
