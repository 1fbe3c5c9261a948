"""The papers' claims on real CNN training, judged from recorded runs of `python -m training.plan`.

Where the evidence comes from: the GPU recordings under results/cifar/ (ResNet-20 / LeNet-5 on
the full CIFAR-10 JPEG q75 set, docs/gpu_runbook.md) when any are present, else the CPU
recordings under results/cifar-cpu/ (LeNet-5-GN on a 10 000-image subset pooled to 16 × 16, a few
epochs; `python -m training.plan list --profile cpu`). Every verdict names the scale it rests on
(`regime`: profile, model, epochs, total batch, training images, image side). These claims only
READ recordings; with nothing recorded a claim is 'inconclusive' and names the commands.

Noise: seeds give a pooled within-cell variance s² = Σ_c Σ_i (v_ci − v̄_c)² / Σ_c (n_c − 1) over
the cells of one experiment; a contrast Σ_c w_c v̄_c has standard error s·sqrt(Σ_c w_c²/n_c) and a
95% Student-t interval with Σ_c (n_c − 1) degrees of freedom (one-way ANOVA contrast,
`analysis.stats.contrast`). The verdict
of a directional statement is `analysis.stats.direction` of that interval: wholly on the claimed
side -> holds, wholly on the other -> fails, overlapping -> inconclusive (within noise).
Regressions (claim 2) are `analysis.stats.ols`.

Negative controls (`python -m verify --controls cifar`) perturb the recorded rows passed to the
judge (a method's accuracies replaced by its competitor's, or mirrored about them; the Hessian
values shuffled across runs); the judging code is the same in both worlds.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from analysis.stats import contrast, direction, ols
from training import plan

from .claims import Evidence, claim, combine, results_root, value

LEVEL = 0.95
MATCH_MARGIN = 0.01          # "compares favourably / matches": at most 1 accuracy point worse (claim 4)
LOO_GAIN = 0.05              # claim 2: the joint fit must cut the best single LOO error by >= 5%
MIN_POINTS = 6               # claim 2: fewest runs for a two-regressor fit
P_SIGNIFICANT = 0.05         # claim 2: a slope counts when its two-sided p-value is below this
CHANCE_MARGIN = 0.01         # claim 4: every seed within 1 point of chance (1/10) = the run diverged / collapsed

MODEL_NAMES = {"lenet": "LeNet-5", "lenet_gn": "LeNet-5-GN", "resnet20": "ResNet-20", "resnet18": "ResNet-18",
               "resnet8": "ResNet-8", "vgg11": "VGG-11", "fast": "airbench-style net"}
C1_METHODS = ("csgd", "dsgd-ring", "dsgd-exp")
C3_OTHERS = ("dsgdm", "qg_dsgdm", "decentlam", "gt", "dsgd")
C4_AVERAGING = ("downpour",)
C4_ELASTIC = ("easgd", "eamsgd")
C4_LEADERS = ("lsgd", "lsgd-4leaders")


def results_dir(profile: str = "gpu") -> Path:
    return results_root() / (plan.RESULTS_SUBDIR if profile == "gpu" else plan.CPU_RESULTS_SUBDIR)


def _shown(path) -> str:
    """`path` relative to the repository when it lies inside it (reports travel between machines)."""
    try:
        return str(Path(path).resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return str(path)


def recorded_rows(claim_label: str) -> tuple[list[dict], str]:
    """(rows of the runs labelled `claim_label`, profile): the GPU recordings when there are any
    for this claim, else the CPU ones."""
    for profile in ("gpu", "cpu"):
        rows = [r for r in plan.load_runs(results_dir(profile)) if r.get("claim") == claim_label]
        if rows:
            return rows, profile
    return [], "cpu"


# ------------------------------------------------------------------ statistics

def verdict_of(c: dict, claimed: str = ">", null: float = 0.0) -> str:
    """analysis.stats.direction of the contrast's interval; no interval (one seed) -> inconclusive."""
    return direction(c, claimed, null) if "ci_low" in c else "inconclusive"


