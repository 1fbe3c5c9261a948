"""Running claims: one at a time or in worker processes, with a progress line, writing
`claims.json` after every finished claim (so an interrupted run keeps what it finished) and
resuming from it. Run-folder layout (docs/design.md, "Runs and results"): config.json, env.json,
claims.json, report.md, report.html, figures/<claim id>/...
"""
from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import datetime
from pathlib import Path

from dynamics import runfolder

from .claims import REPO_ROOT, Claim, Context, Evidence, one_thread

SCHEMA = "decentlab.claims/1"


def default_run_dir(base: str | Path = "runs", now: datetime | None = None) -> Path:
    """runs/<YYYYmmdd-HHMMSS>-verify (a numeric suffix if it exists already)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    p = Path(base) / f"{stamp}-verify"
    n = 1
    while p.exists():
        n += 1
        p = Path(base) / f"{stamp}-verify-{n}"
    return p


def write_json(path: Path, obj) -> None:
    """Write atomically (dynamics.runfolder.write_json) so a Ctrl-C never leaves half a file."""
    runfolder.write_json(path, obj)


def git_revision(cwd: Path = REPO_ROOT) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def env_info(device: str, seed: int) -> dict:
    """Versions, device, git revision, seeds, hostname (env.json)."""
    import numpy
    import torch
    info = {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "numpy": numpy.__version__, "torch": torch.__version__,
        "device": device, "cuda_available": bool(torch.cuda.is_available()),
        "git_revision": git_revision(), "seed": seed, "hostname": socket.gethostname(),
        "time": datetime.now().isoformat(timespec="seconds"), **runfolder.cpu_info(),
    }
    try:
        import scipy
        info["scipy"] = scipy.__version__
    except ImportError:
        pass
    if info["cuda_available"]:
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def _relative_figures(figs, ctx: Context, run_dir: Path) -> list[str]:
    out = []
    for f in figs:
        p = Path(f)
        if not p.is_absolute():
            p = Path(ctx.out_dir) / p
        try:
            out.append(p.resolve().relative_to(run_dir.resolve()).as_posix())
        except ValueError:
            out.append(str(p))
    return out


def run_one(claim: Claim, ctx: Context, run_dir: Path | None = None) -> Evidence:
    """Run one claim: time it, turn an exception (or a non-Evidence return) into verdict 'error'
    with message and traceback, make figure paths relative to the run folder."""
    t0 = time.perf_counter()
    try:
        with one_thread():
            ev = claim.run(ctx)
        if not isinstance(ev, Evidence):
            raise TypeError(f"claim {claim.id!r}: run returned {type(ev).__name__}, expected Evidence")
    except Exception as exc:  # noqa: BLE001 - a failing claim must not stop the run
        ev = Evidence("error", notes=f"{type(exc).__name__}: {exc}", error=traceback.format_exc())
    ev.elapsed = time.perf_counter() - t0
    if run_dir is not None:
        ev.figures = _relative_figures(ev.figures, ctx, Path(run_dir))
    return ev


class Progress:
    """One '\\r' status line on a terminal; on another stream (a log file, CI) one log line
    per started and per finished claim (`enabled=False` silences it)."""

    def __init__(self, total: int, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stdout
        self.enabled = True if enabled is None else enabled
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False
        self.total, self.done, self.current, self.t0 = total, 0, "", time.perf_counter()

    def _show(self, text: str) -> None:
        if self.enabled and self.tty:
            cols = 100
            self.stream.write("\r" + text[:cols].ljust(cols))
            self.stream.flush()

    def _line(self, text: str) -> None:
        if self.enabled and not self.tty:
            el = time.perf_counter() - self.t0
            self.stream.write(f"{text}  [{el:.0f} s elapsed]\n")
            self.stream.flush()

    def start(self, cid: str) -> None:
        self.current = cid
        self._show(f"[{self.done}/{self.total}] {cid} ...")
        self._line(f"[{self.done}/{self.total}] start {cid}")

    def update(self, frac: float, msg: str = "") -> None:
        frac = min(max(float(frac), 0.0), 1.0)
        bar = "#" * int(20 * frac)
        self._show(f"[{self.done}/{self.total}] {self.current} [{bar:<20}] {100 * frac:3.0f}% {msg}")

    def finish(self, cid: str, ev: Evidence) -> None:
        self.done += 1
        text = f"[{self.done}/{self.total}] {cid}: {ev.verdict} ({ev.elapsed:.1f}s)"
        self._show(text)
        self._line(text)

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


def claims_document(order: list[dict], evidence: dict[str, Evidence]) -> dict:
    """claims.json content: every selected claim's metadata with its evidence (null if pending)."""
    return {"schema": SCHEMA, "claims": [
        {**meta, "evidence": evidence[meta["id"]].to_dict() if meta["id"] in evidence else None}
        for meta in order]}


def load_claims_json(run_dir: str | Path) -> tuple[list[dict], dict[str, Evidence]]:
    """(metadata list in order, id -> Evidence of the claims that have evidence)."""
    p = Path(run_dir) / "claims.json"
    if not p.is_file():
        raise ValueError(f"resume: no claims.json in {run_dir}")
    doc = runfolder.read_json(p, "resume: claims file")
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise ValueError(f"resume: claims file {p} holds no claims list (corrupted?)")
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"resume: {p} has schema {doc.get('schema')!r}, expected {SCHEMA!r}")
    metas, ev = [], {}
    for c in doc["claims"]:
        metas.append({k: v for k, v in c.items() if k != "evidence"})
        if c.get("evidence") is not None:
            ev[c["id"]] = Evidence.from_dict(c["evidence"])
    return metas, ev


