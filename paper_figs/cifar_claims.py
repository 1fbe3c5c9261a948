"""Figures of the cifar.* claims, drawn only from each claim's Evidence (`data`, `measured`):
accuracy against total batch per algorithm with the consensus distance Tr Ξ over training
(claim 1), accuracy against flatness and against optimisation error with the fits (claim 2),
Momentum Tracking against the other momentum methods per heterogeneity level (claim 3), and
accuracy against communicated bytes (claim 4). Each title names the scale the runs were made at
(GPU or CPU profile). Evidence without data (nothing recorded) gives no figure."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import style

CLAIMS = ("cifar.dsgd_vs_csgd_batch", "cifar.accuracy_flatness_error", "cifar.momentum_tracking_heterogeneity",
          "cifar.easgd_lsgd")

NAMES = {"csgd": "C-SGD", "dsgd-ring": "D-SGD (ring)", "dsgd-exp": "D-SGD (exponential graph)",
         "atc-ring": "ATC (ring)", "mt": "Momentum Tracking", "dsgdm": "DSGDm", "qg_dsgdm": "QG-DSGDm",
         "decentlam": "DecentLaM", "gt": "gradient tracking", "dsgd": "D-SGD", "downpour": "DOWNPOUR",
         "easgd": "EASGD", "eamsgd": "EAMSGD", "lsgd": "LSGD (one leader)", "lsgd-4leaders": "LSGD (4 local leaders)",
         "localsgd": "C-SGD, averaging every τ steps (local SGD)", "allreduce": "C-SGD (all-reduce every step)"}


def _name(m) -> str:
    return NAMES.get(m, str(m))


def _scale(data) -> str:
    s = data.get("scale", {})
    j = lambda xs: "/".join(str(x) for x in xs or []) or "?"
    prof = "GPU" if s.get("profile") == "gpu" else "CPU"
    return (f"{prof} scale: {j(s.get('model'))}, {j(s.get('workers'))} workers, {j(s.get('train_images'))} "
            f"training images at {j(s.get('image_size'))} px")


def _err(rows):
    """(means, lower errors, upper errors); cells without an interval get no bar."""
    m = np.array([r["mean"] for r in rows], float)
    lo = np.array([r["mean"] - r["low"] if r.get("low") is not None else 0.0 for r in rows])
    hi = np.array([r["high"] - r["mean"] if r.get("high") is not None else 0.0 for r in rows])
    return m, lo, hi


def _claim1(ev, out_dir):
    import matplotlib.pyplot as plt
    d = ev.data
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    methods = sorted({r["method"] for r in d["accuracy"]})
    for m in methods:
        rows = sorted((r for r in d["accuracy"] if r["method"] == m), key=lambda r: r["total_batch"])
        b = [r["total_batch"] for r in rows]
        mu, lo, hi = _err(rows)
        col = style.OKABE_ITO[methods.index(m) % len(style.OKABE_ITO)]
        a1.errorbar(b, 100 * mu, yerr=[100 * lo, 100 * hi], marker="o", capsize=3, label=_name(m), color=col)
    a1.set_xscale("log", base=2)
    a1.set(xlabel="total batch (16 workers × per-worker batch)", ylabel="test accuracy of the averaged model (%)",
           title="Accuracy vs total batch (mean; bars: range over seeds)")
    a1.legend()
    styles = {b: ls for b, ls in zip(sorted(d["batches"]), ("-", "--", ":", "-."))}
    colours = {m: style.OKABE_ITO[i % len(style.OKABE_ITO)] for i, m in enumerate(methods)}
    for c in d.get("consensus", []):
        if c["method"] == "csgd":
            continue                         # identical workers: Tr Ξ = 0
        ep = c.get("epochs_per_step") or 1.0
        a2.semilogy(np.array(c["steps"]) * ep, np.maximum(c["values"], 1e-12), ls=styles.get(c["total_batch"], "-"),
                    color=colours.get(c["method"]), alpha=0.8,
                    label=f"{_name(c['method'])}, batch {c['total_batch']}" if c.get("seed") in (0, None) else None)
    a2.set(xlabel="epoch", ylabel="consensus distance Tr Ξ = (1/K) Σ‖x_k − x̄‖²",
           title="Consensus distance over training (C-SGD: 0)")
    a2.legend()
    fig.suptitle(f"D-SGD vs C-SGD — {_scale(d)}; verdict: {ev.verdict}")
    return style.save(fig, out_dir, "cifar_dsgd_vs_csgd")


def _claim2(ev, out_dir):
    import matplotlib.pyplot as plt
    d = ev.data
    pts = d["points"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, q, label, fit in ((axes[0], "hess_top", "Hessian λ_max of the averaged model (flatness)", "flatness"),
                              (axes[1], "train_loss", "final training loss (optimisation error)", "train_loss")):
        for m in sorted({p["method"] for p in pts}):
            for b, mk in zip(sorted({p["total_batch"] for p in pts}), ("o", "s", "^", "D")):
                sel = [p for p in pts if p["method"] == m and p["total_batch"] == b]
                if sel:
                    ax.scatter([p[q] for p in sel], [100 * p["test_acc"] for p in sel], marker=mk,
                               label=f"{_name(m)}, batch {b}")
        c = d["fits"][fit]["coef"]
        xs = np.linspace(min(p[q] for p in pts), max(p[q] for p in pts), 50)
        ax.plot(xs, 100 * (c[0] + c[1] * xs), color="k", lw=1,
                label=f"one-regressor fit (LOO RMSE {100 * d['fits'][fit]['loo_rmse']:.2f} pt)")
        ax.set(xlabel=label, ylabel="test accuracy (%)")
    axes[0].legend(fontsize=7)
    b = d["fits"]["both"]
    axes[1].set_title(f"both regressors: LOO RMSE {100 * b['loo_rmse']:.2f} pt, p = {b['p'][1]:.2g} (λ_max), "
                      f"{b['p'][2]:.2g} (loss)", fontsize=9)
    fig.suptitle(f"Accuracy vs flatness and optimisation error — {_scale(d)}; verdict: {ev.verdict}")
    return style.save(fig, out_dir, "cifar_accuracy_flatness_error")


def _claim3(ev, out_dir):
    import matplotlib.pyplot as plt
    d = ev.data
    ks = d["ks"]
    methods = sorted({r["method"] for r in d["accuracy"]}, key=lambda m: (m != "mt", m))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    w = 0.8 / max(1, len(methods))
    for i, m in enumerate(methods):
        rows = [next((r for r in d["accuracy"] if r["method"] == m and r["k"] == k), None) for k in ks]
        xs = [j + (i - (len(methods) - 1) / 2) * w for j, r in enumerate(rows) if r]
        rows = [r for r in rows if r]
        mu, lo, hi = _err(rows)
        ax.bar(xs, 100 * mu, w, yerr=[100 * lo, 100 * hi], capsize=3, label=_name(m))
    ax.set_xticks(range(len(ks)), [f"k = {k} classes per worker" + (" (most heterogeneous)" if k == min(ks) else "")
                                   for k in ks])
    ax.set(ylabel="test accuracy of the averaged model (%)",
           title=f"Momentum Tracking vs the other momentum methods (ring; mean, bars: range over seeds)\n{_scale(d)}; "
                 f"verdict: {ev.verdict}")
    ax.legend()
    return style.save(fig, out_dir, "cifar_momentum_tracking_heterogeneity")


def _claim4(ev, out_dir):
    import matplotlib.pyplot as plt
    d = ev.data
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in d["methods"]:
        if r.get("bytes_total") is None:
            continue
        lo = r["mean"] - r["low"] if r.get("low") is not None else 0.0
        hi = r["high"] - r["mean"] if r.get("high") is not None else 0.0
        ax.errorbar([r["bytes_total"]], [100 * r["mean"]], yerr=[[100 * lo], [100 * hi]], marker="o", capsize=3,
                    label=_name(r["method"]) + (f", step size {r['lr']:g}" if r.get("lr") is not None else ""))
    ax.set_xscale("log")
    tau = "/".join(str(t) for t in d["scale"].get("tau", [])) or "?"
    chosen = " (step size per method: lowest training loss on its grid)" if d.get("selection") else ""
    ax.set(xlabel="bytes communicated over the run (all workers, float32)", ylabel="final test accuracy (%)",
           title=f"Accuracy vs communication at period τ = {tau} (mean, bars: range over seeds){chosen}\n"
                 f"{_scale(d)}; verdict: {ev.verdict}")
    ax.legend(fontsize=7)
    return style.save(fig, out_dir, "cifar_easgd_lsgd")


DRAW = {"cifar.dsgd_vs_csgd_batch": _claim1, "cifar.accuracy_flatness_error": _claim2,
        "cifar.momentum_tracking_heterogeneity": _claim3, "cifar.easgd_lsgd": _claim4}
NEEDS = {"cifar.dsgd_vs_csgd_batch": "accuracy", "cifar.accuracy_flatness_error": "points",
         "cifar.momentum_tracking_heterogeneity": "accuracy", "cifar.easgd_lsgd": "methods"}


def draw(evidence: dict, out_dir) -> list[Path]:
    """Figures of the claims in `evidence` (claim id -> Evidence) that carry data."""
    style.apply()
    out = []
    for cid in CLAIMS:
        ev = evidence.get(cid)
        if ev is not None and ev.data.get(NEEDS[cid]):
            out += DRAW[cid](ev, out_dir)
    return out