def _v(c: dict) -> dict:
    return value(c["value"], c["ci_low"], c["ci_high"]) if "ci_low" in c else value(c["value"])


def _txt(c: dict, scale: float = 100.0, unit: str = " pt") -> str:
    if "ci_low" not in c:
        return f"{c['value'] * scale:+.2f}{unit} (one seed: no interval)"
    s = f"{c['value'] * scale:+.2f}{unit} [{c['ci_low'] * scale:+.2f}, {c['ci_high'] * scale:+.2f}]"
    return s + (" — within noise" if c["ci_low"] <= 0 <= c["ci_high"] else "")


def _cells(rows, key, quantity):
    out: dict = {}
    for r in rows:
        if r.get(quantity) is not None and math.isfinite(float(r[quantity])):
            out.setdefault(key(r), []).append(float(r[quantity]))
    return out


def _mean_ci(v) -> dict:
    """Mean of a cell with the range over its seeds (figures only; verdicts use the pooled contrasts)."""
    v = [float(x) for x in v]
    return {"mean": float(np.mean(v)) if v else None, "low": min(v) if len(v) > 1 else None,
            "high": max(v) if len(v) > 1 else None, "n": len(v), "values": v}


# ------------------------------------------------------------------ provenance and scale

def scale_of(rows, profile: str) -> dict:
    """What the verdict rests on: profile, model(s), epochs, total batch, training images, image side."""
    def uniq(f):
        return sorted({f(r) for r in rows if f(r) is not None})
    tb = uniq(lambda r: (r.get("workers") or 0) * (r.get("batch") or 0) or None)
    ep = uniq(lambda r: None if r.get("epochs") is None else round(float(r["epochs"]), 2))
    return {"profile": profile, "results": _shown(results_dir(profile)),
            "model": [MODEL_NAMES.get(m, m) for m in uniq(lambda r: r.get("model"))],
            "workers": uniq(lambda r: r.get("workers")), "total_batch": tb, "epochs": ep,
            "steps": uniq(lambda r: r.get("steps")), "train_images": uniq(lambda r: r.get("train_images")),
            "image_size": uniq(lambda r: r.get("image_size")), "data": plan.DATASET_NAME, "runs": len(rows)}


def scale_text(s: dict) -> str:
    j = lambda xs: "/".join(str(x) for x in xs) or "?"
    return (f"{'GPU' if s['profile'] == 'gpu' else 'CPU'} scale: {j(s['model'])}, {j(s['workers'])} workers, "
            f"total batch {j(s['total_batch'])}, {j(s['epochs'])} epochs of {j(s['train_images'])} training "
            f"images ({j(s['image_size'])} px), {s['runs']} runs")


def _portable(cmd: str) -> str:
    """A recorded command with machine-specific paths made portable: a path inside the
    repository relative to its root, any other absolute path (the data archive) cut to its
    file name — the command as a reader can run it, not where it ran."""
    import os
    import re

    from .claims import REPO_ROOT
    root = str(REPO_ROOT)

    def fix(m):
        path = os.path.normpath(os.path.join(root, m.group(2)))   # relative paths: from the root
        if path == root or path.startswith(root + os.sep):
            return m.group(1) + (os.path.relpath(path, root) or ".")
        return m.group(1) + os.path.basename(path.rstrip("/"))
    return re.sub(r"(--(?:data|out)[ =])(\S+)", fix, cmd)


def _source(rows, profile) -> dict:
    dates = sorted(r["date"] for r in rows if r.get("date"))
    cmds = sorted({_portable(r["command"]) for r in rows if r.get("command")})
    return {"machine": ", ".join(sorted({str(r.get("machine")) for r in rows})),
            "date": f"{dates[0]} .. {dates[-1]}" if dates else "unknown",
            "command": "; ".join(cmds[:4]) + (f" (+{len(cmds) - 4} more)" if len(cmds) > 4 else ""),
            "path": _shown(results_dir(profile)), "runs": len(rows)}


def _calls_for(label: str, profile: str) -> list:
    return [c for c in plan.profile_calls(profile) if any(r.labels.get("claim") == label for r in c.runs)]