def finished(ev: Evidence) -> bool:
    """Finished claims are skipped on resume; an 'error' is run again."""
    return ev.verdict != "error"


def run_controls(claims: list[Claim], run_dir: str | Path, *, quick: bool = True, seed: int = 0,
                 device: str = "cpu", stream=None) -> dict[str, dict[str, Evidence]]:
    """Each claim once as it is ('' key) and once under each of its negative controls (the
    claim's own code with `ctx.control` set). Writes controls.json in run_dir after every run and
    prints one line per run: claim, control, verdict. A control 'flips' when its verdict is not
    'holds'. Returns claim id -> {control name ('' = real run) -> Evidence}."""
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    stream = stream or sys.stdout
    out: dict[str, dict[str, Evidence]] = {}
    total = sum(1 + len(c.controls) for c in claims)
    done = 0
    for c in claims:
        out[c.id] = {}
        for name in ("", *c.controls):
            ctx = Context(quick=quick, seed=seed, device=device, control=name or None,
                          out_dir=run_dir / "controls" / c.id / (name or "real"))
            ev = run_one(c, ctx, run_dir)
            ev.control = name
            out[c.id][name] = ev
            done += 1
            label = name or "(no sabotage)"
            flip = "" if not name else ("  flips" if ev.verdict != "holds" else "  DOES NOT FLIP")
            print(f"[{done}/{total}] {c.id}  {label}: {ev.verdict} ({ev.elapsed:.1f}s){flip}",
                  file=stream, flush=True)
            write_json(run_dir / "controls.json", controls_document(claims, out))
    return out


def controls_document(claims: list[Claim], results: dict[str, dict[str, Evidence]]) -> dict:
    """controls.json: per claim, its controls' descriptions and the verdict of each run."""
    return {"schema": "decentlab.controls/1", "claims": [
        {"id": c.id, "controls": dict(c.controls),
         "runs": {k or "real": ev.to_dict() for k, ev in results.get(c.id, {}).items()}}
        for c in claims if c.id in results]}


def _mp_context():
    import multiprocessing as mp
    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None


def _worker_init(parent: int) -> None:
    """Pool-worker initializer: die with the parent. Ctrl-C is the parent's to handle (it
    terminates the workers); on Linux the kernel sends SIGTERM when the parent dies
    (prctl PR_SET_PDEATHSIG), elsewhere (and as a back-up) a thread polls os.getppid()."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=watch, name="verify-parent-watchdog", daemon=True).start()


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and terminate the running workers now (no waiting)."""
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    t_end = time.monotonic() + 1.0
    for p in procs:
        p.join(max(0.0, t_end - time.monotonic()))
        if p.is_alive():
            p.kill()


def run_claims(claims: list[Claim], run_dir: str | Path, *, quick: bool = True, seed: int = 0,
               device: str = "cpu", jobs: int = 1, previous: dict[str, Evidence] | None = None,
               order: list[dict] | None = None, progress: Progress | None = None) -> dict[str, Evidence]:
    """Run the claims not finished in `previous`; claims.json in run_dir is rewritten after each
    one. Returns id -> Evidence for all (previous included). KeyboardInterrupt propagates after
    the finished claims are on disk."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    evidence = dict(previous or {})
    metas = list(order or [])
    known = {m["id"] for m in metas}
    metas += [c.meta() for c in claims if c.id not in known]
    metas = [next((c.meta() for c in claims if c.id == m["id"]), m) for m in metas]
    todo = [c for c in claims if not (c.id in evidence and finished(evidence[c.id]))]
    prog = progress or Progress(len(todo))

    def ctx_for(c: Claim, with_progress: bool) -> Context:
        ctx = Context(quick=quick, seed=seed, device=device, out_dir=run_dir / "figures" / c.id)
        if with_progress:
            ctx.progress = prog.update
        return ctx

    def record(c: Claim, ev: Evidence) -> None:
        evidence[c.id] = ev
        write_json(run_dir / "claims.json", claims_document(metas, evidence))
        prog.finish(c.id, ev)

    write_json(run_dir / "claims.json", claims_document(metas, evidence))
    try:
        if jobs == 1 or len(todo) <= 1:
            for c in todo:
                prog.start(c.id)
                record(c, run_one(c, ctx_for(c, True), run_dir))
        else:
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(),
                                       initializer=_worker_init, initargs=(os.getpid(),))
            try:
                futs = {pool.submit(run_one, c, ctx_for(c, False), run_dir): c for c in todo}
                prog.start(f"{len(todo)} claims on {jobs} processes")
                pending = set(futs)
                while pending:
                    # short waits so a Ctrl-C is seen within a fraction of a second
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for fut in done:
                        c = futs[fut]
                        try:
                            ev = fut.result()
                        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable claim
                            ev = Evidence("error", notes=f"{type(exc).__name__}: {exc}",
                                          error=traceback.format_exc())
                        record(c, ev)
            except BaseException:  # KeyboardInterrupt / SystemExit: finished claims are on disk
                _stop_pool(pool)
                raise
            pool.shutdown(wait=True)
    finally:
        prog.close()
    return evidence
