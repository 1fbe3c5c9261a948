"""Momentum Tracking and data heterogeneity (Takezawa, Bao, Niwa, Sato, Yamada, "Momentum
Tracking: momentum acceleration for decentralized deep learning on heterogeneous data", TMLR
2023; docs/theory.md §1 update rules, §5 the claim and the exact-gradient fixed points).

The paper's theorem constants are not reproduced; the checks are the exact fixed points of
docs/theory.md §5 and measured convergence as a function of the heterogeneity ζ².

What is measured (every stochastic claim): at a FIXED step size (no tuning per level), R
replicas per ζ² level, common random numbers (replica r draws the same gradient noise at every
level and for every method: landscapes.rng.Streams), the network suboptimality
S(T) = (1/K) Σ_k f(x_k) − f* after T steps (mean over the records in (0.8T, T]) at several T.
Per method and T, the relative heterogeneity penalty Π(T) = b·ζ²_max / S̄(0): b the least-squares
slope of the level means of S(T) against ζ², S̄(0) the mean at ζ² = 0; its 95% interval is a paired bootstrap over
replicas (analysis.stats.bootstrap_ci, paired=True). "Independent of ζ" is |Π| < MARGIN (a
two-sided equivalence judgement: interval inside (−MARGIN, MARGIN) holds, wholly outside fails);
"depends on ζ" is Π > 0 (S grows with ζ², as the paper's bounds do) and Π larger than MT's
(analysis.stats.direction on the intervals). Whether a dependent method's Π also lies within
MT's margin is reported beside it.

Problems (closed-form gradients, all levels and replicas stepped as one tensor (L, R, K, d)):
- `quadratic`: landscapes.hetero_quadratics, unequal Hessians (spectrum in [1, 2]), ζ²(x*) set
  exactly; the same A_k, x*, f and gradient directions at every level, only ζ changes.
- `mlp`: a non-convex teacher–student MLP (activation z/√(1 + z²)) with concept shift: every worker sees the same
  inputs, worker k's targets are the teacher's outputs shifted by ζ·u_k (Σ_k u_k = 0). The
  global objective f = f_0 + const is the same at every level, x* = the teacher, and
  ζ²(x*) = ζ² (1/K) Σ_k u_k² ‖∇ mean_j s(a_j)‖² > 0 is set exactly; the heterogeneity
  ∇f_k − ∇f = −ζ u_k J̄(x) varies with x (not a constant tilt) and the per-worker curvature
  grows with ζ.
Gradient noise: additive isotropic Gaussian σ·N(0, I) per worker and step, the same σ at every
level (no noise–heterogeneity confound).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

import dynamics
import landscapes
from analysis import heterogeneity as het
from analysis.stats import bootstrap_ci, diff_ci, direction, mean_ci
from dynamics import topology as T
from landscapes.rng import Streams

from . import sabotage
from .claims import Evidence, claim, combine

SIZES = {
    "quick": dict(R=6, T=500, checks=(125, 250, 500), zeta2=(0.0, 1.0, 2.0, 4.0), d=5,
                  betas=(0.0, 0.99), T_beta=(500, 1000), tops=("ring", "hypercube", "exponential_undirected"),
                  n_boot=500, mlp=dict(n=24, d_in=3, hidden=4), exact_d=3, exact_cap=4000),
    "full": dict(R=8, T=2000, checks=(250, 500, 1000, 2000), zeta2=(0.0, 1.0, 2.0, 3.0, 4.0), d=10,
                 betas=(0.0, 0.5, 0.9, 0.99), T_beta=(1500, 1500, 1500, 3000),
                 tops=("ring", "hypercube", "exponential_undirected", "complete"),
                 n_boot=2000, mlp=dict(n=32, d_in=3, hidden=5), exact_d=10, exact_cap=20000),
}

MOMENTUM = ("dsgdm", "qg_dsgdm", "decentlam", "mt")
OTHERS = ("dsgdm", "qg_dsgdm", "decentlam")   # the methods the statement says depend on ζ
WORDS = {"mt": "MT", "dsgdm": "DSGDm", "qg_dsgdm": "QG-DSGDm", "decentlam": "DecentLaM", "atc": "DSGD",
         "gt": "GT", "d2": "D²"}
MARGIN = 0.1   # "independent of ζ": relative penalty Π below 10% over the ζ² range
K = 8
ETA = {"quadratic": 0.1, "mlp": 0.1}   # effective step η_eff (momentum methods run lr = η_eff(1 − β))
SIGMA = {"quadratic": 1.0, "mlp": 0.1}
FAMILIES = ("quadratic", "mlp")


def sizes(quick: bool) -> dict:
    return SIZES["quick" if quick else "full"]


# ------------------------------------------------------------------ building blocks

def topology(name: str, Kw: int = K):
    """ring | hypercube | exponential_undirected | complete with K workers."""
    return T.get(name, Kw)


def bind(name: str, top, lr_eff: float, beta: float):
    """dynamics.make with lr = lr_eff(1 − β) for momentum methods (the same averaged dynamics
    x̄ ← x̄ − lr m̄, m̄ ← βm̄ + ḡ, effective step lr_eff, for all of them); D² on (I + W)/2."""
    if name == "d2":
        W = top.W().numpy()
        top = T.custom((np.eye(W.shape[0]) + W) / 2, name=f"{top.name}-lazy")
    if name in MOMENTUM:
        return dynamics.make(name, top, lr=lr_eff * (1 - beta), beta=beta)
    return dynamics.make(name, top, lr=lr_eff)


def no_tracking(method):
    """Negative control: MT with its tracking correction removed (c ← 0 after every step), which
    leaves x⁺ = Wx − lr·m, a heavy ball on the local gradients: its bias depends on ζ."""
    return sabotage.wrap_step(method, lambda old, new: new._replace(c=torch.zeros_like(new.c)))


@functools.lru_cache(maxsize=32)
def quadratic(zeta: float, d: int, seed: int = 0, hess_spread: float = 1.0):
    """hetero_quadratics with ζ²(x*) = zeta² exactly (same A, x*, gradient directions for every ζ)."""
    return landscapes.hetero_quadratics(K, d, zeta=zeta, hess_spread=hess_spread, seed=seed)


class QuadLevels:
    """L levels of hetero_quadratics (unequal Hessians) stepped together: x (L, R, K, d)."""
    name = "quadratic"

    def __init__(self, zeta2, d: int, seed: int = 0):
        ps = [quadratic(math.sqrt(z), d, seed) for z in zeta2]
        self.zeta2 = np.array([het.zeta2_star(p) for p in ps])
        self.A = ps[0].A                                                  # (K, d, d), same at every level
        self.Abar = self.A.mean(0)
        self.x_star = ps[0].x_star
        self.Ab = torch.stack([torch.einsum("kij,kj->ki", p.A, p.b) for p in ps])[:, None]  # (L, 1, K, d)
        self.K, self.d, self.L = K, d, len(ps)
        self.x0 = torch.zeros(d, dtype=torch.float64)

    def grad(self, x):
        return torch.einsum("kij,lrkj->lrki", self.A, x) - self.Ab

    def subopt(self, x):
        """f(x_k) − f* = ½ (x_k − x*)ᵀ Ā (x_k − x*) (f is quadratic with Hessian Ā): (L, R, K)."""
        e = x - self.x_star
        return 0.5 * torch.einsum("...i,ij,...j->...", e, self.Abar, e)

    def gnorm2(self, xbar):
        return ((xbar - self.x_star) @ self.Abar).pow(2).sum(-1)


class MLPLevels:
    """Teacher–student MLP (d_in -> hidden -> 1, activation ψ(z) = z/√(1 + z²), tanh-shaped and
    algebraic) with concept shift ζ·u_k per worker, L
    levels stepped together: x (L, R, K, P), closed-form gradients (see the module docstring)."""
    name = "mlp"

    def __init__(self, zeta2, n: int, d_in: int, hidden: int, seed: int = 0):
        self.n, self.d_in, self.h = n, d_in, hidden
        h = hidden
        self.P = h * d_in + 2 * h + 1
        st = Streams(seed, 1)
        w = st.normal(0, (self.P,), stream=11)[0]
        scale = torch.cat([torch.full((h * d_in,), 1 / math.sqrt(d_in)), torch.full((h,), 0.5),
                           torch.full((h,), 2 / math.sqrt(h)), torch.zeros(1)]).to(torch.float64)
        self.x_star = w * scale
        self.a = st.normal(0, (n, d_in), stream=12)[0]
        self.y = self._fwd(self.x_star[None])[1][:, 0]                   # (n,)
        u = st.normal(0, (K,), stream=13)[0]
        u = u - u.mean()
        J = self._back(self.x_star[None], torch.ones(n, 1, dtype=torch.float64))[0]
        u = u / math.sqrt(float((u ** 2).mean() * (J ** 2).sum()))
        self.u = u
        self.zeta2_levels = np.asarray(zeta2, dtype=float)
        self.shift = torch.tensor(np.sqrt(self.zeta2_levels))[:, None] * u[None]   # (L, K)
        self.zeta2 = self.zeta2_levels.copy()
        self.K, self.d, self.L = K, self.P, len(zeta2)
        self.x0 = st.normal(0, (self.P,), stream=14)[0] * scale * 0.5

    def _split(self, x):
        h, d = self.h, self.d_in
        W1 = x[..., :h * d].reshape(*x.shape[:-1], h, d)
        return W1, x[..., h * d:h * d + h], x[..., h * d + h:h * d + 2 * h], x[..., -1]

    def _fwd(self, x):
        """x (..., P) -> hidden activations (n, N, h), outputs (n, N) with N = prod(...): one
        GEMM a·W1ᵀ for all networks at once (no broadcast batched matmul)."""
        W1, b1, W2, b2 = self._split(x)
        N = b2.numel()
        Z = (self.a @ W1.reshape(N * self.h, self.d_in).T).view(self.n, N, self.h)
        Z = Z + b1.reshape(N, self.h)
        q = torch.rsqrt(1 + Z * Z)
        H = Z * q                                                          # ψ(z) = z/√(1 + z²)
        s = (H * W2.reshape(N, self.h)).sum(-1) + b2.reshape(N)
        return (H, q * q * q), s                                           # ψ'(z) = (1 + z²)^(−3/2)

    def _back(self, x, r, H=None):
        """(1/n) Σ_j r_j ∂s(a_j)/∂x for x (..., P) and r (n, N) -> (..., P)."""
        W1, b1, W2, b2 = self._split(x)
        if H is None:
            H, _ = self._fwd(x)
        n, N, h = self.n, b2.numel(), self.h
        H, dH = H
        D = r.unsqueeze(-1) * W2.reshape(N, h) * dH                       # (n, N, h)
        gW1 = (D.reshape(n, N * h).T @ self.a).view(N, h * self.d_in) / n
        out = torch.cat([gW1, D.mean(0), (r.unsqueeze(-1) * H).mean(0), r.mean(0).unsqueeze(-1)], -1)
        return out.view(*x.shape[:-1], self.P)

    def _resid(self, s, x):
        """s − y − ζ_ℓ u_k as (n, N) for x (L, R, K, P)."""
        L, R, Kk = x.shape[:3]
        c = self.shift[:, None, :].expand(L, R, Kk).reshape(-1)
        return s - self.y[:, None] - c

    def f_k(self, x):
        """Worker objectives (1/2n) Σ_j (s(a_j) − y_j − ζ_ℓ u_k)² for x (L, R, K, P) -> (L, R, K)."""
        _, s = self._fwd(x)
        return 0.5 * (self._resid(s, x) ** 2).mean(0).view(x.shape[:-1])

    def grad(self, x):
        H, s = self._fwd(x)
        return self._back(x, self._resid(s, x), H)

    def subopt(self, x):
        """f(x_k) − f* = f_0(x_k) = (1/2n) Σ_j (s(a_j) − y_j)² (the shifts add a constant to f)."""
        _, s = self._fwd(x)
        return 0.5 * ((s - self.y[:, None]) ** 2).mean(0).view(x.shape[:-1])

    def gnorm2(self, xbar):
        H, s = self._fwd(xbar)
        return self._back(xbar, s - self.y[:, None], H).pow(2).sum(-1)


def levels(family: str, quick: bool, seed: int = 0):
    sz = sizes(quick)
    if family == "quadratic":
        return QuadLevels(sz["zeta2"], sz["d"], seed)
    if family == "mlp":
        return MLPLevels(sz["zeta2"], seed=seed, **sz["mlp"])
    raise ValueError(f"family must be one of {list(FAMILIES)}, got {family!r}")


class GaussianOracle:
    """oracle(x (L, R, K, d), t, streams) -> (None, exact gradient + σ z), z ~ N(0, I) from
    `Streams` (R, K, d): the same draw at every level (common random numbers)."""

    def __init__(self, problem, sigma: float):
        self.problem, self.sigma = problem, float(sigma)

    def __call__(self, x, t, rng):
        g = self.problem.grad(x)
        if self.sigma == 0 or rng is None:
            return None, g
        return None, g + self.sigma * rng.normal(int(t), (x.shape[-2], x.shape[-1]), 0)


def simulate(method, problem, sigma: float, steps: int, R: int, seed: int, n_rec: int = 100):
    """Run `method` on every level of `problem` with R replicas from x⁰ (every worker at
    problem.x0). Returns dict(times (n,), S (n, L, R) network suboptimality, G (n, L, R)
    ‖∇f(x̄)‖²); a replica that left |x| < 1e6 or went non-finite reads inf from then on."""
    orc = GaussianOracle(problem, sigma)
    rng = Streams(seed, R)
    x0 = problem.x0.expand(problem.L, R, problem.K, problem.d).clone()
    every = max(1, steps // n_rec)
    times = sorted({*range(every, steps + 1, every), steps} - {0})
    S, G = [], []
    dead = torch.zeros(problem.L, R, dtype=torch.bool)
    r = dynamics.rollout(method, orc, x0, 0, rng=rng)  # the state at t = 0, then on to each record
    for t in times:
        r = dynamics.rollout(method, orc, r.state, t - r.t, t0=r.t, rng=rng)
        x = r.state.x
        dead |= ~torch.isfinite(x).flatten(2).all(-1) | (x.abs().flatten(2).amax(-1) > 1e6)
        x = torch.where(dead[..., None, None], torch.zeros_like(x), x)
        inf = torch.tensor(math.inf, dtype=torch.float64)
        S.append(torch.where(dead, inf, problem.subopt(x).mean(-1)))
        G.append(torch.where(dead, inf, problem.gnorm2(x.mean(-2))))
    return dict(times=np.array(times), S=torch.stack(S).numpy(), G=torch.stack(G).numpy())


def window(run: dict, T_: int, key: str = "S") -> np.ndarray:
    """Mean over the records in (0.8 T, T]: (L, R)."""
    t = run["times"]
    sel = (t > 0.8 * T_) & (t <= T_)
    return run[key][sel].mean(0)


# ------------------------------------------------------------------ statistics

def _penalty(z2):
    """Relative penalty of the level means m (L,): b·ζ²_max / m[0], b the least-squares slope of
    m against ζ² (the first level is ζ² = 0)."""
    zc = z2 - z2.mean()
    w = zc / float((zc ** 2).sum()) * z2.max()

    def stat(m):
        return float(w @ m / m[0]) if m[0] > 0 else math.inf
    return stat


def _replicas(stat, *S, n_boot: int, seed: int) -> dict:
    """Paired bootstrap over replicas: `stat(*level means)` on resampled replica indices (every
    array S (L, R) resampled with the same indices)."""
    if not all(np.all(np.isfinite(a)) for a in S):
        return {"value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    R = S[0].shape[1]
    return bootstrap_ci(lambda idx: stat(*[a[:, idx.astype(int)].mean(1) for a in S]), np.arange(R),
                        n_boot=n_boot, seed=seed)


def penalty_ci(S: np.ndarray, zeta2, n_boot: int, seed: int = 0) -> dict:
    """Π = b·ζ²_max / S̄(0) with a paired bootstrap 95% interval over replicas; S (L, R)."""
    return _replicas(_penalty(np.asarray(zeta2, float)), S, n_boot=n_boot, seed=seed)


def penalty_diff_ci(S1: np.ndarray, S0: np.ndarray, zeta2, n_boot: int, seed: int = 0) -> dict:
    """Π(method 1) − Π(method 0), paired bootstrap over replicas (common random numbers)."""
    p = _penalty(np.asarray(zeta2, float))
    return _replicas(lambda m1, m0: p(m1) - p(m0), S1, S0, n_boot=n_boot, seed=seed)


def flat_verdict(pi: dict) -> str:
    """'Independent of ζ' (two-sided equivalence): the Π interval inside (−MARGIN, MARGIN) holds,
    wholly beyond either end fails, otherwise inconclusive."""
    return combine([direction(pi, "<", MARGIN), direction(pi, ">", -MARGIN)])


def _fmt(v: dict) -> str:
    return f"{v['value']:.3g} [{v['ci_low']:.3g}, {v['ci_high']:.3g}]"


# ------------------------------------------------------------------ experiments

def sweep(family: str, quick: bool, seed: int, methods, beta: float = 0.9, top_name: str = "ring",
          steps: int | None = None, sabotage_mt: bool = False, lr_eff: dict | None = None):
    """Every method on every ζ² level of `family` at a fixed step: dict(zeta2, runs{method: run})."""
    sz = sizes(quick)
    prob = levels(family, quick, seed)
    top = topology(top_name)
    steps = steps or sz["T"]
    runs = {}
    for name in methods:
        eta = (lr_eff or {}).get(name, ETA[family])
        m = bind(name, top, eta, beta)
        if name == "mt" and sabotage_mt:
            m = no_tracking(m)
        runs[name] = simulate(m, prob, SIGMA[family], steps, sz["R"], seed)
    return dict(zeta2=prob.zeta2, runs=runs, steps=steps, problem=prob)


def judge_sweep(sw: dict, checks, n_boot: int, seed: int, methods=MOMENTUM):
    """Per T in `checks`: Π per method, MT flat, others Π > 0 and Π − Π_MT > 0."""
    z2 = sw["zeta2"]
    out, verdicts = {}, []
    for T_ in checks:
        S = {m: window(sw["runs"][m], T_) for m in methods}
        pis = {m: penalty_ci(S[m], z2, n_boot, seed) for m in methods}
        row = {"pi": pis, "verdict": {}}
        if "mt" in methods:
            row["verdict"]["mt"] = flat_verdict(pis["mt"])
        for m in methods:
            if m == "mt":
                continue
            dep = direction(pis[m], ">", 0.0)
            row.setdefault("vs_mt", {})[m] = d = penalty_diff_ci(S[m], S["mt"], z2, n_boot, seed)
            row["verdict"][m] = combine([dep, direction(d, ">", 0.0)])
        verdicts += list(row["verdict"].values())
        out[T_] = row
    return out, verdicts


def _sweep_data(sw: dict, checks, methods):
    """JSON-ready data for the figures: S(T) mean and 95% t-interval per level, mean curves."""
    z2 = [float(z) for z in sw["zeta2"]]
    d = {"zeta2": z2, "checks": list(checks), "methods": list(methods), "steps": sw["steps"], "S": {}, "curves": {}}
    for m in methods:
        run = sw["runs"][m]
        d["S"][m] = {str(T_): [mean_ci(w) for w in window(run, T_)] for T_ in checks}
        d["curves"][m] = {"times": run["times"].tolist(),
                          "mean": [[float(np.mean(run["S"][i, lv])) for i in range(len(run["times"]))]
                                   for lv in range(len(z2))]}
    return d


# ------------------------------------------------------------------ claim 1: exactness

@claim("momentum_tracking.exactness")
def exactness(ctx) -> Evidence:
    sz = sizes(ctx.quick)
    d, lr, beta, cap = sz["exact_d"], 0.05, 0.9, sz["exact_cap"]
    names = ("gt", "mt", "d2", "atc", "dsgd", "qg_dsgdm", "decentlam", "dsgdm")
    pred, meas, verdicts, bias, worst = {}, {}, [], {}, {}
    for n, spread in enumerate((0.0, 1.0)):
        p = quadratic(1.0, d, seed=ctx.seed, hess_spread=spread)
        A, b = p.A.numpy(), p.b.numpy()
        for name in names:
            # every method runs the raw step η = lr (DSGDm's fixed point then has step η/(1 − β))
            m = bind(name, topology("ring"), lr / (1 - beta), beta) if name in MOMENTUM else \
                bind(name, topology("ring"), lr, 0.0)
            W = m.topology.W().numpy()
            beta_pred = 0.0 if (name == "dsgdm" and ctx.sabotaged("dsgdm_step_eta")) else m.hp.get("beta", 0.0)
            P = het.predicted_fixed_point(name, W, A, b, m.hp["lr"], beta_pred)
            Xa, _ = het.fixed_point(m, A, b)
            orc = landscapes.oracle(p)
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
            worst[key] = err / tol
            pred[f"{key}/consensus_rms"] = het.consensus_rms(P)
            pred[f"{key}/avg_bias"] = float(np.linalg.norm(P.mean(0) - p.x_star.numpy()))
            pred[f"{key}/affine_vs_equation"] = float(np.abs(Xa - P).max())
            meas[f"{key}/max_err_vs_predicted"] = err
            meas[f"{key}/consensus_rms"] = het.consensus_rms(X)
            meas[f"{key}/avg_bias"] = float(np.linalg.norm(X.mean(0) - p.x_star.numpy()))
            meas[f"{key}/steps"] = t + 1
            bias[key] = (het.consensus_rms(P), het.consensus_rms(X))
        ctx.progress((n + 1) / 2, f"hess_spread={spread}")
    ratio = bias["equal/dsgdm"][1] / bias["equal/atc"][1]
    wk = max(worst, key=worst.get)
    n_ok = verdicts.count("holds")
    aff = max(v for k, v in pred.items() if k.endswith("affine_vs_equation"))
    return Evidence(
        combine(verdicts), predicted=pred, measured=meas,
        regime=dict(K=K, d=d, lr=lr, beta=beta, zeta=1.0, topology="ring (D²: (I+W)/2)"),
        headline=[f"{wk}/max_err_vs_predicted", "equal/dsgdm/consensus_rms"],
        finding=f"{n_ok} of {len(verdicts)} method/Hessian cases end within tolerance of their predicted fixed "
                f"point (worst: {wk}, {meas[f'{wk}/max_err_vs_predicted']:.1e}); the measured DSGDm/DSGD "
                f"consensus-bias ratio is {ratio:.2f}.",
        notes=f"{n_ok}/{len(verdicts)} within tolerance; measured DSGDm/DSGD(ATC) consensus bias ratio {ratio:.2f}; "
              f"the affine-map fixed point agrees with the per-method equation to {aff:.1e}",
        data={"cases": {k: {"predicted_consensus_rms": v[0], "measured_consensus_rms": v[1],
                            "err": meas[f"{k}/max_err_vs_predicted"]} for k, v in bias.items()}})


# ------------------------------------------------------------------ claim 2: convergence vs ζ²

@claim("momentum_tracking.rate_vs_zeta")
def rate_vs_zeta(ctx) -> Evidence:
    sz = sizes(ctx.quick)
    methods = MOMENTUM + ("atc",)
    checks = sz["checks"]
    pred, meas, rep, verdicts, notes, data = {}, {}, {}, [], [], {}
    for n, fam in enumerate(FAMILIES):
        sw = sweep(fam, ctx.quick, ctx.seed, methods, beta=0.9, sabotage_mt=ctx.sabotaged("mt_no_tracking"))
        res, vs = judge_sweep(sw, checks, sz["n_boot"], ctx.seed, MOMENTUM)
        verdicts += vs
        rep_pi = {T_: penalty_ci(window(sw["runs"]["atc"], T_), sw["zeta2"], sz["n_boot"], ctx.seed) for T_ in checks}
        for T_, row in res.items():
            pred[f"{fam}/T={T_}/mt/penalty"] = f"|Π| < {MARGIN}"
            for m in MOMENTUM:
                meas[f"{fam}/T={T_}/{m}/penalty"] = row["pi"][m]
                if m != "mt":
                    pred[f"{fam}/T={T_}/{m}/penalty"] = "> 0 and > MT's"
                    meas[f"{fam}/T={T_}/{m}/penalty_minus_mt"] = row["vs_mt"][m]
                    rep[f"{fam}/T={T_}/{m}/flat_by_mt_margin"] = flat_verdict(row["pi"][m])
                meas[f"{fam}/T={T_}/{m}/verdict"] = row["verdict"][m]
            rep[f"{fam}/T={T_}/atc/penalty"] = rep_pi[T_]
        for lv, z in enumerate(sw["zeta2"]):
            rep[f"{fam}/zeta2[{lv}]"] = float(z)
        Tl = checks[-1]
        last = res[Tl]
        notes.append(f"{fam}: Π(T={Tl}) " + ", ".join(f"{WORDS[m]} {_fmt(last['pi'][m])} ({last['verdict'][m]})"
                                                     for m in MOMENTUM))
        data[fam] = _sweep_data(sw, checks, methods)
        data[fam]["penalty"] = {m: {str(T_): res[T_]["pi"][m] for T_ in checks} for m in MOMENTUM}
        data[fam]["penalty"]["atc"] = {str(T_): rep_pi[T_] for T_ in checks}
        ctx.progress((n + 1) / len(FAMILIES), fam)
    v = combine(verdicts)
    Tl = checks[-1]
    inside = sorted(f"{k.split('/')[0]}/{WORDS[k.split('/')[2]]}" for k, x in rep.items()
                    if k.endswith("/flat_by_mt_margin") and f"/T={Tl}/" in k and x == "holds")
    bad = sorted({k.split("/")[0] + "/" + WORDS[k.split("/")[2]] + f"@{k.split('/')[1]}"
                  for k, x in meas.items() if k.endswith("/verdict") and x != "holds"})
    finding = (f"At T = {Tl}, MT's relative penalty is {meas[f'quadratic/T={Tl}/mt/penalty']['value']:.2g} "
               f"(quadratic) and {meas[f'mlp/T={Tl}/mt/penalty']['value']:.2g} (MLP) against DSGDm's "
               f"{meas[f'quadratic/T={Tl}/dsgdm/penalty']['value']:.2g} and {meas[f'mlp/T={Tl}/dsgdm/penalty']['value']:.2g}, "
               f"QG-DSGDm's {meas[f'quadratic/T={Tl}/qg_dsgdm/penalty']['value']:.2g} and "
               f"{meas[f'mlp/T={Tl}/qg_dsgdm/penalty']['value']:.2g}, DecentLaM's "
               f"{meas[f'quadratic/T={Tl}/decentlam/penalty']['value']:.2g} and {meas[f'mlp/T={Tl}/decentlam/penalty']['value']:.2g}; "
               + (f"{len(verdicts)} of {len(verdicts)} (family, T, method) checks hold" if not bad else
                  f"not holding: {', '.join(bad)}")
               + (f"; within MT's ±{MARGIN} margin at T = {Tl}: {', '.join(inside)}." if inside else "."))
    return Evidence(v, predicted=pred, measured=meas, reported=rep, notes="; ".join(notes),
                    headline=[f"mlp/T={Tl}/mt/penalty", f"mlp/T={Tl}/decentlam/penalty"],
                    finding=finding, data=data,
                    regime=dict(K=K, beta=0.9, topology="ring", eta_eff=ETA, sigma=SIGMA, R=sz["R"],
                                checks=list(checks), quick=ctx.quick, margin=MARGIN))


# ------------------------------------------------------------------ claim 3: β sweep

@claim("momentum_tracking.momentum_sweep")
def momentum_sweep(ctx) -> Evidence:
    sz = sizes(ctx.quick)
    pred, meas, rep, verdicts, notes, data = {}, {}, {}, [], [], {}
    jobs = [(b, Tb, f) for b, Tb in zip(sz["betas"], sz["T_beta"]) for f in FAMILIES]
    for n, (beta, Tb, fam) in enumerate(jobs):
        methods = ("mt", "dsgdm") if beta == 0 else MOMENTUM
        sw = sweep(fam, ctx.quick, ctx.seed, methods, beta=beta, steps=Tb,
                   sabotage_mt=ctx.sabotaged("mt_no_tracking"))
        res, _ = judge_sweep(sw, (Tb,), sz["n_boot"], ctx.seed, methods)
        row = res[Tb]
        key = f"beta={beta}/{fam}"
        pred[f"{key}/mt/penalty"] = f"|Π| < {MARGIN}"
        verdicts.append(row["verdict"]["mt"])
        for m in methods:
            meas[f"{key}/{m}/penalty"] = row["pi"][m]
            meas[f"{key}/{m}/verdict"] = row["verdict"][m]
            if m != "mt":
                meas[f"{key}/{m}/penalty_minus_mt"] = row["vs_mt"][m]
                rep[f"{key}/{m}/flat_by_mt_margin"] = flat_verdict(row["pi"][m])
                if beta > 0:
                    pred[f"{key}/{m}/penalty"] = "> 0 and > MT's"
                    verdicts.append(row["verdict"][m])
                else:
                    rep[f"{key}/{m}/penalty(DSGD)"] = row["pi"][m]
        data[key] = {"beta": beta, "T": Tb, "zeta2": [float(z) for z in sw["zeta2"]],
                     "penalty": {m: row["pi"][m] for m in methods},
                     "S": {m: [mean_ci(w) for w in window(sw["runs"][m], Tb)] for m in methods}}
        notes.append(f"β={beta} {fam}: " + ", ".join(f"{WORDS[m]} Π {_fmt(row['pi'][m])}" for m in methods))
        ctx.progress((n + 1) / len(jobs), key)
    bad = sorted(k.rsplit("/", 1)[0] for k, x in meas.items() if k.endswith("/verdict") and x != "holds"
                 and (("/mt/" in k) or not k.startswith("beta=0.0/")))
    bmax = sz["betas"][-1]
    inside = sorted(k.rsplit("/", 1)[0] for k, x in rep.items()
                    if k.endswith("/flat_by_mt_margin") and x == "holds" and not k.startswith("beta=0.0/"))
    finding = (f"At β = {bmax}, MT's relative penalty is {meas[f'beta={bmax}/quadratic/mt/penalty']['value']:.2g} "
               f"(quadratic) and {meas[f'beta={bmax}/mlp/mt/penalty']['value']:.2g} (MLP); QG-DSGDm's "
               f"{meas[f'beta={bmax}/quadratic/qg_dsgdm/penalty']['value']:.2g} and "
               f"{meas[f'beta={bmax}/mlp/qg_dsgdm/penalty']['value']:.2g}, DecentLaM's "
               f"{meas[f'beta={bmax}/quadratic/decentlam/penalty']['value']:.2g} and "
               f"{meas[f'beta={bmax}/mlp/decentlam/penalty']['value']:.2g}; "
               + ("every judged check holds" if not bad else f"not holding: {', '.join(bad)}")
               + (f"; within MT's ±{MARGIN} margin: {', '.join(inside)}." if inside else "."))
    return Evidence(combine(verdicts), predicted=pred, measured=meas, reported=rep, notes="; ".join(notes),
                    headline=[f"beta={bmax}/mlp/mt/penalty", f"beta={bmax}/mlp/decentlam/penalty"],
                    finding=finding, data=data,
                    regime=dict(K=K, betas=list(sz["betas"]), T=list(sz["T_beta"]), topology="ring",
                                eta_eff=ETA, quick=ctx.quick, margin=MARGIN))


# ------------------------------------------------------------------ claim 4: topology

@claim("momentum_tracking.topology")
def topology_claim(ctx) -> Evidence:
    sz = sizes(ctx.quick)
    Tl = sz["T"]
    pred, meas, rep, verdicts, S_dm, data = {}, {}, {}, [], {}, {}
    for n, tn in enumerate(sz["tops"]):
        run_on = "exponential_undirected" if (tn == "ring" and ctx.sabotaged("same_graph")) else tn
        sw = sweep("quadratic", ctx.quick, ctx.seed, ("dsgdm", "mt"), top_name=run_on)
        res, _ = judge_sweep(sw, (Tl,), sz["n_boot"], ctx.seed, ("mt", "dsgdm"))
        row = res[Tl]
        S_dm[tn] = window(sw["runs"]["dsgdm"], Tl)
        top = topology(tn)
        prob = sw["problem"]
        zmax = float(np.sqrt(sw["zeta2"][-1]))
        q = quadratic(zmax, sz["d"], ctx.seed)
        X = het.predicted_fixed_point("dsgdm", top.W().numpy(), q.A.numpy(), q.b.numpy(),
                                      ETA["quadratic"] * 0.1, 0.9)
        pred[f"{tn}/gap"] = top.spectral_gap
        pred[f"{tn}/dsgdm_deterministic_net_bias"] = float(prob.subopt(torch.as_tensor(X)).mean())
        pred[f"{tn}/mt/penalty"] = f"|Π| < {MARGIN}"
        meas[f"{tn}/mt/penalty"] = row["pi"]["mt"]
        meas[f"{tn}/dsgdm/penalty"] = row["pi"]["dsgdm"]
        verdicts.append(row["verdict"]["mt"])
        data[tn] = {"gap": top.spectral_gap, "penalty": row["pi"],
                    "S": {m: [mean_ci(w) for w in window(sw["runs"][m], Tl)] for m in ("mt", "dsgdm")}}
        ctx.progress((n + 1) / len(sz["tops"]), tn)
    z2 = sw["zeta2"]
    d = penalty_diff_ci(S_dm["ring"], S_dm["exponential_undirected"], z2, sz["n_boot"], ctx.seed)
    order = direction(d, ">", 0.0)
    verdicts.append(order)
    pred["dsgdm_penalty_ring_minus_exponential"] = "> 0"
    meas["dsgdm_penalty_ring_minus_exponential"] = d
    tops = sz["tops"]
    finding = (f"DSGDm's relative penalty is {meas['ring/dsgdm/penalty']['value']:.3g} on the ring and "
               f"{meas['exponential_undirected/dsgdm/penalty']['value']:.3g} on the exponential graph (ring minus "
               f"exponential {_fmt(d)}, {order}); MT's interval lies within "
               f"[{min(meas[f'{t}/mt/penalty']['ci_low'] for t in tops):.2g}, "
               f"{max(meas[f'{t}/mt/penalty']['ci_high'] for t in tops):.2g}] on every topology.")
    return Evidence(combine(verdicts), predicted=pred, measured=meas, reported=rep,
                    headline=["dsgdm_penalty_ring_minus_exponential", "ring/mt/penalty"], finding=finding, data=data,
                    regime=dict(K=K, topologies=list(tops), beta=0.9, T=Tl, quick=ctx.quick, margin=MARGIN),
                    notes="Π per topology: " + "; ".join(f"{t}: MT {_fmt(meas[f'{t}/mt/penalty'])}, DSGDm "
                                                          f"{_fmt(meas[f'{t}/dsgdm/penalty'])}" for t in tops))


# ------------------------------------------------------------------ claim 5: DSGDm vs DSGD

@claim("momentum_tracking.dsgdm_vs_dsgd")
def dsgdm_vs_dsgd(ctx) -> Evidence:
    sz = sizes(ctx.quick)
    Tl, beta = sz["T"], 0.9
    lr = {"quadratic": 0.01, "mlp": 0.02}
    pred, meas, rep, verdicts, data = {}, {}, {}, [], {}
    for n, fam in enumerate(FAMILIES):
        prob = levels(fam, ctx.quick, ctx.seed)
        top = topology("ring")
        b_dm = 0.0 if ctx.sabotaged("dsgdm_beta0") else beta
        arms = {"dsgdm": dynamics.make("dsgdm", top, lr=lr[fam], beta=b_dm),
                "atc": dynamics.make("atc", top, lr=lr[fam]),
                "atc_matched": dynamics.make("atc", top, lr=lr[fam] / (1 - beta))}
        runs = {k: simulate(m, prob, SIGMA[fam], Tl, sz["R"], ctx.seed) for k, m in arms.items()}
        S = {k: window(r, Tl) for k, r in runs.items()}
        pen = {k: S[k][-1] - S[k][0] for k in S}                        # per replica, paired over levels
        inter = diff_ci(pen["dsgdm"], pen["atc"], paired=True)
        at_max = diff_ci(S["dsgdm"][-1], S["atc"][-1], paired=True)
        verdicts += [direction(inter, ">", 0.0), direction(at_max, ">", 0.0)]
        pred[f"{fam}/penalty_dsgdm_minus_dsgd"] = "> 0"
        pred[f"{fam}/S_dsgdm_minus_dsgd_at_zeta_max"] = "> 0"
        meas[f"{fam}/penalty_dsgdm_minus_dsgd"] = inter
        meas[f"{fam}/S_dsgdm_minus_dsgd_at_zeta_max"] = at_max
        rep[f"{fam}/S_dsgdm_minus_dsgd_at_zeta0"] = diff_ci(S["dsgdm"][0], S["atc"][0], paired=True)
        rep[f"{fam}/penalty_dsgdm_minus_dsgd_matched_step"] = diff_ci(pen["dsgdm"], pen["atc_matched"], paired=True)
        if fam == "quadratic":
            zmax = float(np.sqrt(prob.zeta2[-1]))
            q = quadratic(zmax, sz["d"], ctx.seed)
            W = top.W().numpy()
            for k, (nm, s_, b_) in {"dsgdm": ("dsgdm", lr[fam], beta), "atc": ("atc", lr[fam], 0.0)}.items():
                X = het.predicted_fixed_point(nm, W, q.A.numpy(), q.b.numpy(), s_, b_)
                pred[f"{fam}/{k}/deterministic_net_bias_at_zeta_max"] = float(prob.subopt(torch.as_tensor(X)).mean())
        data[fam] = {"zeta2": [float(z) for z in prob.zeta2], "T": Tl, "lr": lr[fam], "beta": beta,
                     "S": {k: [mean_ci(w) for w in S[k]] for k in S}}
        ctx.progress((n + 1) / len(FAMILIES), fam)
    v = combine(verdicts)
    finding = (f"At the same step, DSGDm's heterogeneity penalty S(ζ²_max) − S(0) minus DSGD's is "
               f"{_fmt(meas['quadratic/penalty_dsgdm_minus_dsgd'])} (quadratic) and "
               f"{_fmt(meas['mlp/penalty_dsgdm_minus_dsgd'])} (MLP); DSGDm's minus DSGD's S(T) at ζ²_max is "
               f"{_fmt(meas['quadratic/S_dsgdm_minus_dsgd_at_zeta_max'])} and "
               f"{_fmt(meas['mlp/S_dsgdm_minus_dsgd_at_zeta_max'])}; at the matched effective step the penalty "
               f"difference is {_fmt(rep['quadratic/penalty_dsgdm_minus_dsgd_matched_step'])} and "
               f"{_fmt(rep['mlp/penalty_dsgdm_minus_dsgd_matched_step'])} (reported, not judged).")
    return Evidence(v, predicted=pred, measured=meas, reported=rep, finding=finding, data=data,
                    headline=["mlp/penalty_dsgdm_minus_dsgd", "quadratic/penalty_dsgdm_minus_dsgd"],
                    notes=finding, regime=dict(K=K, beta=beta, lr=lr, T=Tl, topology="ring", quick=ctx.quick))
