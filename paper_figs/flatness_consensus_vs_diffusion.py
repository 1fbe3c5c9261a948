"""Consensus vs diffusion flatness on double_gaussian (sharp well at −1, flat at 1.5; ring K = 8,
η = 0.02): left, V and the effective potentials J_eff = V + ½V''Σ_dis of consensus (D-SGD) and
diffusion (ATC) with their Boltzmann densities at D_c (docs/theory.md §2, derived); right, the
flat-well occupancy of each: first-order predictions (Boltzmann of J_eff, chain + J_eff odds
shift; light bars) and Monte Carlo (dark bars, 95% t-interval), with the paired difference in the
title. Data: flatness.consensus_vs_diffusion_flatness."""
from __future__ import annotations

from pathlib import Path

from .flatness_occupancy import bars_panel, potential_panel
from .style import OKABE_ITO, save

CLAIMS = ("flatness.consensus_vs_diffusion_flatness",)


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    th = d["theory"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    potential_panel(a1, th, [("dsgd", "consensus"), ("atc", "diffusion")], d["D_c"])
    c1, c2 = OKABE_ITO[1], OKABE_ITO[2]
    bars_panel(a2, [("consensus: Boltzmann of J_eff", th["dsgd"]["boltzmann_J_eff"], c1),
                    ("consensus: chain + J_eff shift", th["dsgd"]["chain_J_eff_shift"], c1),
                    ("consensus: Monte Carlo (95%)", d["occupancy"]["dsgd"], c1),
                    ("diffusion: Boltzmann of J_eff", th["atc"]["boltzmann_J_eff"], c2),
                    ("diffusion: chain + J_eff shift", th["atc"]["chain_J_eff_shift"], c2),
                    ("diffusion: Monte Carlo (95%)", d["occupancy"]["atc"], c2)])
    well = "flat" if d.get("flat_well", "right") == "right" else "sharp (premise reversed)"
    a2.set_xlabel(f"occupancy of the {well} well")
    dd = d["difference"]
    a2.set_title(f"consensus − diffusion = {dd[0]:+.4f} [{dd[1]:+.4f}, {dd[2]:+.4f}] (paired 95%)", fontsize=9)
    return save(fig, out_dir, "flatness_consensus_vs_diffusion")
