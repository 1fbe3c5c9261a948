"""Consensus vs diffusion flatness on double_gaussian (sharp well at −1, flat at 1.5; ring K = 8,
η = 0.02): left, V and the effective potentials J_eff = V + ½V''Σ_dis of consensus (D-SGD) and
diffusion (ATC) with their Boltzmann densities at D_c (docs/theory.md §2, derived); right, the
flat-well occupancy of each: first-order predictions (Boltzmann of J_eff, chain + J_eff odds
shift; light bars) and Monte Carlo (dark bars, 95% t-interval), with the paired difference in the
title. Data: flatness.consensus_vs_diffusion_flatness."""
from __future__ import annotations

from pathlib import Path

from .flatness_occupancy import occupancy_figure
from .style import OKABE_ITO

CLAIMS = ("flatness.consensus_vs_diffusion_flatness",)


def draw(evidence, out_dir) -> list[Path]:
    d = evidence[CLAIMS[0]].data
    th, dd = d["theory"], d["difference"]
    c1, c2 = OKABE_ITO[1], OKABE_ITO[2]
    bars = [(f"{who}: {what}", v, c) for who, key, c in (("consensus", "dsgd", c1), ("diffusion", "atc", c2))
            for what, v in (("Boltzmann of J_eff", th[key]["boltzmann_J_eff"]),
                            ("chain + J_eff shift", th[key]["chain_J_eff_shift"]),
                            ("Monte Carlo (95%)", d["occupancy"][key]))]
    title = f"consensus − diffusion = {dd[0]:+.4f} [{dd[1]:+.4f}, {dd[2]:+.4f}] (paired 95%)"
    return occupancy_figure(d, [("dsgd", "consensus"), ("atc", "diffusion")], bars, title,
                            "flatness_consensus_vs_diffusion", out_dir)
