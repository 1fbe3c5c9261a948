"""The papers' claims on real CNN training (GitHub issue 12), judged from the runs recorded under
results/cifar/ by `python -m training.plan` (CIFAR-10 JPEG q75). These claims only READ
recordings, also on a CUDA machine: the runs themselves are made by the plan's calls
(docs/gpu_runbook.md). With nothing recorded a claim is 'inconclusive' and names the commands.

Noise: seeds give a pooled within-cell variance s² = Σ_c Σ_i (v_ci − v̄_c)² / Σ_c (n_c − 1) over
the cells of one experiment; a contrast Σ_c w_c v̄_c has standard error s·sqrt(Σ_c w_c²/n_c) and a
95% Student-t interval with Σ_c (n_c − 1) degrees of freedom (one-way ANOVA contrasts). A sign
claim holds when the interval excludes 0 on the claimed side, fails when it excludes 0 on the
other, and is otherwise 'inconclusive: within noise'.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from training import plan
from .claims import Evidence, claim, combine, results_root, value

LEVEL = 0.95
MATCH_MARGIN = 0.01          # "matches": at most 1 accuracy point worse (claim 4)
LOO_GAIN = 0.05              # claim 2: both regressors must cut the LOO error by >= 5%
MIN_POINTS = 6               # claim 2: fewest runs for a three-parameter regression


def results_dir():
    return results_root() / plan.RESULTS_SUBDIR


def _shown(path) -> str:
    """`path` relative to the repository when it lies inside it (reports travel between machines)."""
    try:
        return str(Path(path).resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def rows_of(claim_label: str, results=None) -> list[dict]:
    return [r for r in plan.load_runs(results or results_dir()) if r.get("claim") == claim_label]


# ------------------------------------------------------------------ statistics

def contrast(cells: dict, weights: dict, pool=None, level: float = LEVEL) -> dict:
    """Σ_c w_c mean(cells[c]) with a Student-t interval from the variance pooled over `pool`
    (default: the weighted cells). -> {value, ci_low, ci_high, df, se}; no interval when df = 0."""
    for c in weights:
        if not cells.get(c):
            raise ValueError(f"contrast: cell {c!r} has no values")
    pool = list(weights) if pool is None else [c for c in pool if cells.get(c)]
    ss = sum(float(np.sum((np.asarray(cells[c], float) - np.mean(cells[c])) ** 2)) for c in pool)
    df = sum(len(cells[c]) - 1 for c in pool)
    est = sum(w * float(np.mean(cells[c])) for c, w in weights.items())
    out = {"value": est, "df": df}
    if df > 0:
        from scipy.stats import t
        se = math.sqrt(ss / df * sum(w * w / len(cells[c]) for c, w in weights.items()))
        h = float(t.ppf(0.5 + level / 2, df)) * se
        out.update(ci_low=est - h, ci_high=est + h, se=se)
    return out


def sign_verdict(c: dict, margin: float = 0.0) -> str:
    """'holds' if the interval lies above `margin`, 'fails' if below, else 'inconclusive'."""
    if "ci_low" not in c:
        return "inconclusive"
    if c["ci_low"] > margin:
        return "holds"
    if c["ci_high"] < margin:
        return "fails"
    return "inconclusive"


def _v(c: dict) -> dict:
    return value(c["value"], c["ci_low"], c["ci_high"]) if "ci_low" in c else value(c["value"])


def _txt(c: dict, scale: float = 100.0, unit: str = " pt") -> str:
    if "ci_low" not in c:
        return f"{c['value'] * scale:+.2f}{unit} (one seed: no interval)"
    s = f"{c['value'] * scale:+.2f}{unit} [{c['ci_low'] * scale:+.2f}, {c['ci_high'] * scale:+.2f}]"
    return s + (" — within noise" if c["ci_low"] <= 0 <= c["ci_high"] else "")


def ols(X, y) -> dict:
    """y ≈ [1, X] b by least squares -> {coef, r2, adj_r2, loo_rmse}; LOO residual e_i/(1 − h_ii)
    with h the hat matrix (PRESS); adj R² = 1 − (1 − R²)(n − 1)/(n − p − 1)."""
    X = np.asarray(X, float).reshape(len(y), -1)
    y = np.asarray(y, float)
    n, p = X.shape
    if n <= p + 1:
        raise ValueError(f"ols: need more than {p + 1} points for {p} regressors, got n = {n}")
    A = np.column_stack([np.ones(n), X])
    b, *_ = np.linalg.lstsq(A, y, rcond=None)
    e = y - A @ b
    h = np.einsum("ij,ji->i", A, np.linalg.pinv(A.T @ A) @ A.T)
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(e @ e) / sst if sst > 0 else float("nan")
    loo = e / np.clip(1 - h, 1e-12, None)
    return {"coef": b.tolist(), "r2": r2, "adj_r2": 1 - (1 - r2) * (n - 1) / (n - p - 1),
            "loo_rmse": float(np.sqrt(np.mean(loo ** 2)))}


# ------------------------------------------------------------------ provenance

def _source(rows) -> dict:
    dates = sorted(r["date"] for r in rows if r.get("date"))
    cmds = sorted({r["command"] for r in rows if r.get("command")})
    return {"machine": ", ".join(sorted({str(r.get("machine")) for r in rows})),
            "date": f"{dates[0]} .. {dates[-1]}" if dates else "unknown",
            "command": "; ".join(cmds[:4]) + (f" (+{len(cmds) - 4} more)" if len(cmds) > 4 else ""),
            "path": _shown(results_dir()), "runs": len(rows)}


def commands_for(call_ids) -> str:
    return "; ".join(f"python -m training.plan run {c} --out results --device cuda" for c in call_ids)


def _nothing(call_ids, regime) -> Evidence:
    return Evidence("inconclusive", regime=regime, notes=(
        f"no GPU evidence has been recorded yet under {_shown(results_dir())} (these claims only read recorded "
        f"runs, also on CUDA). Produce it on a GPU with: {commands_for(call_ids)}; then "
        "`python -m training.plan summarize results/cifar` (docs/gpu_runbook.md)."))


def _missing(rows, needed_calls) -> list[str]:
    have = {r["run"] for r in rows}
    return [r.name for c in needed_calls for r in plan.get_call(c).runs if r.name not in have]


def _cells(rows, key, quantity):
    out: dict = {}
    for r in rows:
        if r.get(quantity) is not None:
            out.setdefault(key(r), []).append(float(r[quantity]))
    return out


# ------------------------------------------------------------------ claim 1

C1_CALLS = ("c1-s0", "c1-s1")
C1_REGIME = {"data": plan.DATASET_NAME, "model": "ResNet-20-BN", "workers": plan.C1_WORKERS,
             "total_batch": [1024, 8192], "steps": plan.C1_STEPS, "lr": "0.1·B/256, 30-step warm-up, cosine"}


@claim(
    id="cifar.dsgd_vs_csgd_batch",
    paper="Zhu et al., ICML 2023 (D-SGD and average-direction SAM); Cao et al. (D-SGD flatness)",
    statement="On CIFAR-10 with 16 workers and the linear scaling rule, D-SGD's test-accuracy advantage "
              "over C-SGD is larger at total batch 8192 than at 1024 (same iteration budget), and it goes "
              "with lower sharpness (Hessian top eigenvalue) of the averaged model.",
    predicted="Δ = [acc(D-SGD) − acc(C-SGD)]@8192 − [same]@1024 > 0 and λ_max(D-SGD) − λ_max(C-SGD) < 0 "
              "at 8192, for the ring and the exponential graph",
    measured="test accuracy of the averaged model, Hessian λ_max / trace at the end, consensus distance "
             "over time; seeds 0, 1; 95% t-intervals with variance pooled over the 8 (method, batch) cells",
    tolerance="sign of a 95% interval",
    tolerance_reason="two seeds per cell: the pooled interval is the honest noise level; an interval "
                     "containing 0 is reported as within noise (inconclusive)",
    tags=("gpu", "slow"),
)
def dsgd_vs_csgd_batch(ctx) -> Evidence:
    return judge_dsgd_vs_csgd(rows_of("c1"))


def judge_dsgd_vs_csgd(rows) -> Evidence:
    rows = [r for r in rows if r.get("method") in ("csgd", "dsgd-ring", "dsgd-exp")]
    if not rows:
        return _nothing(C1_CALLS, C1_REGIME)
    key = lambda r: (r["method"], int(r["total_batch"]))
    acc, sharp, trace = (_cells(rows, key, q) for q in ("test_acc", "hess_top", "hess_trace"))
    meas, verdicts, notes = {}, [], []
    for k, v in sorted(acc.items()):
        meas[f"acc/{k[0]}/B={k[1]}"] = value(np.mean(v)) if len(v) < 2 else \
            value(np.mean(v), min(v), max(v))
    for k, v in sorted(sharp.items()):
        meas[f"hess_top/{k[0]}/B={k[1]}"] = float(np.mean(v))
    for k, v in sorted(trace.items()):
        meas[f"hess_trace/{k[0]}/B={k[1]}"] = float(np.mean(v))
    for r in rows:
        meas[f"consensus_final/{r['run']}"] = r.get("consensus_final")
    for g in ("dsgd-ring", "dsgd-exp"):
        need = [(g, 8192), ("csgd", 8192), (g, 1024), ("csgd", 1024)]
        if any(not acc.get(c) for c in need):
            verdicts.append("inconclusive")
            notes.append(f"{g}: runs missing ({', '.join(f'{a}@{b}' for a, b in need if not acc.get((a, b)))})")
            continue
        for B in (1024, 8192):
            meas[f"advantage/{g}/B={B}"] = _v(contrast(acc, {(g, B): 1, ("csgd", B): -1}, pool=list(acc)))
        d = contrast(acc, {(g, 8192): 1, ("csgd", 8192): -1, (g, 1024): -1, ("csgd", 1024): 1}, pool=list(acc))
        meas[f"delta_advantage/{g}"] = _v(d)
        v1 = sign_verdict(d)
        if sharp.get((g, 8192)) and sharp.get(("csgd", 8192)):
            s = contrast(sharp, {(g, 8192): 1, ("csgd", 8192): -1})
            meas[f"sharpness_diff@8192/{g}"] = _v(s)
            v2 = {"holds": "fails", "fails": "holds"}.get(sign_verdict(s), "inconclusive")
            s_txt = f"λ_max(D-SGD) − λ_max(C-SGD) at 8192 = {_txt(s, 1, '')}"
        else:
            v2, s_txt = "inconclusive", "no Hessian recorded at 8192"
        verdicts += [v1, v2]
        notes.append(f"{g}: advantage at 8192 minus at 1024 = {_txt(d)} ({v1}); {s_txt} ({v2})")
    miss = _missing(rows, C1_CALLS)
    if miss:
        notes.append(f"{len(miss)} planned run(s) not recorded: {commands_for(C1_CALLS)}")
    return Evidence(combine(verdicts), predicted={"delta_advantage": "> 0", "sharpness_diff@8192": "< 0"},
                    measured=meas, regime=C1_REGIME, notes="; ".join(notes), recorded=True, source=_source(rows))


# ------------------------------------------------------------------ claim 2

@claim(
    id="cifar.accuracy_flatness_error",
    paper="Cao et al. (accuracy of D-SGD explained by flatness and optimisation error)",
    statement="Across D-SGD/ATC/C-SGD runs, test accuracy is explained better by sharpness and final "
              "training loss together than by either alone.",
    predicted="regression acc ~ 1 + λ_max + train_loss has higher adjusted R² and ≥ 5% lower "
              "leave-one-out RMSE than acc ~ 1 + λ_max and acc ~ 1 + train_loss",
    measured="R², adjusted R², leave-one-out RMSE (PRESS) of the three least-squares fits over every "
             "recorded claim-1 run (C-SGD, D-SGD ring/exponential, ATC ring; both batch sizes, both seeds)",
    tolerance=LOO_GAIN,
    tolerance_reason="a 5% LOO gain separates a real second regressor from one that fits noise at n ≈ 16",
    tags=("gpu", "slow"),
)
def accuracy_flatness_error(ctx) -> Evidence:
    return judge_flatness_error(rows_of("c1"))


def judge_flatness_error(rows) -> Evidence:
    regime = dict(C1_REGIME, methods=list(plan.C1_METHODS))
    if not rows:
        return _nothing(C1_CALLS, regime)
    pts = [r for r in rows if all(r.get(q) is not None for q in ("test_acc", "hess_top", "train_loss"))]
    regime["points"] = len(pts)
    if len(pts) < MIN_POINTS:
        return Evidence("inconclusive", regime=regime, recorded=True, source=_source(rows),
                        notes=f"only {len(pts)} runs with accuracy, λ_max and training loss (need {MIN_POINTS}); "
                              f"{commands_for(C1_CALLS)}")
    y = np.array([r["test_acc"] for r in pts])
    sh = np.array([r["hess_top"] for r in pts])
    lo = np.array([r["train_loss"] for r in pts])
    fits = {"sharpness": ols(sh[:, None], y), "train_loss": ols(lo[:, None], y),
            "both": ols(np.column_stack([sh, lo]), y)}
    meas = {f"{m}/{k}": fits[m][k] for m in fits for k in ("r2", "adj_r2", "loo_rmse")}
    meas["both/coef(intercept, sharpness, train_loss)"] = str([round(c, 6) for c in fits["both"]["coef"]])
    best_adj = max(fits["sharpness"]["adj_r2"], fits["train_loss"]["adj_r2"])
    best_loo = min(fits["sharpness"]["loo_rmse"], fits["train_loss"]["loo_rmse"])
    adj_better = fits["both"]["adj_r2"] > best_adj
    loo_better = fits["both"]["loo_rmse"] <= (1 - LOO_GAIN) * best_loo
    loo_worse = fits["both"]["loo_rmse"] >= best_loo
    verdict = "holds" if adj_better and loo_better else "fails" if (not adj_better and loo_worse) else "inconclusive"
    notes = (f"adjusted R²: both {fits['both']['adj_r2']:.3f} vs best single {best_adj:.3f}; LOO RMSE: both "
             f"{fits['both']['loo_rmse'] * 100:.2f} pt vs best single {best_loo * 100:.2f} pt"
             + ("" if verdict != "inconclusive" else " — the two criteria disagree or the gain is under "
                f"{LOO_GAIN:.0%}: within noise"))
    return Evidence(verdict, predicted={"both_adj_r2 > single": True, "loo_gain >=": LOO_GAIN}, measured=meas,
                    regime=regime, notes=notes, recorded=True, source=_source(rows))


# ------------------------------------------------------------------ claim 3

C3_REGIME = {"data": plan.DATASET_NAME, "model": "LeNet (no normalisation layers)", "workers": plan.C3_WORKERS,
             "topology": "ring", "classes_per_worker": list(plan.C3_KS), "beta": 0.9,
             "lr_grid": list(plan.C3_LRS), "steps": plan.C3_STEPS}


@claim(
    id="cifar.momentum_tracking_heterogeneity",
    paper="Takezawa et al., 'Momentum Tracking', TMLR 2023",
    statement="With 8 workers on a ring and k classes per worker, Momentum Tracking's accuracy drops "
              "least among MT, DSGDm, QG-DSGDm, DecentLaM and GT as heterogeneity grows (k: 10 → 2).",
    predicted="drop(b) − drop(MT) > 0 for every other method b, drop = acc(k=10) − acc(k=2)",
    measured="test accuracy of the averaged model at the best step size of the grid per (method, k) "
             "(mean over seeds 0, 1); 95% intervals pooled over the 15 (method, k) cells",
    tolerance="sign of a 95% interval",
    tolerance_reason="two seeds; the step size is chosen on the same test accuracy (as in the paper), "
                     "which favours every method alike",
    tags=("gpu", "slow"),
)
def momentum_tracking_heterogeneity(ctx) -> Evidence:
    return judge_momentum_tracking(rows_of("c3"))


def judge_momentum_tracking(rows) -> Evidence:
    if not rows:
        return _nothing(("c3",), C3_REGIME)
    by = _cells(rows, lambda r: (r["method"], int(r["k"]), float(r["lr"])), "test_acc")
    cells, best_lr = {}, {}
    for (m, k, lr), v in by.items():
        if (m, k) not in best_lr or np.mean(v) > np.mean(by[(m, k, best_lr[(m, k)])]):
            best_lr[(m, k)] = lr
    for (m, k), lr in best_lr.items():
        cells[(m, k)] = by[(m, k, lr)]
    meas = {f"acc/{m}/k={k}": float(np.mean(v)) for (m, k), v in sorted(cells.items())}
    meas.update({f"best_lr/{m}/k={k}": lr for (m, k), lr in sorted(best_lr.items())})
    ks = sorted({k for _, k in cells})
    hi, lo_k = max(ks), min(ks)
    verdicts, notes = [], []
    if not cells.get(("mt", hi)) or not cells.get(("mt", lo_k)) or hi == lo_k:
        return Evidence("inconclusive", measured=meas, regime=C3_REGIME, recorded=True, source=_source(rows),
                        notes=f"Momentum Tracking at two k values is missing; {commands_for(('c3',))}")
    for m in plan.C3_METHODS:
        if cells.get((m, hi)) and cells.get((m, lo_k)):
            meas[f"drop/{m}"] = _v(contrast(cells, {(m, hi): 1, (m, lo_k): -1}, pool=list(cells)))
    for b in plan.C3_METHODS[1:]:
        if not (cells.get((b, hi)) and cells.get((b, lo_k))):
            verdicts.append("inconclusive")
            notes.append(f"{b}: missing")
            continue
        c = contrast(cells, {(b, hi): 1, (b, lo_k): -1, ("mt", hi): -1, ("mt", lo_k): 1}, pool=list(cells))
        meas[f"drop({b}) - drop(mt)"] = _v(c)
        verdicts.append(sign_verdict(c))
        notes.append(f"drop({b}) − drop(MT) = {_txt(c)}")
    miss = _missing(rows, ("c3",))
    if miss:
        notes.append(f"{len(miss)} planned run(s) not recorded")
    return Evidence(combine(verdicts), predicted={"drop(b) - drop(mt)": "> 0 for every b"}, measured=meas,
                    regime=dict(C3_REGIME, k_compared=[hi, lo_k]), notes="; ".join(notes), recorded=True,
                    source=_source(rows))


# ------------------------------------------------------------------ claim 4

C4_REGIME = {"data": plan.DATASET_NAME, "model": "ResNet-20-GN", "workers": plan.C4_WORKERS, "tau": plan.C4_TAU,
             "steps": plan.C4_STEPS, "lr": 0.1, "match_margin": MATCH_MARGIN}


@claim(
    id="cifar.easgd_lsgd",
    paper="Zhang, Choromanska & LeCun, NeurIPS 2015 (EASGD); Teng et al., 2019 (Leader SGD)",
    statement="At equal communication period τ, EASGD explores more (larger spread of the workers) and "
              "matches or beats averaging (DOWNPOUR, local SGD); LSGD matches or beats EASGD.",
    predicted="spread(EASGD) − spread(DOWNPOUR) > 0; acc(EASGD) − acc(best averaging) ≥ −1 pt; "
              "acc(LSGD) − acc(EASGD) ≥ −1 pt",
    measured="mean consensus distance (1/K)Σ‖x_k − x̄‖² over the evaluations; final test accuracy of the "
             "reported model (center / leader / average); bytes sent = comm·P·4·steps; seeds 0, 1",
    tolerance=MATCH_MARGIN,
    tolerance_reason="'matches' read as at most one accuracy point worse, judged on the 95% interval",
    tags=("gpu", "slow"),
)
def easgd_lsgd(ctx) -> Evidence:
    return judge_easgd_lsgd(rows_of("c4"))


def judge_easgd_lsgd(rows) -> Evidence:
    if not rows:
        return _nothing(("c4",), C4_REGIME)
    acc = _cells(rows, lambda r: r["method"], "test_acc")
    spread = _cells(rows, lambda r: r["method"], "consensus_mean")
    byt = _cells(rows, lambda r: r["method"], "bytes_total")
    meas = {f"acc/{m}": float(np.mean(v)) for m, v in sorted(acc.items())}
    meas.update({f"spread/{m}": float(np.mean(v)) for m, v in sorted(spread.items())})
    meas.update({f"bytes_total/{m}": float(np.mean(v)) for m, v in sorted(byt.items())})
    verdicts, notes = [], []
    if spread.get("easgd") and spread.get("downpour"):
        s = contrast(spread, {"easgd": 1, "downpour": -1})
        meas["spread(easgd) - spread(downpour)"] = _v(s)
        verdicts.append(sign_verdict(s))
        notes.append(f"EASGD explores: spread difference {_txt(s, 1, '')} ({verdicts[-1]})")
    else:
        verdicts.append("inconclusive")
        notes.append("EASGD or DOWNPOUR spread missing")
    avg = [m for m in ("downpour", "localsgd") if acc.get(m)]
    pairs = []
    if avg:
        pairs.append(("easgd", max(avg, key=lambda m: np.mean(acc[m]))))
    pairs.append(("lsgd", "easgd"))
    for a, b in pairs:
        if not (acc.get(a) and acc.get(b)):
            verdicts.append("inconclusive")
            notes.append(f"{a} or {b} missing")
            continue
        c = contrast(acc, {a: 1, b: -1}, pool=list(acc))
        meas[f"acc({a}) - acc({b})"] = _v(c)
        verdicts.append(sign_verdict(c, margin=-MATCH_MARGIN))
        notes.append(f"{a} vs {b}: {_txt(c)} ({verdicts[-1]} for 'matches or beats' at −{MATCH_MARGIN * 100:g} pt)")
    miss = _missing(rows, ("c4",))
    if miss:
        notes.append(f"{len(miss)} planned run(s) not recorded")
    return Evidence(combine(verdicts), predicted={"spread diff": "> 0", "acc diffs": f">= -{MATCH_MARGIN}"},
                    measured=meas, regime=C4_REGIME, notes="; ".join(notes), recorded=True, source=_source(rows))
