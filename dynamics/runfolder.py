"""One run-folder writer for every long run (simulator, trainer, distributed runner, verify):
atomic files (temp + fsync + os.replace, so an interruption leaves the old file or the new one,
never half of either), an append-only JSON-lines log whose torn last line is dropped on read, the
configuration check that a resume must pass, and the 'complete' marker of a summary.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

COMPLETE = "complete"  # key of summary.json set True only when a run has finished


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj, indent: int | None = 1) -> Path:
    """JSON atomically; non-JSON values (Paths, numpy scalars) go through str()."""
    return write_text(path, json.dumps(obj, indent=indent, default=str) + "\n")


def read_json(path: str | Path, what: str = "file"):
    """Parse a JSON file; a missing or truncated file -> ValueError naming it."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} {p} does not exist")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {p} is not valid JSON (truncated or corrupted?): {exc}") from None


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one JSON line and fsync (a crash may tear only this last line)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """All complete records of a JSON-lines file; a torn (unparsable) last line is dropped, a torn
    line elsewhere -> ValueError naming the file and line."""
    p = Path(path)
    if not p.is_file():
        return []
    lines = p.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{p}: line {i + 1} is not valid JSON") from None
    return out


def truncate_jsonl(path: str | Path, keep) -> None:
    """Rewrite a JSON-lines file atomically keeping the records for which keep(record) is true
    (used on resume to drop records past the checkpoint)."""
    recs = [r for r in read_jsonl(path) if keep(r)]
    write_text(path, "".join(json.dumps(r, default=str) + "\n" for r in recs))


def config_diff(stored: dict, new: dict, ignore=()) -> list[str]:
    """Keys whose values differ between a stored configuration and a new one ('a.b' for nested
    dicts), ignoring keys in `ignore`. Values are compared after a JSON round trip."""
    norm = lambda d: json.loads(json.dumps(d, default=str))  # noqa: E731
    a, b = norm(stored), norm(new)
    out = []

    def walk(x, y, prefix):
        for k in sorted(set(x) | set(y)):
            if k in ignore or prefix + k in ignore:
                continue
            u, v = x.get(k, "<absent>"), y.get(k, "<absent>")
            if isinstance(u, dict) and isinstance(v, dict):
                walk(u, v, prefix + k + ".")
            elif u != v:
                out.append(f"{prefix}{k}: {u!r} -> {v!r}")
    walk(a, b, "")
    return out


def check_resume(stored: dict, new: dict, what: str, ignore=()) -> None:
    """Refuse to resume a run under a different configuration: ValueError listing the keys."""
    diff = config_diff(stored, new, ignore)
    if diff:
        raise ValueError(f"{what}: cannot resume under a different configuration; differing keys: "
                         + "; ".join(diff))


def is_complete(run_dir: str | Path, summary: str = "summary.json") -> bool:
    """A run folder is complete only when its summary says so (file existence is not enough)."""
    p = Path(run_dir) / summary
    try:
        return bool(json.loads(p.read_text()).get(COMPLETE, False))
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


def cpu_info() -> dict:
    """The CPU a run's numbers came from (env.json): its model name (/proc/cpuinfo, else
    platform.processor()) and the vector ISA torch dispatches to. Transcendental kernels (exp,
    sin, log) differ by an ulp between ISAs, and a chaotic Monte Carlo run (a multimodal
    landscape, many steps) turns that into different sample means on another CPU."""
    import platform

    import torch
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        pass
    return {"cpu_model": model or platform.processor() or platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_count": os.cpu_count()}
