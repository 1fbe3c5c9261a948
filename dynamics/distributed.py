"""Scale-out: the same `dynamics` algorithms across processes and machines on torch.distributed.

Each process (rank r of P) holds a contiguous slice of the worker stack, rows
`[r*K/P, (r+1)*K/P)` of the global (R, K, d) state (K divisible by P). The algorithms are the
single-process ones, unchanged: they receive a `DistTopology`, which quacks like
`dynamics.topology.Topology` (global `K`, `W(t)`, `rho`, ...) and whose `mix(x_local, t)`
returns the local rows of W(t) @ x. Worker-axis reductions (`base.worker_mean`,
`worker_argmin`, `worker_gather`, ...) dispatch to its collectives (docs/design.md, dynamics/).

Transport (torch.distributed only, no home-made transport):
- sparse W(t): neighbour exchange, one `batch_isend_irecv` per step with one message per pair
  of ranks (the rows the receiver's workers weight with W_ij > 0); every send has its paired
  receive, so no blocking send/recv can dead-lock. Time-varying W(t) (one-peer exponential)
  gets a plan per matrix of the period.
- dense W(t) (every rank needs every other rank's rows), means and sums over workers (EASGD's
  center, C-SGD): `all_gather` of the rows, then the same torch reduction as single-process.
- LSGD: `all_gather` of the losses, argmin on every rank, the leader's row by `broadcast` from
  its owner (masked `all_reduce` when replicas' leaders live on different ranks).

Communication accounting (`DistTopology.bytes_sent`, bytes handed to torch.distributed by this
rank): an isend counts its tensor; an all_gather counts (P-1) x the local tensor (each peer
gets it once); a broadcast counts (P-1) x the tensor at the source; an all_reduce counts the
ring volume 2(P-1)/P x the tensor. Declared volume: `Method.comm` vectors per step, all workers
(one vector = R*d float64 here). Workers on the same process exchange for free, so with
K/P > 1 the measured volume is below the declared one.

Faults: `init_process_group(timeout=...)` and every `work.wait(timeout)` bound each exchange;
a dead peer (connection closed) or one that stops answering within `timeout` raises
`PeerFailure` naming the rank, the operation and the step, on every other rank. Checkpoints
(`ckpt/step{s}/rank{r}.pt` + `ckpt/LATEST`, written after a barrier) let a job restart from the
last complete step; the counter-based random streams (landscapes/rng.py) make the restart exact.

Run folder (rank 0, written through dynamics/runfolder.py: atomic files, summary.json carries
`complete: true` only when the run finished): config.json, env.json, metrics.jsonl, summary.json,
final.pt; per-rank
logs logs/rank{r}.log. CLI: `torchrun --nproc-per-node 4 -m dynamics.distributed --algo dsgd
--topology ring --K 8 ...` (README, "Distributed runs").

Round-robin methods (easgd_rr, admm_rr) and sequential elastic exchanges stay single-process.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from . import base
from . import topology as T

__all__ = ["DistTopology", "PeerFailure", "local_oracle", "run", "init", "main", "check_inputs", "DIST_METHODS",
           "PS_METHODS"]

# Methods whose worker-axis reductions all go through the base.worker_* hooks.
DIST_METHODS = ("csgd", "local_sgd", "dsgd", "atc", "cta", "dsgdm", "qg_dsgdm", "decentlam",
                "gt", "d2", "mt", "easgd", "easgd_async", "eamsgd", "downpour", "lsgd")


class PeerFailure(RuntimeError):
    """A peer died or did not answer within the timeout."""


@dataclass
class _Plan:
    dense: bool
    send: dict      # peer rank -> local row positions to send
    recv: dict      # peer rank -> global row ids to receive
    rows: list      # topology.row_plan of this rank's rows (the single-process summation order)


class DistTopology:
    """A `Topology` stand-in for one rank: global K and W(t), local rows, collectives.

    `base` is the global `Topology` (None for parameter-server methods: then only the
    collectives are available). `rank`/`world` default to the initialised process group.
    """

    distributed = True

    def __init__(self, K: int, base_topology=None, rank=None, world=None, timeout: float = 30.0,
                 dense_threshold: float = 1.0):
        K = T._check_K(K)
        if base_topology is not None and int(base_topology.K) != K:
            raise ValueError(f"K = {K} disagrees with topology {base_topology.name!r} (K = {base_topology.K})")
        self.rank = dist.get_rank() if rank is None else int(rank)
        self.world = dist.get_world_size() if world is None else int(world)
        if K % self.world:
            raise ValueError(f"K = {K} workers must be divisible by the number of processes {self.world}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self._K, self.base, self.timeout = K, base_topology, float(timeout)
        self.K_local = K // self.world
        self.rows = list(range(self.rank * self.K_local, (self.rank + 1) * self.K_local))
        self.dense_threshold = float(dense_threshold)
        self.bytes_sent = 0
        self.step = -1
        self._plans: dict[int, _Plan] = {}

    # ------------------------------------------------------------ Topology interface
    @property
    def K(self) -> int:
        return self._K

    @property
    def name(self) -> str:
        return self.base.name if self.base is not None else f"parameter-server(K={self._K})"

    def __getattr__(self, item):
        # W, matrices, period, rho, spectral_gap, lambda2, eigvals, perron, neighbours, ...
        if item.startswith("_") or item == "base" or self.__dict__.get("base") is None:
            raise AttributeError(item)
        return getattr(self.base, item)

    def owner(self, j: int) -> int:
        return int(j) // self.K_local

    # ------------------------------------------------------------ mixing
    def _plan(self, t: int) -> _Plan:
        """Exchange plan of W(t) for this rank. Dense (all_gather) or sparse (neighbour
        exchange) is decided from the whole W(t) alone, identically on every rank: dense when
        the foreign rows the ranks need, summed over all ranks, reach `dense_threshold` of all
        foreign rows (world * (K - K_local)). A per-rank decision dead-locks on asymmetric graphs
        (on a star the hub's rank would all_gather while the others send to it)."""
        p = int(t) % self.base.period
        if p not in self._plans:
            W = self.base.W(p)
            kl = self.K_local

            def needs(q, r):  # global rows of rank r that rank q's workers weight with W > 0
                block = W[q * kl:(q + 1) * kl, r * kl:(r + 1) * kl] > 0
                return [r * kl + j for j in range(kl) if bool(block[:, j].any())]
            recv = {q: needs(self.rank, q) for q in range(self.world) if q != self.rank}
            recv = {q: c for q, c in recv.items() if c}
            send = {}
            for q in range(self.world):
                if q != self.rank:
                    pos = [j - self.rows[0] for j in needs(q, self.rank)]
                    if pos:
                        send[q] = pos
            total = sum(len(needs(q, r)) for q in range(self.world) for r in range(self.world) if q != r)
            dense = self.world > 1 and total >= self.dense_threshold * self.world * (self.K - kl)
            self._plans[p] = _Plan(dense, send, recv, T.row_plan(W, rows=self.rows))
        return self._plans[p]

    def mix(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        """Local rows of W(t) @ x: x_i <- sum_j W(t)_ij x_j for the rows i this rank holds."""
        if self.base is None:
            raise ValueError("this DistTopology has no mixing matrix (topology=None): mix is undefined")
        self._check_local(x)
        plan = self._plan(t)
        if self.world == 1:
            return T.mix_rows(self._cast_rows(plan, x), x)
        if plan.dense:
            full = self.all_rows(x)
        else:
            full = x.new_zeros(*x.shape[:-2], self.K, x.shape[-1])
            full[..., self.rows[0]:self.rows[-1] + 1, :] = x
            ops, bufs = [], {}
            for q, pos in plan.send.items():
                buf = x[..., pos, :].contiguous()
                ops.append(dist.P2POp(dist.isend, buf, q))
                self.bytes_sent += buf.numel() * buf.element_size()
            for q, cols in plan.recv.items():
                bufs[q] = x.new_empty(*x.shape[:-2], len(cols), x.shape[-1])
                ops.append(dist.P2POp(dist.irecv, bufs[q], q))
            if ops:
                self._wait(dist.batch_isend_irecv(ops), "neighbour exchange (batch_isend_irecv)",
                           sorted(set(plan.send) | set(plan.recv)))
            for q, cols in plan.recv.items():
                full[..., cols, :] = bufs[q]
        return T.mix_rows(self._cast_rows(plan, x), full)

    @staticmethod
    def _cast_rows(plan: _Plan, x):
        c0 = plan.rows[0][0] if plan.rows else None
        if c0 is None or (c0.dtype == x.dtype and c0.device == x.device):
            return plan.rows
        return [(c.to(dtype=x.dtype, device=x.device), o, i.to(x.device)) for c, o, i in plan.rows]

    # ------------------------------------------------------------ collectives
    def all_rows(self, x: torch.Tensor) -> torch.Tensor:
        """all_gather of the local rows on axis -2: (..., K_local, ...) -> (..., K, ...)."""
        self._check_local(x)
        if self.world == 1:
            return x
        xt = x.movedim(-2, 0).contiguous()
        out = [torch.empty_like(xt) for _ in range(self.world)]
        work = dist.all_gather(out, xt, async_op=True)
        self.bytes_sent += (self.world - 1) * xt.numel() * xt.element_size()
        self._wait([work], "all_gather", None)
        return torch.cat(out, 0).movedim(0, -2)

    def gather_rows(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Rows of global ids idx (identical on every rank): idx (...) -> (..., d), (..., m) -> (..., m, d).
        One owner for all: broadcast from it; otherwise a masked all_reduce (sum of one
        nonzero contribution, exact)."""
        self._check_local(x)
        one = idx.dim() == x.dim() - 2
        i = idx.unsqueeze(-1) if one else idx
        lo = self.rows[0]
        mine = (i >= lo) & (i < lo + self.K_local)
        li = torch.where(mine, i - lo, torch.zeros_like(i))
        rows = torch.gather(x, -2, li.unsqueeze(-1).expand(*li.shape, x.shape[-1]))
        if self.world > 1:
            owners = torch.unique(torch.div(i, self.K_local, rounding_mode="floor"))
            nbytes = rows.numel() * rows.element_size()
            if owners.numel() == 1:
                src = int(owners[0])
                rows = rows.contiguous()
                work = dist.broadcast(rows, src=src, async_op=True)
                if src == self.rank:
                    self.bytes_sent += (self.world - 1) * nbytes
                self._wait([work], f"broadcast of the leader from rank {src}", None)
            else:
                rows = torch.where(mine.unsqueeze(-1), rows, torch.zeros_like(rows)).contiguous()
                work = dist.all_reduce(rows, async_op=True)
                self.bytes_sent += int(2 * (self.world - 1) / self.world * nbytes)
                self._wait([work], "all_reduce of the leaders", None)
        return rows.squeeze(-2) if one else rows

    def barrier(self, what="barrier"):
        if self.world > 1:
            self._wait([dist.barrier(async_op=True)], what, None)

    # ------------------------------------------------------------ helpers
    def _check_local(self, x):
        if x.shape[-2] != self.K_local:
            raise ValueError(f"x must hold this rank's K_local = {self.K_local} workers on axis -2, "
                             f"got shape {tuple(x.shape)}")

    def _wait(self, works, what, peers):
        try:
            for w in works:
                w.wait(datetime.timedelta(seconds=self.timeout))
        except Exception as e:  # gloo/NCCL raise RuntimeError/DistBackendError subclasses
            who = "a peer" if peers is None else f"peer rank(s) {peers}"
            raise PeerFailure(f"rank {self.rank}/{self.world}: {what} at step {self.step} failed: "
                              f"{who} died or did not answer within timeout = {self.timeout:g} s "
                              f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e


def local_oracle(oracle, dtop: DistTopology):
    """Wrap a global oracle(x (R, K, d), t, rng) into one on this rank's rows (R, K_local, d).

    The other rows are filled with copies of a local row, the full oracle is evaluated and the
    local rows are returned: worker k's objective and noise (drawn as the full (K, d) per
    replica, landscapes/noise.py) are exactly those of the single-process run. Cost: K/K_local
    oracle evaluations per rank; a native local oracle avoids it (pass local_oracle=False)."""
    lo, hi = dtop.rows[0], dtop.rows[-1] + 1

    def f(x, t, rng):
        full = x[..., :1, :].expand(*x.shape[:-2], dtop.K, x.shape[-1]).clone()
        full[..., lo:hi, :] = x
        loss, g = oracle(full, t, rng)
        return loss[..., lo:hi], g[..., lo:hi, :]
    f.local = True
    for a in ("landscape", "problem", "batch"):
        if hasattr(oracle, a):
            setattr(f, a, getattr(oracle, a))
    return f


# ---------------------------------------------------------------- process group

def init(backend: str = "auto", timeout: float = 30.0):
    """init_process_group from torchrun's env (RANK, WORLD_SIZE, MASTER_ADDR/PORT); gloo on CPU,
    NCCL when CUDA is there ('auto'). Returns (rank, world, device)."""
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'auto', 'gloo' or 'nccl', got {backend!r}")
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=float(timeout)))
    device = torch.device("cpu")
    if backend == "nccl":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


# ---------------------------------------------------------------- runner

def _latest(ckdir: Path):
    f = ckdir / "LATEST"
    return int(f.read_text()) if f.exists() else None


# Methods that run without a mixing matrix (a parameter server / all-reduce): topology=None.
PS_METHODS = ("csgd", "local_sgd", "easgd", "easgd_async", "eamsgd", "downpour", "lsgd")
_DTYPES = (torch.float64, torch.float32)


def _int(v, name, minimum):
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def check_inputs(name: str, topology, x0, steps, hp: dict | None, seed, timeout,
                 checkpoint_every=0, log_every=10) -> None:
    """Validate a distributed run before any process group, run folder or step: ValueError
    naming the offending argument."""
    if name not in DIST_METHODS:
        raise ValueError(f"algorithm {name!r} is not distributed{base.did_you_mean(name, DIST_METHODS)}; "
                         f"choose from: {', '.join(DIST_METHODS)}")
    if topology is None and name not in PS_METHODS:
        raise ValueError(f"topology: algorithm {name!r} mixes with its neighbours and needs a topology; "
                         f"topology none is only for {', '.join(m for m in PS_METHODS if m in DIST_METHODS)}")
    _int(steps, "steps", 0)
    _int(seed, "seed", 0)
    _int(checkpoint_every, "checkpoint_every", 0)
    _int(log_every, "log_every", 0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0 \
            or timeout != timeout or timeout == float("inf"):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    if not torch.is_tensor(x0) or x0.ndim != 3:
        raise ValueError(f"x0 must be a tensor of shape (R, K, d), got "
                         f"{tuple(x0.shape) if torch.is_tensor(x0) else type(x0).__name__}")
    if x0.dtype not in _DTYPES:
        raise ValueError(f"x0: dtype {x0.dtype} is not supported (use torch.float64 or torch.float32)")
    if topology is not None and int(topology.K) != x0.shape[1]:
        raise ValueError(f"x0 has K = {x0.shape[1]} workers but topology {topology.name!r} has K = {topology.K}")
    # hyper-parameters: build the method on a one-process stand-in (no process group needed)
    base.make(name, DistTopology(x0.shape[1], topology, rank=0, world=1, timeout=timeout), **(hp or {}))


def run(name: str, topology, oracle, x0: torch.Tensor, steps: int, *, hp: dict | None = None,
        seed: int = 0, replicas: int | None = None, out: str | os.PathLike | None = None,
        checkpoint_every: int = 0, resume: bool = True, timeout: float = 30.0,
        log_every: int = 10, fail_at: dict | None = None, oracle_is_local: bool = False) -> dict:
    """Run `dynamics.make(name, DistTopology(...), **hp)` for `steps` steps on this rank's slice.

    topology: the global `Topology` (None for parameter-server methods); oracle: the global
    oracle (wrapped by `local_oracle` unless `oracle_is_local`); x0: the global (R, K, d) start,
    identical on every rank. Returns, on every rank, dict(x=final global (R, K, d), model,
    steps_run, start_step, bytes_sent (this rank), bytes_per_step (all ranks, mean), declared
    comm (vectors/step), measured comm (vectors/step), wall_per_step).
    A restart (resume=True with a checkpoint in `out`) must be of the same configuration
    (config.json: algorithm, hp, topology, K, d, R, steps, seed, processes, dtype); a different
    one -> ValueError listing the differing keys (dynamics.runfolder.check_resume).
    `fail_at={'rank': r, 'step': s, 'mode': 'exit'|'hang'}` is a test hook: that rank dies
    (os._exit) or hangs at step s."""
    import io

    from landscapes.rng import Streams

    from . import runfolder

    check_inputs(name, topology, x0, steps, hp, seed, timeout, checkpoint_every, log_every)
    if not dist.is_initialized():
        raise ValueError("torch.distributed is not initialised: call dynamics.distributed.init() (torchrun)")
    R, K, d = x0.shape
    rank, world = dist.get_rank(), dist.get_world_size()
    dtop = DistTopology(K, topology, timeout=timeout)
    m = base.make(name, dtop, **(hp or {}))
    rng = Streams(seed, R if replicas is None else replicas)
    orc = oracle if oracle_is_local else local_oracle(oracle, dtop)
    lo, hi = dtop.rows[0], dtop.rows[-1] + 1
    from .simulate import consensus_distance, describe_oracle
    config = dict(algo=name, hp=m.hp, topology=dtop.name, K=K, d=d, replicas=R, steps=steps, seed=seed,
                  world=world, dtype=str(x0.dtype), checkpoint_every=checkpoint_every, timeout=timeout,
                  oracle=describe_oracle(oracle))
    prob = getattr(oracle, "problem", None) or getattr(oracle, "landscape", None)
    objective = getattr(prob, "f", None)   # f of the reported model, when the oracle knows its problem

    out = Path(out) if out is not None else None
    ckdir = out / "ckpt" if out is not None else None
    start = 0
    if out is not None and runfolder.is_complete(out):
        stored = runfolder.read_json(out / "config.json", "distributed run config") \
            if (out / "config.json").exists() else {}
        # the number of processes does not change the result (same row order): not compared
        runfolder.check_resume(stored, config, f"the finished distributed run in {out}",
                               ignore=("timeout", "checkpoint_every", "world"))
        raise ValueError(f"out: the run in {out} is already finished (summary.json complete); "
                         "its summary is kept — choose another --out to run again")
    if resume and ckdir is not None and _latest(ckdir) is not None:
        stored = runfolder.read_json(out / "config.json", "distributed run config") \
            if (out / "config.json").exists() else {}
        runfolder.check_resume(stored, config, f"restart of the distributed run in {out}",
                               ignore=("timeout", "checkpoint_every"))
        start = _latest(ckdir)
    logf = None
    if out is not None:
        (out / "logs").mkdir(parents=True, exist_ok=True)
        logf = open(out / "logs" / f"rank{rank}.log", "a")

    def log(msg):
        if logf:
            logf.write(f"{time.time():.3f} rank {rank}: {msg}\n")
            logf.flush()

    state = None
    if start:
        state = torch.load(ckdir / f"step{start}" / f"rank{rank}.pt", weights_only=False)
        log(f"resumed from checkpoint at step {start}")
    if state is None:
        dtop.step = 0
        state = m.init(x0[:, lo:hi, :].clone(), orc, rng)
    if rank == 0 and out is not None and start == 0:
        runfolder.write_json(out / "config.json", config)
        runfolder.write_json(out / "env.json", dict(
            torch=torch.__version__, python=sys.version.split()[0], host=platform.node(),
            backend=dist.get_backend(), world=world))
    b0, t0 = dtop.bytes_sent, time.perf_counter()
    try:
        for t in range(start, steps):
            dtop.step = t
            if fail_at and fail_at.get("rank") == rank and fail_at.get("step") == t:
                log(f"test hook: {fail_at.get('mode', 'exit')} at step {t}")
                if out is not None:
                    (out / f"died_rank{rank}.txt").write_text(f"{time.time()}")
                if fail_at.get("mode", "exit") == "hang":
                    time.sleep(3600)
                os._exit(17)
            state = m.step(state, orc, t, rng)
            if t == start and state.x.dtype != x0.dtype:
                raise ValueError(f"x0: dtype {x0.dtype} is not honoured by this oracle/method (the "
                                 f"state became {state.x.dtype}); use torch.float64")
            if checkpoint_every and ckdir is not None and (t + 1) % checkpoint_every == 0:
                buf = io.BytesIO()
                torch.save(state, buf)
                runfolder.write_bytes(ckdir / f"step{t + 1}" / f"rank{rank}.pt", buf.getvalue())
                dtop.barrier(f"checkpoint barrier after step {t + 1}")
                if rank == 0:
                    runfolder.write_text(ckdir / "LATEST", str(t + 1))
                log(f"checkpoint at step {t + 1}")
            if out is not None and log_every and (t + 1) % log_every == 0:
                # collectives: every rank takes part, rank 0 writes
                xs, w = dtop.all_rows(state.x), m.model(state)
                rec = dict(step=t + 1, bytes_sent_rank0=dtop.bytes_sent,
                           consensus=float(consensus_distance(xs).mean()))
                if objective is not None:
                    rec["loss_model"] = float(objective(w).mean())
                if rank == 0:
                    runfolder.append_jsonl(out / "metrics.jsonl", rec)
    except PeerFailure as e:
        log(f"PeerFailure: {e}")
        raise
    wall = time.perf_counter() - t0
    n = steps - start
    mine = torch.tensor([float(dtop.bytes_sent - b0)], dtype=torch.float64)
    x_full = dtop.all_rows(state.x)
    model = m.model(state)
    tot = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
    if world > 1:
        dtop._wait([dist.all_gather(tot, mine, async_op=True)], "final byte count", None)
    else:
        tot = [mine]
    bytes_all = float(sum(v.item() for v in tot))
    vec = R * d * x0.element_size()
    res = dict(x=x_full, model=model, steps_run=n, start_step=start, bytes_sent=float(mine.item()),
               bytes_per_step=bytes_all / max(n, 1), declared_comm=m.comm,
               measured_comm=bytes_all / max(n, 1) / vec, wall_per_step=wall / max(n, 1))
    log(f"done: {n} steps, {res['bytes_per_step']:.0f} B/step (all ranks), "
        f"{res['measured_comm']:.3f} vectors/step measured vs {m.comm:.3f} declared")
    if rank == 0 and out is not None:
        buf = io.BytesIO()
        torch.save(dict(x=x_full, model=model), buf)
        runfolder.write_bytes(out / "final.pt", buf.getvalue())
        runfolder.write_json(out / "summary.json", {
            **{k: v for k, v in res.items() if k not in ("x", "model")}, runfolder.COMPLETE: True})
    if logf:
        logf.close()
    return res


# ---------------------------------------------------------------- CLI (torchrun entry point)

def _problem(args):
    import landscapes
    if args.landscape == "hetero_quadratics":
        prob = landscapes.hetero_quadratics(args.K, args.dim, zeta=args.zeta, hess_spread=2.0, seed=args.seed)
    else:
        prob = landscapes.get(args.landscape)
    return prob, landscapes.oracle(prob, noise=args.noise, sigma=args.sigma)


def _parse_hp(items):
    hp = {}
    for it in items or []:
        k, eq, v = it.partition("=")
        if not eq or not k:
            raise ValueError(f"--hp: {it!r} must be written key=value")
        try:
            hp[k] = json.loads(v)
        except json.JSONDecodeError:
            hp[k] = v
    return hp


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dynamics.distributed",
                                description="Run a decentlab algorithm over torch.distributed (launch with torchrun).")
    p.add_argument("--algo", required=True, help=f"one of: {', '.join(DIST_METHODS)}")
    p.add_argument("--topology", default="ring", help="topology name, or 'none' (parameter-server methods)")
    p.add_argument("--K", type=int, required=True, help="global number of workers")
    p.add_argument("--dim", type=int, default=10, help="dimension (hetero_quadratics)")
    p.add_argument("--landscape", default="hetero_quadratics")
    p.add_argument("--zeta", type=float, default=1.0)
    p.add_argument("--noise", default="isotropic")
    p.add_argument("--sigma", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--hp", nargs="*", help="extra hyper-parameters key=value (JSON values)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default runs/<time>-dist-<algo>)")
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before a silent peer is an error")
    p.add_argument("--backend", default="auto", help="auto, gloo or nccl")
    return p


def prepare(a):
    """Everything a CLI run needs, validated before any process group or run folder:
    (topology, problem, oracle, x0, hp). ValueError naming the argument."""
    import landscapes
    if a.backend not in ("auto", "gloo", "nccl"):
        raise ValueError(f"--backend must be auto, gloo or nccl, got {a.backend!r}")
    _int(a.K, "--K", 1)
    _int(a.dim, "--dim", 1)
    _int(a.replicas, "--replicas", 1)
    for k in ("steps", "seed", "checkpoint_every"):
        _int(getattr(a, k), "--" + k.replace("_", "-"), 0)
    if not a.timeout > 0:
        raise ValueError(f"--timeout must be > 0 seconds, got {a.timeout!r}")
    if a.algo not in DIST_METHODS:
        raise ValueError(f"--algo: {a.algo!r} is not a distributed algorithm"
                         f"{base.did_you_mean(a.algo, DIST_METHODS)}; choose from: {', '.join(DIST_METHODS)}")
    if a.topology == "none":
        if a.algo not in PS_METHODS:
            raise ValueError(f"--topology none: algorithm {a.algo!r} mixes with its neighbours and needs "
                             f"a topology (e.g. --topology ring); none is only for {', '.join(PS_METHODS)}")
        top = None
    else:
        names = T.names()
        if a.topology not in names or a.topology == "custom":
            raise ValueError(f"--topology: unknown topology {a.topology!r}"
                             f"{base.did_you_mean(a.topology, names)}; choose from: {', '.join(names[:-1])}, none")
        try:
            top = T.get(a.topology, a.K)
        except ValueError as e:
            raise ValueError(f"--topology {a.topology} with --K {a.K}: {e}") from None
    if a.landscape != "hetero_quadratics" and a.landscape not in landscapes.names():
        raise ValueError(f"--landscape: unknown landscape {a.landscape!r}"
                         f"{base.did_you_mean(a.landscape, landscapes.names() + ['hetero_quadratics'])}")
    prob, orc = _problem(a)
    hp = dict(lr=a.lr, **_parse_hp(a.hp))
    x0 = default_x0(a.seed, a.replicas, a.K, int(prob.dim))
    check_inputs(a.algo, top, x0, a.steps, hp, a.seed, a.timeout, a.checkpoint_every)
    return top, prob, orc, x0, hp


def main(argv=None):
    a = parser().parse_args(argv)
    try:
        top, prob, orc, x0, hp = prepare(a)
    except ValueError as e:  # a user error: one line, no traceback, no run folder, no process group
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    rank, world, device = init(a.backend, a.timeout)
    name = [a.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}-dist-{a.algo}"]
    if world > 1:
        dist.broadcast_object_list(name, src=0)  # one run folder for all ranks (rank 0's clock)
    out = name[0]
    try:
        res = run(a.algo, top, orc, x0, a.steps, hp=hp, seed=a.seed,
                  out=out, checkpoint_every=a.checkpoint_every, timeout=a.timeout)
    except PeerFailure as e:
        print(f"PeerFailure: {e}", file=sys.stderr, flush=True)
        os._exit(3)
    except ValueError as e:  # e.g. a restart under a different configuration (same on every rank)
        print(f"error: {e}", file=sys.stderr, flush=True)
        dist.destroy_process_group()
        return 2
    if rank == 0:
        print(json.dumps({k: v for k, v in res.items() if k not in ("x", "model")}))
    dist.destroy_process_group()
    return 0


def default_x0(seed: int, replicas: int, K: int, d: int) -> torch.Tensor:
    """Start (R, K, d): standard normal from Streams(seed) at t = -1, stream 7 (same on every rank)."""
    from landscapes.rng import Streams
    return Streams(seed, replicas).normal(2 ** 32 - 1, (K, d), stream=7)


if __name__ == "__main__":
    sys.exit(main())
