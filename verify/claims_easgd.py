"""Claims of elastic averaging (Zhang, Choromanska, LeCun, 'Deep learning with elastic averaging
SGD', NeurIPS 2015, arXiv 1412.6651; docs/theory.md §6): the round-robin stability region,
ADMM's instability where EASGD is stable, the stationary variance of the center variable,
exploration (τ, ρ) on multi-minima landscapes, EAMSGD against EASGD and DOWNPOUR at
τ ∈ {1, 4, 16, 64}, and DOWNPOUR's instability at large τ.

Maps come from analysis.stability (sympy Jacobians of the update equations); runs from
dynamics.simulate on the registered methods; intervals and verdicts from analysis.stats
(docs/theory.md §9). Every claim declares negative controls (docs/theory.md §10); the elastic
force's sign is flipped through `flipped_elastic`, which builds the sabotaged step from the
registered method's own step. Figures draw from `Evidence.data` only.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import dynamics
import landscapes
from analysis import linear as lin
from analysis import stability as st
from analysis import stats
from dynamics.simulate import simulate

from . import sabotage
from .claims import Evidence, claim, combine, value

SIZES = {
    "quick": {"rr_grid": 301, "rr_sims": 8, "admm_grid": 50, "admm_ps": (8,), "var_R": 4000,
              "var_rhos": (0.25, 1.0, 2.5), "explore_R": 32, "explore_steps": 512,
              "explore_alpha_scales": (1 / 9,), "base_R": 32, "base_steps": 512,
              "downpour_R": 32, "downpour_steps": 512},
    "full": {"rr_grid": 301, "rr_sims": 40, "admm_grid": 100, "admm_ps": (8, 3), "var_R": 20000,
             "var_rhos": (0.1, 0.25, 0.5, 1.0, 1.5, 2.5), "explore_R": 256, "explore_steps": 4096,
             "explore_alpha_scales": (1 / 3, 1 / 9), "base_R": 256, "base_steps": 4096,
             "downpour_R": 256, "downpour_steps": 4096},
}


def _size(ctx) -> dict:
    return SIZES["quick" if ctx.quick else "full"]


def _quad_oracle(h=1.0, noise="none", sigma=1.0):
    return landscapes.oracle(landscapes.get("quadratic", H=[[float(h)]]), noise=noise, sigma=sigma)


def flipped_elastic(name: str, **hp) -> dynamics.Method:
    """Method `name` ('easgd', 'easgd_async', 'eamsgd', 'easgd_rr'; hp with an explicit `alpha`)
    with the elastic force's sign flipped (a repulsive coupling): every update of these methods
    is affine in α, so step_flipped = 2·step(α = 0) − step(α), field by field, both steps from
    the same state, time and noise (a negative control, never a real method)."""
    if "alpha" not in hp:
        raise ValueError("flipped_elastic: give alpha explicitly")
    real = dynamics.make(name, None, **hp)
    free = dynamics.make(name, None, **{**hp, "alpha": 0.0})

    def step(s, oracle, t, rng):
        a, b = real.step(s, oracle, t, rng), free.step(s, oracle, t, rng)
        return type(a)(*[2 * v0 - v for v, v0 in zip(a, b)])
    return real._replace(step=step, name=real.name + "+flipped-elastic")


def _share(x) -> str:
    return f"{100 * float(x):.3g}%"


# ============================================================================ 1. stability region
SIM_MARGIN = 0.05   # simulated points keep |radius − 1| ≥ this (growth/decay visible in ≤ 370 cycles)
REGION_PS = (1, 2, 3, 5, 8)
FIG_PS = (1, 2, 8)
REGION_PERTURB = 1.05   # control: the closed form's α boundary scaled by this


def simulate_rr_divergence(p, a, alpha, seed, growth=1e8, threshold=1e6, flipped=False):
    """Round-robin EASGD (h = 1, η = a) from a random start for N cycles, radius^N = growth^{±1}:
    returns (radius, diverged flag of dynamics.simulate, max |x| at the end / at the start).
    `flipped`: the elastic force's sign flipped (negative control)."""
    r = float(st.easgd_rr_radius(p, a, alpha))
    cycles = math.ceil(math.log(growth) / abs(math.log(r)))
    x0 = torch.randn(p, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    hp = dict(lr=float(a), alpha=float(alpha), K=p)
    m = flipped_elastic("easgd_rr", **hp) if flipped else dynamics.make("easgd_rr", None, **hp)
    res = simulate(m, _quad_oracle(), x0, cycles * p, record_every=cycles * p, recorders=[],
                   divergence=threshold)
    ratio = float(np.abs(res.x).max() / x0.abs().max())
    return r, bool(res.diverged[0]) or not math.isfinite(ratio), ratio


def _bits(mask) -> list[str]:
    """A boolean grid (rows = α, columns = ηh, as analysis.stability.default_grid) as strings of
    '0'/'1' (compact JSON)."""
    return ["".join("1" if v else "0" for v in row) for row in np.asarray(mask)]


@claim("easgd.rr_stability_region")
def rr_stability_region(ctx) -> Evidence:
    S = _size(ctx)
    factor = REGION_PERTURB if ctx.sabotaged("perturbed_region") else 1.0
    flipped = ctx.sabotaged("flipped_elastic")
    A, AL = st.default_grid(S["rr_grid"])
    inside = st.easgd_rr_region_closed_form(A, AL / factor)
    pred, meas, rep, checks = {}, {}, {}, []
    radii = {}
    r1 = st.easgd_rr_radius(1, A, AL)
    mismatch = int(np.sum(inside != (r1 < 1 - 1e-12)))
    pred["p1_mismatched_cells"], meas["p1_mismatched_cells"] = 0, mismatch
    checks.append("holds" if mismatch == 0 else "fails")
    for k, p in enumerate(REGION_PS):
        radii[p] = r1 if p == 1 else st.easgd_rr_radius(p, A, AL)
        r = radii[p][inside]
        norms = max(float(st.largest_singular_value(st._easgd_rr_worker_fn(p, i)(A[inside], AL[inside])).max())
                    for i in range(p))
        meas[f"p{p}_max_radius_inside"] = float(r.max())
        meas[f"p{p}_max_worker_2norm_inside"] = norms
        pred[f"p{p}_max_radius_inside"] = "< 1"
        checks.append("holds" if r.max() < 1 and norms <= 1 + 1e-12 else "fails")
        if p >= 2:
            rep[f"p{p}_share_stable_outside"] = float(np.mean(radii[p][~inside] < 1 - 1e-12))
        ctx.progress(0.1 * (k + 1), f"grid p={p}")
    # simulated divergence vs radius
    rng = np.random.default_rng(ctx.seed)
    n_pts = S["rr_sims"]
    agree, tried, sims = 0, 0, []
    while tried < n_pts:
        p = int(rng.choice([2, 3, 8]))
        a, al = float(rng.uniform(0.02, 3.0)), float(rng.uniform(0.02, 1.5))
        if abs(float(st.easgd_rr_radius(p, a, al)) - 1) < SIM_MARGIN:
            continue
        r, div, ratio = simulate_rr_divergence(p, a, al, seed=ctx.seed * 1000 + tried, flipped=flipped)
        ok = div == (r > 1) and (div or ratio < 1e-4)
        agree += ok
        tried += 1
        sims.append({"p": p, "a": a, "alpha": al, "radius": r, "diverged": div, "agrees": bool(ok)})
        ctx.progress(0.5 + 0.5 * tried / n_pts, "simulations")
    meas["simulations_agreeing"] = agree
    pred["simulations_agreeing"] = n_pts
    checks.append("holds" if agree == n_pts else "fails")
    verdict = combine(checks)
    shares = {p: rep[f"p{p}_share_stable_outside"] for p in REGION_PS if p >= 2}
    necessary = [p for p, s in shares.items() if s == 0]
    finding = (f"the stated region {'matches' if mismatch == 0 else f'misses {mismatch} cells of'} the "
               f"p = 1 stability region; inside it the largest cycle radius over p ∈ {list(REGION_PS)} is "
               f"{max(meas[f'p{p}_max_radius_inside'] for p in REGION_PS):.4f}; {agree}/{n_pts} "
               "simulations diverge exactly when the radius exceeds 1")
    notes = ("Stable cells outside the stated region: "
             + ", ".join(f"p={p} {_share(s)}" for p, s in shares.items())
             + (f"; the region is also necessary on this grid for p ∈ {necessary}" if necessary else "")
             + (f"; for p ∈ {[p for p in shares if p not in necessary]} it is sufficient only"
                if len(necessary) < len(shares) else "")
             + f". Simulations disagreeing with the radius: {n_pts - agree}.")
    step = max(1, S["rr_grid"] // 100)
    sub = (slice(None, None, step), slice(None, None, step))
    ab = np.linspace(0, 2, 201)
    data = {"a": A[sub][0, :], "alpha": AL[sub][:, 0],
            "stable": {str(p): _bits(radii[p][sub] < 1 - 1e-12) for p in FIG_PS},
            "inside": _bits(inside[sub]),
            "share_stable_outside": {str(p): shares.get(p, 0.0) for p in FIG_PS},
            "boundary": {"a": ab, "alpha": (4 - 2 * ab) / (4 - ab) * factor},
            "admm_point": {"a": ADMM_ETA, "alpha": ADMM_ETA * ADMM_RHO},
            "simulations": sims}
    return Evidence(verdict, predicted=pred, measured=meas, reported=rep, notes=notes,
                    headline=["p1_mismatched_cells", "simulations_agreeing"], finding=finding, data=data,
                    regime={"grid": f"{S['rr_grid']}² cell centres, ηh<3, α<1.5", "sim_margin": SIM_MARGIN,
                            "sim_points": n_pts})


# ============================================================================ 2. ADMM vs EASGD
ADMM_ETA, ADMM_RHO, ADMM_X0 = 0.001, 2.5, 1000.0
ADMM_RATE_TOL = 0.1
ADMM_GROWTH_PERTURB = 2.0   # control: the predicted growth rate doubled


def admm_vs_easgd_runs(p, steps, every, flipped=False):
    """'admm_rr' and 'easgd_rr' (h = 1, η = 0.001, ρ = 2.5) from x = x̃ = 1000 (λ = 0): times and
    ‖state‖₂ (ADMM: (x, λ, x̃); EASGD: (x, x̃)) recorded every `every` steps, and the diverged
    flag. `flipped`: EASGD with the elastic force's sign flipped (negative control)."""
    o = _quad_oracle()
    x0 = torch.full((p, 1), ADMM_X0, dtype=torch.float64)
    out = {}
    for name, fields in (("admm_rr", ("x", "lam", "center")), ("easgd_rr", ("x", "center"))):
        if name == "admm_rr":
            m = dynamics.make(name, None, lr=ADMM_ETA, rho=ADMM_RHO, K=p)
        elif flipped:
            m = flipped_elastic(name, lr=ADMM_ETA, alpha=ADMM_ETA * ADMM_RHO, K=p)
        else:
            m = dynamics.make(name, None, lr=ADMM_ETA, alpha=ADMM_ETA * ADMM_RHO, K=p)
        rec = {"norm": lambda s, m_, o_, t, f=fields: torch.sqrt(
            sum(getattr(s, k).flatten(1).square().sum(1) for k in f))}
        res = simulate(m, o, x0, steps, record_every=every, recorders=rec, divergence=1e3 * ADMM_X0)
        out[name] = (res.times, res.records["norm"][:, 0], bool(res.diverged[0]))
    return out


@claim("easgd.admm_unstable")
def admm_unstable(ctx) -> Evidence:
    S = _size(ctx)
    flipped = ctx.sabotaged("flipped_elastic")
    n = S["admm_grid"]
    etas, rhos = st.admm_grid_axes(n, n)
    pred, meas, rep, checks = {}, {}, {}, []
    grids = {}
    for p in (3, 8):
        R = st.admm_radius_grid(p, etas, rhos)
        grids[str(p)] = np.round(R, 7)
        rep[f"p{p}_unstable_share_grid"] = float(np.mean(R > 1 + 1e-12))
        rep[f"p{p}_max_radius_grid"] = float(R.max())
    rep["p2_admm_radius_at_point"] = float(st.spectral_radius(st.admm_rr_cycle_numeric(2, ADMM_ETA, ADMM_RHO)))
    for p in (3, 8):
        ra = float(st.spectral_radius(st.admm_rr_cycle_numeric(p, ADMM_ETA, ADMM_RHO)))
        re = float(st.easgd_rr_radius(p, ADMM_ETA, ADMM_ETA * ADMM_RHO))
        meas[f"p{p}_admm_radius_at_point"], meas[f"p{p}_easgd_radius_at_point"] = ra, re
        pred[f"p{p}_admm_radius_at_point"], pred[f"p{p}_easgd_radius_at_point"] = "> 1", "< 1"
        checks.append("holds" if ra > 1 > re else "fails")
    ctx.progress(0.2, "grids")
    traj = {}
    for p in S["admm_ps"]:
        cycles = 4000 if p == 8 else 12000  # fewer cycles leave the stable modes biasing the fit
        runs = admm_vs_easgd_runs(p, cycles * p, every=100 * p, flipped=flipped)
        t, nrm, div = runs["admm_rr"]
        half = len(t) // 2
        rate = float(np.polyfit(t[half:] / p, np.log(nrm[half:]), 1)[0])
        lr_pred = math.log(meas[f"p{p}_admm_radius_at_point"])
        if ctx.sabotaged("perturbed_growth"):
            lr_pred = sabotage.perturbed(lr_pred, ADMM_GROWTH_PERTURB)
        pred[f"p{p}_admm_growth_per_cycle"] = lr_pred
        meas[f"p{p}_admm_growth_per_cycle"] = rate
        rep[f"p{p}_admm_final_over_initial_norm"] = float(nrm[-1] / nrm[0])
        rep[f"p{p}_admm_cycles_more_to_1e6"] = math.log(1e3 * ADMM_X0 / nrm[-1]) / rate if rate > 0 else math.inf
        te, ne, dive = runs["easgd_rr"]
        e_final = float(ne[-1] / ne[0]) if math.isfinite(ne[-1]) else math.inf
        e_max = float(np.max(ne) / ne[0]) if np.all(np.isfinite(ne)) else math.inf
        meas[f"p{p}_easgd_max_over_initial_norm"] = e_max
        pred[f"p{p}_easgd_max_over_initial_norm"] = "≤ 1"
        rep[f"p{p}_easgd_final_over_initial_norm"] = e_final
        rep[f"p{p}_cycles"] = cycles
        grows = nrm[-1] > nrm[0] and abs(rate - lr_pred) <= ADMM_RATE_TOL * abs(lr_pred)
        e_ok = not dive and e_final < 1 and e_max <= 1 + 1e-12
        checks.append("holds" if grows and e_ok else "fails")
        keep = slice(None, None, max(1, len(t) // 200))
        traj[str(p)] = {"cycles": t[keep] / p, "admm_norm": nrm[keep],
                        "easgd_norm": np.where(np.isfinite(ne[keep]), ne[keep], None),
                        "easgd_cycles": te[keep] / p}
        ctx.progress(0.2 + 0.8 * (S["admm_ps"].index(p) + 1) / len(S["admm_ps"]), f"runs p={p}")
    p0 = S["admm_ps"][0]
    finding = (f"at η = {ADMM_ETA}, ρ = {ADMM_RHO} the ADMM cycle radius is "
               f"{meas['p3_admm_radius_at_point']:.5f} (p = 3) and {meas['p8_admm_radius_at_point']:.5f} "
               f"(p = 8) against EASGD's {meas['p8_easgd_radius_at_point']:.5f} (p = 8); simulated p = {p0} "
               f"ADMM grows at {meas[f'p{p0}_admm_growth_per_cycle']:.2e} per cycle (predicted "
               f"{pred[f'p{p0}_admm_growth_per_cycle']:.2e}) while EASGD's norm peaks at "
               f"{meas[f'p{p0}_easgd_max_over_initial_norm']:.3g}× its start")
    notes = ("ADMM equations are a reconstruction (the paper shows them as images; docs/theory.md §6): "
             "λ^i ← λ^i − (x^i − x̃); x^i ← (x^i − η∇F + ηρ(λ^i + x̃))/(1 + ηρ); x̃ ← mean(x − λ). "
             f"Unstable (radius > 1) share of the (η, ρ) grid: p=3 {_share(rep['p3_unstable_share_grid'])}, "
             f"p=8 {_share(rep['p8_unstable_share_grid'])}. "
             + "; ".join(f"p={p}: ADMM norm ×{rep[f'p{p}_admm_final_over_initial_norm']:.3g} after "
                         f"{rep[f'p{p}_cycles']} cycles, {rep[f'p{p}_admm_cycles_more_to_1e6']:.0f} more "
                         "cycles to reach 1e6 at the fitted rate" for p in S["admm_ps"]) + ".")
    data = {"etas": etas, "rhos": rhos, "radius": grids, "point": {"eta": ADMM_ETA, "rho": ADMM_RHO},
            "trajectories": traj}
    return Evidence(combine(checks), predicted=pred, measured=meas, reported=rep, notes=notes,
                    headline=[f"p{p0}_admm_growth_per_cycle", f"p{p0}_easgd_max_over_initial_norm"],
                    finding=finding, data=data,
                    regime={"eta": ADMM_ETA, "rho": ADMM_RHO, "h": 1.0, "x0": ADMM_X0, "grid": n,
                            "simulated_p": list(S["admm_ps"])})


# ============================================================================ 3. center variance
VAR_P, VAR_ETA, VAR_H, VAR_SIGMA = 4, 0.1, 1.0, 1.0
VAR_LEVEL = 0.99
VAR_PERTURB = 1.15   # control: every closed-form variance scaled by this


def _sync_radius(eta, h, alpha, beta, p):
    """Spectral radius of synchronous EASGD's linear map: (mean, center) block and, for p ≥ 2,
    the worker-deviation eigenvalue 1 − a − α (docs/theory.md §6)."""
    M = np.array([[1 - eta * h - alpha, alpha], [beta, 1 - beta]])
    r = float(np.abs(np.linalg.eigvals(M)).max())
    return max(r, abs(1 - eta * h - alpha)) if p > 1 else r


def _var_ci(samples, level=VAR_LEVEL):
    """Stationary variance of a zero-mean quantity (started at the minimum of a linear recursion
    with zero-mean noise, its mean is exactly 0): the mean of x² with a t-interval."""
    v = stats.mean_ci(np.square(np.asarray(samples, float)), level)
    return v["value"], v["ci_low"], v["ci_high"]


def easgd_variance_mc(rho=None, p=VAR_P, eta=VAR_ETA, h=VAR_H, sigma=VAR_SIGMA, R=4000, seed=0,
                      method="easgd", level=VAR_LEVEL, alpha=None, beta=None):
    """Stationary variances by Monte Carlo over R replicas started at the minimum; burn-in until
    the variance transient is below 1e-4 of its value. 'easgd': α = ηρ (or `alpha`), β = pα
    unless given (α = 0 is moving-average SGD); 'csgd': minibatch-p SGD. Returns a dict:
    'center' (EASGD x̃ / csgd w) and 'worker' (x¹, EASGD only) as (estimate, ci_low, ci_high)
    (mean of x² with a t-interval, `_var_ci`; one value per replica); 'worker_pooled' = mean
    over all p workers of x² (no interval: workers of one replica are correlated through x̃)."""
    if method == "easgd":
        if (rho is None) == (alpha is None):
            raise ValueError("give exactly one of rho or alpha for method 'easgd'")
        alpha = eta * rho if alpha is None else alpha
        beta = p * alpha if beta is None else beta
        m = dynamics.make("easgd", None, lr=eta, alpha=alpha, beta=beta, K=p)
        r = _sync_radius(eta, h, alpha, beta, p)
    elif method == "csgd":
        m = dynamics.make("csgd", None, lr=eta)
        r = abs(1 - eta * h)
    else:
        raise ValueError(f"method must be 'easgd' or 'csgd', got {method!r}")
    if not r < 1:
        raise ValueError(f"rho = {rho}, alpha = {alpha}, beta = {beta} give an unstable map (radius {r:.4g})")
    steps = math.ceil(math.log(1e-4) / (2 * math.log(r)))
    rec = {"c": lambda s, m_, o, t: m_.model(s)[..., 0]}
    if method == "easgd":
        rec["x"] = lambda s, m_, o, t: s.x[..., 0]
    res = simulate(m, _quad_oracle(h, "isotropic", sigma), torch.zeros(p, 1), steps, replicas=R,
                   seed=seed, record_every=steps, recorders=rec, divergence=None)
    out = {"center": _var_ci(res.records["c"][-1], level)}
    if method == "easgd":
        x = np.asarray(res.records["x"][-1]).reshape(R, p)
        out["worker"] = _var_ci(x[:, 0], level)
        out["worker_pooled"] = float(np.mean(np.square(x)))
    return out


def center_variance_mc(rho, p=VAR_P, eta=VAR_ETA, h=VAR_H, sigma=VAR_SIGMA, R=4000, seed=0,
                       method="easgd", level=VAR_LEVEL):
    """Stationary Var of the model (EASGD: center x̃; 'csgd': w): ``easgd_variance_mc``'s
    'center' entry, (estimate, ci_low, ci_high)."""
    return easgd_variance_mc(rho, p, eta, h, sigma, R, seed, method, level)["center"]


def center_variance_linear(rho, p=VAR_P, eta=VAR_ETA, h=VAR_H, sigma=VAR_SIGMA):
    """Stationary Var(x̃) and Var(x¹) from analysis.linear (Lyapunov on the jacrev of 'easgd''s
    own step): returns (center, worker)."""
    m = dynamics.make("easgd", None, lr=eta, rho=rho, K=p)
    A, b = np.array([[h]]), np.zeros(1)
    s0 = lin.init_state(m, A, b, torch.zeros(p, 1))
    aff = lin.period_map(m, A, b, s0, 0, 1)
    _, P = lin.stationary(aff, lin.noise_blocks(sigma ** 2, p, 1), np.zeros(p + 1))
    c, x = aff.slice("center"), aff.slice("x")
    return float(P[c, c][0, 0]), float(P[x, x][0, 0])


RHOS_QUICK, RHOS_FULL = SIZES["quick"]["var_rhos"], SIZES["full"]["var_rhos"]


@claim("easgd.center_variance")
def center_variance(ctx) -> Evidence:
    S = _size(ctx)
    R, rhos = S["var_R"], S["var_rhos"]
    s2 = VAR_SIGMA ** 2
    fac = VAR_PERTURB if ctx.sabotaged("perturbed_variance") else 1.0
    pred, meas, rep, checks, failed = {}, {}, {}, [], []
    sgd_th = fac * st.sgd_minibatch_variance(VAR_ETA, VAR_H, s2, VAR_P)
    points = []
    for k, rho in enumerate(rhos):
        alpha = VAR_ETA * rho
        beta = VAR_P * alpha
        th = fac * st.easgd_sync_center_variance(VAR_ETA, VAR_H, alpha, beta, s2, VAR_P)
        thw = fac * st.easgd_sync_worker_variance(VAR_ETA, VAR_H, alpha, beta, s2, VAR_P)
        thm = fac * st.moving_average_sgd_variance(VAR_ETA, VAR_H, beta, s2, VAR_P)
        ex, exw = center_variance_linear(rho)
        mc = easgd_variance_mc(rho, R=R, seed=ctx.seed + k)
        mv = easgd_variance_mc(alpha=0.0, beta=beta, R=R, seed=ctx.seed + 50 + k)["center"]
        (v, lo, hi), (vw, low, hiw) = mc["center"], mc["worker"]
        pred[f"rho={rho}"], meas[f"rho={rho}"] = th, value(v, lo, hi)
        pred[f"rho={rho}/worker"], meas[f"rho={rho}/worker"] = thw, value(vw, low, hiw)
        pred[f"rho={rho}/mvasgd_same_beta"], meas[f"rho={rho}/mvasgd_same_beta"] = thm, value(*mv)
        rep[f"rho={rho}/linear_exact"], rep[f"rho={rho}/worker_linear_exact"] = ex, exw
        rep[f"rho={rho}/worker_pooled_all_p"] = mc["worker_pooled"]
        rep[f"rho={rho}/ratio_to_sgd"] = th / sgd_th
        rep[f"rho={rho}/ratio_to_mvasgd"] = th / thm
        for name, ok in ((f"center ρ={rho}", lo <= th <= hi and abs(ex - th) <= 1e-9 * th),
                         (f"worker ρ={rho}", low <= thw <= hiw and abs(exw - thw) <= 1e-9 * thw),
                         (f"MVASGD ρ={rho}", mv[1] <= thm <= mv[2])):
            checks.append("holds" if ok else "fails")
            if not ok:
                failed.append(name)
        points.append({"rho": rho, "center": [v, lo, hi], "worker": [vw, low, hiw], "mvasgd": list(mv)})
        ctx.progress((k + 1) / (len(rhos) + 1), f"rho={rho}")
    v, lo, hi = center_variance_mc(None, R=R, seed=ctx.seed + 99, method="csgd")
    pred["sgd_minibatch_p"], meas["sgd_minibatch_p"] = sgd_th, value(v, lo, hi)
    checks.append("holds" if lo <= sgd_th <= hi else "fails")
    if not lo <= sgd_th <= hi:
        failed.append("minibatch SGD")
    lim = st.easgd_sync_center_variance_limit(VAR_ETA, VAR_H, 0.9, s2)
    rep["p_to_inf_limit_pVar/(p*Var_sgd), beta=0.9"] = lim / (sgd_th * VAR_P)
    ratios = [rep[f"rho={r}/ratio_to_sgd"] for r in rhos]
    mratios = [rep[f"rho={r}/ratio_to_mvasgd"] for r in rhos]
    inside = [len(rhos) * 3 + 1 - len(failed), len(rhos) * 3 + 1]
    finding = (f"{inside[0]} of {inside[1]} closed-form variances lie inside the 99% Monte Carlo "
               f"intervals (R = {R})" + (f"; outside: {', '.join(failed)}" if failed else ""))
    cv = [pred[f"rho={r}"] for r in rhos]
    notes = (f"Equal total work ({VAR_P} gradients per step). Predicted EASGD center / minibatch-{VAR_P} "
             "SGD: " + ", ".join(f"ρ={r}: {q:.3f}" for r, q in zip(rhos, ratios))
             + f" ({'below 1 for every ρ tested' if max(ratios) < 1 else 'not below 1 for every ρ'}); "
             "/ moving-average SGD with the same β: " + ", ".join(f"ρ={r}: {q:.3f}" for r, q in zip(rhos, mratios))
             + f" ({'below 1 for every ρ tested' if max(mratios) < 1 else 'not below 1 for every ρ'}). "
             "Predicted center variance "
             + ("increases" if all(np.diff(cv) > 0) else "decreases" if all(np.diff(cv) < 0) else "is not monotone")
             + " in ρ over the tested values. Worker check: interval on worker 1 only (workers of a "
             "replica are correlated through x̃); the pooled all-worker estimate is reported.")
    line = np.linspace(0.02, 3.8, 200)
    line = line[st.easgd_sync_stable(VAR_ETA * VAR_H, VAR_ETA * line, VAR_P * VAR_ETA * line)]
    data = {"theory": {"rho": line,
                       "center": [fac * st.easgd_sync_center_variance(VAR_ETA, VAR_H, VAR_ETA * r, VAR_P * VAR_ETA * r, s2, VAR_P) for r in line],
                       "worker": [fac * st.easgd_sync_worker_variance(VAR_ETA, VAR_H, VAR_ETA * r, VAR_P * VAR_ETA * r, s2, VAR_P) for r in line],
                       "mvasgd": [fac * st.moving_average_sgd_variance(VAR_ETA, VAR_H, VAR_P * VAR_ETA * r, s2, VAR_P) for r in line],
                       "sgd": sgd_th},
            "mc": points, "sgd_mc": [v, lo, hi], "R": R, "level": VAR_LEVEL,
            "p": VAR_P, "eta": VAR_ETA, "h": VAR_H, "sigma": VAR_SIGMA}
    return Evidence(combine(checks), predicted=pred, measured=meas, reported=rep, notes=notes,
                    headline=[f"rho={rhos[-1]}", f"rho={rhos[-1]}/worker"], finding=finding, data=data,
                    regime={"p": VAR_P, "eta": VAR_ETA, "h": VAR_H, "sigma": VAR_SIGMA, "R": R,
                            "rhos": list(rhos), "mvasgd_beta": "p·η·ρ (same as EASGD)", "level": VAR_LEVEL})


# ============================================================================ 4–6. exploration runs
EXPLORE_K = 4
# landscape -> (build kwargs, lr, sigma): lr·max curvature in the box ≤ 0.9 (heavy ball δ = 0.99
# needs ηh < 2(1 + δ)).
EXPLORE_SETUPS = {
    "rastrigin": ({"d": 2}, 0.002, 60.0),   # ησ²/2 = 3.6 vs barriers ~20: rare escapes
    "styblinski_tang": ({"d": 2}, 0.005, 5.0),
    "symmetric": ({"d": 1}, 0.02, 1.0),
}
MULTIMODAL = ("rastrigin", "styblinski_tang")
EXPLORE_METHODS = ("easgd_async", "eamsgd", "downpour", "local_sgd")
METHOD_LABEL = {"easgd_async": "EASGD", "eamsgd": "EAMSGD", "downpour": "DOWNPOUR",
                "local_sgd": "periodic averaging (local SGD)"}
TAUS = (1, 4, 16, 64)
ALPHA_SCALES = (1.0, 1 / 3, 1 / 9)
LR_SCALES = (1.0, 1 / 4, 1 / 16, 1 / 64)   # step-size grid of easgd.eamsgd_vs_baselines (× the setup's η)   # α = 0.9 s / K (smaller s = smaller ρ = more exploration)


def _explore_method(name, lr, tau, alpha_scale=1.0, flipped=False):
    alpha = 0.9 * alpha_scale / EXPLORE_K
    if name in ("easgd_async", "eamsgd"):
        hp = dict(lr=lr, alpha=alpha, tau=tau, K=EXPLORE_K, **({"delta": 0.99} if name == "eamsgd" else {}))
        return flipped_elastic(name, **hp) if flipped else dynamics.make(name, None, **hp)
    if name == "downpour":
        return dynamics.make(name, None, lr=lr, tau=tau, K=EXPLORE_K)
    if name == "local_sgd":
        return dynamics.make(name, None, lr=lr, period=tau)
    raise ValueError(f"method must be one of {EXPLORE_METHODS}, got {name!r}")


def exploration_run(land_name, method, tau, alpha_scale=1.0, R=64, steps=1024, seed=0, lr=None,
                    flipped=False, method_obj=None):
    """Final loss of the model (center; local SGD: average) minus the global minimum value, per
    replica (inf where the replica diverged), the time-averaged worker spread Tr Ξ over the second
    half, per replica, and the diverged flags. Each replica starts all workers at one uniform
    point of the landscape's box; the same seed gives every method the same starts and the same
    noise streams (paired replicas). `lr` overrides the setup's step; `method_obj` replaces the
    method built from (method, lr, tau, alpha_scale)."""
    kw, lr0, sigma = EXPLORE_SETUPS[land_name]
    lr = lr0 if lr is None else lr
    L = landscapes.get(land_name, **kw)
    fmin = min(c.value for c in L.minima())
    lo, hi = L.bounds[..., 0], L.bounds[..., 1]
    g = torch.Generator().manual_seed(10_000 + seed)
    start = lo + (hi - lo) * torch.rand(R, 1, L.dim, generator=g, dtype=torch.float64)
    x0 = start.expand(R, EXPLORE_K, L.dim).clone()
    m = method_obj if method_obj is not None else _explore_method(method, lr, tau, alpha_scale, flipped)
    res = simulate(m, landscapes.oracle(L, noise="isotropic", sigma=sigma), x0, steps, seed=seed,
                   record_every=list(range(steps // 2, steps + 1, max(1, steps // 32))),
                   recorders=("loss_avg", "consensus"), divergence=1e6)
    loss = np.maximum(res.records["loss_avg"][-1] - fmin, 0.0)
    loss = np.where(res.diverged | ~np.isfinite(loss), np.inf, loss)
    return loss, res.records["consensus"].mean(axis=0), res.diverged


def _summary(loss, spread, div) -> dict:
    """JSON-ready summary of one setting: mean loss with a 95% t-interval over the replicas that
    did not diverge, the diverged share, the mean spread, and the per-replica losses (None =
    diverged) for paired comparisons."""
    fin = np.isfinite(loss)
    ci = stats.mean_ci(loss[fin]) if fin.sum() >= 2 else {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    return {"mean": ci["value"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"],
            "diverged_share": float(np.mean(div)),
            "spread": float(np.mean(spread[np.isfinite(spread)])) if np.isfinite(spread).any() else math.nan,
            "loss": [float(v) if math.isfinite(v) else None for v in loss]}


def _key(ln, me, tau, s=1.0):
    return f"{ln}/{me}/tau={tau}" + ("" if s == 1.0 else f"/alpha={0.9 * s / EXPLORE_K:.4f}")


def _losses(d) -> np.ndarray:
    return np.array([math.inf if v is None else v for v in d["loss"]], float)


def _diff(a, b) -> dict:
    """Welch interval for mean(a) − mean(b) of two loss samples (diverged replicas make it
    uninformative: nan, inconclusive)."""
    return stats.diff_ci(a, b)


def paired_wins(a, b) -> dict:
    """Share of paired replicas where loss a < loss b (a diverged replica has loss inf), ties
    (equal losses, e.g. both diverged) left out, with a Wilson 95% interval; n = untied pairs."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    untied = a != b
    n = int(untied.sum())
    if n == 0:
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0}
    out = stats.wilson(int((a[untied] < b[untied]).sum()), n)
    out["n"] = n
    return out


# ---------------------------------------------------------------------------- 4. exploration

@claim("easgd.exploration")
def exploration(ctx) -> Evidence:
    S = _size(ctx)
    R, steps = S["explore_R"], S["explore_steps"]
    same = ctx.sabotaged("exploration_removed")
    runs, jobs = {}, []
    for ln in MULTIMODAL:      # τ = 4 and 16 for every method: claim easgd.eamsgd_vs_baselines
        for me in ("easgd_async", "eamsgd"):
            for tau in (TAUS[0], 4, TAUS[-1]):
                jobs.append((ln, me, tau, 1.0))
            for s in S["explore_alpha_scales"]:
                jobs.append((ln, me, 4, s))
    jobs.append(("symmetric", "easgd_async", 1, 1.0))
    for j, (ln, me, tau, s) in enumerate(jobs):
        rt = 1 if same and tau == TAUS[-1] else tau      # control: the "more" arm = the "less" arm
        rs = 1.0 if same else s
        runs[_key(ln, me, tau, s)] = _summary(*exploration_run(ln, me, rt, rs, R=R, steps=steps, seed=ctx.seed))
        ctx.progress((j + 1) / len(jobs), f"{ln} {me} τ={tau}")
    meas, pred, rep, checks, lines = {}, {}, {}, [], []
    small = min(S["explore_alpha_scales"])
    for ln in MULTIMODAL:
        for me in ("easgd_async", "eamsgd"):
            for arm, (k_more, k_less) in (("tau64-tau1", (_key(ln, me, 64), _key(ln, me, 1))),
                                          ("small-large_alpha", (_key(ln, me, 4, small), _key(ln, me, 4)))):
                d = _diff(_losses(runs[k_more]), _losses(runs[k_less]))
                v = stats.direction(d, "<")
                meas[f"{ln}/{me}/{arm}"] = d
                pred[f"{ln}/{me}/{arm}"] = "< 0"
                checks.append(v)
                lines.append(f"{ln} {METHOD_LABEL[me]} {arm}: {d['value']:+.3g} [{d['ci_low']:+.3g}, {d['ci_high']:+.3g}] {v}")
    for k, d in runs.items():
        rep[k] = value(d["mean"], d["ci_low"], d["ci_high"]) if math.isfinite(d["mean"]) else "diverged"
    verdict = combine(checks)
    n_h, n_f = checks.count("holds"), checks.count("fails")
    finding = (f"more exploration lowered the final loss significantly in {n_h} of {len(checks)} "
               f"comparisons and raised it significantly in {n_f} (the rest overlap 0)")
    notes = "; ".join(lines) + (f"; symmetric landscape EASGD τ=1 center loss "
                                f"{runs[_key('symmetric', 'easgd_async', 1)]['mean']:.3g} "
                                "(1.0 = the center stuck at the maximum between the two minima)")
    data = {"runs": runs, "taus": list(TAUS), "alpha_scales": list(S["explore_alpha_scales"]),
            "K": EXPLORE_K, "R": R, "steps": steps,
            "setups": {k: {"lr": v[1], "sigma": v[2], **v[0]} for k, v in EXPLORE_SETUPS.items()}}
    first = f"{MULTIMODAL[0]}/easgd_async/tau64-tau1"
    return Evidence(verdict, predicted=pred, measured=meas, reported=rep, notes=notes,
                    headline=[first, f"{MULTIMODAL[0]}/eamsgd/tau64-tau1"], finding=finding, data=data,
                    regime={"R": R, "steps": steps, "K": EXPLORE_K, "taus": list(TAUS),
                            "setups": {k: list(map(str, v)) for k, v in EXPLORE_SETUPS.items()}})


def tune_lr_scale(ln, me, R, steps, seed, flipped=False) -> tuple[float, dict]:
    """The step-size scale s ∈ LR_SCALES for method `me` on landscape `ln` with the lowest median
    final loss (diverged = inf) on tuning replicas at τ = 4 (seed `seed`, never the judged
    replicas); ties go to the larger step. Returns (s, {s: median loss})."""
    base = EXPLORE_SETUPS[ln][1]
    med = {}
    for sc in LR_SCALES:
        loss, _, _ = exploration_run(ln, me, 4, R=R, steps=steps, seed=seed, lr=base * sc, flipped=flipped)
        med[sc] = float(np.median(loss))
    best = min(LR_SCALES, key=lambda sc: (med[sc], -sc))
    return best, med


# ---------------------------------------------------------------------------- 5. EAMSGD vs baselines
BASELINE_PAIRS = (("eamsgd", "easgd_async"), ("eamsgd", "downpour"), ("easgd_async", "downpour"))


@claim("easgd.eamsgd_vs_baselines")
def eamsgd_vs_baselines(ctx) -> Evidence:
    S = _size(ctx)
    R, steps = S["base_R"], S["base_steps"]
    runs, scale, tuning = {}, {}, {}
    tune_seed = ctx.seed + 7919            # tuning replicas are independent of the judged ones
    jobs = [(ln, me, tau) for ln in MULTIMODAL for me in EXPLORE_METHODS for tau in TAUS]
    for i, (ln, me) in enumerate((ln, me) for ln in MULTIMODAL for me in EXPLORE_METHODS):
        fl = me == "eamsgd" and ctx.sabotaged("eamsgd_flipped_elastic")
        scale[(ln, me)], tuning[f"{ln}/{me}"] = tune_lr_scale(ln, me, max(R // 2, 16), steps, tune_seed, fl)
        ctx.progress(0.5 * (i + 1) / (len(MULTIMODAL) * len(EXPLORE_METHODS)), f"tuning {ln} {me}")
    for j, (ln, me, tau) in enumerate(jobs):
        fl = me == "eamsgd" and ctx.sabotaged("eamsgd_flipped_elastic")
        lr = EXPLORE_SETUPS[ln][1] * scale[(ln, me)]
        runs[_key(ln, me, tau)] = _summary(*exploration_run(ln, me, tau, R=R, steps=steps, seed=ctx.seed,
                                                            lr=lr, flipped=fl))
        ctx.progress(0.5 + 0.5 * (j + 1) / len(jobs), f"{ln} {me} τ={tau}")
    meas, pred, rep, checks, per_pair = {}, {}, {}, [], {}
    for ln in MULTIMODAL:
        for tau in TAUS:
            for a, b in BASELINE_PAIRS:
                w = paired_wins(_losses(runs[_key(ln, a, tau)]), _losses(runs[_key(ln, b, tau)]))
                v = stats.direction(w, ">", 0.5)
                key = f"{ln}/tau={tau}/{a}_beats_{b}"
                meas[key], pred[key] = w, "> 0.5"
                checks.append(v)
                per_pair.setdefault(f"{a}_beats_{b}", []).append(v)
            best = min(EXPLORE_METHODS, key=lambda me: np.median(_losses(runs[_key(ln, me, tau)])))
            rep[f"{ln}/tau={tau}/lowest_median_loss"] = METHOD_LABEL[best]
    for k, d in runs.items():
        rep[k] = value(d["mean"], d["ci_low"], d["ci_high"]) if math.isfinite(d["mean"]) else "diverged"
        if d["diverged_share"]:
            rep[k + "/diverged_share"] = d["diverged_share"]
    verdict = combine(checks)
    finding = "; ".join(f"{METHOD_LABEL[a]} beats {METHOD_LABEL[b]} significantly in "
                        f"{per_pair[f'{a}_beats_{b}'].count('holds')}/{len(per_pair[f'{a}_beats_{b}'])} "
                        f"(landscape, τ) cases, loses in {per_pair[f'{a}_beats_{b}'].count('fails')}"
                        for a, b in BASELINE_PAIRS)
    notes = ("Lowest median final loss per (landscape, τ): "
             + ", ".join(f"{ln} τ={t}: {rep[f'{ln}/tau={t}/lowest_median_loss']}" for ln in MULTIMODAL for t in TAUS)
             + ". Step sizes chosen on tuning replicas: "
             + ", ".join(f"{ln} {METHOD_LABEL[me]} η = {EXPLORE_SETUPS[ln][1] * scale[(ln, me)]:.3g}"
                         for ln in MULTIMODAL for me in EXPLORE_METHODS)
             + " (EASGD-family α = 0.9/K, EAMSGD δ = 0.99).")
    for (ln, me), sc in scale.items():
        rep[f"{ln}/{me}/chosen_lr"] = EXPLORE_SETUPS[ln][1] * sc
    data = {"runs": runs, "taus": list(TAUS), "methods": list(EXPLORE_METHODS),
            "labels": METHOD_LABEL, "K": EXPLORE_K, "R": R, "steps": steps,
            "wins": {k: v for k, v in meas.items()}, "lr_tuning": tuning,
            "chosen_lr": {f"{ln}/{me}": EXPLORE_SETUPS[ln][1] * sc for (ln, me), sc in scale.items()}}
    return Evidence(verdict, predicted=pred, measured=meas, reported=rep, notes=notes,
                    headline=[f"{MULTIMODAL[0]}/tau=64/eamsgd_beats_easgd_async",
                              f"{MULTIMODAL[0]}/tau=64/eamsgd_beats_downpour"],
                    finding=finding, data=data,
                    regime={"R": R, "steps": steps, "K": EXPLORE_K, "taus": list(TAUS),
                            "setups": {k: list(map(str, v)) for k in MULTIMODAL for v in [EXPLORE_SETUPS[k]]}})


# ---------------------------------------------------------------------------- 6. DOWNPOUR instability
DOWNPOUR_LAND = "styblinski_tang"
DOWNPOUR_CTRL_LR_SCALE = 1 / 64   # control: a step that keeps K(1 − (1 − ηh)^64) < 2


def downpour_multiplier(lr, h, tau, K=EXPLORE_K):
    """Center multiplier of DOWNPOUR per period on h x²/2 near a minimum (no noise): each worker
    starts at x̃ and takes τ gradient steps, the master adds all K accumulated moves:
    x̃ − x* ← [1 − K(1 − (1 − ηh)^τ)](x̃ − x*) (docs/theory.md §6; unstable when |·| > 1)."""
    return 1.0 - K * (1.0 - (1.0 - lr * h) ** tau)


def _max_min_curvature(L):
    """Largest Hessian eigenvalue over the landscape's minima."""
    return max(float(np.max(np.asarray(c.hessian_eigvals))) for c in L.minima())


@claim("easgd.downpour_unstable")
def downpour_unstable(ctx) -> Evidence:
    S = _size(ctx)
    R, steps = S["downpour_R"], S["downpour_steps"]
    kw, lr, _ = EXPLORE_SETUPS[DOWNPOUR_LAND]
    h = _max_min_curvature(landscapes.get(DOWNPOUR_LAND, **kw))
    lr_dp = lr * (DOWNPOUR_CTRL_LR_SCALE if ctx.sabotaged("downpour_small_lr") else 1.0)
    div, runs = {}, {}
    for j, tau in enumerate(TAUS):
        m = sabotage.make("downpour", None, lr_scale=lr_dp / lr, lr=lr, tau=tau, K=EXPLORE_K)
        loss, spread, dv = exploration_run(DOWNPOUR_LAND, "downpour", tau, R=R, steps=steps,
                                           seed=ctx.seed, method_obj=m)
        div[("downpour", tau)] = np.asarray(dv, float)
        runs[f"downpour/tau={tau}"] = _summary(loss, spread, dv)
        ctx.progress((j + 1) / (len(TAUS) + 1), f"downpour τ={tau}")
    loss, spread, dv = exploration_run(DOWNPOUR_LAND, "easgd_async", TAUS[-1], R=R, steps=steps, seed=ctx.seed)
    div[("easgd_async", TAUS[-1])] = np.asarray(dv, float)
    runs[f"easgd_async/tau={TAUS[-1]}"] = _summary(loss, spread, dv)

    def dshare(a, b):
        return stats.bootstrap_ci(lambda u, v: u.mean() - v.mean(), a, b, seed=ctx.seed)
    d_tau = dshare(div[("downpour", TAUS[-1])], div[("downpour", TAUS[0])])
    d_eas = dshare(div[("downpour", TAUS[-1])], div[("easgd_async", TAUS[-1])])
    meas = {"downpour_share_tau64_minus_tau1": d_tau, "downpour_minus_easgd_share_tau64": d_eas}
    pred = {"downpour_share_tau64_minus_tau1": "> 0", "downpour_minus_easgd_share_tau64": "> 0"}
    checks = [stats.direction(d_tau, ">"), stats.direction(d_eas, ">")]
    rep = {}
    for (me, tau), a in div.items():
        rep[f"{me}/tau={tau}/diverged_share"] = stats.wilson(int(a.sum()), int(a.size))
    for tau in TAUS:
        rep[f"downpour/tau={tau}/linear_center_multiplier"] = downpour_multiplier(lr_dp, h, tau)
    shares = {tau: float(div[("downpour", tau)].mean()) for tau in TAUS}
    unstable_pred = [tau for tau in TAUS if abs(downpour_multiplier(lr_dp, h, tau)) > 1]
    first_div = [tau for tau in TAUS if rep[f"downpour/tau={tau}/diverged_share"]["ci_low"] > 0]
    finding = (f"DOWNPOUR diverged in {', '.join(f'{_share(shares[t])} (τ={t})' for t in TAUS)} of runs, "
               f"EASGD in {_share(div[('easgd_async', TAUS[-1])].mean())} at τ = {TAUS[-1]}; the linearised "
               f"center map is unstable at τ ∈ {unstable_pred or 'none'}")
    notes = (f"η = {lr_dp:g}, sharpest minimum curvature h = {h:.3g} (ηh = {lr_dp * h:.3g}); smallest τ "
             f"whose diverged-share Wilson interval excludes 0: {first_div[0] if first_div else 'none'}. "
             "Divergence needs the linear instability to carry a run out of the basin into the quartic "
             "walls; a marginal multiplier (|·| slightly above 1) may not diverge within the run.")
    data = {"shares": {str(t): rep[f"downpour/tau={t}/diverged_share"] for t in TAUS},
            "easgd_share": rep[f"easgd_async/tau={TAUS[-1]}/diverged_share"],
            "multiplier": {str(t): rep[f"downpour/tau={t}/linear_center_multiplier"] for t in TAUS},
            "taus": list(TAUS), "lr": lr_dp, "h": h, "K": EXPLORE_K, "R": R, "steps": steps, "runs": runs}
    return Evidence(combine(checks), predicted=pred, measured=meas, reported=rep, notes=notes,
                    headline=["downpour_share_tau64_minus_tau1", "downpour_minus_easgd_share_tau64"],
                    finding=finding, data=data,
                    regime={"landscape": DOWNPOUR_LAND, "lr": lr_dp, "K": EXPLORE_K, "R": R, "steps": steps,
                            "sigma": EXPLORE_SETUPS[DOWNPOUR_LAND][2], "divergence": 1e6})
