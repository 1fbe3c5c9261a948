"""Shared launcher of the multi-process tests (tests/test_distributed.py, tests/test_faults.py):
`world` spawned ranks on a free local port, each running a module-level `worker(rank, world,
port, tasks, outdir, timeout)` that saves its results to OUTDIR/rank{r}.pt."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_group(rank: int, world: int, port: int, timeout: float) -> None:
    """In a rank: the environment torch.distributed reads, one thread, the gloo group."""
    from dynamics import distributed as Dd
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    Dd.init("gloo", timeout)


def leave(out: dict, outdir, rank: int, broken: bool = False) -> None:
    """Save the rank's results; a broken group is left at once (destroy_process_group would wait)."""
    torch.save(out, Path(outdir) / f"rank{rank}.pt")
    if broken:
        os._exit(0)
    import torch.distributed as dist
    dist.destroy_process_group()


def spawn(worker, world: int, tasks: dict, outdir, timeout: float, join: float, kill_after: int | None = None):
    """Run `worker` on `world` ranks; wait up to `join` s in all (rank `kill_after`, which the
    test makes hang, is not waited for and is killed). Returns (results per rank, None where a
    rank saved nothing; ranks still alive at the end)."""
    for f in Path(outdir).glob("rank*.pt"):
        f.unlink()
    ctx = mp.get_context("spawn")
    port = free_port()
    ps = [ctx.Process(target=worker, args=(r, world, port, tasks, str(outdir), timeout)) for r in range(world)]
    for p in ps:
        p.start()
    t0 = time.time()
    for r, p in enumerate(ps):
        if r != kill_after:
            p.join(max(1.0, join - (time.time() - t0)))
    hung = [r for r, p in enumerate(ps) if p.is_alive() and r != kill_after]
    for p in ps:
        if p.is_alive():
            p.kill()
            p.join(5)
    files = [Path(outdir) / f"rank{r}.pt" for r in range(world)]
    return [torch.load(f, weights_only=False) if f.exists() else None for f in files], hung
