"""Accuracy, flatness and optimisation error (Cao, Wu, Yuan, Sayed, arXiv 2406.20006, abstract:
"accuracy depends on flatness and optimisation error, and diffusion strikes the better
balance"; docs/theory.md §3). The paper's theorems, flatness measure and experiments could not
be read; this is the checkable substitute, a measurement with directional predictions only:

- Problem: `landscapes.teacher_student` (tanh MLP, d_in = 5, hidden = 8: P = 57 parameters) with
  label noise σ_y = 0.3, so the test loss has a floor σ_y²/2 = 0.045 and minibatch noise does
  not vanish at the minima. IID split over K = 8 workers; one data set per claim seed.
- Runs: C-SGD, consensus (dsgd) and diffusion (ATC) at per-worker batches B, FIXED step size η
  and a fixed number of steps (the gradient-noise scale η/B varies 16x between B = 4 and 64);
  R random initialisations (the replica axis), x0 shared by every (method, graph, B) cell.
- Per run, at the final averaged model w̄: test loss, training excess loss f(w̄) − f̂* and the
  EXACT Hessian trace Tr ∇²f(w̄) (the flatness measure, our substitute). f̂* only shifts an
  intercept (no fit number depends on it).
- accuracy_flatness_and_error judges the signs of the partial effects in test ~ 1 + trace +
  excess (sharper -> worse, larger error -> worse) with cluster-bootstrap intervals that
  resample initialisations; the leave-one-out RMSE gains of the two-variable fit over each
  single-variable fit are reported, not judged (a useless regressor makes them slightly
  positive on average, so they cannot separate 'no effect' from 'the opposite effect').
- diffusion_better_balance judges the accuracy ordering test(consensus) > test(diffusion)
  (paired over initialisations); its two ingredients (trace and excess differences) are
  reported, not judged: without the paper's theorems the 'balance' cannot be derived.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.optimize
import torch

import dynamics
from analysis.stats import bootstrap_ci, direction, mean_ci, ols
from dynamics import topology as T
from dynamics.simulate import simulate
from landscapes.data import teacher_student
from landscapes.noise import oracle

from . import sabotage
from .claims import Evidence, ci_text, claim, combine, value
from .claims import side as claim_side

_BASE = {"K": 8, "d_in": 5, "hidden": 8, "label_noise": 0.3, "n": 1024, "n_test": 4000, "eta": 0.3,
         "init_scale": 0.5, "steps": 400}
SIZES = {
    # quick: the same η and number of steps as full (the regime of the fits), fewer cells and
    # initialisations, f̂* from the runs instead of a Newton solve
    "quick": dict(_BASE, batches=(4, 64), graphs=("ring",), replicas=16, newton=False),
    "full": dict(_BASE, batches=(4, 16, 64), graphs=("ring", "exponential"), replicas=16, newton=True),
}

METHODS = ("csgd", "dsgd", "atc")
LEVEL = 0.95
N_BOOT = 2000


def config(quick: bool) -> dict:
    """Sizes of the experiment (SIZES['quick'] or SIZES['full'])."""
    return dict(SIZES["quick" if quick else "full"])


# ---------------------------------------------------------------- experiments

def _f_star_hat(problem, x0) -> float:
    """Training loss at the local minimum reached from x0 by trust-region Newton with the exact
    Hessian (scipy 'trust-exact'; L-BFGS crawls along the near-flat directions of this model)."""
    def T_(z):
        return torch.as_tensor(z, dtype=torch.float64)
    res = scipy.optimize.minimize(lambda z: float(problem.f(T_(z))), np.asarray(x0, float),
                                  jac=lambda z: problem.grad(T_(z)).numpy(),
                                  hess=lambda z: problem.hess(T_(z)).numpy(), method="trust-exact",
                                  options={"gtol": 1e-9, "maxiter": 300})
    return float(res.fun)


_GRID_CACHE: dict = {}


def run_grid(cfg: dict, seed: int = 0, progress=None, make=None, tag: str = "") -> dict:
    """Every (method, graph, B) cell for R initialisations. Returns numpy arrays of equal length
    (one entry per run): method, graph, batch, replica, test, train (f(w̄)), excess (f(w̄) − f̂*),
    trace (exact Tr ∇²f(w̄)); plus f_star_hat and the config. `make(name, topology, lr=)` builds
    the methods (negative controls; `tag` names the sabotage in the cache key)."""
    key = (tuple(sorted((k, str(v)) for k, v in cfg.items())), seed, tag)
    if key in _GRID_CACHE:
        return _GRID_CACHE[key]
    K, R = cfg["K"], cfg["replicas"]
    prob = teacher_student(K, n=cfg["n"], d_in=cfg["d_in"], hidden=cfg["hidden"],
                           label_noise=cfg["label_noise"], split="iid", seed=seed, n_test=cfg["n_test"])
    P = prob.dim
    gen = torch.Generator().manual_seed(seed + 101)
    x0 = (cfg["init_scale"] * torch.randn(R, 1, P, generator=gen, dtype=torch.float64)).expand(R, K, P)
    cells = [(m, g, B) for m in METHODS for g in (("-",) if m == "csgd" else cfg["graphs"])
             for B in cfg["batches"]]
    cols = {k: [] for k in ("method", "graph", "batch", "replica", "test", "train", "trace")}
    for i, (m, g, B) in enumerate(cells):
        top = T.get("ring" if g == "-" else g, K)
        meth = (make or dynamics.make)(m, top, lr=cfg["eta"])
        res = simulate(meth, oracle(prob, noise="minibatch", batch=B), x0, cfg["steps"], replicas=R,
                       seed=seed + 7, record_every=cfg["steps"], recorders=("model",))
        w = torch.as_tensor(res.records["model"][-1])
        if bool(res.diverged.any()) or not bool(torch.isfinite(w).all()):
            raise ValueError(f"eta: cell {(m, g, B)} diverged at eta={cfg['eta']}; lower eta")
        cols["method"] += [m] * R
        cols["graph"] += [g] * R
        cols["batch"] += [B] * R
        cols["replica"] += list(range(R))
        cols["test"] += prob.test_loss(w).tolist()
        cols["train"] += prob.f(w).tolist()
        cols["trace"] += torch.diagonal(prob.hess(w), dim1=-2, dim2=-1).sum(-1).tolist()
        if progress is not None:
            progress((i + 1) / len(cells), f"{m} {g} B={B}")
    out = {k: np.asarray(v) for k, v in cols.items()}
    f_runs = float(out["train"].min())
    f_hat = min(_f_star_hat(prob, prob.params["teacher"]), f_runs) if cfg.get("newton", True) else f_runs
    out["excess"] = out["train"] - f_hat
    out["f_star_hat"] = f_hat
    out["config"] = dict(cfg, P=P, seed=seed)
    _GRID_CACHE[key] = out
    return out


def loo_residuals(X, y) -> np.ndarray:
    """Leave-one-out residuals of y ≈ [1, X] b: e_i / (1 − h_ii), h = diag of the hat matrix
    (the PRESS identity; the same formula as analysis.stats.ols's loo_rmse)."""
    y = np.asarray(y, float)
    X = np.asarray(X, float).reshape(len(y), -1)
    A = np.column_stack([np.ones(len(y)), X])
    if len(y) <= A.shape[1]:
        raise ValueError(f"X: need more than {A.shape[1]} points, got {len(y)}")
    b, *_ = np.linalg.lstsq(A, y, rcond=None)
    h = np.einsum("ij,ji->i", A, np.linalg.pinv(A.T @ A) @ A.T)
    return (y - A @ b) / np.clip(1 - h, 1e-12, None)


def rmse_gap_ci(res_a, res_b, clusters, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> dict:
    """RMSE(res_a) − RMSE(res_b) with a percentile bootstrap interval that resamples clusters
    (all points of a cluster together; paired: the same points for a and b)."""
    a, b = np.asarray(res_a, float) ** 2, np.asarray(res_b, float) ** 2
    clusters = np.asarray(clusters)
    if not a.shape == b.shape == clusters.shape or a.ndim != 1:
        raise ValueError("res_a, res_b and clusters must be 1-D arrays of one length")
    ids = np.unique(clusters)
    if ids.size < 2:
        raise ValueError("clusters: need at least 2 distinct clusters to bootstrap")
    inv = np.searchsorted(ids, clusters)
    sa, sb, cnt = (np.bincount(inv, weights=v, minlength=ids.size) for v in (a, b, np.ones_like(a)))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, ids.size, size=(n_boot, ids.size))
    wts = np.stack([np.bincount(p, minlength=ids.size) for p in pick])      # (n_boot, C)
    n = wts @ cnt
    d = np.sqrt(wts @ sa / n) - np.sqrt(wts @ sb / n)
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return value(math.sqrt(a.mean()) - math.sqrt(b.mean()), lo, hi)


def fits(data: dict) -> dict:
    """The three least-squares fits of the test loss: name -> analysis.stats.ols dict plus 'loo'
    residuals."""
    y = data["test"]
    X = {"trace": data["trace"][:, None], "excess": data["excess"][:, None],
         "both": np.column_stack([data["trace"], data["excess"]])}
    return {k: dict(ols(x, y), loo=loo_residuals(x, y)) for k, x in X.items()}


def coef_ci(data: dict, j: int, seed: int = 0, n_boot: int = N_BOOT) -> dict:
    """Coefficient j (1 = trace, 2 = excess) of test ~ 1 + trace + excess with a percentile
    bootstrap interval over initialisations (analysis.stats.bootstrap_ci on the cluster ids: all
    runs of one initialisation share x0 and noise streams, so they are resampled together)."""
    cl = np.asarray(data["replica"])
    ids = np.unique(cl)
    rows = {c: np.flatnonzero(cl == c) for c in ids}
    A = np.column_stack([np.ones(len(cl)), data["trace"], data["excess"]])
    y = np.asarray(data["test"], float)

    def stat(pick):
        idx = np.concatenate([rows[c] for c in pick.astype(int)])
        return np.linalg.lstsq(A[idx], y[idx], rcond=None)[0][j]
    return bootstrap_ci(stat, ids.astype(float), n_boot=n_boot, seed=seed)


def judge(data: dict, seed: int = 0) -> Evidence:
    """Verdict of accuracy_flatness_and_error from `run_grid` output (module docstring)."""
    F = fits(data)
    cl = data["replica"]
    meas, rep, checks = {}, {}, []
    cis = {}
    for j, k in ((1, "trace"), (2, "excess")):
        cis[k] = coef_ci(data, j, seed=seed)
        meas[f"both/coef_{k}"] = cis[k]
        checks.append(direction(cis[k], ">", 0.0))
    for k, f in F.items():
        rep[f"{k}/r2"], rep[f"{k}/adj_r2"], rep[f"{k}/loo_rmse"] = f["r2"], f["adj_r2"], f["loo_rmse"]
    for k in ("trace", "excess"):
        rep[f"loo_rmse(both)-loo_rmse({k})"] = rmse_gap_ci(F["both"]["loo"], F[k]["loo"], cl, seed=seed)
    rep["both/std_coef_trace"] = F["both"]["coef"][1] * float(data["trace"].std())
    rep["both/std_coef_excess"] = F["both"]["coef"][2] * float(data["excess"].std())
    rep["corr(trace, excess)"] = float(np.corrcoef(data["trace"], data["excess"])[0, 1])
    for m in METHODS:
        s = data["method"] == m
        for k in ("test", "excess", "trace"):
            rep[f"{m}/mean_{k}"] = float(data[k][s].mean())
    cfg = data["config"]
    word = {"holds": "positive", "fails": "negative", "inconclusive": "not significant"}
    tr, ex = cis["trace"], cis["excess"]
    finding = (f"In test ~ 1 + trace + excess over {len(data['test'])} runs ({int(cl.max()) + 1} "
               f"initialisations) the trace coefficient is {tr['value']:.3g} [{tr['ci_low']:.3g}, "
               f"{tr['ci_high']:.3g}] ({word[direction(tr, '>', 0.0)]}) and the excess coefficient "
               f"{ci_text(ex, '.3g')} ({word[direction(ex, '>', 0.0)]}); "
               f"LOO RMSE both {F['both']['loo_rmse']:.3g} vs trace only {F['trace']['loo_rmse']:.3g} "
               f"and excess only {F['excess']['loo_rmse']:.3g} (reported).")
    regime = dict(cfg)
    regime.update(f_star_hat=data["f_star_hat"], step_rule="fixed eta, fixed steps",
                  test_loss_floor=cfg["label_noise"] ** 2 / 2,
                  f_star_hat_from="Newton from the teacher and the runs" if cfg.get("newton", True) else "lowest run")
    pts = {k: np.asarray(data[k]).tolist() for k in ("method", "graph", "batch", "replica", "test", "trace", "excess")}
    fit_data = {k: {"coef": f["coef"], "r2": f["r2"], "loo_rmse": f["loo_rmse"]} for k, f in F.items()}
    return Evidence(combine(checks),
                    predicted={"both/coef_trace": "> 0 (sharper -> higher test loss)",
                               "both/coef_excess": "> 0 (larger optimisation error -> higher test loss)"},
                    measured=meas, reported=rep, regime=regime, headline=["both/coef_trace", "both/coef_excess"],
                    finding=finding, notes=finding,
                    data={"runs": pts, "fits": fit_data, "config": {k: (list(v) if isinstance(v, tuple) else v)
                                                                    for k, v in data["config"].items()}})


def balance(data: dict) -> Evidence:
    """Verdict of diffusion_better_balance from `run_grid` output: per initialisation, the mean
    over matched (graph, B) cells of consensus − diffusion test loss (and of trace and excess),
    Student-t intervals over initialisations."""
    keyed = {}
    for m, g, B, r, te, tr, ex in zip(data["method"], data["graph"], data["batch"], data["replica"],
                                      data["test"], data["trace"], data["excess"]):
        keyed[(m, g, int(B), int(r))] = (te, tr, ex)
    R = int(np.max(data["replica"])) + 1
    cells = sorted({(g, B) for (m, g, B, _) in keyed if m == "atc"})
    diffs = np.array([[np.mean([keyed[("dsgd", g, B, r)][q] - keyed[("atc", g, B, r)][q] for g, B in cells])
                       for q in range(3)] for r in range(R)])
    test_d, trace_d, exc_d = (mean_ci(diffs[:, q]) for q in range(3))
    v = direction(test_d, ">", 0.0)
    rep = {"trace(dsgd)-trace(atc)": trace_d, "excess(dsgd)-excess(atc)": exc_d,
           "trace(dsgd)-trace(atc)/direction": direction(trace_d, ">", 0.0),
           "excess(dsgd)-excess(atc)/direction": direction(exc_d, ">", 0.0)}
    for m in METHODS:
        s = data["method"] == m
        rep[f"{m}/mean_test"] = float(data["test"][s].mean())
    side = claim_side(v, "lower for diffusion", "lower for consensus")
    finding = (f"Test loss consensus − diffusion {ci_text(test_d, '.3g')} "
               f"over {R} initialisations ({side}); consensus − diffusion Hessian trace "
               f"{ci_text(trace_d, '.3g')} and excess loss {ci_text(exc_d, '.3g')} (reported: the balance itself is not derivable "
               f"without the paper's theorems).")
    return Evidence(v, predicted={"test(dsgd)-test(atc)": "> 0 (diffusion more accurate)"},
                    measured={"test(dsgd)-test(atc)": test_d}, reported=rep,
                    regime=dict(data["config"], cells=[f"{g} B={B}" for g, B in cells]),
                    headline=["test(dsgd)-test(atc)"], finding=finding, notes=finding,
                    data={"per_initialisation": {"test": diffs[:, 0].tolist(), "trace": diffs[:, 1].tolist(),
                                                 "excess": diffs[:, 2].tolist()},
                          "test": [test_d["value"], test_d["ci_low"], test_d["ci_high"]],
                          "trace": [trace_d["value"], trace_d["ci_low"], trace_d["ci_high"]],
                          "excess": [exc_d["value"], exc_d["ci_low"], exc_d["ci_high"]],
                          "means": {m: {k: float(data[k][data["method"] == m].mean()) for k in ("test", "trace", "excess")}
                                    for m in METHODS}})


# ---------------------------------------------------------------- claims

@claim("flatness.accuracy_flatness_and_error")
def accuracy_flatness_and_error(ctx) -> Evidence:
    data = run_grid(config(ctx.quick), seed=ctx.seed, progress=ctx.progress)
    if ctx.sabotaged("flatness_shuffled"):
        data = dict(data, trace=np.random.default_rng(ctx.seed + 1).permutation(data["trace"]))
    return judge(data, seed=ctx.seed)


@claim("flatness.diffusion_better_balance")
def diffusion_better_balance(ctx) -> Evidence:
    make, tag = None, ""
    if ctx.sabotaged("diffusion_half_step"):
        def make(name, top, lr):
            m = dynamics.make(name, top, lr=lr)
            return sabotage.half_step(m) if name == "atc" else m
        tag = "diffusion_half_step"
    data = run_grid(config(ctx.quick), seed=ctx.seed, progress=ctx.progress, make=make, tag=tag)
    return balance(data)
