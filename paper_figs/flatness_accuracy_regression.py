"""Test loss against flatness and optimisation error (teacher–student MLP, K = 8, C-SGD /
consensus / ATC on ring and exponential graphs, several batches, fixed η): test loss vs the exact
Hessian trace at the final averaged model, vs the training excess loss f(w̄) − f̂*, and vs the
two-variable least-squares prediction, coloured by method, each with its fit (R², LOO RMSE).
Data: the claim flatness.accuracy_flatness_and_error (THEORY.md §3; paper's theorems [missing])."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims import one_thread
from verify.claims_flatness_accuracy import METHODS, config, fits, run_grid

from .style import OKABE_ITO, save

LABEL = {"csgd": "C-SGD", "dsgd": "consensus (D-SGD)", "atc": "diffusion (ATC)"}
MARK = {"-": "o", "ring": "s", "exponential": "^"}


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    with one_thread():
        d = run_grid(config(quick), seed=0)
    F = fits(d)
    b = F["both"]["coef"]
    pred = b[0] + b[1] * d["trace"] + b[2] * d["excess"]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2))
    panels = [(d["trace"], "trace", "Hessian trace Tr ∇²f(w̄)"),
              (d["excess"], "excess", "training excess loss f(w̄) − f̂*"),
              (pred, "both", "fit: a + b·trace + c·excess")]
    for ax, (x, key, xl) in zip(axes, panels):
        for i, m in enumerate(METHODS):
            for g, mk in MARK.items():
                s = (d["method"] == m) & (d["graph"] == g)
                if s.any():
                    ax.scatter(x[s], d["test"][s], s=14, marker=mk, color=OKABE_ITO[i], alpha=0.7,
                               label=f"{LABEL[m]}" + ("" if g == "-" else f", {g}"))
        xs = np.linspace(x.min(), x.max(), 2)
        c = F[key]["coef"]
        ax.plot(xs, xs if key == "both" else c[0] + c[1] * xs, "k-", lw=1)
        ax.set_xlabel(xl)
        ax.set_title(f"R² {F[key]['r2']:.3f}, LOO RMSE {F[key]['loo_rmse']:.2g}", fontsize=9)
    axes[0].set_ylabel("test loss (floor σ²/2 = %.3g)" % (d["config"]["label_noise"] ** 2 / 2))
    axes[0].legend(fontsize=7)
    cfg = d["config"]
    fig.suptitle(f"teacher–student P={cfg['P']}, K={cfg['K']}, η={cfg['eta']}, {cfg['steps']} steps, "
                 f"B ∈ {tuple(cfg['batches'])}, {cfg['replicas']} inits", fontsize=10)
    return save(fig, out_dir, "flatness_accuracy_regression")
