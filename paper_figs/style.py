"""Shared figure style: `apply()` (Agg backend, no LaTeX, readable sizes, colour-blind-safe
Okabe–Ito cycle), `save(fig, out_dir, stem) -> [png, pdf]`, `finish(ax, ...)` (labels, log axes, legend), and a diverging colormap centred at
a value (`diverging_norm`, `DIVERGING_CMAP`)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
DIVERGING_CMAP = "RdBu_r"


def apply() -> None:
    """Set the backend (Agg) and rcParams used by every figure."""
    matplotlib.use("Agg", force=True)
    from cycler import cycler
    matplotlib.rcParams.update({
        "text.usetex": False, "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
        "legend.fontsize": 8, "xtick.labelsize": 9, "ytick.labelsize": 9,
        "figure.figsize": (6.0, 4.0), "figure.dpi": 100, "savefig.dpi": 150,
        "savefig.bbox": "tight", "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.5,
        "lines.markersize": 5, "axes.prop_cycle": cycler(color=OKABE_ITO),
        "pdf.fonttype": 42, "figure.constrained_layout.use": True,
    })


def save(fig, out_dir: str | Path, stem: str) -> list[Path]:
    """Write out_dir/stem.png and out_dir/stem.pdf, close the figure, return both paths."""
    if not stem or "/" in stem:
        raise ValueError(f"save: stem must be a plain file name without extension, got {stem!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return paths


def finish(ax, xlabel: str, ylabel: str, title: str, log: str = "", legend: int | None = 7) -> None:
    """Label an axes: x / y labels, title, log scale on the axes named in `log` ('x', 'y',
    'xy'), and a legend in font size `legend` (None: no legend)."""
    if "x" in log:
        ax.set_xscale("log")
    if "y" in log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend is not None:
        ax.legend(fontsize=legend)


def diverging_norm(data, center: float = 0.0):
    """TwoSlopeNorm centred at `center` covering the finite values of data (colour `center`
    white in DIVERGING_CMAP); widened slightly when data lie on one side of the centre."""
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm
    a = np.asarray(data, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise ValueError("diverging_norm: data has no finite values")
    span = max(float(np.max(np.abs(a - center))), 1e-12)
    vmin = min(float(a.min()), center - 1e-3 * span)
    vmax = max(float(a.max()), center + 1e-3 * span)
    return TwoSlopeNorm(vcenter=center, vmin=vmin, vmax=vmax)
