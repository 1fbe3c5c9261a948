"""Momentum Tracking and data heterogeneity (Takezawa, Bao, Niwa, Sato, Yamada, TMLR 2023;
THEORY.md §1, §5). The paper's theorem constants are [missing]: the checks are the exact
fixed points of THEORY.md §5 and the measured dependence of the suboptimality on ζ.

Metric (the paper reports the accuracy of the local models averaged over nodes): the network
suboptimality (1/K) Σ_k f(x_k) − f* of the K local models, averaged over the last 20% of the
T steps; f(x̄) − f* of the averaged model is reported too. Step sizes are tuned per (method,
setting) from a stated grid of effective steps η_eff (momentum methods run lr = η_eff(1 − β)):
every lr runs n_tune + n_eval replicas with independent noise; the lr is chosen on the first
n_tune replicas and the reported numbers (mean, 95% t-interval) come from the other n_eval —
tuning and evaluation never share a replica. D² runs on the lazy W̄ = (I + W)/2 (its theory
asks λ_min(W) > −1/3, and the 8-ring has λ_min = −1/3 exactly).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import scipy.stats
import torch

import dynamics
import landscapes
from analysis import heterogeneity as het
from dynamics import topology as T

from .claims import Evidence, claim, combine, value

PAPER = "Takezawa, Bao, Niwa, Sato, Yamada, 'Momentum Tracking', TMLR 2023 (theorem constants [missing]); THEORY.md §5"
MOMENTUM = ("dsgdm", "qg_dsgdm", "decentlam", "mt")
FLAT = 1.5   # "flat": ratio S(ζ_max)/S(ζ_min) ≤ FLAT; "grows": ratio > FLAT
K = 8


# ------------------------------------------------------------------ building blocks

def topology(name: str, Kw: int = K):
    """ring | hypercube | exponential_undirected | complete with K workers."""
    return T.get(name, Kw)


def bind(name: str, top, lr_eff: float, beta: float):
    """dynamics.make with lr = lr_eff(1 − β) for momentum methods; D² on (I + W)/2."""
    if name == "d2":
        W = top.W().numpy()
        top = T.custom((np.eye(W.shape[0]) + W) / 2, name=f"{top.name}-lazy")
    if name in MOMENTUM:
        return dynamics.make(name, top, lr=lr_eff * (1 - beta), beta=beta)
    return dynamics.make(name, top, lr=lr_eff)


def run(problem, orc, method, steps: int, R: int, seed: int, n_rec: int = 20):
    """Run R replicas from x0 = 0 with a torch.Generator noise source. Returns (times (n,),
    network suboptimality (n, R), averaged-model suboptimality (n, R)); diverged -> inf."""
    fstar = float(problem.f_star)
    gen = torch.Generator().manual_seed(int(seed))
    s = method.init(torch.zeros(R, problem.K, problem.dim, dtype=torch.float64), orc, gen)
    every = max(1, steps // n_rec)
    times, net, avg = [], [], []
    dead = torch.zeros(R, dtype=torch.bool)
    for t in range(steps):
        s = method.step(s, orc, t, gen)
        if (t + 1) % every == 0 or t + 1 == steps:
            bad = ~torch.isfinite(s.x).flatten(1).all(1) | (s.x.abs().flatten(1).amax(1) > 1e6)
            dead |= bad
            x = torch.where(dead[:, None, None], torch.zeros_like(s.x), s.x)
            n_ = (problem.f(x) - fstar).mean(-1)
            a_ = problem.f(x.mean(-2)) - fstar
            inf = torch.full_like(n_, math.inf)
            net.append(torch.where(dead, inf, n_))
            avg.append(torch.where(dead, inf, a_))
            times.append(t + 1)
            if bool(dead.all()):
                break
    return np.array(times), torch.stack(net).numpy(), torch.stack(avg).numpy()


def tail_mean(curve: np.ndarray, times: np.ndarray, steps: int) -> np.ndarray:
    """Mean over the records in the last 20% of the steps: (n, R) -> (R,)."""
    sel = times > 0.8 * steps
    if not sel.any():  # every replica diverged before the tail
        return np.full(curve.shape[1], math.inf)
    return curve[sel].mean(0)


def tuned(problem, orc, name, top, beta, grid, steps, n_tune, n_eval, seed):
    """Best lr_eff of `grid` on replicas [0, n_tune), reported on the other n_eval replicas."""
    best = None
    if len(grid) == 1:
        n_tune = 0
    for lr in grid:
        times, net, avg = run(problem, orc, bind(name, top, lr, beta), steps, n_tune + n_eval, seed)
        fin = tail_mean(net, times, steps)
        score = float(np.mean(fin[:n_tune])) if n_tune else 0.0
        score = math.inf if not np.isfinite(score) else score
        if best is None or score < best["score"]:
            best = dict(score=score, lr=lr, net=fin[n_tune:], avg=tail_mean(avg, times, steps)[n_tune:],
                        times=times, curve=net[:, n_tune:])
    return best


def mean_ci(a) -> dict:
    """Mean with a 95% Student-t interval (inf when any replica diverged)."""
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return value(math.inf, math.inf, math.inf)
    m = float(a.mean())
    h = float(scipy.stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0
    return value(m, m - h, m + h)


def ratio_ci(hi, lo, seed: int = 0, n_boot: int = 2000) -> dict:
    """mean(hi)/mean(lo) with a 95% paired bootstrap interval: replica r of both levels uses the
    same noise seed (common random numbers), so replicas are resampled jointly."""
    hi, lo = np.asarray(hi, float), np.asarray(lo, float)
    if not (np.all(np.isfinite(hi)) and np.all(np.isfinite(lo))):
        return value(math.inf, math.inf, math.inf)
    rs = np.random.default_rng(seed)
    if hi.shape != lo.shape:
        raise ValueError(f"hi and lo must be paired (same shape), got {hi.shape} and {lo.shape}")
    idx = rs.integers(0, hi.size, (n_boot, hi.size))
    bh, bl = hi[idx].mean(1), lo[idx].mean(1)
    r = bh / bl
    return value(hi.mean() / lo.mean(), np.quantile(r, 0.025), np.quantile(r, 0.975))


def flatness(r: dict) -> str:
    """'flat' (CI upper ≤ FLAT), 'grows' (CI lower > FLAT) or 'unclear'."""
    if r["ci_high"] <= FLAT:
        return "flat"
    if r["ci_low"] > FLAT:
        return "grows"
    return "unclear"


# ------------------------------------------------------------------ problems

@functools.lru_cache(maxsize=32)
def quadratic(zeta: float, d: int, seed: int = 0, hess_spread: float = 1.0):
    """hetero_quadratics with ζ²(x*) = zeta² exactly (same A, x*, gradient directions for every ζ)."""
    return landscapes.hetero_quadratics(K, d, zeta=zeta, hess_spread=hess_spread, seed=seed)


@functools.lru_cache(maxsize=32)
def logistic(k: int, quick: bool, how: str = "classes", alpha: float = 0.5):
    """Multinomial logistic regression, 8 classes, k classes per worker (or Dirichlet α), l2 = 1e-2."""
    if quick:
        return landscapes.logistic_regression(K, n=400, d=4, classes=8, split=how, k=k, alpha=alpha,
                                              l2=1e-2, seed=0, n_test=200)
    return landscapes.logistic_regression(K, n=2000, d=10, classes=8, split=how, k=k, alpha=alpha,
                                          l2=1e-2, seed=0, n_test=1000)


@functools.lru_cache(maxsize=8)
def teacher(k: int):
    return landscapes.teacher_student(K, n=1000, d_in=5, hidden=8, split="classes", classes=8, k=k, seed=0)


def settings(quick: bool):
    """(label, problem, oracle) per heterogeneity level of each family; ζ² measured at x*."""
    zetas = (0.0, 3.0) if quick else (0.0, 1.0, 3.0, 10.0)
    d = 5 if quick else 10
    fam = {"quadratic": [(f"zeta={z}", quadratic(z, d), dict(noise="isotropic", sigma=1.0)) for z in zetas]}
    ks = (8, 1) if quick else (8, 4, 2, 1)
    fam["logistic_classes"] = [(f"k={k}", logistic(k, quick), dict(noise="minibatch", batch=8)) for k in ks]
    if not quick:
        fam["logistic_dirichlet"] = [(f"alpha={a}", logistic(2, False, "dirichlet", a), dict(noise="minibatch", batch=8))
                                     for a in (100.0, 1.0, 0.1)]
        fam["teacher_student"] = [(f"k={k}", teacher(k), dict(noise="minibatch", batch=8)) for k in (8, 2, 1)]
    return fam


def zeta2_of(problem) -> float:
    if getattr(problem, "x_star", None) is not None:
        return het.zeta2_star(problem)
    return float("nan")


# ------------------------------------------------------------------ claim 1: exactness

@claim(
    id="momentum_tracking.exactness",
    paper=PAPER,
    statement="With exact gradients on heterogeneous quadratics, GT, MT and D² converge to the exact "
              "minimiser; DSGD (ATC and consensus forms), QG-DSGDm and DecentLaM converge to the biased "
              "fixed point X = W(X − η∇F(X)) (consensus: X = WX − η∇F(X)), DSGDm to the one with step η/(1 − β).",
    predicted="fixed point of THEORY.md §5's equation per method (direct linear solve; 1x*ᵀ for GT/MT/D²), "
              "and independently the fixed point of the algorithm's own affine step map (analysis.heterogeneity.fixed_point)",
    measured="the iterate after running the algorithm to convergence (steps until max change < 1e-15, cap), "
             "8-ring, η = 0.05, β = 0.9, equal (hess_spread 0) and unequal (hess_spread 1) Hessians",
    tolerance="exact methods ≤ 1e-10 from 1x*ᵀ; biased ≤ 1e-8 from the predicted fixed point",
    tolerance_reason="linear convergence with contraction ≤ 0.975 runs to round-off (1e-13) well inside the cap",
    tags=("synthetic",),
)
def exactness(ctx) -> Evidence:
    d, lr, beta = (3, 0.05, 0.9) if ctx.quick else (10, 0.05, 0.9)
    cap = 4000 if ctx.quick else 20000
    names = ("gt", "mt", "d2", "atc", "dsgd", "qg_dsgdm", "decentlam", "dsgdm")
    pred, meas, verdicts, bias = {}, {}, [], {}
    for n, spread in enumerate((0.0, 1.0)):
        p = quadratic(1.0, d, seed=ctx.seed, hess_spread=spread)
        A, b = p.A.numpy(), p.b.numpy()
        orc = landscapes.oracle(p)
        for name in names:
            # every method runs the raw step η = lr (DSGDm's fixed point then has step η/(1 − β))
            m = bind(name, topology("ring"), lr / (1 - beta), beta) if name in MOMENTUM else \
                bind(name, topology("ring"), lr, 0.0)
            W = m.topology.W().numpy()
            P = het.predicted_fixed_point(name, W, A, b, m.hp["lr"], m.hp.get("beta", 0.0))
            Xa, info = het.fixed_point(m, A, b)
            s = m.init(torch.zeros(K, d, dtype=torch.float64), orc, None)
            for t in range(cap):
                new = m.step(s, orc, t, None)
                done = float((new.x - s.x).abs().max()) < 1e-15
                s = new
                if done:
                    break
            X = s.x.numpy()
            key = f"{'unequal' if spread else 'equal'}/{name}"
            err = float(np.abs(X - P).max())
            tol = 1e-10 if name in het.EXACT else 1e-8
            verdicts.append("holds" if err <= tol else "fails")
            pred[f"{key}/consensus_rms"] = het.consensus_rms(P)
            pred[f"{key}/avg_bias"] = float(np.linalg.norm(P.mean(0) - p.x_star.numpy()))
            pred[f"{key}/affine_vs_equation"] = float(np.abs(Xa - P).max())
            meas[f"{key}/max_err_vs_predicted"] = err
            meas[f"{key}/consensus_rms"] = het.consensus_rms(X)
            meas[f"{key}/avg_bias"] = float(np.linalg.norm(X.mean(0) - p.x_star.numpy()))
            meas[f"{key}/steps"] = t + 1
            bias[key] = het.consensus_rms(P)
        ctx.progress((n + 1) / 2, f"hess_spread={spread}")
    ratio = bias["equal/dsgdm"] / bias["equal/atc"]
    return Evidence(combine(verdicts), predicted=pred, measured=meas,
                    regime=dict(K=K, d=d, lr=lr, beta=beta, zeta=1.0, topology="ring (D²: (I+W)/2)"),
                    notes=f"{verdicts.count('holds')}/{len(verdicts)} within tolerance; DSGDm/ATC consensus "
                          f"bias ratio {ratio:.2f} (THEORY.md §5 example: 1.38/0.339 = 4.07); "
                          "the affine-map fixed point agrees with the per-method equation to "
                          f"{max(v for k, v in pred.items() if k.endswith('affine_vs_equation')):.1e}")


# ------------------------------------------------------------------ claim 2: rate vs ζ

def zeta_sweep(quick: bool, seed: int, methods, families=None, beta: float = 0.9,
               top_name: str = "ring", grid=None, progress=None):
    """results[family][label][method] = tuned dict (+ 'zeta2'), over the heterogeneity levels."""
    grid = grid or ((0.05, 0.2) if quick else (0.025, 0.05, 0.1, 0.2, 0.4))
    n_tune, n_eval = (3, 4) if quick else (4, 8)
    fams = settings(quick)
    fams = {k: v for k, v in fams.items() if families is None or k in families}
    out, total, done = {}, sum(len(v) for v in fams.values()) * len(methods), 0
    for fam, levels in fams.items():
        steps = (400 if fam == "quadratic" else 300) if quick else (3000 if fam == "quadratic" else 1500)
        g = grid if fam == "quadratic" or not quick else grid[-1:]
        out[fam] = {}
        for label, prob, okw in levels:
            orc = landscapes.oracle(prob, **okw)
            row = {"zeta2": zeta2_of(prob)}
            for name in methods:
                row[name] = tuned(prob, orc, name, topology(top_name), beta, g, steps, n_tune, n_eval, seed)
                done += 1
                if progress:
                    progress(done / total, f"{fam}/{label}/{name}")
            out[fam][label] = row
    return out


def judge_flat(out, methods, fam, lo_label, hi_label, seed=0):
    """Ratio S(hi)/S(lo) with bootstrap CI per method, its flatness class."""
    r = {}
    for name in methods:
        r[name] = ratio_ci(out[fam][hi_label][name]["net"], out[fam][lo_label][name]["net"], seed)
    return r


def _report(out, methods):
    meas, pred = {}, {}
    for fam, rows in out.items():
        for label, row in rows.items():
            meas[f"{fam}/{label}/zeta2"] = row["zeta2"]
            for name in methods:
                c = row[name]
                meas[f"{fam}/{label}/{name}/net_subopt"] = mean_ci(c["net"])
                meas[f"{fam}/{label}/{name}/avg_subopt"] = mean_ci(c["avg"])
                meas[f"{fam}/{label}/{name}/lr_eff"] = c["lr"]
    return pred, meas


@claim(
    id="momentum_tracking.rate_vs_zeta",
    paper=PAPER,
    statement="Momentum Tracking's convergence does not depend on the heterogeneity ζ (any β ∈ [0, 1)); "
              "DSGDm's (and QG-DSGDm's, DecentLaM's) does.",
    predicted=f"ratio S(ζ_max)/S(ζ_min) of the network suboptimality after T steps: MT 'flat' (95% CI upper "
              f"≤ {FLAT}), DSGDm 'grows' (CI lower > {FLAT})",
    measured="8 workers, ring, β = 0.9, stochastic gradients: hetero_quadratics with isotropic noise σ = 1 "
             "(ζ set exactly), logistic regression with k classes per worker (minibatch 8); --full adds "
             "Dirichlet α splits, the teacher–student MLP, more ζ levels, GT/D²; lr tuned per method and level",
    tolerance=f"flat/grows threshold {FLAT} on the ratio of means, bootstrap 95% CI",
    tolerance_reason="at finite T a ζ-independent rate still leaves transients; a factor 1.5 separates "
                     "'no ζ term' from the bias term DSGDm's fixed point predicts (∝ ζ²)",
    tags=("synthetic",),
)
def rate_vs_zeta(ctx) -> Evidence:
    methods = MOMENTUM if ctx.quick else MOMENTUM + ("gt", "d2")
    out = zeta_sweep(ctx.quick, ctx.seed, methods, progress=ctx.progress)
    pred, meas = _report(out, methods)
    verdicts, notes = [], []
    for fam, rows in out.items():
        labels = list(rows)
        r = judge_flat(out, methods, fam, labels[0], labels[-1], ctx.seed)
        for name in methods:
            meas[f"{fam}/ratio/{name}"] = r[name]
            meas[f"{fam}/class/{name}"] = flatness(r[name])
        pred[f"{fam}/class/mt"], pred[f"{fam}/class/dsgdm"] = "flat", "grows"
        ok_mt, ok_dm = flatness(r["mt"]), flatness(r["dsgdm"])
        z_lo, z_hi = meas.get(f"{fam}/{labels[0]}/zeta2"), meas.get(f"{fam}/{labels[-1]}/zeta2")
        if z_hi is not None and z_lo is not None and math.isfinite(z_lo) and math.isfinite(z_hi) \
                and not z_hi > max(10 * z_lo, 1e-12):
            # e.g. the realisable teacher-student: every worker's gradient vanishes at the teacher,
            # so ζ²(x*) = 0 at every split and the family cannot test a ζ dependence.
            notes.append(f"{fam}: not a heterogeneity test (ζ²(x*) = {z_lo:.2g} -> {z_hi:.2g}); "
                         f"MT ratio {r['mt']['value']:.2f}, DSGDm {r['dsgdm']['value']:.2f}; left out of the verdict")
            continue
        v = "holds" if (ok_mt == "flat" and ok_dm == "grows") else \
            "fails" if (ok_mt == "grows" or ok_dm == "flat") else "inconclusive"
        verdicts.append(v)
        notes.append(f"{fam}: MT ratio {r['mt']['value']:.2f} [{r['mt']['ci_low']:.2f}, {r['mt']['ci_high']:.2f}] "
                     f"({ok_mt}), DSGDm {r['dsgdm']['value']:.2f} [{r['dsgdm']['ci_low']:.2f}, "
                     f"{r['dsgdm']['ci_high']:.2f}] ({ok_dm}) -> {v}")
    return Evidence(combine(verdicts), predicted=pred, measured=meas, notes="; ".join(notes),
                    regime=dict(K=K, beta=0.9, topology="ring", quick=ctx.quick, methods=list(methods)))


# ------------------------------------------------------------------ claim 3: β sweep

@claim(
    id="momentum_tracking.momentum_sweep",
    paper=PAPER,
    statement="MT's independence of ζ holds for every β ∈ [0, 1); DSGDm's ζ penalty grows with β "
              "(its fixed point has step η/(1 − β)).",
    predicted=f"per β: MT ratio S(ζ_max)/S(ζ_min) 'flat' (CI upper ≤ {FLAT}); DSGDm 'grows' for β ≥ 0.5",
    measured="hetero_quadratics (ζ = 0 vs 3 quick; 0 vs 10 full), isotropic noise σ = 1, ring, "
             "β ∈ {0, 0.9} quick, {0, 0.5, 0.9, 0.99} full; lr_eff tuned per (method, β, ζ)",
    tolerance=f"flat/grows threshold {FLAT}, bootstrap 95% CI",
    tolerance_reason="as momentum_tracking.rate_vs_zeta",
    tags=("synthetic",),
)
def momentum_sweep(ctx) -> Evidence:
    betas = (0.0, 0.9) if ctx.quick else (0.0, 0.5, 0.9, 0.99)
    methods = ("dsgdm", "mt")
    meas, pred, verdicts, notes = {}, {}, [], []
    for n, beta in enumerate(betas):
        out = zeta_sweep(ctx.quick, ctx.seed, methods, families=("quadratic",), beta=beta)
        rows = out["quadratic"]
        labels = list(rows)
        r = judge_flat(out, methods, "quadratic", labels[0], labels[-1], ctx.seed)
        for name in methods:
            meas[f"beta={beta}/ratio/{name}"] = r[name]
            meas[f"beta={beta}/class/{name}"] = flatness(r[name])
            for lab in labels:
                meas[f"beta={beta}/{lab}/{name}/net_subopt"] = mean_ci(rows[lab][name]["net"])
                meas[f"beta={beta}/{lab}/{name}/lr_eff"] = rows[lab][name]["lr"]
        pred[f"beta={beta}/class/mt"] = "flat"
        mt_ok = flatness(r["mt"])
        v = "holds" if mt_ok == "flat" else "fails" if mt_ok == "grows" else "inconclusive"
        if beta >= 0.5:
            pred[f"beta={beta}/class/dsgdm"] = "grows"
            dm = flatness(r["dsgdm"])
            v = combine([v, "holds" if dm == "grows" else "fails" if dm == "flat" else "inconclusive"])
        verdicts.append(v)
        notes.append(f"β={beta}: MT {r['mt']['value']:.2f} ({mt_ok}), DSGDm {r['dsgdm']['value']:.2f} "
                     f"({flatness(r['dsgdm'])}) -> {v}")
        ctx.progress((n + 1) / len(betas), f"beta={beta}")
    return Evidence(combine(verdicts), predicted=pred, measured=meas, notes="; ".join(notes),
                    regime=dict(K=K, betas=list(betas), topology="ring", quick=ctx.quick))


# ------------------------------------------------------------------ claim 4: topology

@claim(
    id="momentum_tracking.topology",
    paper=PAPER,
    statement="Heterogeneity hurts DSGDm through the spectral gap (its bias ~ ζ/(gap)); MT stays ζ-independent "
              "on every topology.",
    predicted=f"MT ratio S(ζ_max)/S(ζ_min) 'flat' (≤ {FLAT}) on each topology; DSGDm's ratio larger on the ring "
              "(gap 0.195) than on the ±2^k exponential graph (gap 0.667); deterministic DSGDm network bias "
              "(1/K)Σf(X*_k) − f* from the fixed-point solve, per topology",
    measured="hetero_quadratics ζ = 0 vs 3 (quick) / 10 (full), isotropic noise σ = 1, β = 0.9, K = 8, "
             "ring / hypercube / exponential_undirected (+ complete in --full)",
    tolerance=f"flat threshold {FLAT}; DSGDm ordering judged on bootstrap CIs (ring CI low > exponential CI high)",
    tolerance_reason="as momentum_tracking.rate_vs_zeta",
    tags=("synthetic",),
)
def topology_claim(ctx) -> Evidence:
    tops = ("ring", "hypercube", "exponential_undirected") + (() if ctx.quick else ("complete",))
    methods = ("dsgdm", "mt")
    meas, pred, verdicts, ratios = {}, {}, [], {}
    for n, tn in enumerate(tops):
        top = topology(tn)
        out = zeta_sweep(ctx.quick, ctx.seed, methods, families=("quadratic",), top_name=tn)
        labels = list(out["quadratic"])
        r = judge_flat(out, methods, "quadratic", labels[0], labels[-1], ctx.seed)
        ratios[tn] = r
        p = out["quadratic"][labels[-1]]
        prob = quadratic(float(labels[-1].split("=")[1]), 5 if ctx.quick else 10)
        lr = p["dsgdm"]["lr"] * (1 - 0.9)
        X = het.predicted_fixed_point("dsgdm", top.W().numpy(), prob.A.numpy(), prob.b.numpy(), lr, 0.9)
        pred[f"{tn}/gap"] = top.spectral_gap
        pred[f"{tn}/dsgdm_deterministic_net_bias"] = float((prob.f(torch.as_tensor(X)) - prob.f_star).mean())
        pred[f"{tn}/class/mt"] = "flat"
        for name in methods:
            meas[f"{tn}/ratio/{name}"] = r[name]
            meas[f"{tn}/{labels[-1]}/{name}/net_subopt"] = mean_ci(p[name]["net"])
            meas[f"{tn}/{labels[0]}/{name}/net_subopt"] = mean_ci(out["quadratic"][labels[0]][name]["net"])
        c = flatness(r["mt"])
        verdicts.append("holds" if c == "flat" else "fails" if c == "grows" else "inconclusive")
        ctx.progress((n + 1) / len(tops), tn)
    a, b = ratios["ring"]["dsgdm"], ratios["exponential_undirected"]["dsgdm"]
    order = "holds" if a["ci_low"] > b["ci_high"] else "fails" if a["ci_high"] < b["ci_low"] else "inconclusive"
    verdicts.append(order)
    pred["dsgdm_ratio_ring>exponential"] = True
    meas["dsgdm_ratio_ring>exponential"] = order
    return Evidence(combine(verdicts), predicted=pred, measured=meas,
                    regime=dict(K=K, topologies=list(tops), beta=0.9, quick=ctx.quick),
                    notes=f"MT ratio per topology: {_fmt(ratios, tops, 'mt')}; DSGDm: {_fmt(ratios, tops, 'dsgdm')}; "
                          f"ring>exponential ordering {order}")


def _fmt(ratios, tops, name):
    return ", ".join("%s %.2f" % (t, ratios[t][name]["value"]) for t in tops)
