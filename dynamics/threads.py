"""How many CPU threads a run should use on a shared machine, and a scope that sets them.

torch's CPU kernels split every operation over its intra-op threads and wait at a barrier at
its end. A per-step simulation runs ~40 small operations a step, so when another job holds the
cores each barrier waits for a thread the OS has descheduled: on the 2-core box, D-SGD at
R = 4096 ran 16x slower with 2 threads beside a 2-thread job than alone, and 1 thread lost
only ~1.5x (benchmarks/RESULTS.md, "Peers on a busy machine"). So `simulate(threads='auto')`
counts the cores other work leaves free just before the run and uses no more threads than that.

free cores = Σ over this process's CPUs of the idle share of the last `window` seconds
(/proc/stat: idle + iowait ticks over all ticks; the kernel counts 10 ms ticks, so 50 ms give
each CPU ~5: enough to tell a busy core from a free one). Where that cannot be read (not Linux,
a container whose /proc/stat lists other CPUs than its own), `free_cores` returns None and
'auto' keeps torch's setting.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os
import time

import torch

__all__ = ["AUTO_MIN_WORK", "FREE_FROM", "check", "choose", "free_cores", "using"]

# worker-steps below which 'auto' keeps torch's threads: such a run takes under ~1.5 s alone, and
# sampling for 50 ms would cost it a few per cent
AUTO_MIN_WORK = 5 * 10 ** 7
# a core counts as free from this idle share on: the kernel counts 10 ms ticks, so a 50 ms window
# gives each CPU ~5 and an idle 2-CPU machine reads 1.5-2.0 free cores (a stray busy tick or two)
FREE_FROM = 0.25


def _cpu_ticks(cpus: set[int]) -> tuple[int, int] | None:
    """(idle ticks, all ticks) summed over `cpus` from /proc/stat, or None when unreadable or
    when a CPU of the set has no line there."""
    try:
        with open("/proc/stat") as f:
            lines = [ln.split() for ln in f if ln.startswith("cpu") and ln[3:4].isdigit()]
    except OSError:
        return None
    rows = {int(p[0][3:]): [int(v) for v in p[1:]] for p in lines}
    if not cpus <= rows.keys():
        return None
    idle = sum(rows[c][3] + (rows[c][4] if len(rows[c]) > 4 else 0) for c in cpus)
    total = sum(sum(rows[c][:8]) for c in cpus)
    return idle, total


def free_cores(window: float = 0.05) -> float | None:
    """Cores of this process's CPU set that were idle over the next `window` seconds (this
    process sleeps meanwhile, so its own threads do not count), or None where unknown."""
    try:
        cpus = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    a = _cpu_ticks(cpus)
    if a is None:
        return None
    time.sleep(window)
    b = _cpu_ticks(cpus)
    if b is None or b[1] <= a[1]:
        return None
    return len(cpus) * (b[0] - a[0]) / (b[1] - a[1])


def choose(threads, work: int, device="cpu") -> int:
    """The intra-op threads for a run of `work` worker-steps: an int >= 1 as given; 'auto'
    torch's current count, lowered to the free cores (a core counts from an idle share of
    FREE_FROM on; at least 1) on a CPU run of at least AUTO_MIN_WORK worker-steps; None torch's
    current count. Anything else: ValueError."""
    now = torch.get_num_threads()
    if threads is None:
        return now
    if isinstance(threads, str) and threads == "auto":
        if now == 1 or torch.device(device).type != "cpu" or work < AUTO_MIN_WORK:
            return now
        free = free_cores()
        return now if free is None else max(1, min(now, math.floor(free + 1 - FREE_FROM)))
    check(threads)
    return int(threads)


def check(threads) -> None:
    """ValueError (one line) unless threads is 'auto', None or an integer >= 1."""
    if isinstance(threads, str) and threads == "auto" or threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be 'auto', None or an int >= 1, got {threads!r}")


@contextlib.contextmanager
def using(n: int):
    """torch.set_num_threads(n) inside the block, the previous count restored after."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
