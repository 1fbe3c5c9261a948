"""Claims of Zhu et al., ICML 2023 (arXiv 2306.02913): D-SGD ≈ average-direction SAM (THEORY.md §4,
per-mode forms §3). Computations live in `analysis.sam`; the `experiment_*` functions here are
shared with the figures in paper_figs/dsgd_sam_*.py. Runs use one torch thread (tiny tensors)."""
from __future__ import annotations

import math

import numpy as np
import torch

import dynamics
import landscapes
from analysis import linear, sam
from dynamics import topology as T

from .claims import Evidence, claim, combine, compare, one_thread, value

PAPER = "Zhu et al., 'Decentralized SGD and average-direction SAM are asymptotically equivalent', ICML 2023 (arXiv 2306.02913)"
Z = 1.959963984540054
F64 = torch.float64


def mean_ci(samples, z: float = Z):
    a = np.asarray(samples, dtype=float)
    m, se = float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a)))
    return value(m, m - z * se, m + z * se)


class Cubic:
    """f(w) = (1/6) T[w,w,w] + ½ wᵀQw + bᵀw with T symmetric (d,d,d); gradient ½T[w,w] + Qw + b,
    Hessian T[w] + Q, written by hand."""
    def __init__(self, d: int, seed: int):
        g = np.random.default_rng(seed)
        A = g.normal(size=(d, d, d))
        self.T = torch.tensor(sum(A.transpose(p) for p in
                                  [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]) / 6)
        Q = g.normal(size=(d, d))
        self.Q, self.b, self.dim = torch.tensor(Q + Q.T), torch.tensor(g.normal(size=d)), d

    def f(self, w):
        return (torch.einsum("ijk,...i,...j,...k->...", self.T, w, w, w) / 6
                + 0.5 * torch.einsum("...i,ij,...j->...", w, self.Q, w) + w @ self.b)

    def grad(self, w):
        return 0.5 * torch.einsum("ijk,...j,...k->...i", self.T, w, w) + w @ self.Q + self.b

    def hess(self, w):
        return torch.einsum("ijk,...k->...ij", self.T, w) + self.Q


# landscape, kwargs, base point, r range (small enough for the r^3 term to dominate the r^4 one)
RESIDUAL_CASES = [("quartic", {}, [0.7], (1e-3, 1e-1)),
                  ("muller_brown", {}, [-0.3, 0.8], (1e-4, 3e-3)),
                  ("styblinski_tang", {"d": 2}, [-1.0, 1.5], (1e-3, 1e-1))]


def experiment_residual(quick=True, seed=0, K=8):
    """Residual ‖(1/K)Σ∇L(w_j) − ∇L(w_a) − ½∇Tr(HΞ)‖ over random configurations of spread r
    (Tr Ξ = r²): per landscape the radii, residuals (configs, radii) and fitted slopes (configs,)."""
    n_cfg = 12 if quick else 64
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, kw, w0, (lo, hi) in RESIDUAL_CASES:
        land = landscapes.get(name, **kw)
        u = torch.randn(n_cfg, K, land.dim, generator=g, dtype=F64)
        u = u - u.mean(-2, keepdim=True)
        u = u / sam.consensus_trace(u).sqrt()[:, None, None]
        rs = np.logspace(math.log10(lo), math.log10(hi), 7)
        res = np.stack([sam.expansion_residual(land, torch.tensor(w0, dtype=F64) + r * u).norm(dim=-1).numpy()
                        for r in rs], axis=1)
        slopes = np.array([np.polyfit(np.log(rs), np.log(row), 1)[0] for row in res])
        out[name] = {"r": rs, "residual": res, "slopes": slopes}
    return out