def commands_for(label: str, profile: str) -> str:
    if profile == "gpu":
        return "; ".join(f"python -m training.plan run {c.id} --out results --device cuda"
                         for c in _calls_for(label, "gpu"))
    return "; ".join(f"python -m training.plan run {c.id} --profile cpu --data PATH --out results/cifar-cpu"
                     for c in _calls_for(label, "cpu"))


def _nothing(label: str, regime: dict) -> Evidence:
    return Evidence("inconclusive", regime=regime, finding="No runs recorded yet.", notes=(
        f"no runs recorded under {_shown(results_dir('gpu'))} or {_shown(results_dir('cpu'))} (these claims "
        f"only read recorded runs). GPU: {commands_for(label, 'gpu')}; CPU: training/run_cpu_plan.sh "
        f"(docs/gpu_runbook.md, results/README.md)."))


def _missing(rows, label: str, profile: str) -> list[str]:
    have = {r["run"] for r in rows}
    return [r.name for c in _calls_for(label, profile) for r in c.runs
            if r.labels.get("claim") == label and r.name not in have]


# ------------------------------------------------------------------ controls (on the judge's input)

def with_values_of(rows, targets, reference, match=("seed",), quantity="test_acc", how="copy",
                   method_key="method") -> list[dict]:
    """Copies of `rows` where every row whose method is in `targets` carries the `quantity` of the
    `reference` method's row with the same `match` fields ('copy': the same value, no effect exists;
    'mirror': 2·reference − own, the effect reversed). Rows without a partner are dropped."""
    ref = {tuple(r.get(k) for k in match): r[quantity] for r in rows
           if r.get(method_key) == reference and r.get(quantity) is not None}
    out = []
    for r in rows:
        if r.get(method_key) in targets:
            key = tuple(r.get(k) for k in match)
            if key not in ref or r.get(quantity) is None:
                continue
            v = ref[key] if how == "copy" else 2 * ref[key] - r[quantity]
            r = dict(r, **{quantity: v})
        out.append(r)
    return out


def shuffled(rows, quantity: str, seed: int = 0) -> list[dict]:
    """Copies of `rows` with `quantity` permuted across them (a fixed derangement-free shuffle)."""
    vals = [r.get(quantity) for r in rows]
    perm = np.random.default_rng(seed).permutation(len(rows))
    if len(rows) > 1 and np.all(perm == np.arange(len(rows))):
        perm = np.roll(perm, 1)
    return [dict(r, **{quantity: vals[int(j)]}) for r, j in zip(rows, perm)]


# ------------------------------------------------------------------ claim 1

@claim("cifar.dsgd_vs_csgd_batch")
def dsgd_vs_csgd_batch(ctx) -> Evidence:
    rows, profile = recorded_rows("c1")
    if ctx.sabotaged("dsgd_equals_csgd"):
        rows = with_values_of(rows, ("dsgd-ring", "dsgd-exp"), "csgd", match=("seed", "total_batch"))
    if ctx.sabotaged("dsgd_mirrored"):
        rows = with_values_of(rows, ("dsgd-ring", "dsgd-exp"), "csgd", match=("seed", "total_batch"),
                              how="mirror")
    return judge_dsgd_vs_csgd(rows, profile)


def _curves(rows, key="consensus"):
    out = []
    for r in rows:
        pts = [(p["step"], p[key]) for p in r.get("curve", []) if p.get(key) is not None]
        if pts:
            out.append({"run": r["run"], "method": r.get("method"), "total_batch": r.get("total_batch"),
                        "seed": r.get("seed"), "steps": [p[0] for p in pts], "values": [p[1] for p in pts],
                        "epochs_per_step": (r["epochs"] / r["steps"]) if r.get("epochs") and r.get("steps")
                        else None})
    return out


