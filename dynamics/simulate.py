"""Vectorised ensemble simulator: R independent replicas of a K-worker run, stepped at once.

`simulate(method, oracle, x0, steps, ...)` runs `method.step` (the one implementation of an
algorithm, `dynamics.base`) on a state whose tensors carry a leading replica axis R, records
metrics on a schedule, freezes replicas on events (a stopping predicate, divergence, NaN/Inf)
with `torch.where` masking so the ensemble keeps stepping vectorised, and returns numpy arrays.

Randomness comes from `landscapes.rng.Streams(seed, replica_ids)`: replica r's draws depend
only on (seed, r), so a replica's path does not depend on R or on the other replicas, and a
sub-ensemble `replicas=torch.tensor([3, 5])` reproduces rows 3 and 5 of a full run exactly.

Recorded quantities (docs/theory.md §0): loss of the averaged model f(w_a), w_a = method.model
(the average for averaging methods); consensus distance Tr Ξ = (1/K) Σ_k ‖x_k − x̄‖²; the
loss f(x_k) at every worker; any state field ('field:NAME').

Time convention: the state after k steps is at time k; `method.step(state, oracle, t, rng)`
takes time t to t + 1; `init` is time 0. An event found after the step with index t is
recorded at step t + 1 (an event already true at time 0 at step 0).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from landscapes.rng import Streams

from . import base, runfolder
from . import threads as threads_mod

__all__ = ["RECORDERS", "SimResult", "consensus_distance", "simulate"]

RECORDERS = ("loss_avg", "consensus", "loss_workers", "model")
_DEFAULT = ("loss_avg", "consensus", "loss_workers")
_STOP_ON = ("centroid", "any", "all")
_KINDS = np.array(["none", "stop", "diverged"])
_CHECK_EVERY = 64  # steps between host-side "all replicas stopped?" checks
_LEAP = 64  # the most steps of one fused leap (what a leap that met a divergence costs again)
_WARN_BYTES = 1e9  # print an estimate when the recorders will hold more than this
# fused=None picks the fused kernel from R * K * steps worker-steps on: the compile (once per
# process and shape; on the 2-core box ~6-7 s from torch's on-disk cache, ~40 s the first time) is
# paid back at ~2.4e-8 s saved per worker-step (2.7e7 -> 7.8e7 worker-steps/s,
# benchmarks/RESULTS.md); every recorded claim runs below it
_FUSED_MIN_WORK = 3 * 10 ** 8
_FUSED_COMPILE = True  # False runs the fused kernel eagerly (tests: bit-identical to the steps)


def consensus_distance(x: torch.Tensor) -> torch.Tensor:
    """Tr Ξ = (1/K) Σ_k ‖x_k − x̄‖² for x (..., K, d) -> (...) (docs/theory.md §0)."""
    return (x - x.mean(dim=-2, keepdim=True)).square().sum(dim=-1).mean(dim=-1)


@dataclass
class SimResult:
    """Arrays of one ensemble run. `records[name]` has shape (T, R, ...) at `times` (T,).

    `event_step` (R,): step at which the replica was frozen (-1 = never), `event_kind` (R,)
    'none' | 'stop' | 'diverged'; `diverged` (R,) bool with `diverged_step` (R,) (-1 = never);
    `x` the final per-worker iterates (R, K, d); `replicas` the replica ids; `steps_run` the
    number of steps actually stepped (fewer than `config['steps']` when every replica stopped).
    """
    times: np.ndarray
    records: dict
    event_step: np.ndarray
    event_kind: np.ndarray
    diverged: np.ndarray
    diverged_step: np.ndarray
    x: np.ndarray
    replicas: np.ndarray
    steps_run: int
    config: dict = field(default_factory=dict)
    seed: int = 0

    _ARRAYS = ("times", "event_step", "event_kind", "diverged", "diverged_step", "x", "replicas")

    def save(self, directory) -> Path:
        """Write `arrays.npz` (no pickles) and then `result.json` (config, seed, steps_run,
        `complete: true`), each atomically (dynamics/runfolder.py): an interrupted save leaves
        the previous pair or no result.json, never a result.json beside half an arrays.npz."""
        d = Path(directory)
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        arrays.update({f"rec/{k}": np.asarray(v) for k, v in self.records.items()})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        stale = d / "result.json"
        if stale.exists():  # the old result.json must not describe the new arrays.npz
            stale.unlink()
        runfolder.write_bytes(d / "arrays.npz", buf.getvalue())
        meta = {"config": self.config, "seed": self.seed, "steps_run": self.steps_run,
                "records": list(self.records), runfolder.COMPLETE: True}
        runfolder.write_json(d / "result.json", meta)
        return d

    @classmethod
    def load(cls, directory) -> SimResult:
        d = Path(directory)
        if not (d / "arrays.npz").exists() or not (d / "result.json").exists():
            raise ValueError(f"directory {str(d)!r} holds no saved SimResult (arrays.npz + result.json)")
        meta = runfolder.read_json(d / "result.json", "SimResult file")
        with np.load(d / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in cls._ARRAYS}
            records = {k: z[f"rec/{k}"] for k in meta["records"]}
        return cls(records=records, steps_run=int(meta["steps_run"]), config=meta["config"],
                   seed=int(meta["seed"]), **arrays)


# ---------------------------------------------------------------- validation helpers

_N_RECORDS = 100  # record_every=None: about this many evenly spaced records


def _schedule(record_every, steps: int) -> list[int]:
    """Record times: None -> every max(1, steps // 100) steps plus the final step; an int N ->
    0, N, 2N, ... <= steps; an iterable -> those steps (sorted, distinct)."""
    if record_every is None:
        every = max(1, steps // _N_RECORDS)
        ts = list(range(0, steps + 1, every))
        return ts if ts[-1] == steps else ts + [steps]
    if isinstance(record_every, (int, np.integer)) and not isinstance(record_every, bool):
        if record_every < 1:
            raise ValueError(f"record_every must be an int >= 1 or an iterable of steps, got {record_every}")
        return list(range(0, steps + 1, int(record_every)))
    try:
        ts = sorted({int(t) for t in record_every})
    except (TypeError, ValueError):
        raise ValueError(f"record_every must be an int >= 1 or an iterable of integer steps, "
                         f"got {record_every!r}") from None
    if ts and (ts[0] < 0 or ts[-1] > steps):
        raise ValueError(f"record_every: scheduled steps must lie in [0, steps={steps}], got {ts[0]}..{ts[-1]}")
    return ts


def _objective(objective, oracle):
    if objective is not None:
        if not callable(objective):
            raise ValueError("objective must be a callable f(w) -> (...)")
        return objective
    for attr in ("problem", "landscape"):
        f = getattr(getattr(oracle, attr, None), "f", None)
        if callable(f):
            return f
    return None


def _recorders(recorders, objective) -> dict[str, Callable]:
    """Resolve names / a dict into callables rec(state, method, oracle, t) -> (R, ...)."""
    default = recorders is None
    if default:
        recorders = _DEFAULT if objective is not None else ("consensus",)
    if isinstance(recorders, str):
        recorders = (recorders,)
    if isinstance(recorders, dict):
        items = list(recorders.items())
        for name, fn in items:
            if not callable(fn):
                raise ValueError(f"recorders[{name!r}] must be callable(state, method, oracle, t)")
        return dict(items)
    out = {}
    for name in recorders:
        if not isinstance(name, str):
            raise ValueError(f"recorders: entries must be names (str), got {name!r}")
        if name.startswith("field:"):
            out[name] = _field_recorder(name[6:])
            continue
        if name not in RECORDERS:
            raise ValueError(f"recorders: unknown recorder {name!r}; choose from "
                             f"{', '.join(RECORDERS)}, 'field:NAME' or pass a dict name -> callable")
        if name in ("loss_avg", "loss_workers") and objective is None:
            raise ValueError(f"recorders: {name!r} needs an objective: pass objective=f or an oracle "
                             "with .landscape.f / .problem.f")
        if name == "loss_avg":
            out[name] = lambda s, m, o, t: objective(m.model(s))
        elif name == "loss_workers":
            out[name] = lambda s, m, o, t: objective(s.x)
        elif name == "consensus":
            out[name] = lambda s, m, o, t: consensus_distance(s.x)
        else:  # model
            out[name] = lambda s, m, o, t: m.model(s).clone()
    return out


def _field_recorder(fld: str):
    def rec(s, m, o, t):
        if fld not in s._fields:
            raise ValueError(f"recorders: 'field:{fld}' names no field of the state {s._fields}")
        return getattr(s, fld).clone()
    return rec


def _jsonable(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(u) for u in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(u) for k, u in v.items()}
    return repr(v)


def _digest(v) -> str:
    """sha256 of a tensor / array (dtype, shape, bytes) or of a JSON-able structure."""
    h = hashlib.sha256()
    if torch.is_tensor(v) or isinstance(v, np.ndarray):
        a = v.detach().cpu().numpy() if torch.is_tensor(v) else v
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    else:
        h.update(json.dumps(v, sort_keys=True, default=_digest).encode())
    return h.hexdigest()[:16]


def describe_oracle(oracle) -> dict:
    """What identifies an oracle for a resume: its noise settings and its problem (landscape
    name and params, the digests of a problem's tensors); a plain function by its name (an
    instance's class is not part of it: a wrapper that injects a fault may resume)."""
    out = {}
    if hasattr(oracle, "__qualname__"):
        out["function"] = oracle.__qualname__
    for a in ("noise", "batch", "sigma", "scale", "stream", "with_loss"):
        if hasattr(oracle, a):
            out[a] = _jsonable(getattr(oracle, a))
    for a in ("cov", "x_ref"):
        v = getattr(oracle, a, None)
        if torch.is_tensor(v):
            out[a] = _digest(v)
    prob = getattr(oracle, "problem", getattr(oracle, "landscape", None))
    if prob is not None:
        desc = {"name": getattr(prob, "name", type(prob).__qualname__)}
        params = getattr(prob, "params", None)
        if isinstance(params, dict):
            desc["params"] = {str(k): (_digest(v) if torch.is_tensor(v) else _jsonable(v)) for k, v in params.items()}
        for k, v in sorted(getattr(prob, "__dict__", {}).items()):
            if torch.is_tensor(v):
                desc[k] = _digest(v)
        out["problem"] = desc
    return out


def fingerprint_of(method, oracle, x0: torch.Tensor, **run) -> dict:
    """The configuration a checkpoint belongs to: the run settings plus the method's name and
    hyper-parameters, the topology's matrices (digest), the oracle (describe_oracle) and x0
    (digest of its bytes)."""
    top = getattr(method, "topology", None)
    mats = getattr(top, "matrices", None)
    return {**run, "method": str(getattr(method, "name", method)), "hp": _jsonable(getattr(method, "hp", {})),
            "topology": None if top is None else {"name": getattr(top, "name", None),
                                                  "W": _digest(torch.stack(list(mats))) if mats else None},
            "oracle": describe_oracle(oracle), "x0": _digest(x0)}


def _check_method(method):
    if not (all(hasattr(method, a) for a in ("init", "step", "model")) and callable(method.step)):
        what = getattr(method, "__qualname__", type(method).__name__)
        raise ValueError(f"method must be a dynamics Method (dynamics.make(name, topology, **hp)) with "
                         f"init/step/model, got {what!r}")


# ---------------------------------------------------------------- the simulator


def _validate(method, oracle, steps, seed, dtype, progress, resume, stop_on, stop, divergence,
              checkpoint, checkpoint_every, fused, device, threads):
    """simulate's scalar arguments: a one-line ValueError naming the first bad one, else
    (steps as an int, device as a torch.device)."""
    _check_method(method)
    if not callable(oracle):
        raise ValueError(f"oracle must be callable oracle(x, t, rng) -> (loss, grad), got {type(oracle).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    steps = int(steps)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating torch.dtype (torch.float64, torch.float32), got {dtype!r}")
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    if not isinstance(resume, bool):
        raise ValueError(f"resume must be True or False, got {resume!r}")
    if stop_on not in _STOP_ON:
        raise ValueError(f"stop_on must be one of {_STOP_ON}, got {stop_on!r}")
    if stop is not None and not callable(stop):
        raise ValueError("stop must be a callable predicate pos -> bool tensor")
    if divergence is not None and not (isinstance(divergence, (int, float)) and not isinstance(divergence, bool)
                                       and divergence > 0):
        raise ValueError(f"divergence must be a positive threshold or None, got {divergence!r}")
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ValueError("checkpoint_every needs checkpoint=path")
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=path")
    if fused not in (None, True, False):
        raise ValueError(f"fused must be None (auto), True or False, got {fused!r}")
    threads_mod.check(threads)
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but CUDA is not available")
    return steps, device


def simulate(method, oracle, x0, steps: int, *, replicas=None, seed: int = 0,
             record_every: int | Iterable[int] | None = None, recorders=None, objective=None,
             stop: Callable | None = None, stop_on: str = "centroid", divergence: float | None = 1e6,
             device="cpu", dtype=torch.float64, progress: bool = False,
             checkpoint=None, checkpoint_every: int | None = None, resume: bool = False,
             fused: bool | None = None, threads: int | str | None = "auto") -> SimResult:
    """Run `method` on `oracle` for R replicas from `x0` ((K, d) broadcast, or (R, K, d)).

    `record_every`: None (default) records at about 100 evenly spaced times, every
    max(1, steps // 100) steps, always including 0 and the final step (every step when
    steps <= 100); an int N records at 0, N, 2N, ... (`record_every=1`: every step); an
    iterable gives the steps themselves.
    `recorders`: names from RECORDERS, 'field:NAME', or a dict name -> rec(state, method, oracle,
    t) -> Tensor (R, ...); default ('loss_avg', 'consensus', 'loss_workers') (only 'consensus'
    when no objective is known). The objective f(w) is `objective`, else `oracle.problem.f`, else
    `oracle.landscape.f`.
    `stop(pos) -> bool`: pos is the centroid x̄ (R, d) for stop_on='centroid' (returns (R,)), the
    workers x (R, K, d) for 'any' / 'all' (returns (R, K), reduced over workers, or (R,)).
    A replica is diverged when max_k ‖x_k‖ > divergence or x holds NaN/Inf (None disables the
    threshold; NaN/Inf is always flagged). Stopped or diverged replicas are frozen; the run ends
    early once all are, and the remaining scheduled records are taken on the frozen states.
    `checkpoint=path` with `checkpoint_every=N` saves the state every N steps; `resume=True`
    continues from that file (same result as an uninterrupted run).
    `config['record_bytes']` is the recorders' memory, one record's bytes × the number of record
    times; above 1 GB a one-line estimate is printed to stderr when the first record is taken.
    `fused`: True steps with `dynamics.fused` (one torch.compile'd kernel for oracle + noise +
    update, the same counter-based draws; compiled results equal the per-step path's to
    ~1e-12 relative, events at the same steps), in leaps from one record time to the next
    (at most 64 steps) while no replica can have diverged (a leap that left the bound is
    stepped again one step at a time), and raises ValueError naming why when the run
    is not eligible: a registered 'dsgd'/'dsgdm' with a fixed topology, a
    `landscapes.noise.oracle(..., noise='isotropic')` on a homogeneous landscape, CPU,
    float64, a C++ compiler, no stop / checkpoint / resume. None (default) takes it when
    eligible and R·K·steps >= 3e8 worker-steps (below that the compile, 6-40 s, does not pay);
    False never. `config['path']` says which ran: 'fused' or 'steps'.
    `threads`: torch's CPU intra-op threads for the run (restored after): 'auto' (default) uses
    torch's current count, lowered to the cores other jobs leave free when the run has >= 5e7
    worker-steps (`dynamics.threads`: a per-step run with more threads than free cores waits at
    every operation's barrier, 16x slower beside a 2-thread job on 2 cores); an int sets it;
    None leaves it alone. `config['threads']` is the count used. Results do not depend on it
    (tested).
    """
    steps, device = _validate(method, oracle, steps, seed, dtype, progress, resume, stop_on, stop,
                              divergence, checkpoint, checkpoint_every, fused, device, threads)
    x0, ids = _iterates(x0, replicas, device, dtype)
    R, K, d = x0.shape
    times = _schedule(record_every, steps)
    recs = _recorders(recorders, _objective(objective, oracle))
    rng = Streams(seed, ids.to(device), device=device, dtype=dtype)
    why_not = _fused_refusal(method, oracle, device, dtype, stop, checkpoint, resume)
    if fused and why_not:
        raise ValueError(f"fused=True: this run cannot take the fused path: {why_not}")
    use_fused = fused is True or (fused is None and not why_not and R * K * steps >= _FUSED_MIN_WORK)
    n_threads = threads_mod.choose(threads, R * K * steps, device)
    fingerprint = fingerprint_of(method, oracle, x0, steps=steps, seed=int(seed), replicas=ids.tolist(),
                                 K=K, d=d, times=times, records=list(recs), dtype=str(dtype),
                                 stop=stop is not None, stop_on=stop_on, divergence=divergence)
    config = {"method": fingerprint["method"], "hp": _jsonable(getattr(method, "hp", {})),
              "topology": getattr(getattr(method, "topology", None), "name", None),
              "steps": steps, "R": R, "K": K, "d": d, "seed": int(seed),
              "record_times": times, "recorders": list(recs), "stop": stop is not None,
              "stop_on": stop_on, "divergence": divergence, "device": str(device), "dtype": str(dtype),
              "path": "fused" if use_fused else "steps", "threads": n_threads}
    guard = _Guard(stop, stop_on, divergence)
    ck = Path(checkpoint) if checkpoint is not None else None

    def record(run, t):
        """Append one record of every recorder, taken on run.state and labelled time t."""
        for name, fn in recs.items():
            v = torch.as_tensor(fn(run.state, method, oracle, t))
            if v.ndim < 1 or v.shape[0] != R:
                raise ValueError(f"recorder {name!r} must return a tensor with leading replica axis "
                                 f"R = {R}, got shape {tuple(v.shape)}")
            run.rows[name].append(v.detach())
        run.n_rec += 1
        if "record_bytes" not in config:
            _note_bytes(config, run.rows, len(times))

    def save(run):
        """The checkpoint of run at run.t (written after the records of that step)."""
        _write_checkpoint(ck, {"t": run.t, "fingerprint": fingerprint, "fields": _tensor_fields(run.state),
                               **run.ev._asdict(), "rows": run.rows})

    blob = _read_checkpoint(ck, device, fingerprint) if resume and ck.exists() else None
    with threads_mod.using(n_threads):
        run = _start(method, oracle, x0, rng, guard, list(recs), times, blob)
        fast = _Fused(method, oracle, ids, seed, K, d, config, fused, guard) if use_fused else None
        _loop(run, fast.step if fast else method.step, fast.leap if fast else None, oracle, rng, steps,
              times, record, save if ck is not None and checkpoint_every else None, checkpoint_every,
              guard, dtype, progress)
    if "record_bytes" not in config:  # no record was taken
        _note_bytes(config, run.rows, len(times))
    ev = run.ev
    return SimResult(
        times=np.asarray(times, dtype=np.int64),
        records={n: torch.stack(v).cpu().numpy() if v else np.zeros((0, R)) for n, v in run.rows.items()},
        event_step=ev.ev_step.cpu().numpy(), event_kind=_KINDS[ev.ev_kind.cpu().numpy()],
        diverged=(ev.div_step >= 0).cpu().numpy(), diverged_step=ev.div_step.cpu().numpy(),
        x=run.state.x.detach().cpu().numpy(), replicas=ids.numpy(), steps_run=run.t,
        config=config, seed=int(seed))


def _iterates(x0, replicas, device, dtype):
    """(x0 as (R, K, d) on `device` in `dtype`, a (K, d) x0 copied to every replica; the
    replica ids (R,))."""
    x0 = torch.as_tensor(x0)
    if x0.ndim not in (2, 3) or x0.shape[-1] < 1 or x0.shape[-2] < 1:
        raise ValueError(f"x0 must have shape (K, d) or (R, K, d), got {tuple(x0.shape)}")
    ids = base.replica_ids(replicas, x0)
    R = ids.numel()
    if x0.ndim == 3 and x0.shape[0] != R:
        raise ValueError(f"x0 has {x0.shape[0]} replicas on its first axis but replicas gives R = {R}")
    K, d = x0.shape[-2:]
    return x0.to(device=device, dtype=dtype).expand(R, K, d).clone(), ids


class _Events(NamedTuple):
    """Per replica (R,): the step of its event (-1 = none), the kind (0 none, 1 stop, 2
    diverged), the step it diverged at (-1 = never), whether it still steps. (The field names
    are a checkpoint's keys.)"""
    ev_step: torch.Tensor
    ev_kind: torch.Tensor
    div_step: torch.Tensor
    active: torch.Tensor


@dataclass
class _Run:
    """What the loop carries: the state at time t, its events, the records taken (n_rec of the
    schedule's times)."""
    state: Any
    ev: _Events
    rows: dict
    t: int
    n_rec: int


def _start(method, oracle, x0, rng, guard, names, times, blob) -> _Run:
    """The run before its first step: method.init's state at time 0 with the events found at
    time 0, or (blob: a checkpoint's contents) the saved state, events and records at its t."""
    state = method.init(x0, oracle, rng)
    if not (isinstance(state, tuple) and hasattr(state, "_fields") and "x" in state._fields):
        raise ValueError("method.init must return a NamedTuple state with a field 'x'")
    if blob is not None:
        rows = {n: list(v) for n, v in blob["rows"].items()}
        t0 = int(blob["t"])
        n_rec = len(next(iter(rows.values()))) if rows else sum(1 for s in times if s <= t0) if t0 else 0
        return _Run(state._replace(**blob["fields"]), _Events(*(blob[k] for k in _Events._fields)),
                    rows, t0, n_rec)
    R, device = x0.shape[0], x0.device
    never = torch.full((R,), -1, dtype=torch.int64, device=device)
    ev = _Events(never, torch.zeros(R, dtype=torch.int64, device=device), never.clone(),
                 torch.ones(R, dtype=torch.bool, device=device))
    return _Run(state, guard.check(state.x, 0, ev), {n: [] for n in names}, 0, 0)


def _loop(run, step, leap, oracle, rng, steps, times, record, save, checkpoint_every, guard, dtype,
          progress):
    """Step `run` from run.t up to `steps` (earlier once every replica is frozen): freeze the
    replicas with an event, flag events, take the records due, save() every checkpoint_every
    steps (save None: never); then the records still due, on the frozen states, and a last
    save. The first step's state must keep `dtype`.
    `leap(state, t, n)` (None: never) may stand for n calls of `step` while every replica is
    active and there is no stop predicate: n up to the next record, checkpoint or _LEAP steps;
    it returns None when an event may have happened on the way, and those n steps are then
    taken one by one (the same draws)."""
    t0 = run.t

    def due():  # the next scheduled record time, -1 when none is left
        return times[run.n_rec] if run.n_rec < len(times) else -1
    if due() == t0:
        record(run, t0)
    clock = last_print = time.monotonic()
    R = run.ev.active.shape[0]
    running = bool(run.ev.active.any())
    # on the CPU a host check is cheap: skip the masking while every replica is active and
    # the per-replica event bookkeeping while no event can have happened
    host = run.ev.active.device.type == "cpu"
    all_active = host and bool(run.ev.active.all())
    one_by_one = t0  # no leap before this step (a leap that may have met an event is retaken)
    while running and run.t < steps:
        t = run.t
        new = None
        if leap is not None and all_active and guard.stop is None and t >= one_by_one:
            n = min(steps, due() if due() > t else steps, t + _LEAP,
                    t - t % checkpoint_every + checkpoint_every if save is not None else steps) - t
            new = leap(run.state, t, n)
            one_by_one = t + n
        if new is not None:
            run.state = new
            run.t = t = t + n
        else:
            new = step(run.state, oracle, t, rng)
            if t == t0 and new.x.dtype != dtype:  # a dtype the run does not keep is refused, not relabelled
                raise ValueError(f"dtype={dtype} is not honoured: after one step the state is {new.x.dtype} "
                                 f"(the oracle or method computes in another precision); use dtype={new.x.dtype}")
            run.state = new if all_active else _freeze(run.ev.active, new, run.state, R)
            run.t = t = t + 1
            if not (host and guard.stop is None and guard.surely_finite(run.state.x)):
                run.ev = guard.check(run.state.x, t, run.ev)
                all_active = host and bool(run.ev.active.all())
        if t == due():
            record(run, t)
        if save is not None and t % checkpoint_every == 0:
            save(run)
        if t % _CHECK_EVERY == 0:
            running = bool(run.ev.active.any())
        if progress and time.monotonic() - last_print > 1.0:
            last_print = time.monotonic()
            rate = (t - t0) / (last_print - clock)
            print(f"\rsimulate: step {t}/{steps} ({100 * t / max(steps, 1):.0f}%), {rate:.0f} steps/s, "
                  f"{int(run.ev.active.sum())}/{R} replicas active", end="", file=sys.stderr, flush=True)
    for s in times[run.n_rec:]:  # every replica is frozen: the states no longer change
        record(run, s)
    if save is not None:
        save(run)
    if progress:
        kind = run.ev.ev_kind
        print(f"\rsimulate: done, {run.t} steps in {time.monotonic() - clock:.1f} s, "
              f"{int((kind == 1).sum())} stopped, {int((kind == 2).sum())} diverged",
              file=sys.stderr, flush=True)


def _note_bytes(config, rows, n_times: int):
    """config['record_bytes'] = one record's bytes (all recorders) × n_times; print above
    _WARN_BYTES."""
    one = sum(v[0].element_size() * v[0].numel() for v in rows.values() if v)
    config["record_bytes"] = int(one * n_times)
    if config["record_bytes"] > _WARN_BYTES:
        print(f"simulate: recorders will hold ~{config['record_bytes'] / 1e9:.1f} GB ({n_times} records × "
              f"{one / 1e6:.1f} MB of {', '.join(rows)}); pass record_every=... or fewer recorders",
              file=sys.stderr, flush=True)


def _same_step(f, g, depth: int = 3) -> bool:
    """f and g compute the same: the same object, equal floats, or closures with one code
    object whose cells are the same in this sense (to `depth` levels of nested closures)."""
    if f is g or (isinstance(f, float) and isinstance(g, float) and f == g):
        return True
    cells = [getattr(h, "__closure__", None) or () for h in (f, g)]
    return (depth > 0 and getattr(f, "__code__", None) is getattr(g, "__code__", 0)
            and len(cells[0]) == len(cells[1])
            and all(_same_step(a.cell_contents, b.cell_contents, depth - 1) for a, b in zip(*cells)))


def _fused_refusal(method, oracle, device, dtype, stop, checkpoint, resume) -> str:
    """'' when `dynamics.fused` can step this run exactly as method.step does, else why not."""
    from landscapes.noise import Oracle

    from . import fused
    name, top = getattr(method, "name", None), getattr(method, "topology", None)
    if name not in fused.SUPPORTED:
        return f"method {name!r} is not one of {fused.SUPPORTED}"
    if not isinstance(method.hp.get("lr"), float):
        return f"lr is {method.hp.get('lr')!r} (the fused path needs a constant step size)"
    try:
        ref = base.make(name, top, **method.hp)
    except Exception:  # noqa: BLE001 - hyper-parameters a registered builder refuses
        ref = None
    if ref is None or not _same_step(method.step, ref.step):
        return f"method {name!r} is not the registered {name!r} (its step differs)"
    if getattr(top, "period", None) != 1:
        return "the topology is time-varying (the fused path needs period 1)"
    if type(oracle) is not Oracle or oracle.noise != "isotropic" or oracle.hetero:
        return "the oracle is not landscapes.noise.oracle(landscape, noise='isotropic') on a homogeneous landscape"
    for bad, what in ((device.type != "cpu", f"device {device.type!r} (CPU only)"),
                      (dtype != torch.float64, f"dtype {dtype} (float64 only)"),
                      (stop is not None, "a stop predicate"), (checkpoint is not None, "checkpoint="),
                      (resume, "resume=True"), (_FUSED_COMPILE and not fused.compiler_available(),
                       "no C++ compiler for torch.compile")):
        if bad:
            return what
    return ""


class _Fused:
    """simulate's fused path (dynamics.fused.stepper, the draws of Streams(seed, ids)).

    `step(state, oracle, t, rng)` is a drop-in for method.step: one fused step. `leap(state, t,
    n)` runs n fused steps at once and returns the state at t + n when no divergence check can
    have fired on the way (every state's max |x_ij| within the guard's bound, as
    `_Guard.surely_finite`), else None: the caller then steps t..t+n again one step at a time
    from the same state, with the same draws. When the first fused call fails (a landscape
    gradient torch.compile cannot trace) and the fused path was not required, config['path']
    becomes 'steps': every step goes to method.step and leap returns None."""

    def __init__(self, method, oracle, ids, seed, K, d, config, required, guard):
        from . import fused
        self.advance, _ = fused.stepper(method, oracle.landscape, ids, seed=int(seed), sigma=oracle.sigma,
                                        batch=oracle.batch, stream=oracle.stream, K=K, d=d,
                                        compile=_FUSED_COMPILE)
        self.method, self.config, self.required = method, config, required
        self.bound = math.inf if guard.divergence is None else float(guard.divergence) / math.sqrt(d)
        self.tried = False

    def _run(self, state, t, n):
        """(the state after n fused steps, their peak |x_ij|), or None on the per-step path."""
        if self.config["path"] == "steps":
            return None
        first, self.tried = not self.tried, True
        try:
            momentum = self.method.name == "dsgdm"
            x, m, peak = self.advance(state.x, state.m if momentum else state.x, t, n)
        except Exception:  # noqa: BLE001 - the compiler's many failure types
            if self.required or not first:
                raise
            self.config["path"] = "steps"
            return None
        return (state._replace(x=x, m=m) if momentum else state._replace(x=x)), float(peak)

    def step(self, state, oracle, t, rng):
        out = self._run(state, t, 1)
        return self.method.step(state, oracle, t, rng) if out is None else out[0]

    def leap(self, state, t, n):
        out = self._run(state, t, n)
        return out[0] if out is not None and math.isfinite(out[1]) and out[1] <= self.bound else None


def _read_checkpoint(ck: Path, device, fingerprint: dict) -> dict:
    """The checkpoint's blob, refused (ValueError) when torn, foreign or of another run."""
    try:
        blob = torch.load(ck, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a torn or foreign file
        raise ValueError(f"checkpoint {str(ck)!r} cannot be read ({type(exc).__name__}); "
                         "delete it to start afresh") from None
    runfolder.check_resume(blob.get("fingerprint", {}), fingerprint, f"checkpoint {str(ck)!r}")
    return blob


def _write_checkpoint(ck: Path, blob: dict) -> None:
    """torch.save the blob to ck atomically (dynamics/runfolder.py)."""
    buf = io.BytesIO()
    torch.save(blob, buf)
    runfolder.write_bytes(ck, buf.getvalue())


def _tensor_fields(state) -> dict:
    return {k: v for k, v in zip(state._fields, state) if torch.is_tensor(v) or isinstance(v, (int, float))}


def _freeze(active: torch.Tensor, new, old, R: int):
    """Keep old values for frozen replicas: per field, torch.where over the leading replica axis."""
    out = []
    for a, b in zip(new, old):
        if torch.is_tensor(a) and a.ndim >= 1 and a.shape[0] == R and torch.is_tensor(b) and b.shape == a.shape:
            out.append(torch.where(active.view((R,) + (1,) * (a.ndim - 1)), a, b))
        else:
            out.append(a)
    return type(new)(*out)


@dataclass(frozen=True)
class _Guard:
    """The event rules: a replica diverges when max_k ‖x_k‖ > divergence or x holds NaN/Inf
    (divergence None: NaN/Inf only); it stops when `stop` holds on its stop_on positions."""
    stop: Callable | None
    stop_on: str
    divergence: float | None

    def surely_finite(self, x) -> bool:
        """True when no replica can be diverged: max |x_ij| <= threshold / sqrt(d) bounds every
        ‖x_k‖ (NaN fails the comparison); a False sends the step through `check`."""
        if self.divergence is None:
            return bool(torch.isfinite(x).all())
        return bool(x.abs().amax() <= float(self.divergence) / math.sqrt(x.shape[-1]))

    def check(self, x, t, ev: _Events) -> _Events:
        """Flag divergence (max_k ‖x_k‖ > threshold, NaN, Inf) and the stop predicate at time t."""
        stop, stop_on, divergence = self.stop, self.stop_on, self.divergence
        active = ev.active
        if divergence is None:
            bad = ~torch.isfinite(x).flatten(1).all(dim=1)
        else:  # NaN propagates through sum/amax and fails `<=`; ‖x‖² overflowing to inf is > limit too
            bad = ~(x.square().sum(dim=-1).amax(dim=-1) <= float(divergence) ** 2)
        newly_div = active & bad
        div_step = torch.where(newly_div, t, ev.div_step)
        frozen = newly_div
        kind = torch.where(newly_div, 2, ev.ev_kind)
        if stop is not None:
            R = x.shape[0]
            pos = x.mean(dim=-2) if stop_on == "centroid" else x
            hit = torch.as_tensor(stop(pos), device=x.device).to(torch.bool)
            if stop_on != "centroid" and hit.shape == x.shape[:2]:
                hit = hit.any(dim=-1) if stop_on == "any" else hit.all(dim=-1)
            if hit.shape != (R,):
                raise ValueError(f"stop predicate must return a bool tensor of shape (R,) = ({R},)"
                                 + ("" if stop_on == "centroid" else f" or (R, K) = {tuple(x.shape[:2])}")
                                 + f", got {tuple(hit.shape)}")
            newly_stop = active & hit & ~bad
            kind = torch.where(newly_stop, 1, kind)
            frozen = frozen | newly_stop
        return _Events(torch.where(frozen, t, ev.ev_step), kind, div_step, active & ~frozen)