@claim(
    id="dsgd_sam.residual_order",
    paper=PAPER + "; THEORY.md §4 (expansion, ICLR-2023 version; cubic/quartic statements derived)",
    statement="(1/K) Σ_j ∇L(w_j) = ∇L(w_a) + ½∇Tr(H(w_a)Ξ) + O(‖δ‖³); exact for cubic L; for a 1-D quartic "
              "the Gaussian smoothing gives L + ½L''ξ + ⅛L''''ξ² and the agent mean carries (1/6)L''''m₃.",
    predicted="log–log slope 3 of the residual vs spread r; residual 0 on cubics; residual (1/6)L''''m₃ "
              "(0 for symmetric configurations); E_{N(0,ξ)}L(w+ε) = L + ½L''ξ + ⅛L''''ξ²",
    measured="slopes fitted per random configuration (quartic, Müller–Brown, Styblinski–Tang); max residual "
             "on random cubics (d=3); quartic residual vs m₃; antithetic Monte Carlo of the smoothed loss",
    tolerance="slope 3 ± 0.2; cubic ≤ 1e-10; m₃ relative 1e-8; smoothing: prediction within the 4-SE interval",
    tolerance_reason="r ranges are chosen where the r⁴ term is < 10% of the r³ one; the others are exact "
                     "identities up to float64 round-off; 4 SE makes a false alarm ~6e-5",
    tags=("synthetic",),
)
def residual_order(ctx) -> Evidence:
    with one_thread():
        ex = experiment_residual(ctx.quick, ctx.seed)
        pred, meas, verdicts = {}, {}, []
        for name, e in ex.items():
            s = e["slopes"]
            meas[f"slope/{name}"] = value(float(s.mean()), float(s.min()), float(s.max()))
            pred[f"slope/{name}"] = 3.0
            verdicts.append("holds" if abs(s.min() - 3) <= 0.2 and abs(s.max() - 3) <= 0.2 else "fails")
        g = torch.Generator().manual_seed(ctx.seed + 1)
        worst = 0.0
        for k in range(8 if ctx.quick else 32):
            cub = Cubic(3, ctx.seed + k)
            x = 2.0 * torch.randn(8, 3, generator=g, dtype=F64)
            worst = max(worst, float(sam.expansion_residual(cub, x).abs().max()))
        pred["cubic_max_residual"], meas["cubic_max_residual"] = 0.0, worst
        verdicts.append(compare(0.0, worst, 1e-10))
        q = landscapes.get("quartic")  # L'''' = 6
        x = 0.7 + 0.3 * torch.randn(16, 6, 1, generator=g, dtype=F64)
        m3 = (x - x.mean(-2, keepdim=True)).pow(3).mean(-2)
        rel = float(((sam.expansion_residual(q, x) - m3).abs() / m3.abs()).max())
        half = 0.3 * torch.randn(16, 3, 1, generator=g, dtype=F64)
        sym = 0.7 + torch.cat([half, -half], dim=-2)
        sym_res = float(sam.expansion_residual(q, sym).abs().max())
        pred.update({"quartic_m3_rel_err": 0.0, "quartic_symmetric_residual": 0.0})
        meas.update({"quartic_m3_rel_err": rel, "quartic_symmetric_residual": sym_res})
        verdicts += [compare(0.0, rel, 1e-8), compare(0.0, sym_res, 1e-10)]
        w, xi = torch.tensor([0.7], dtype=F64), 0.09
        val, se = sam.sam_objective(q, w, torch.tensor([[xi]], dtype=F64), samples=2 ** 18, seed=ctx.seed)
        expect = float(q.f(w) + 0.5 * q.hess(w)[0, 0] * xi + 6 / 8 * xi ** 2)
        pred["smoothed_quartic"] = expect
        meas["smoothed_quartic"] = value(float(val), float(val - 4 * se), float(val + 4 * se))
        verdicts.append("holds" if abs(float(val) - expect) <= 4 * float(se) else "fails")
    return Evidence(combine(verdicts), pred, meas, regime={"K": 8, "quick": ctx.quick},
                    notes=f"slope intervals are [min, max] over configurations; r ranges "
                          f"{ {c[0]: c[3] for c in RESIDUAL_CASES} }")


