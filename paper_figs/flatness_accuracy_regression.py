"""Test loss against flatness and optimisation error (teacher–student MLP, K = 8; C-SGD,
consensus and diffusion on the graphs and batches of the run, fixed η): test loss vs the exact
Hessian trace at the final averaged model, vs the training excess loss f(w̄) − f̂*, and vs the
two-variable least-squares prediction, coloured by method, each with its fit (R², LOO RMSE), and
the two partial coefficients with their cluster-bootstrap 95% intervals against the predicted
sign. Data: flatness.accuracy_flatness_and_error (docs/theory.md §3)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import OKABE_ITO, save

CLAIMS = ("flatness.accuracy_flatness_and_error",)
LABEL = {"csgd": "C-SGD", "dsgd": "consensus (D-SGD)", "atc": "diffusion (ATC)"}
MARK = {"-": "o", "ring": "s", "exponential": "^"}
GRAPH = {"-": "", "ring": ", ring", "exponential": ", exponential graph"}


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    d = {k: np.asarray(v) for k, v in ev.data["runs"].items()}
    F, cfg = ev.data["fits"], ev.data["config"]
    b = F["both"]["coef"]
    pred = b[0] + b[1] * d["trace"] + b[2] * d["excess"]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1, 1, 1, 0.6]})
    panels = [(d["trace"], "trace", "Hessian trace Tr ∇²f(w̄)"),
              (d["excess"], "excess", "training excess loss f(w̄) − f̂*"),
              (pred, "both", "fit a + b·trace + c·excess")]
    for ax, (x, key, xl) in zip(axes, panels):
        for i, m in enumerate(LABEL):
            for g, mk in MARK.items():
                s = (d["method"] == m) & (d["graph"] == g)
                if s.any():
                    ax.scatter(x[s], d["test"][s], s=14, marker=mk, color=OKABE_ITO[i], alpha=0.7,
                               label=LABEL[m] + GRAPH[g])
        xs = np.linspace(x.min(), x.max(), 2)
        c = F[key]["coef"]
        ax.plot(xs, xs if key == "both" else c[0] + c[1] * xs, "k-", lw=1, label="least-squares fit")
        ax.set_xlabel(xl)
        ax.set_title(f"R² {F[key]['r2']:.3f}, LOO RMSE {F[key]['loo_rmse']:.2g}", fontsize=9)
    axes[0].set_ylabel(f"test loss (floor σ²/2 = {cfg['label_noise'] ** 2 / 2:.3g})")
    axes[0].legend(fontsize=7)
    ax = axes[3]
    for i, (k, lab) in enumerate((("both/coef_trace", "trace"), ("both/coef_excess", "excess"))):
        v = ev.measured[k]
        sd = float(np.std(d[lab]))  # per standard deviation of the regressor, to share one axis
        ax.errorbar([i], [v["value"] * sd], yerr=[[(v["value"] - v["ci_low"]) * sd], [(v["ci_high"] - v["value"]) * sd]],
                    fmt="o", color="k", capsize=4)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks([0, 1], ["trace", "excess"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel("partial effect of one SD on test loss")
    ax.set_title("predicted > 0; 95% cluster bootstrap", fontsize=9)
    fig.suptitle(f"teacher–student P = {cfg['P']}, K = {cfg['K']}, η = {cfg['eta']}, {cfg['steps']} steps, "
                 f"B ∈ {tuple(cfg['batches'])}, {cfg['replicas']} initialisations", fontsize=10)
    return save(fig, out_dir, "flatness_accuracy_regression")
