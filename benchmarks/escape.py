"""Benchmark: the ensemble estimate of one mean escape time to ±2% (95% interval) in ≤ 60 s.

C-SGD (K = 1) with isotropic noise on the quartic x⁴/4 − x²/2 from the left minimum, escape =
x > 1 (docs/theory.md §2), ΔV/D = 4, η = 0.25 (η·h_a = 0.5). R replicas stepped at once by
`dynamics.simulate` up to a cap c; estimator escapes / observed steps with the exact Poisson
interval (analysis.escape.censored_exponential_rate). The target is the censored mean
Σ_{n<c}S(n)/(1 − S(c)) of the exact Markov chain (analysis.escape.markov_chain_1d), which the
estimate must cover; the chain's full mean is printed too.

Run: .venv/bin/python benchmarks/escape.py [--replicas 32768 --cap 400 --threads 1 --seed 0]
"""
from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch

from verify.experiments_escape import QUARTIC, chain_escape, mc_escape


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=32768)
    ap.add_argument("--cap", type=int, default=400)
    ap.add_argument("--eta", type=float, default=0.25)
    ap.add_argument("--dV-over-D", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    D = QUARTIC.dV / a.dV_over_D
    t0 = time.perf_counter()
    sample = mc_escape(QUARTIC, a.eta, D, a.cap, a.replicas, a.seed)
    rate = sample.poisson()  # exit times here are exponential to within the KS check
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    chain, cen = chain_escape(QUARTIC, a.eta, D, a.cap)
    t_chain = time.perf_counter() - t1
    m, lo, hi = 1 / rate.rate, 1 / rate.hi, 1 / rate.lo
    half = max(m - lo, hi - m) / m
    out = {"wall_s": wall, "escapes": rate.events, "interval": sample.method, "exposure": rate.exposure, "censored_mean": m,
           "ci": (lo, hi), "half_width_rel": half, "chain_censored_mean": cen,
           "chain_mean": chain.mean, "covered": lo <= cen <= hi, "chain_s": t_chain,
           "replica_steps_per_s": rate.exposure / wall}
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, torch {torch.__version__}, "
          f"{a.threads} thread(s); R = {a.replicas}, cap = {a.cap}, η = {a.eta}, ΔV/D = {a.dV_over_D}")
    print(f"MC: {rate.events} escapes in {rate.exposure:.3g} replica-steps, {wall:.1f} s "
          f"({out['replica_steps_per_s']:.3g} replica-steps/s)")
    print(f"censored mean {m:.1f} steps, 95% CI [{lo:.1f}, {hi:.1f}] (±{100 * half:.2f}%); exact chain "
          f"{cen:.1f} ({'covered' if out['covered'] else 'NOT covered'}); chain full mean "
          f"{chain.mean:.1f} ± {chain.err:.2g} ({t_chain:.1f} s)")
    print("target ±2% in ≤ 60 s:", "met" if half <= 0.02 and wall <= 60 else "NOT met")
    return out


if __name__ == "__main__":
    main()