def judge_dsgd_vs_csgd(rows, profile: str = "gpu") -> Evidence:
    rows = [r for r in rows if r.get("method") in C1_METHODS and r.get("total_batch") is not None]
    if not rows:
        return _nothing("c1", {"profile": profile})
    regime = scale_of(rows, profile)
    key = lambda r: (r["method"], int(r["total_batch"]))
    acc, sharp, trace, cons = (_cells(rows, key, q) for q in ("test_acc", "hess_top", "hess_trace",
                                                             "consensus_mean"))
    batches = sorted({b for _, b in acc})
    small, large = batches[0], batches[-1]
    meas, reported, verdicts, notes, headline = {}, {}, [], [], []
    for (m, b), v in sorted(acc.items()):
        reported[f"acc/{m}/B={b}"] = value(np.mean(v)) if len(v) < 2 else value(np.mean(v), min(v), max(v))
    for name, cells in (("hess_top", sharp), ("hess_trace", trace), ("consensus_mean", cons)):
        for (m, b), v in sorted(cells.items()):
            reported[f"{name}/{m}/B={b}"] = float(np.mean(v))
    for g in ("dsgd-ring", "dsgd-exp"):
        need = [(g, large), ("csgd", large), (g, small), ("csgd", small)]
        if large == small or any(not acc.get(c) for c in need):
            verdicts.append("inconclusive")
            notes.append(f"{g}: runs missing ({', '.join(f'{a}@{b}' for a, b in need if not acc.get((a, b)))})")
            continue
        adv_l = contrast(acc, {(g, large): 1, ("csgd", large): -1}, pool=list(acc))
        adv_s = contrast(acc, {(g, small): 1, ("csgd", small): -1}, pool=list(acc))
        d = contrast(acc, {(g, large): 1, ("csgd", large): -1, (g, small): -1, ("csgd", small): 1}, pool=list(acc))
        k_l, k_d = f"advantage@B={large}/{g}", f"advantage_growth/{g}"
        meas[k_l], meas[k_d] = _v(adv_l), _v(d)
        reported[f"advantage@B={small}/{g}"] = _v(adv_s)
        headline.append(k_l)
        v1, v2 = verdict_of(adv_l), verdict_of(d)
        verdicts += [v1, v2]
        if sharp.get((g, large)) and sharp.get(("csgd", large)):
            s = contrast(sharp, {(g, large): 1, ("csgd", large): -1})
            reported[f"sharpness_diff@B={large}/{g}"] = _v(s)
        notes.append(f"{g}: advantage at {large} = {_txt(adv_l)} ({v1}); at {small} = {_txt(adv_s)}; "
                     f"growth = {_txt(d)} ({v2})")
    verdict = combine(verdicts)
    miss = _missing(rows, "c1", profile)
    if miss:
        notes.append(f"{len(miss)} planned run(s) not recorded: {commands_for('c1', profile)}")
    adv = [meas[h]["value"] * 100 for h in headline]
    finding = (f"{scale_text(regime)}: D-SGD − C-SGD accuracy at total batch {large} is "
               + ", ".join(f"{a:+.1f} pt ({h.split('/')[-1]})" for a, h in zip(adv, headline))
               + f"; verdict {verdict}." if headline else f"{scale_text(regime)}: runs missing.")
    data = {"scale": regime, "batches": batches,
            "accuracy": [{"method": m, "total_batch": b, **_mean_ci(v)} for (m, b), v in sorted(acc.items())],
            "hess_top": [{"method": m, "total_batch": b, **_mean_ci(v)} for (m, b), v in sorted(sharp.items())],
            "hess_trace": [{"method": m, "total_batch": b, **_mean_ci(v)} for (m, b), v in sorted(trace.items())],
            "consensus": _curves(rows)}
    return Evidence(verdict, predicted={k: "> 0" for k in meas}, measured=meas, reported=reported,
                    headline=headline, finding=finding, data=data, regime=regime, notes="; ".join(notes),
                    recorded=True, source=_source(rows, profile))


# ------------------------------------------------------------------ claim 2

@claim("cifar.accuracy_flatness_error")
def accuracy_flatness_error(ctx) -> Evidence:
    rows, profile = recorded_rows("c1")
    if ctx.sabotaged("flatness_shuffled"):
        rows = shuffled(rows, "hess_top", seed=1)
    return judge_flatness_error(rows, profile)


