"""CIFAR-10 JPEG q75 claims (issue 12) from the runs recorded under results/cifar/: test accuracy
and consensus distance against steps per total batch and method (claims 1-2), accuracy against
classes per worker for the momentum / tracking methods (claim 3), and EASGD / LSGD / averaging
accuracy against steps and bytes sent (claim 4). Nothing recorded: no figure, a logged note."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import style

log = logging.getLogger(__name__)


def _results() -> Path:
    return Path(os.environ.get("DECENTLAB_RESULTS", Path(__file__).resolve().parents[1] / "results")) / "cifar"


def _mean_curve(rows, key):
    """Mean over seeds of the per-step curve `key` (steps common to every run)."""
    curves = [{p["step"]: p[key] for p in r["curve"] if p.get(key) is not None} for r in rows]
    steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    return np.array(steps), np.array([[c[s] for s in steps] for c in curves]).mean(0) if steps else np.array([])


def _group(rows, key):
    out: dict = {}
    for r in rows:
        out.setdefault(key(r), []).append(r)
    return out


def _claim1(rows, out_dir):
    import matplotlib.pyplot as plt
    batches = sorted({r["total_batch"] for r in rows})
    fig, axes = plt.subplots(2, len(batches), figsize=(5 * len(batches), 7), squeeze=False)
    for j, B in enumerate(batches):
        for m, rs in sorted(_group([r for r in rows if r["total_batch"] == B], lambda r: r["method"]).items()):
            s, a = _mean_curve(rs, "test_acc")
            axes[0, j].plot(s, a, marker="o", label=f"{m} (n={len(rs)})")
            s, c = _mean_curve(rs, "consensus")
            if m != "csgd":
                axes[1, j].semilogy(s, np.maximum(c, 1e-12), marker="o", label=m)
        axes[0, j].set(title=f"total batch {B}", xlabel="step", ylabel="test accuracy (averaged model)")
        axes[1, j].set(xlabel="step", ylabel="consensus distance")
        axes[0, j].legend()
        axes[1, j].legend()
    return style.save(fig, out_dir, "cifar_dsgd_vs_csgd")


def _claim3(rows, out_dir):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    for m, rs in sorted(_group(rows, lambda r: r["method"]).items()):
        by_k = _group(rs, lambda r: r["k"])
        ks = sorted(by_k)
        best = [max(np.mean([r["test_acc"] for r in g]) for g in _group(by_k[k], lambda r: r["lr"]).values())
                for k in ks]
        ax.plot(ks, best, marker="o", label=m)
    ax.set(xlabel="classes per worker k (smaller = more heterogeneous)", ylabel="test accuracy (best lr)",
           title="8 workers, ring")
    ax.legend()
    return style.save(fig, out_dir, "cifar_momentum_tracking_heterogeneity")


def _claim4(rows, out_dir):
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for m, rs in sorted(_group(rows, lambda r: r["method"]).items()):
        s, a = _mean_curve(rs, "test_acc")
        a1.plot(s, a, marker="o", label=m)
        bps = rs[0].get("bytes_per_step")
        if bps:
            a2.semilogx(np.maximum(s, 1) * bps, a, marker="o", label=m)
    a1.set(xlabel="step", ylabel="test accuracy", title="equal communication period τ")
    a2.set(xlabel="bytes sent (all workers)", ylabel="test accuracy")
    a1.legend()
    a2.legend()
    return style.save(fig, out_dir, "cifar_easgd_lsgd")


def make(out_dir, quick: bool = False) -> list[Path]:
    from training.plan import load_runs
    rows = load_runs(_results())
    if not rows:
        log.warning("cifar_claims: no recorded runs under %s; run the GPU plan first (docs/gpu_runbook.md)",
                    _results())
        return []
    style.apply()
    out = []
    for label, fn in (("c1", _claim1), ("c3", _claim3), ("c4", _claim4)):
        sel = [r for r in rows if r.get("claim") == label and r.get("curve")]
        if sel:
            out += fn(sel, out_dir)
    return out
