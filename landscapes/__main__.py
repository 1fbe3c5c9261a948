"""Command line: list landscapes with their critical points, or plot one.

    python -m landscapes [--max-rows N]                 table of every landscape
    python -m landscapes plot NAME [--out FILE] [param=value ...]
        contour (2-D) or curve (1-D) PNG with the critical points marked; values are
        Python literals (e.g. eps=0.1, H=[[2,0],[0,1]]).
"""
from __future__ import annotations

import argparse
import ast
import collections
import sys

import torch

from . import get, names

_MARK = {"min": ("o", "tab:green"), "max": ("^", "tab:red"), "degenerate": ("x", "black")}


def _fmt(v) -> str:
    if isinstance(v, torch.Tensor):
        return str([round(t, 4) for t in v.reshape(-1).tolist()]) if v.numel() <= 6 else \
            f"tensor{tuple(v.shape)}"
    return repr(v)


def table(max_rows: int = 12) -> str:
    """Text table: per landscape its dim, params, counts by kind and the lowest points."""
    lines = []
    for n in names():
        land = get(n)
        cps = land.critical_points
        counts = collections.Counter(c.kind for c in cps)
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in land.params.items())
        lines.append(f"{n}  (dim={land.dim}; {params or 'no params'}; "
                     f"{len(cps)} critical points: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")")
        lines.append(f"    {'x':<34}{'value':>14}  {'kind':<10} hessian eigenvalues")
        for c in cps[:max_rows]:
            x = ", ".join(f"{t:.6f}" for t in c.x.tolist())
            eig = ", ".join(f"{t:.4g}" for t in c.hessian_eigvals.tolist())
            lines.append(f"    ({x}){'':<{max(0, 32 - len(x))}}{c.value:>14.6f}  "
                         f"{c.kind:<10} [{eig}]")
        if len(cps) > max_rows:
            lines.append(f"    ... {len(cps) - max_rows} more")
        if land.note:
            lines.append(f"    note: {land.note}")
    return "\n".join(lines)


def plot(name: str, out: str, params: dict) -> str:
    """Write a PNG of landscape `name` with critical points marked; returns the path."""
    import os
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ValueError(f"--out {out!r}: folder {parent} does not exist")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    land = get(name, **params)
    if land.dim > 2:
        raise ValueError(f"plot needs dim 1 or 2; landscape {name!r} has dim={land.dim}")
    fig, ax = plt.subplots(figsize=(6, 4.5) if land.dim == 2 else (6, 4), layout="constrained")
    b = land.bounds
    if land.dim == 1:
        t = torch.linspace(float(b[0, 0]), float(b[0, 1]), 2000, dtype=torch.float64)
        ax.plot(t, land.f(t[:, None]), color="tab:blue")
        ax.set_xlabel("x")
        ax.set_ylabel("f(x)")
    else:
        gx = torch.linspace(float(b[0, 0]), float(b[0, 1]), 300, dtype=torch.float64)
        gy = torch.linspace(float(b[1, 0]), float(b[1, 1]), 300, dtype=torch.float64)
        X, Y = torch.meshgrid(gx, gy, indexing="xy")
        Z = land.f(torch.stack([X, Y], -1))
        hi = float(torch.quantile(Z.flatten(), 0.9))  # clip so that wells stay resolved
        cs = ax.contourf(X, Y, Z.clamp(max=hi), levels=40, cmap="viridis")
        ax.contour(X, Y, Z.clamp(max=hi), levels=20, colors="k", linewidths=0.3)
        fig.colorbar(cs, ax=ax, label="f (clipped at 90th percentile)")
        ax.set_xlabel("x[0]")
        ax.set_ylabel("x[1]")
    seen = set()
    for c in land.critical_points:
        m, col = _MARK.get(c.kind, ("s", "tab:orange"))
        xy = (c.x[0], c.value) if land.dim == 1 else (c.x[0], c.x[1])
        ax.plot(*xy, m, color=col, markersize=7, markeredgecolor="k",
                label=None if c.kind in seen else c.kind)
        seen.add(c.kind)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{name} " + ", ".join(f"{k}={_fmt(v)}" for k, v in land.params.items()),
                 fontsize=9)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _parse_params(items: list[str]) -> dict:
    out = {}
    for it in items:
        if "=" not in it:
            raise ValueError(f"parameter {it!r} must be written name=value")
        k, v = it.split("=", 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            raise ValueError(f"parameter {k!r}: cannot parse value {v!r}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["plot"]:
        ap = argparse.ArgumentParser(prog="python -m landscapes plot")
        ap.add_argument("name")
        ap.add_argument("--out", default=None)
        ap.add_argument("params", nargs="*", help="name=value")
        a = ap.parse_intermixed_args(argv[1:])
        try:
            path = plot(a.name, a.out or f"{a.name}.png", _parse_params(a.params))
        except (ValueError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        import os
        print(f"wrote {os.path.abspath(path)}")
        return 0
    ap = argparse.ArgumentParser(prog="python -m landscapes")
    ap.add_argument("--max-rows", type=int, default=12)
    a = ap.parse_args(argv)
    if a.max_rows < 0:
        print(f"error: --max-rows must be >= 0, got {a.max_rows}", file=sys.stderr)
        return 2
    print(table(a.max_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