def judge_flatness_error(rows, profile: str = "gpu") -> Evidence:
    if not rows:
        return _nothing("c1", {"profile": profile})
    regime = scale_of(rows, profile)
    pts = [r for r in rows if all(r.get(q) is not None and math.isfinite(float(r[q]))
                                  for q in ("test_acc", "hess_top", "train_loss"))]
    regime["points"] = len(pts)
    if len(pts) < MIN_POINTS:
        return Evidence("inconclusive", regime=regime, recorded=True, source=_source(rows, profile),
                        finding=f"Only {len(pts)} runs with accuracy, λ_max and training loss.",
                        notes=f"only {len(pts)} runs with accuracy, λ_max and training loss (need {MIN_POINTS}); "
                              f"{commands_for('c1', profile)}")
    y = np.array([r["test_acc"] for r in pts])
    sh = np.array([r["hess_top"] for r in pts])
    lo = np.array([r["train_loss"] for r in pts])
    fits = {"flatness": ols(sh[:, None], y), "train_loss": ols(lo[:, None], y),
            "both": ols(np.column_stack([sh, lo]), y)}
    best_single = min(("flatness", "train_loss"), key=lambda m: fits[m]["loo_rmse"])
    gain = 1 - fits["both"]["loo_rmse"] / fits[best_single]["loo_rmse"]
    p_sh, p_lo = fits["both"]["p"][1], fits["both"]["p"][2]
    both_sig = p_sh < P_SIGNIFICANT and p_lo < P_SIGNIFICANT
    if both_sig and gain >= LOO_GAIN:
        verdict = "holds"
    elif gain <= 0 and not both_sig:
        verdict = "fails"      # the second regressor does not help out of sample, and a slope is not significant
    else:
        verdict = "inconclusive"
    meas = {"loo_gain": gain, "p(flatness | both)": p_sh, "p(train_loss | both)": p_lo}
    reported = {f"{m}/{k}": fits[m][k] for m in fits for k in ("r2", "adj_r2", "loo_rmse")}
    reported["both/coef(intercept, flatness, train_loss)"] = str([round(c, 6) for c in fits["both"]["coef"]])
    finding = (f"{scale_text(regime)}: the joint fit's LOO RMSE is {gain:+.0%} vs the best single fit "
               f"({best_single}); slopes p = {p_sh:.3g} (λ_max), {p_lo:.3g} (training loss); verdict {verdict}.")
    notes = (f"adjusted R²: both {fits['both']['adj_r2']:.3f}, flatness {fits['flatness']['adj_r2']:.3f}, "
             f"training loss {fits['train_loss']['adj_r2']:.3f}; LOO RMSE both {fits['both']['loo_rmse'] * 100:.2f} pt "
             f"vs {best_single} {fits[best_single]['loo_rmse'] * 100:.2f} pt"
             + ("" if verdict != "inconclusive" else " — the slopes or the LOO gain fall short: within noise"))
    data = {"scale": regime, "points": [{"run": r["run"], "method": r.get("method"), "total_batch": r.get("total_batch"),
                                         "test_acc": r["test_acc"], "hess_top": r["hess_top"],
                                         "train_loss": r["train_loss"]} for r in pts],
            "fits": {m: {k: fits[m][k] for k in ("coef", "se", "p", "r2", "adj_r2", "loo_rmse")} for m in fits}}
    return Evidence(verdict, predicted={"loo_gain": f">= {LOO_GAIN}", "p(flatness | both)": f"< {P_SIGNIFICANT}",
                                        "p(train_loss | both)": f"< {P_SIGNIFICANT}"},
                    measured=meas, reported=reported, headline=["loo_gain", "p(flatness | both)"],
                    finding=finding, data=data, regime=regime, notes=notes, recorded=True,
                    source=_source(rows, profile))


# ------------------------------------------------------------------ claim 3