def experiment_trajectory(quick=True, seed=0, K=16, lr=0.01, sigma=8.0):
    """D-SGD (ring K) on Styblinski–Tang d=2 from its minimum with isotropic noise σ; paired runs of the
    SAM optimiser fed D-SGD's Ξ(t) (sigma points: exact Gaussian average for a quartic) and of GD, both
    with D-SGD's mean gradient noise. Returns per-step drift errors and the theorem's bound."""
    land = landscapes.get("styblinski_tang", d=2)
    R, steps = (32, 300) if quick else (128, 2000)
    orc = landscapes.oracle(land, noise="isotropic", sigma=sigma)
    noise = []

    def rec_oracle(x, t, rng):
        loss, gr = orc(x, t, rng)
        noise.append((gr - land.grad(x)).mean(-2))
        return loss, gr

    m = dynamics.make("dsgd", T.ring(K), lr=lr)
    xstar = land.minima()[0].x
    st = m.init(xstar.expand(R, K, 2).clone())
    gen = torch.Generator().manual_seed(seed)
    w_s = w_g = xstar.expand(R, 2).clone()
    err_s, err_g, bound, gap_s, gap_g, trxi = [], [], [], [], [], []
    for t in range(steps):
        x = st.x
        wa = x.mean(-2)
        Xi = sam.consensus_cov(x)
        d_d = land.grad(x).mean(-2)
        d_s = land.grad(wa.unsqueeze(-2) + sam.sigma_points(Xi)).mean(-2)
        err_s.append((d_d - d_s).norm(dim=-1))
        err_g.append((d_d - land.grad(wa)).norm(dim=-1))
        dl = x - wa.unsqueeze(-2)
        bound.append(2.0 * dl.abs().pow(3).sum(-1).mean(-1))  # (max L''''/6) (1/K) Σ_j ‖δ_j‖₃³, L'''' = 12
        trxi.append(sam.consensus_trace(x))
        st = m.step(st, rec_oracle, t, gen)
        nb = noise[-1]
        w_s = sam.sam_step(land.grad, w_s, lr, sam.sigma_points(Xi)) - lr * nb
        w_g = w_g - lr * land.grad(w_g) - lr * nb
        wa1 = st.x.mean(-2)
        gap_s.append((wa1 - w_s).norm(dim=-1))
        gap_g.append((wa1 - w_g).norm(dim=-1))
    f = lambda a: torch.stack(a).numpy()  # noqa: E731
    return {"err_sam": f(err_s), "err_gd": f(err_g), "bound": f(bound), "gap_sam": f(gap_s),
            "gap_gd": f(gap_g), "trxi": f(trxi), "lr": lr, "steps": steps, "R": R}


@claim(
    id="dsgd_sam.trajectory_equivalence",
    paper=PAPER + ", main theorem (THEORY.md §4)",
    statement="E[w_a(t+1)] = w_a(t) − η E_{ε~N(0,Ξ(t))} ∇L(w_a + ε) + O(η E‖ε‖³ + (η/K) Σ_j ‖w_j − w_a‖³).",
    predicted="per step ‖(1/K)Σ_j∇L(w_j) − E_ε∇L(w_a+ε)‖ ≤ (max L''''/6)(1/K)Σ_j‖δ_j‖₃³ (Styblinski–Tang: "
              "L'''' = 12 per coordinate, Gaussian third moments vanish); plain GD misses ½∇Tr(HΞ) = O(‖δ‖²)",
    measured="D-SGD (ring, K=16, noise σ=8) on Styblinski–Tang d=2 from its minimum; paired SAM optimiser fed "
             "D-SGD's Ξ(t) (sigma points) and GD with the same mean noise; per-step drift errors and the "
             "whole-run gap between the trajectories",
    tolerance="max ratio error/bound ≤ 1 (+1e-9); SAM drift error < GD drift error (median ratio < 0.5)",
    tolerance_reason="the bound is a strict Taylor bound for a quartic; the GD comparison is the claim's point",
    tags=("synthetic",),
)
def trajectory_equivalence(ctx) -> Evidence:
    with one_thread():
        ex = experiment_trajectory(ctx.quick, ctx.seed)
    ok = ex["trxi"] > 0
    ratio = float((ex["err_sam"][ok] / ex["bound"][ok]).max())
    med = float(np.median(ex["err_sam"][ok] / ex["err_gd"][ok]))
    gs, gg = ex["gap_sam"][-1], ex["gap_gd"][-1]
    bound_run = float(ex["lr"] * ex["bound"].sum(0).max())
    v = combine(["holds" if ratio <= 1 + 1e-9 else "fails", "holds" if med < 0.5 else "fails"])
    return Evidence(v, predicted={"max_err_over_bound": "<= 1", "median_err_sam_over_err_gd": "< 0.5",
                                  "run_gap_bound(η Σ_t bound_t, nonexpansive step)": bound_run},
                    measured={"max_err_over_bound": ratio, "median_err_sam_over_err_gd": med,
                              "final_gap_sam": mean_ci(gs), "final_gap_gd": mean_ci(gg),
                              "max_gap_sam": float(ex["gap_sam"].max()), "mean_TrXi": float(ex["trxi"][ok].mean())},
                    regime={"K": 16, "topology": "ring", "lr": ex["lr"], "steps": ex["steps"], "R": ex["R"]},
                    notes="SAM fed D-SGD's Ξ(t) tracks the averaged model to third order; GD drifts by ½∇Tr(HΞ)")


