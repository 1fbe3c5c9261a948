"""Arrhenius plot of escape from the quartic's left well (x⁴/4 − x²/2, escape = x > 1): mean
escape steps against ΔV/D for C-SGD at η = 0.1 (η·h_a = 0.2) and η = 0.5 (η·h_a = 1): exact
Markov chain of the discrete algorithm (markers), exact SDE mean exit time / η and
Eyring–Kramers / η (lines); a third panel shows the finite-step correction (applied to the rate)
against the chain (docs/theory.md §2). Data: the claim escape.kramers_asymptotic."""
from __future__ import annotations

from pathlib import Path

from .style import OKABE_ITO, save

CLAIMS = ("escape.kramers_asymptotic",)


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    d = evidence["escape.kramers_asymptotic"].data
    arr = d["arrhenius"]
    x = arr["dV_over_D"]
    etas = [k for k in arr if k.startswith("eta=")]
    fig, axes = plt.subplots(1, len(etas) + 1, figsize=(4.2 * (len(etas) + 1), 4.0))
    for ax, k in zip(axes, etas):
        eta = float(k.split("=")[1])
        c = arr[k]
        ax.semilogy(x, c["continuous"], "-", color=OKABE_ITO[0], label="exact SDE time / η")
        ax.semilogy(x, c["kramers"], "--", color=OKABE_ITO[1], label="Eyring–Kramers / η")
        ax.semilogy(x, c["chain"], "o", mfc="none", color="k", label="Markov chain of discrete SGD (exact)")
        ax.set_title(f"η = {eta:g} (η·h_a = {2 * eta:g})")
        ax.set_xlabel("barrier / diffusion  ΔV / D")
    axes[0].set_ylabel("mean escape steps")
    axes[0].legend(loc="upper left", fontsize=7)
    ax = axes[-1]
    for i, case in enumerate(sorted({r["case"] for r in d["finite_step"]})):
        rows = [r for r in d["finite_step"] if r["case"] == case]
        eh = [r["eta_h_a"] for r in rows]
        ax.plot(eh, [r["chain"] / r["continuous"] for r in rows], "o-", color=OKABE_ITO[2 * i],
                mfc="none", label=f"{case}: chain / continuous")
        ax.plot(eh, [r["chain"] / r["corrected"] for r in rows], "s--", color=OKABE_ITO[2 * i + 1],
                label=f"{case}: chain / corrected ({d.get('correction_on', 'rate')} corrected)")
    ax.axhline(1.0, color="k", lw=0.8, label="exact agreement")
    ax.axvline(0.3, color="grey", ls=":", lw=1, label="validity edge η·h_a = 0.3")
    ax.set_xscale("log")
    ax.set_xlabel("η·h_a")
    ax.set_ylabel("exact chain / prediction")
    ax.set_title("finite-step correction at ΔV/D = 5")
    ax.legend(fontsize=7)
    return save(fig, out_dir, "escape_arrhenius")