@claim("cifar.momentum_tracking_heterogeneity")
def momentum_tracking_heterogeneity(ctx) -> Evidence:
    rows, profile = recorded_rows("c3")
    if ctx.sabotaged("mt_equals_dsgdm"):
        rows = with_values_of(rows, ("mt",), "dsgdm", match=("seed", "k", "lr"))
    if ctx.sabotaged("mt_mirrored"):
        rows = with_values_of(rows, ("mt",), "dsgdm", match=("seed", "k", "lr"), how="mirror")
    return judge_momentum_tracking(rows, profile)


def judge_momentum_tracking(rows, profile: str = "gpu") -> Evidence:
    if not rows:
        return _nothing("c3", {"profile": profile})
    regime = scale_of(rows, profile)
    by = _cells(rows, lambda r: (r["method"], int(r["k"]), float(r["lr"])), "test_acc")
    cells, best_lr = {}, {}
    for (m, k, lr), v in by.items():
        if (m, k) not in best_lr or np.mean(v) > np.mean(by[(m, k, best_lr[(m, k)])]):
            best_lr[(m, k)] = lr
    for (m, k), lr in best_lr.items():
        cells[(m, k)] = by[(m, k, lr)]
    reported = {f"acc/{m}/k={k}": float(np.mean(v)) for (m, k), v in sorted(cells.items())}
    reported.update({f"best_lr/{m}/k={k}": lr for (m, k), lr in sorted(best_lr.items())})
    ks = sorted({k for _, k in cells})
    others = [b for b in C3_OTHERS if any(m == b for m, _ in cells)]
    regime.update(classes_per_worker=ks, methods=["mt", *others])
    if len(ks) < 2 or not cells.get(("mt", ks[0])) or not cells.get(("mt", ks[-1])):
        return Evidence("inconclusive", reported=reported, regime=regime, recorded=True,
                        source=_source(rows, profile), finding="Momentum Tracking at two k values is missing.",
                        notes=f"Momentum Tracking at two k values is missing; {commands_for('c3', profile)}")
    lo_k, hi = ks[0], ks[-1]
    meas, verdicts, notes, headline = {}, [], [], []
    for m in ["mt", *others]:
        if cells.get((m, hi)) and cells.get((m, lo_k)):
            reported[f"drop/{m}"] = _v(contrast(cells, {(m, hi): 1, (m, lo_k): -1}, pool=list(cells)))
    for b in others:
        if cells.get((b, lo_k)):
            c = contrast(cells, {("mt", lo_k): 1, (b, lo_k): -1}, pool=list(cells))
            meas[f"acc(mt) - acc({b}) @k={lo_k}"] = _v(c)
            verdicts.append(verdict_of(c))
            notes.append(f"acc(MT) − acc({b}) at k={lo_k} = {_txt(c)} ({verdicts[-1]})")
        if cells.get((b, hi)) and cells.get((b, lo_k)):
            c = contrast(cells, {(b, hi): 1, (b, lo_k): -1, ("mt", hi): -1, ("mt", lo_k): 1}, pool=list(cells))
            meas[f"drop({b}) - drop(mt)"] = _v(c)
            verdicts.append(verdict_of(c))
            notes.append(f"drop({b}) − drop(MT) = {_txt(c)} ({verdicts[-1]})")
    if not verdicts:
        verdicts.append("inconclusive")
    acc_keys = [k for k in meas if k.startswith("acc(")]
    if acc_keys:
        worst = min(acc_keys, key=lambda k: meas[k]["value"])
        headline.append(worst)
    drop_keys = [k for k in meas if k.startswith("drop(")]
    if drop_keys:
        headline.append(min(drop_keys, key=lambda k: meas[k]["value"]))
    verdict = combine(verdicts)
    miss = _missing(rows, "c3", profile)
    if miss:
        notes.append(f"{len(miss)} planned run(s) not recorded")
    finding = (f"{scale_text(regime)}: at k={lo_k} MT reaches {np.mean(cells[('mt', lo_k)]) * 100:.1f}% vs "
               + ", ".join(f"{b} {np.mean(cells[(b, lo_k)]) * 100:.1f}%" for b in others if cells.get((b, lo_k)))
               + f"; verdict {verdict}.")
    data = {"scale": regime, "ks": ks,
            "accuracy": [{"method": m, "k": k, "lr": best_lr[(m, k)], **_mean_ci(v)} for (m, k), v in sorted(cells.items())]}
    return Evidence(verdict, predicted={k: "> 0" for k in meas}, measured=meas, reported=reported,
                    headline=headline, finding=finding, data=data, regime=dict(regime, k_compared=[hi, lo_k]),
                    notes="; ".join(notes), recorded=True, source=_source(rows, profile))