QUAD_H = np.diag([1.0, 3.0])
TOPS = {"complete": T.complete, "exponential": T.exponential, "grid": T.grid, "ring": T.ring}


def simulate_xi(top, lr, sigma, batch, R, burn, steps, seed, method="dsgd", record=False):
    """D-SGD (or C-SGD) on the quadratic ½xᵀ diag(1,3) x, isotropic noise σ/√B, workers start at x* = 0.
    Returns per-replica time averages of ½Tr(HΞ) (or of ½Tr(H P) about 0 for C-SGD) and Tr Ξ, plus
    the mean trajectory of Tr Ξ if record."""
    land = landscapes.get("quadratic", H=torch.tensor(QUAD_H))
    orc = landscapes.oracle(land, noise="isotropic", sigma=sigma, batch=batch)
    m = dynamics.make(method, top, lr=lr)
    st = m.init(torch.zeros(R, top.K, 2, dtype=F64))
    gen = torch.Generator().manual_seed(seed)
    H = torch.tensor(QUAD_H)
    acc_h, acc_t, traj = torch.zeros(R, dtype=F64), torch.zeros(R, dtype=F64), [0.0]
    for t in range(burn + steps):
        st = m.step(st, orc, t, gen)
        if method == "csgd":
            w = st.x[:, 0]
            hq = 0.5 * ((w @ H) * w).sum(-1)
            tr = torch.zeros(R, dtype=F64)
        else:
            Xi = sam.consensus_cov(st.x)
            hq, tr = 0.5 * (H * Xi).sum((-1, -2)), Xi.diagonal(dim1=-2, dim2=-1).sum(-1)
        if record:
            traj.append(float(tr.mean()))
        if t >= burn:
            acc_h += hq
            acc_t += tr
    return (acc_h / steps).numpy(), (acc_t / steps).numpy(), np.array(traj)


BATCHES = (1, 2, 4, 8)
LR_PER_SAMPLE = 0.02 / 16  # η = c·KB (linear scaling rule)


def experiment_batch(quick=True, seed=0, K=16, sigma=1.0):
    R0, burn, steps = (48, 150, 300) if quick else (256, 300, 2000)
    out = {}
    for name in ("ring", "grid", "exponential", "csgd"):
        R = 8 * R0 if name == "csgd" else R0  # one model: 8x the replicas for a comparable CI
        rows = []
        for B in BATCHES:
            lr = LR_PER_SAMPLE * K * B
            top = T.ring(K) if name == "csgd" else TOPS[name](K)
            meas, _, _ = simulate_xi(top, lr, sigma, B, R, burn, steps, seed + B,
                                     method="csgd" if name == "csgd" else "dsgd")
            if name == "csgd":
                h = np.diag(QUAD_H)
                pred = float(np.sum(lr * sigma ** 2 / (2 * K * B * (2 - lr * h))))
                alt = pred
            else:
                Xi = sam.stationary_xi(dynamics.make("dsgd", top, lr=lr), QUAD_H, np.zeros(2),
                                       torch.zeros(K, 2, dtype=F64), sigma ** 2 / B)
                pred = 0.5 * float(np.trace(QUAD_H @ Xi))
                alt = 0.5 * float(np.trace(QUAD_H @ sam.stationary_xi_modes(top.W(0).numpy(), QUAD_H, lr,
                                                                              sigma ** 2, B)))
            rows.append({"B": B, "KB": K * B, "lr": lr, "pred": pred, "pred_modes": alt, "meas": mean_ci(meas)})
        out[name] = rows
    return out


