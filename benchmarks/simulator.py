"""Benchmark: vectorised ensemble simulator against a per-worker Python loop.

D-SGD (x_i <- sum_j W_ij x_j - lr g_i, docs/theory.md §1) on the 1-D double-Gaussian landscape
(landscapes.get('double_gaussian')) with isotropic gradient noise sigma/sqrt(B), ring of K
workers. Figure of merit: replica-worker-steps per second (R * K * steps / wall time).

- vectorised: `dynamics.simulate` on R replicas x K workers, `dynamics.make('dsgd', ...)` and
  `landscapes.noise.oracle` (the library path), recording loss of the average and consensus
  distance every steps/100 steps; plus the same run with a lean inline oracle (no loss
  evaluation, no validation) to separate the oracle's cost;
- loop: "how the papers' codes simulate workers": one replica, a Python list of K tensors, each
  worker computes its gradient and then averages its neighbours' tensors (torch.randn noise);
  a few hundred steps timed and extrapolated per replica-worker-step;
- breakdown per step at (R, K): counter-based normals (landscapes.rng.Streams), torch.randn,
  mixing W @ x, the gradient formula.

Run: .venv/bin/python benchmarks/simulator.py [--replicas 4096 --workers 16 --steps 10000]
"""
from __future__ import annotations

import argparse
import datetime
import math
import platform
import time

import torch

import dynamics
from dynamics.simulate import simulate
from dynamics.topology import ring
from landscapes import get as get_landscape
from landscapes import rng as lrng
from landscapes.noise import oracle as make_oracle

LR, SIGMA, BATCH = 0.05, 1.0, 1
M1, S1, M2, S2 = -1.0, 0.25, 1.5, 0.75


def grad_dg(x):
    """f'(x) for f = -exp(-(x-m1)^2/(2 s1^2)) - exp(-(x-m2)^2/(2 s2^2))."""
    return ((x - M1) / S1 ** 2 * torch.exp(-(x - M1) ** 2 / (2 * S1 ** 2))
            + (x - M2) / S2 ** 2 * torch.exp(-(x - M2) ** 2 / (2 * S2 ** 2)))


def lean_oracle(x, t, rng):
    """Gradient plus noise only (no loss, no validation): the floor for this landscape."""
    return None, grad_dg(x) + (SIGMA / math.sqrt(BATCH)) * lrng.normal(rng, t, x.shape[1:])


def timed(fn, reps=1):
    """Mean seconds per call of fn(t) over t = 1..reps (after a call at t = 0): consecutive
    times, as in a run, so the RNG's several-steps-per-pass blocking is amortised as it is there."""
    fn(0)
    t0 = time.perf_counter()
    for t in range(1, reps + 1):
        fn(t)
    return (time.perf_counter() - t0) / reps


def loop_baseline(K, steps, seed=0):
    """One replica, K workers each holding its own tensor; neighbours read from a Python list."""
    W = ring(K).W(0)
    nbrs = [[(j, float(W[i, j])) for j in range(K) if W[i, j] > 0] for i in range(K)]
    gen = torch.Generator().manual_seed(seed)
    xs = [torch.full((1,), M1, dtype=torch.float64) for _ in range(K)]

    def run(n):
        nonlocal xs
        for _ in range(n):
            gs = [grad_dg(x) + SIGMA / math.sqrt(BATCH) * torch.randn(1, generator=gen, dtype=torch.float64)
                  for x in xs]
            xs = [sum(w * xs[j] for j, w in nbrs[i]) - LR * gs[i] for i in range(K)]
    run(10)
    t0 = time.perf_counter()
    run(steps)
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=4096)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--loop-steps", type=int, default=300)
    p.add_argument("--lean-steps", type=int, default=1000, help="steps of the lean-oracle variant")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    R, K, T = a.replicas, a.workers, a.steps
    top = ring(K)
    land = get_landscape("double_gaussian")
    orc = make_oracle(land, noise="isotropic", sigma=SIGMA, batch=BATCH, with_loss=False)  # D-SGD never reads it
    meth = dynamics.make("dsgd", top, lr=LR)
    x0 = torch.full((K, 1), M1, dtype=torch.float64)
    rws = R * K * T
    every = max(T // 100, 1)
    print(f"# simulator benchmark  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"# R={R} K={K} steps={T} d=1 ring, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}")

    rows = []
    t0 = time.perf_counter()
    res = simulate(meth, orc, x0, T, replicas=R, seed=a.seed, record_every=every,
                   recorders=("loss_avg", "consensus"))
    dt = time.perf_counter() - t0
    rows.append(("vectorised: dynamics.make('dsgd') + landscapes.noise.oracle(with_loss=False)", dt, rws / dt))
    Tl = min(a.lean_steps, T)
    t0 = time.perf_counter()
    simulate(meth, lean_oracle, x0, Tl, replicas=R, seed=a.seed, record_every=every, recorders=("consensus",))
    dt = (time.perf_counter() - t0) * T / Tl
    rows.append((f"vectorised: dynamics.make('dsgd') + lean inline oracle ({Tl} steps, extrapolated)",
                 dt, rws / dt))
    dt_loop = loop_baseline(K, a.loop_steps, a.seed)
    loop_rate = K * a.loop_steps / dt_loop
    rows.append((f"per-worker Python loop, 1 replica ({a.loop_steps} steps, extrapolated)",
                 dt_loop / (K * a.loop_steps) * rws, loop_rate))

    print("\n| path | wall s (R·K·steps) | replica-worker-steps/s | vs loop |")
    print("|---|---|---|---|")
    for name, dt, rate in rows:
        print(f"| {name} | {dt:.1f} | {rate:.3g} | {rate / loop_rate:.0f}x |")

    # breakdown per step at (R, K, 1)
    st = lrng.Streams(a.seed, R)
    x = torch.full((R, K, 1), M1, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    n = 200
    s0 = meth.init(x)
    parts = {
        "Streams.normal (counter-based RNG)": timed(lambda t: st.normal(t, (K, 1)), n),
        "Streams.uniform (one uniform)": timed(lambda t: st.uniform(t, (K, 1)), n),
        "torch.randn (Philox/MT generator)": timed(lambda t: torch.randn(R, K, 1, generator=gen, dtype=torch.float64), n),
        "mixing W @ x (topology.mix)": timed(lambda t: top.mix(x, t), n),
        "mixing as 3 shifted adds (ring)": timed(lambda t: (x + x.roll(1, 1) + x.roll(-1, 1)) / 3, n),
        "gradient formula (2 exps)": timed(lambda t: grad_dg(x), n),
        "library gradient (landscape.grad)": timed(lambda t: land.grad(x), n),
        "library oracle call": timed(lambda t: orc(x, t, st), n),
        "dsgd step (library oracle)": timed(lambda t: meth.step(s0, orc, t, st), n),
    }
    step_lib = rows[0][1] / T
    print(f"\nper-step cost at R={R}, K={K} (ms); full simulate step = {1e3 * step_lib:.2f} ms")
    print("| part | ms/step | bound on replica-worker-steps/s |")
    print("|---|---|---|")
    for name, dt in parts.items():
        print(f"| {name} | {1e3 * dt:.3f} | {R * K / dt:.3g} |")
    print(f"\nfinal mean loss of the average {res.records['loss_avg'][-1].mean():.4f}, "
          f"mean consensus {res.records['consensus'][-1].mean():.3g}")


if __name__ == "__main__":
    main()