# ------------------------------------------------------------------ claim 4

@claim("cifar.easgd_lsgd")
def easgd_lsgd(ctx) -> Evidence:
    rows, profile = recorded_rows("c4")
    names = [r["run"] for r in rows]
    rows, selection = select_lr(rows)         # on training loss; the controls act on the selected runs
    if ctx.sabotaged("elastic_equals_downpour"):
        lsgd = with_values_of(rows, C4_LEADERS, "easgd")
        rows = with_values_of([r if r.get("method") not in C4_LEADERS else
                               dict(r, test_acc=next((x["test_acc"] for x in lsgd if x["run"] == r["run"]),
                                                     r["test_acc"]) - 0.03) for r in rows],
                              C4_ELASTIC, "downpour")
    if ctx.sabotaged("mirrored"):
        rows = with_values_of(with_values_of(rows, C4_LEADERS, "easgd", how="mirror"), C4_ELASTIC, "downpour",
                              how="mirror")
    return judge_easgd_lsgd(rows, profile, selection, names)


def _loss(r) -> float:
    v = r.get("train_loss")
    return float(v) if v is not None and math.isfinite(float(v)) else math.inf


def select_lr(rows) -> tuple[list[dict], dict]:
    """Per method, the step size with the lowest mean final TRAINING loss over its seeds (posthoc.json:
    cross-entropy of the reported model on fixed training images; a diverged run counts as +inf); only
    step sizes recorded for the method's full set of seeds compete. The test accuracy plays no part.
    -> (the rows of the selected (method, lr), {method: {'lr', 'train_loss': {lr: mean}, 'seeds'}})."""
    by: dict = {}
    for r in rows:
        by.setdefault(r.get("method"), {}).setdefault(float(r.get("lr") or 0.0), []).append(r)
    keep, table = [], {}
    for m, lrs in by.items():
        seeds = max(len({r.get("seed") for r in rs}) for rs in lrs.values())
        cand = {lr: float(np.mean([_loss(r) for r in rs])) for lr, rs in lrs.items()
                if len({r.get("seed") for r in rs}) == seeds}
        best = min(sorted(cand), key=lambda lr: cand[lr])
        table[m] = {"lr": best, "train_loss": {f"{lr:g}": cand[lr] for lr in sorted(cand)}, "seeds": seeds}
        keep += lrs[best]
    return keep, table