@claim(
    id="dsgd_sam.sharpness_vs_batch",
    paper=PAPER + " (batch-size discussion); THEORY.md §4 [derived per-mode forms]",
    statement="Under the linear scaling rule η ∝ KB the sharpness regulariser ½Tr(HΞ) of D-SGD does not "
              "decrease as the total batch grows, while the centralised noise term stays flat.",
    predicted="½Tr(H E[Ξ]) from analysis/linear.py (checked against the per-mode closed forms); C-SGD "
              "½Tr(HP) = Σ_h ηr/(2KB(2 − ηh))",
    measured="time-averaged ½Tr(HΞ) (D-SGD) and ½Tr(HP) (C-SGD) over replicas, 95% CI; quadratic "
             "diag(1,3), σ=1, K=16, B ∈ {1,2,4,8}, η = 0.02·B",
    tolerance="prediction band ±10% must contain the CI; growth: CI of the ratio largest/smallest batch > 1",
    tolerance_reason="10% equivalence band: a finite-run CI of a few % must fit in it",
    tags=("synthetic",),
)
def sharpness_vs_batch(ctx) -> Evidence:
    with one_thread():
        ex = experiment_batch(ctx.quick, ctx.seed)
    pred, meas, vs = {}, {}, []
    for name, rows in ex.items():
        for r in rows:
            key = f"{name}/KB={r['KB']}"
            pred[key], meas[key] = r["pred"], r["meas"]
            vs.append(compare(r["pred"], r["meas"], 0.1 * r["pred"], "ci"))
            if abs(r["pred_modes"] - r["pred"]) > 1e-9 * r["pred"]:
                vs.append("fails")
        lo_last, lo_first = r["meas"]["ci_low"], rows[0]["meas"]["ci_high"]
        pred[f"{name}/growth_ratio"] = rows[-1]["pred"] / rows[0]["pred"]
        meas[f"{name}/growth_ratio"] = rows[-1]["meas"]["value"] / rows[0]["meas"]["value"]
        if name != "csgd":
            vs.append("holds" if lo_last > lo_first else "fails")
    return Evidence(combine(vs), pred, meas, regime={"K": 16, "batches": list(BATCHES), "lr": "0.02·B"},
                    notes="D-SGD ½Tr(HΞ) grows ∝ η²/B ∝ B under linear scaling; C-SGD stays flat up to (2 − ηh)")


