"""Benchmark: decentlab's ensemble simulator against hand-written peers on the same workload.

Workload (float64, 2 cores): D-SGD x <- W x - lr g on a ring of K = 16 workers, g = f'(x) +
(sigma/sqrt(B)) z with f = landscapes.get('double_gaussian') (s1 = 0.25, s2 = 0.75, m1 = -1,
m2 = 1.5), z ~ N(0, 1) i.i.d., R = 4096 replicas, 2000 steps, x0 = -1, consensus distance
(1/K) sum_k |x_k - xbar|^2 recorded every 20 steps (docs/theory.md §0). Same law of the noise
for every path (each its own generator), same recorded metric. Cases:
  dsgd_dg  : the workload above;
  dsgd_quad: K = 64, d = 10, quadratic f = 1/2 x^T H x, H = diag(linspace(0.5, 2, 10));
  dsgdm_dg : DSGDm (m <- beta m + g; x <- W(x - lr m), beta = 0.9), the state-carrying case.
Each path function returns (wall s, compile s, final consensus per replica (R,)).
Paths: decentlab `simulate` (registered method + landscapes.noise.oracle, counter-based
Streams) on its per-step path with threads=1 and 2, with its defaults (fused=None,
record_every=None, three recorders, threads='auto'; the per-step path below fused=None's 3e8
worker-steps) and lean with fused=True (the fused kernel inside simulate) at threads=1, 2 and
'auto'; numpy over (R, [d,] K) with `x @ W.T` and PCG64 normals;
JAX `jit` + `lax.scan` with `jax.random.normal` (x64); numba, one fused loop per replica under
`prange` (np.random.standard_normal, per-thread state); `dynamics.fused.run_fused` (torch.compile
of one step, the Streams draws). Figure: replica-worker-steps/s (R K steps / wall), after a
warm-up/compile run (compile time reported apart).
Roofline: a copy bandwidth and exp/log/sin/cos/sqrt throughputs are measured in the same run
(one thread, the faster of numpy and torch); per replica-worker-step the kernel needs 2 exp (double-Gaussian gradient) plus,
per normal, 1/2 log + 1/2 sqrt + 1/2 cos + 1/2 sin (Box–Muller pairs), and at least 16 bytes
(x read and written once) if fully fused. The counter-based paths (decentlab) also hash: 3
chains x 3 lowbias32 rounds per Box-Muller pair (~40 integer ops per normal), not counted.

Run (full size, quiet machine, ~8 min):  .venv/bin/python benchmarks/peers.py --write
Small check (~1 min): .venv/bin/python benchmarks/peers.py --small
Shared machine: --busy 2 runs every path beside another job of 2 torch threads (matrix products).
--write replaces the marked 'peers' (or, with --busy, 'peers-busy') section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import argparse
import datetime
import functools
import importlib
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_results.py
import _results

LR, SIGMA, BATCH, BETA, EVERY = 0.05, 1.0, 1, 0.9, 20
M1, S1, M2, S2 = -1.0, 0.25, 1.5, 0.75
K1, K2 = -0.5 / S1 ** 2, -0.5 / S2 ** 2
HDIAG = np.linspace(0.5, 2.0, 10)
SCALE = SIGMA / math.sqrt(BATCH)
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"
BUSY_BEGIN, BUSY_END = "<!-- peers-busy:begin -->", "<!-- peers-busy:end -->"
# --busy N: another job on the machine, N torch threads multiplying 1500 x 1500 matrices forever
BUSY_JOB = ("import torch, sys; torch.set_num_threads(int(sys.argv[1])); "
            "a = torch.randn(1500, 1500, dtype=torch.float64)\nwhile True: a @ a")


def ring_W(K):
    W = np.zeros((K, K))
    for i in range(K):
        W[i, i] = W[i, (i + 1) % K] = W[i, (i - 1) % K] = 1 / 3
    return W


CASES = {
    "dsgd_dg": {"algo": "dsgd", "K": 16, "d": 1, "land": "dg"},
    "dsgd_quad": {"algo": "dsgd", "K": 64, "d": 10, "land": "quad"},
    "dsgdm_dg": {"algo": "dsgdm", "K": 16, "d": 1, "land": "dg"},
}


# ---------------------------------------------------------------- decentlab paths
def run_simulate(case, R, T, threads, fused=False, lean=True, auto=False):
    """`simulate` on the per-step path (fused=False), the fused kernel (True) or auto (None);
    lean=True records the consensus every EVERY steps, False takes simulate's
    defaults (loss_avg, consensus, loss_workers at ~100 record times). threads=`threads` is
    passed to simulate, or with auto=True its default threads='auto' (from torch's `threads`)."""
    import dynamics
    from dynamics.simulate import simulate
    from dynamics.topology import ring
    from landscapes.noise import oracle
    torch.set_num_threads(threads)
    land = _landscape(case)
    kw = {"beta": BETA} if case["algo"] == "dsgdm" else {}
    meth = dynamics.make(case["algo"], ring(case["K"]), lr=LR, **kw)
    orc = oracle(land, noise="isotropic", sigma=SIGMA, batch=BATCH, with_loss=False)
    x0 = torch.full((case["K"], case["d"]), -1.0, dtype=torch.float64)
    rec = dict(record_every=EVERY, recorders=("consensus",)) if lean else {}
    if not auto:
        rec["threads"] = threads
    sim_mod = importlib.import_module("dynamics.simulate")  # (dynamics.simulate is the function)
    warm = fused if fused is not None else R * case["K"] * T >= sim_mod._FUSED_MIN_WORK
    t0 = time.perf_counter()
    simulate(meth, orc, x0, EVERY, replicas=R, fused=warm, **rec)  # warm-up (compile) on the same path
    tc = time.perf_counter() - t0 if warm else 0.0
    t0 = time.perf_counter()
    res = simulate(meth, orc, x0, T, replicas=R, fused=fused, **rec)
    return time.perf_counter() - t0, tc, np.asarray(res.records["consensus"])[-1]


def _landscape(case):
    from landscapes import get
    if case["land"] == "dg":
        return get("double_gaussian", m1=M1, s1=S1, m2=M2, s2=S2)
    return get("quadratic", H=np.diag(HDIAG), x_star=np.zeros(case["d"]))


def run_fused_path(case, R, T, threads):
    import dynamics
    from dynamics.fused import run_fused
    from dynamics.topology import ring
    torch.set_num_threads(threads)
    land = _landscape(case)
    kw = {"beta": BETA} if case["algo"] == "dsgdm" else {}
    meth = dynamics.make(case["algo"], ring(case["K"]), lr=LR, **kw)
    x0 = torch.full((case["K"], case["d"]), -1.0, dtype=torch.float64)
    t0 = time.perf_counter()
    run_fused(meth, land, x0, EVERY, replicas=R, record_every=EVERY)
    tc = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = run_fused(meth, land, x0, T, replicas=R, record_every=EVERY)
    return time.perf_counter() - t0, tc, res.consensus[-1].numpy()


# ---------------------------------------------------------------- numpy and JAX
def _gradient(xp, case, h):
    """g(x) = f'(x) elementwise in the array module xp (numpy or jax.numpy): h x for the
    quadratic (h broadcast over d), else the double-Gaussian derivative."""
    def grad(x):
        if case["land"] == "quad":
            return h * x
        u1, u2 = x - M1, x - M2
        return (u1 / S1 ** 2) * xp.exp(K1 * u1 * u1) + (u2 / S2 ** 2) * xp.exp(K2 * u2 * u2)
    return grad


def _consensus(x, workers):
    """(1/K) sum_k |x_k - xbar|^2 per replica of x (R, ., .) with the workers on axis `workers`
    (2: numpy's (R, d, K); 1: JAX's (R, K, d)) and d on the other."""
    return ((x - x.mean(workers, keepdims=True)) ** 2).sum(3 - workers).mean(-1)


def run_numpy(case, R, T, threads):
    K, d = case["K"], case["d"]
    W = ring_W(K)
    WT = W.T.copy()
    rng = np.random.default_rng(0)
    x = np.full((R, d, K), -1.0)   # workers last: x @ W.T mixes
    m = np.zeros_like(x)
    grad = _gradient(np, case, HDIAG[:d].reshape(1, d, 1))
    cons = functools.partial(_consensus, workers=2)
    t0 = time.perf_counter()
    recs = [cons(x)]
    for t in range(T):
        g = grad(x) + SCALE * rng.standard_normal(x.shape)
        if case["algo"] == "dsgd":
            x = x @ WT - LR * g
        else:
            m = BETA * m + g
            x = (x - LR * m) @ WT
        if (t + 1) % EVERY == 0:
            recs.append(cons(x))
    return time.perf_counter() - t0, 0.0, recs[-1]


def run_jax(case, R, T, threads):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    K, d = case["K"], case["d"]
    W = jnp.asarray(ring_W(K))
    grad = _gradient(jnp, case, jnp.asarray(HDIAG[:d]))
    cons = functools.partial(_consensus, workers=1)

    def step(carry, key):
        x, m = carry
        g = grad(x) + SCALE * jax.random.normal(key, x.shape, dtype=jnp.float64)
        if case["algo"] == "dsgd":
            x = jnp.einsum("ij,rjd->rid", W, x) - LR * g
        else:
            m = BETA * m + g
            x = jnp.einsum("ij,rjd->rid", W, x - LR * m)
        return (x, m), None

    def block(carry, keys):
        carry, _ = jax.lax.scan(step, carry, keys)
        return carry, cons(carry[0])

    @jax.jit
    def run(x, keys):
        (x, _), c = jax.lax.scan(block, (x, jnp.zeros_like(x)), keys)
        return x, c

    def go(steps):
        keys = jax.random.split(jax.random.PRNGKey(0), steps).reshape(steps // EVERY, EVERY, -1)
        x = jnp.full((R, K, d), -1.0)
        out = run(x, keys)
        jax.block_until_ready(out)
        return out
    t0 = time.perf_counter()
    go(T)                       # compile (shape depends on T) + one run
    tc = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, c = go(T)
    return time.perf_counter() - t0, tc, np.asarray(c)[-1]


# ---------------------------------------------------------------- numba
_NUMBA = {}


def _numba_kernel():
    if "k" in _NUMBA:
        return _NUMBA["k"]
    import numba

    @numba.njit(parallel=True, fastmath=False, cache=False)
    def kern(R, K, d, T, every, seed, algo, land, nbr, wts, h, out):
        deg = nbr.shape[1]
        for r in numba.prange(R):
            np.random.seed(seed + r)
            x = np.full((K, d), -1.0)
            xn = np.empty((K, d))
            m = np.zeros((K, d))
            g = np.empty((K, d))
            rec = 0
            for t in range(T + 1):
                if t % every == 0:
                    c = 0.0
                    for j in range(d):
                        mu = 0.0
                        for k in range(K):
                            mu += x[k, j]
                        mu /= K
                        for k in range(K):
                            c += (x[k, j] - mu) ** 2
                    out[rec, r] = c / K
                    rec += 1
                if t == T:
                    break
                for k in range(K):
                    for j in range(d):
                        v = x[k, j]
                        if land == 0:
                            u1, u2 = v - M1, v - M2
                            gv = (u1 / S1 ** 2) * np.exp(K1 * u1 * u1) + (u2 / S2 ** 2) * np.exp(K2 * u2 * u2)
                        else:
                            gv = h[j] * v
                        g[k, j] = gv + SCALE * np.random.standard_normal()
                if algo == 0:
                    for k in range(K):
                        for j in range(d):
                            s = 0.0
                            for e in range(deg):
                                s += wts[k, e] * x[nbr[k, e], j]
                            xn[k, j] = s - LR * g[k, j]
                else:
                    for k in range(K):
                        for j in range(d):
                            m[k, j] = BETA * m[k, j] + g[k, j]
                            g[k, j] = x[k, j] - LR * m[k, j]
                    for k in range(K):
                        for j in range(d):
                            s = 0.0
                            for e in range(deg):
                                s += wts[k, e] * g[nbr[k, e], j]
                            xn[k, j] = s
                x, xn = xn, x
    _NUMBA["k"] = kern
    return kern


def run_numba(case, R, T, threads):
    import numba
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    K, d = case["K"], case["d"]
    nbr = np.array([[(i - 1) % K, i, (i + 1) % K] for i in range(K)], dtype=np.int64)
    wts = np.full((K, 3), 1 / 3)
    args = lambda steps, out: (R, K, d, steps, EVERY, 0, 0 if case["algo"] == "dsgd" else 1,
                               0 if case["land"] == "dg" else 1, nbr, wts, HDIAG[:d].copy(), out)
    kern = _numba_kernel()
    t0 = time.perf_counter()
    kern(*args(EVERY, np.zeros((2, R))))
    tc = time.perf_counter() - t0
    out = np.zeros((T // EVERY + 1, R))
    t0 = time.perf_counter()
    kern(*args(T, out))
    return time.perf_counter() - t0, tc, out[-1]


# ---------------------------------------------------------------- roofline probes
def machine_rates():
    """Copy bandwidth (bytes/s, read + write counted; numpy, 256 MiB) and transcendental
    throughputs (/s, float64, one thread): the faster of numpy's and torch's vectorised (Sleef)
    kernels, which are what the compiled paths call."""
    a = np.ones(1 << 25)
    b = np.empty_like(a)
    np.copyto(b, a)
    t0 = time.perf_counter()
    for _ in range(5):
        np.copyto(b, a)
    rates = {"copy_bytes_per_s": 5 * 2 * a.nbytes / (time.perf_counter() - t0)}
    nth = torch.get_num_threads()
    torch.set_num_threads(1)
    x = torch.rand(1 << 22, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.1
    y = torch.empty_like(x)
    xn, yn = x.numpy(), y.numpy()
    for name in ("exp", "log", "sin", "cos", "sqrt"):
        best = 0.0
        for f, u, v in ((getattr(torch, name), x, y), (getattr(np, name), xn, yn)):
            f(u, out=v)
            t0 = time.perf_counter()
            for _ in range(5):
                f(u, out=v)
            best = max(best, 5 * x.numel() / (time.perf_counter() - t0))
        rates[name + "_per_s"] = best
    torch.set_num_threads(nth)
    return rates


def roofline(case, rates):
    """Lower bounds on seconds per replica-worker-step: compute (transcendentals) and memory."""
    d = case["d"]
    per = {"exp": 2 * d if case["land"] == "dg" else 0, "log": d / 2, "sqrt": d / 2, "sin": d / 2, "cos": d / 2}
    t_comp = sum(n / rates[k + "_per_s"] for k, n in per.items()) / 2  # 2 cores
    state = 2 if case["algo"] == "dsgdm" else 1
    t_mem = 16 * d * state / rates["copy_bytes_per_s"]             # 1 core's copy bandwidth
    return per, t_comp, t_mem


PATHS = {
    "decentlab simulate, 1 thread": (run_simulate, 1),
    "decentlab simulate, 2 threads": (run_simulate, 2),
    "decentlab simulate, defaults (record_every=None, 3 recorders, auto fused, threads='auto' from 2)":
        (functools.partial(run_simulate, fused=None, lean=False, auto=True), 2),
    "decentlab simulate, lean, fused=True, 1 thread": (functools.partial(run_simulate, fused=True), 1),
    "decentlab simulate, lean, fused=True, 2 threads": (functools.partial(run_simulate, fused=True), 2),
    "decentlab simulate, lean, fused=True, threads='auto' from 2":
        (functools.partial(run_simulate, fused=True, auto=True), 2),
    "decentlab fused (dynamics.fused), 2 threads": (run_fused_path, 2),
    "numpy (R, d, K), x @ W.T": (run_numpy, 2),
    "JAX jit + lax.scan (x64)": (run_jax, 2),
    "numba prange, fused loop per replica": (run_numba, 2),
}


def write_section(text, busy=False):
    _results.write_section(RESULTS, *((BUSY_BEGIN, BUSY_END) if busy else (BEGIN, END)), text)


def start_busy(threads):
    """The competing job of --busy (killed at exit); waits 5 s so that it runs at full speed."""
    import atexit
    job = subprocess.Popen([sys.executable, "-c", BUSY_JOB, str(threads)])
    atexit.register(job.kill)
    time.sleep(5)
    return job


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=4096)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--quad-steps", type=int, default=500, help="steps of the K=64, d=10 case")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--paths", default="all", help="comma-separated substrings of path names")
    p.add_argument("--small", action="store_true", help="R=256, 200 steps (development check)")
    p.add_argument("--write", action="store_true", help="replace the peers section of RESULTS.md")
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="measure beside another job of N torch threads (a shared machine); "
                        "--write then replaces the peers-busy section")
    a = p.parse_args(argv)
    if a.busy < 0:
        p.error(f"--busy must be >= 0 threads, got {a.busy}")
    if a.small:
        a.replicas, a.steps, a.quad_steps = 256, 200, 100
    paths = {k: v for k, v in PATHS.items()
             if a.paths == "all" or any(s.strip().lower() in k.lower() for s in a.paths.split(","))}
    rates = machine_rates()  # of the machine alone, before any --busy job starts
    if a.busy:
        start_busy(a.busy)
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    when = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    flags = (" --small" if a.small else "") + (f" --busy {a.busy}" if a.busy else "") + \
        (f" --cases {a.cases}" if a.cases != ",".join(CASES) else "") + (f" --paths '{a.paths}'" if a.paths != "all" else "")
    title = (f"## Peers on a busy machine (another job of {a.busy} torch threads running throughout)\n"
             if a.busy else "## Peers (same workload, other implementations)\n")
    lines = [title,
             f"Command: `.venv/bin/python benchmarks/peers.py{flags}"
             f" --replicas {a.replicas} --steps {a.steps} --quad-steps {a.quad_steps}`, run {when}; "
             f"`uptime`: {load}; torch {torch.__version__}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs visible. Workload and paths: benchmarks/peers.py docstring "
             f"(D-SGD ring, double-Gaussian, isotropic noise, consensus every {EVERY} steps, float64, "
             f"2 threads unless stated).\n",
             f"Machine rates (1 thread; transcendentals: faster of numpy and torch/Sleef): copy {rates['copy_bytes_per_s'] / 1e9:.2f} GB/s (read+write); "
             + ", ".join(f"{k} {rates[k + '_per_s'] / 1e6:.0f}·10⁶/s" for k in ("exp", "log", "sin", "cos", "sqrt"))
             + ".\n"]
    for cname in a.cases.split(","):
        case = CASES[cname]
        T = a.quad_steps if cname == "dsgd_quad" else a.steps
        rws = a.replicas * case["K"] * T
        rows = []
        for pname, (fn, th) in paths.items():
            try:
                wall, tc, cons = fn(case, a.replicas, T, th)
                rows.append((pname, wall, tc, rws / wall, float(np.mean(cons))))
            except ImportError as e:
                rows.append((pname, float("nan"), 0.0, float("nan"), f"not installed ({e.name})"))
            print(f"  {cname}: {pname}: {rows[-1]}", flush=True)
        ref = {k: r[3] for k, r in zip(("jax", "numba"), [next((r for r in rows if n in r[0]), None)
                                                          for n in ("JAX", "numba")]) if r}
        per, t_comp, t_mem = roofline(case, rates)
        lines.append(f"### {cname}: {case['algo']}, ring K = {case['K']}, d = {case['d']}, "
                     f"{'double-Gaussian' if case['land'] == 'dg' else 'quadratic'}, R = {a.replicas}, "
                     f"{T} steps\n")
        lines.append("| path | wall s | compile s | replica-worker-steps/s | vs JAX | vs numba | "
                     "final mean consensus |")
        lines.append("|---|---|---|---|---|---|---|")
        for pname, wall, tc, rate, cons in rows:
            vs = [f"{rate / ref[k]:.2f}x" if k in ref and math.isfinite(ref[k]) and math.isfinite(rate) else "-"
                  for k in ("jax", "numba")]
            cs = f"{cons:.4g}" if isinstance(cons, float) else cons
            lines.append(f"| {pname} | {wall:.2f} | {tc:.1f} | {rate:.3g} | {vs[0]} | {vs[1]} | {cs} |")
        best = max((r for r in rows if r[3] == r[3]), key=lambda r: r[3], default=None)
        if best:
            lines.append(
                f"\nRoofline per replica-worker-step: transcendentals {per} -> compute floor "
                f"{1 / t_comp:.3g} rws/s on 2 cores; state traffic {16 * case['d'] * (2 if case['algo'] == 'dsgdm' else 1)} B "
                f"-> memory floor {1 / t_mem:.3g} rws/s at one core's copy bandwidth. Best path "
                f"({best[0]}) at {best[3]:.3g} rws/s = {best[3] * t_comp:.0%} of the compute floor, "
                f"{best[3] * t_mem:.1%} of the memory floor: "
                f"{'compute (transcendental) bound' if t_comp > t_mem else 'memory bound'} side.\n")
    end = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    lines.append(f"`uptime` at the end: {end}.\n")
    text = "\n".join(lines)
    _results.publish(text, a.write, functools.partial(write_section, busy=bool(a.busy)),
                     f"the peers{'-busy' if a.busy else ''} section of {RESULTS}")


if __name__ == "__main__":
    main()