def judge_easgd_lsgd(rows, profile: str = "gpu", selection: dict | None = None, recorded=None) -> Evidence:
    """`rows` at several step sizes per method are first reduced by `select_lr` (training loss);
    `selection`, when given, is the table of an earlier selection (reported, not re-applied) and
    `recorded` the run names it chose from (for the count of planned runs not recorded)."""
    if not rows:
        return _nothing("c4", {"profile": profile})
    recorded = [r["run"] for r in rows] if recorded is None else list(recorded)
    rows, table = select_lr(rows)
    selection = selection or table
    regime = scale_of(rows, profile)
    acc = _cells(rows, lambda r: r["method"], "test_acc")
    spread = _cells(rows, lambda r: r["method"], "consensus_mean")
    byt = _cells(rows, lambda r: r["method"], "bytes_total")
    regime.update(methods=sorted(acc), tau=sorted({r.get("tau") for r in rows if r.get("tau") is not None}))
    reported = {f"acc/{m}": float(np.mean(v)) for m, v in sorted(acc.items())}
    reported.update({f"spread/{m}": float(np.mean(v)) for m, v in sorted(spread.items())})
    reported.update({f"bytes_total/{m}": float(np.mean(v)) for m, v in sorted(byt.items())})
    for m in sorted(selection):
        reported[f"selected_lr/{m}"] = selection[m]["lr"]
        for lr, lo in selection[m]["train_loss"].items():
            reported[f"train_loss/{m}/lr={lr}"] = lo
    reported["selection"] = ("per method, the step size with the lowest mean final training loss (fixed training "
                             "images, posthoc.json) over its seeds; test accuracy not used")
    regime["selected_lr"] = {m: selection[m]["lr"] for m in sorted(selection)}
    meas, verdicts, notes, predicted = {}, [], [], {}
    edge = sorted(m for m, t in selection.items() if len(t["train_loss"]) > 1
                  and f"{t['lr']:g}" in (min(t["train_loss"], key=float), max(t["train_loss"], key=float)))
    if edge:
        notes.append(f"selected step size at the edge of its grid for {', '.join(edge)} (a larger/smaller one "
                     f"might train better)")
    at_chance = sorted(m for m, v in acc.items() if max(v) <= 0.1 + CHANCE_MARGIN)
    regime["at_chance"] = at_chance
    if at_chance:
        notes.append(f"{', '.join(at_chance)} ended at chance accuracy on every seed at the step size its training loss "
                     f"selected (the run diverged or collapsed): comparisons with it are not comparisons of working runs")
    pairs = [(a, "downpour", 0.0) for a in C4_ELASTIC] + [(a, "easgd", -MATCH_MARGIN) for a in C4_LEADERS]
    for a, b, null in pairs:
        if not (acc.get(a) and acc.get(b)):
            if a in ("easgd", "lsgd"):
                verdicts.append("inconclusive")
                notes.append(f"{a} or {b} missing")
            continue
        c = contrast(acc, {a: 1, b: -1}, pool=list(acc))
        k = f"acc({a}) - acc({b})"
        meas[k], predicted[k] = _v(c), ("> 0" if null == 0 else f">= {null}")
        if a in at_chance or b in at_chance:
            verdicts.append("inconclusive")
            notes.append(f"{a} vs {b}: {_txt(c)} (inconclusive: {', '.join(x for x in (a, b) if x in at_chance)} "
                         f"at chance)")
            continue
        verdicts.append(verdict_of(c, ">", null))
        notes.append(f"{a} vs {b}: {_txt(c)} ({verdicts[-1]}" + (")" if null == 0 else
                     f" for 'matches or beats' at {null * 100:g} pt)"))
    if "localsgd" in acc and "downpour" in acc:
        reported["acc(localsgd) - acc(downpour)"] = _v(contrast(acc, {"localsgd": 1, "downpour": -1}, pool=list(acc)))
    verdict = combine(verdicts or ["inconclusive"])
    miss = _missing([{"run": n} for n in recorded], "c4", profile)
    if miss:
        notes.append(f"{len(miss)} planned run(s) not recorded")
    regime["runs_recorded"] = len(recorded)
    headline = [k for k in ("acc(easgd) - acc(downpour)", "acc(lsgd) - acc(easgd)") if k in meas]
    finding = (f"{scale_text(regime)}, step size per method by training loss: "
               + ", ".join(f"{m} {np.mean(v) * 100:.1f}% (lr {selection[m]['lr']:g})" if m in selection
                           else f"{m} {np.mean(v) * 100:.1f}%" for m, v in sorted(acc.items()))
               + f"; verdict {verdict}.")
    data = {"scale": regime, "selection": selection,
            "methods": [{"method": m, "lr": selection.get(m, {}).get("lr"),
                         "bytes_total": float(np.mean(byt[m])) if byt.get(m) else None,
                         "spread": float(np.mean(spread[m])) if spread.get(m) else None, **_mean_ci(v)}
                        for m, v in sorted(acc.items())]}
    return Evidence(verdict, predicted=predicted, measured=meas, reported=reported, headline=headline,
                    finding=finding, data=data, regime=regime, notes="; ".join(notes), recorded=True,
                    source=_source(rows, profile))