def experiment_gap(quick=True, seed=0, K=16, lr=0.05, sigma=1.0):
    R, steps = (48, 300) if quick else (256, 1000)
    out = {}
    for name, build in TOPS.items():
        top = build(K)
        m = dynamics.make("dsgd", top, lr=lr)
        st = linear.init_state(m, QUAD_H, np.zeros(2), torch.zeros(K, 2, dtype=F64))
        aff = linear.step_map(m, QUAD_H, np.zeros(2), st)
        S = linear.noise_blocks(sigma ** 2, K, 2)
        mean, P = np.zeros(K * 2), np.zeros((K * 2, K * 2))
        pred = [0.0]
        for _ in range(steps):
            mean, P = linear.propagate(aff, S, mean, P)
            pred.append(float(np.trace(linear.consensus_cov(mean.reshape(K, 2), P, K, 2))))
        _, tr, traj = simulate_xi(top, lr, sigma, 1, R, steps // 2, steps - steps // 2, seed, record=True)
        out[name] = {"gap": top.spectral_gap, "pred": np.array(pred), "traj": traj, "meas": mean_ci(tr),
                     "pred_stat": float(np.mean(pred[steps // 2 + 1:]))}
    return out


@claim(
    id="dsgd_sam.consensus_vs_gap",
    paper=PAPER + "; THEORY.md §4 [derived: Tr E[Ξ] ≈ (η²Tr R/B)(1/K)Σ_{j≥2} 1/(1−λ_j²)]",
    statement="The consensus distance Tr Ξ (hence the SAM radius) grows as the spectral gap shrinks: "
              "complete < exponential < grid < ring.",
    predicted="Tr E[Ξ(t)] propagated exactly by analysis/linear.py, averaged over the second half of the run",
    measured="Tr Ξ of simulated D-SGD (K=16, η=0.05, σ=1, quadratic diag(1,3)) averaged over the second "
             "half, 95% CI over replicas",
    tolerance="±10% band around the prediction must contain the CI; order by CI separation",
    tolerance_reason="10% equivalence band; the CI is a few %",
    tags=("synthetic",),
)
def consensus_vs_gap(ctx) -> Evidence:
    with one_thread():
        ex = experiment_gap(ctx.quick, ctx.seed)
    pred, meas, vs = {}, {}, []
    names = list(ex)
    for n in names:
        pred[f"{n} (gap {ex[n]['gap']:.3f})"] = ex[n]["pred_stat"]
        meas[f"{n} (gap {ex[n]['gap']:.3f})"] = ex[n]["meas"]
        vs.append(compare(ex[n]["pred_stat"], ex[n]["meas"], 0.1 * ex[n]["pred_stat"], "ci"))
    order = all(ex[a]["meas"]["ci_high"] < ex[b]["meas"]["ci_low"] for a, b in zip(names, names[1:]))
    vs.append("holds" if order else "inconclusive")
    return Evidence(combine(vs), pred, meas, regime={"K": 16, "lr": 0.05, "sigma": 1.0},
                    notes="order complete < exponential < grid < ring " + ("separated by CIs" if order else
                                                                            "not separated by CIs"))


def blr_problem(N=200, seed=0, noise_sd=0.5, alpha=1.0):
    """Bayesian linear regression y = Xθ + N(0, s²), prior N(0, α⁻¹I), d = 2, correlated anisotropic X.
    Per-sample loss ℓ_i = (y_i − x_iᵀθ)²/(2s²) + α‖θ‖²/(2N); L = mean ℓ_i; H = XᵀX/(Ns²) + αI/N;
    exact posterior covariance Σ = (N H)⁻¹; C = per-sample gradient covariance at θ_MAP."""
    g = np.random.default_rng(seed)
    X = g.normal(size=(N, 2)) @ np.array([[1.0, 0.0], [0.6, 0.25]])
    theta = np.array([1.0, -0.5])
    y = X @ theta + noise_sd * g.normal(size=N)
    H = X.T @ X / (N * noise_sd ** 2) + alpha * np.eye(2) / N
    post = np.linalg.inv(N * H)
    tmap = post @ (X.T @ y) / noise_sd ** 2
    G = -X * ((y - X @ tmap) / noise_sd ** 2)[:, None] + alpha * tmap / N
    C = np.cov(G.T, bias=True)
    return {"H": H, "post": post, "C": C, "theta_map": tmap, "N": N}


def experiment_posterior(quick=True, seed=0, K=16, lr=0.05):
    """Stationary Ξ of D-SGD (ring K) on the Bayesian-linear-regression loss with Gaussian minibatch-like
    noise C/B (B = 1): predicted (linear.py), simulated, and the exact posterior covariance."""
    p = blr_problem(seed=seed)
    H, C = p["H"], p["C"]
    top = T.ring(K)
    m = dynamics.make("dsgd", top, lr=lr)
    pred = sam.stationary_xi(m, H, np.zeros(2), torch.zeros(K, 2, dtype=F64), C)
    land = landscapes.get("quadratic", H=torch.tensor(H))
    orc = landscapes.oracle(land, noise="covariance", C=torch.tensor(C))
    R, burn, steps = (48, 300, 600) if quick else (256, 600, 4000)
    st = m.init(torch.zeros(R, K, 2, dtype=F64))
    gen = torch.Generator().manual_seed(seed)
    acc = torch.zeros(R, 2, 2, dtype=F64)
    for t in range(burn + steps):
        st = m.step(st, orc, t, gen)
        if t >= burn:
            acc += sam.consensus_cov(st.x)
    meas = (acc / steps).numpy()
    return {**p, "xi_pred": pred, "xi_reps": meas, "xi_meas": meas.mean(0), "lr": lr, "K": K}


def _shape_stats(A, post):
    """Normalised Frobenius distance ‖A/TrA − Σ/TrΣ‖/‖Σ/TrΣ‖, |cos| of principal axes, anisotropy exponent
    log κ(A)/log κ(Σ) (+1: same shape as the posterior, −1: its inverse, 0: isotropic), trace ratio."""
    la, va = np.linalg.eigh(A)
    lp, vp = np.linalg.eigh(post)
    dist = np.linalg.norm(A / np.trace(A) - post / np.trace(post)) / np.linalg.norm(post / np.trace(post))
    cos = abs(float(va[:, -1] @ vp[:, -1]))
    expo = math.log(la[-1] / la[0]) / math.log(lp[-1] / lp[0])
    if cos < 0.5:  # principal axes swapped: Ξ's long axis is the posterior's short axis
        expo = -expo
    return dist, cos, expo, float(np.trace(A) / np.trace(post))


@claim(
    id="dsgd_sam.posterior_uncertainty",
    paper=PAPER + " ('Ξ estimates the posterior covariance', free uncertainty; THEORY.md §4)",
    statement="The consensus covariance Ξ of D-SGD is an estimate of the posterior covariance (uncertainty "
              "for free).",
    predicted="if Ξ ≈ posterior up to scale: normalised distance 0 and anisotropy exponent +1; analysis/linear.py "
              "gives the actual stationary Ξ (per mode ∝ η²C/(B(1 − (λ_j − ηH)²)))",
    measured="Bayesian linear regression (d=2, N=200, exact Gaussian posterior); D-SGD ring K=16, η=0.05, "
             "Gaussian noise with the per-sample gradient covariance at θ_MAP; simulated stationary Ξ (CI "
             "over replicas) vs posterior: principal-axis alignment, anisotropy exponent, trace ratio",
    tolerance="normalised distance ≤ 0.1 for 'Ξ ≈ posterior'; simulation vs linear.py within 10% band",
    tolerance_reason="0.1 distinguishes 'same shape' from the order-one differences the per-mode form predicts",
    tags=("synthetic",),
)
def posterior_uncertainty(ctx) -> Evidence:
    with one_thread():
        ex = experiment_posterior(ctx.quick, ctx.seed)
    post = ex["post"]
    d_p, cos_p, e_p, tr_p = _shape_stats(ex["xi_pred"], post)
    d_m, cos_m, e_m, tr_m = _shape_stats(ex["xi_meas"], post)
    reps = ex["xi_reps"]
    trs = np.trace(reps, axis1=1, axis2=2)
    sim_ok = compare(float(np.trace(ex["xi_pred"])), mean_ci(trs), 0.1 * float(np.trace(ex["xi_pred"])), "ci")
    dist_all = [_shape_stats(r, post)[0] for r in reps]
    approx = "holds" if d_m <= 0.1 else "fails"
    return Evidence(combine([approx, sim_ok]),
                    predicted={"normalised_distance(if Ξ≈posterior)": 0.0, "anisotropy_exponent(if Ξ≈posterior)": 1.0,
                               "normalised_distance(linear.py)": d_p, "anisotropy_exponent(linear.py)": e_p,
                               "trace_ratio(linear.py)": tr_p, "TrXi(linear.py)": float(np.trace(ex["xi_pred"]))},
                    measured={"normalised_distance": value(d_m, *np.percentile(dist_all, [2.5, 97.5])),
                              "anisotropy_exponent": e_m, "principal_axis_cos": cos_m, "trace_ratio": tr_m,
                              "TrXi": mean_ci(trs)},
                    regime={"K": 16, "topology": "ring", "lr": ex["lr"], "N": ex["N"], "B": 1},
                    notes="Ξ shares (nearly) the posterior's eigen-directions, but its shape follows the noise "
                          "covariance C ≈ Fisher ≈ N·H/… (exponent ≈ −1: the posterior's inverse shape) when the "
                          "gap dominates ηH; only the trace can be matched, by choosing η (trace ratio ∝ η²/B). "
                          "'Ξ ≈ posterior' does not hold in shape for anisotropic problems.")


def experiment_flat(quick=True, seed=0, K=8, lr=0.02, sigma=12.0):
    """double_gaussian (sharp well x=−1, f''≈15.9; flat well x=1.5, f''≈1.78); every replica starts in the
    sharp minimum. C-SGD, D-SGD (ring K) and the SAM optimiser fed a paired D-SGD run's Ξ(t) (sigma
    points) with C-SGD-level noise σ/√K. Returns the count ending right of the barrier top."""
    land = landscapes.get("double_gaussian")
    top_x = float([c.x for c in land.critical_points if c.kind == "max"][0])
    R, steps = (200, 1500) if quick else (1000, 4000)
    orc = landscapes.oracle(land, noise="isotropic", sigma=sigma)
    sharp = max(land.minima(), key=lambda c: float(c.hessian_eigvals[0]))
    x0 = torch.full((R, K, 1), float(sharp.x[0]), dtype=F64)
    out = {}
    for name in ("csgd", "dsgd"):
        m = dynamics.make(name, T.ring(K), lr=lr)
        st = m.init(x0)
        gen = torch.Generator().manual_seed(seed)
        g2 = torch.Generator().manual_seed(seed + 1)
        w = x0[:, 0].clone()
        for t in range(steps):
            if name == "dsgd":
                eps = sam.sigma_points(sam.consensus_cov(st.x))
                w = sam.sam_step(land.grad, w, lr, eps) - lr * sigma / math.sqrt(K) * torch.randn(
                    w.shape, generator=g2, dtype=F64)
            st = m.step(st, orc, t, gen)
        out[name] = int((st.x.mean(-2)[:, 0] > top_x).sum())
        if name == "dsgd":
            out["sam"] = int((w[:, 0] > top_x).sum())
    return {"counts": out, "R": R, "steps": steps, "K": K, "lr": lr, "sigma": sigma, "barrier": top_x}


@claim(
    id="dsgd_sam.flat_minimum_preference",
    paper=PAPER + " (D-SGD prefers flat minima; THEORY.md §4)",
    statement="D-SGD, like average-direction SAM, ends in flat minima more often than centralised SGD.",
    predicted="fraction ending in the flat basin: D-SGD > C-SGD and SAM > C-SGD",
    measured="double_gaussian, start in the sharp well, K=8 ring, η=0.02, σ=12; fraction of replicas whose "
             "averaged model ends right of the barrier top, Wilson 95% intervals",
    tolerance="Wilson intervals disjoint in the predicted direction",
    tolerance_reason="disjoint 95% intervals: a difference, not noise",
    tags=("synthetic",),
)
def flat_minimum_preference(ctx) -> Evidence:
    with one_thread():
        ex = experiment_flat(ctx.quick, ctx.seed)
    R = ex["R"]
    iv = {k: sam.wilson(n, R) for k, n in ex["counts"].items()}
    meas = {f"flat_fraction/{k}": value(*v) for k, v in iv.items()}

    def vs(a):
        if iv[a][1] > iv["csgd"][2]:
            return "holds"
        return "fails" if iv[a][2] < iv["csgd"][1] else "inconclusive"
    return Evidence(combine([vs("dsgd"), vs("sam")]),
                    predicted={"dsgd > csgd": True, "sam > csgd": True}, measured=meas,
                    regime={k: ex[k] for k in ("R", "steps", "K", "lr", "sigma", "barrier")},
                    notes="the averaged model follows the Gaussian-smoothed loss, which lowers the sharp well's "
                          "barrier; escapes to the flat well are more frequent")
