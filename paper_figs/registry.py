"""Figure discovery: every module of paper_figs (other than __init__, __main__, style, registry)
that defines `draw(evidence, out_dir)` or `make(out_dir, quick=False)` is a figure named after
the module.

Kinds (`kind(mod)`):
- 'data': `CLAIMS = ("claim.id", ...)` and `draw(evidence: dict[str, Evidence], out_dir) ->
  list[Path]`, drawn only from those claims' saved evidence (predicted / measured / data) of a
  run folder's claims.json: the figure never re-runs an experiment.
- 'theory': `make(out_dir, quick)` computing closed forms or exact maps only (no experiment);
  such a module says so with `THEORY = True`.
- 'recompute': a module that still has only `make(out_dir, quick)` and re-runs its experiment.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType, SimpleNamespace

NOT_FIGURES = {"__init__", "__main__", "style", "registry"}


def figures(package: str = "paper_figs") -> dict[str, ModuleType]:
    """name -> module, sorted by name."""
    pkg = importlib.import_module(package)
    out = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name in NOT_FIGURES or info.name.startswith("_"):
            continue
        try:
            mod = importlib.import_module(f"{package}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - a broken module shows up as a failing figure
            out[info.name] = _broken(info.name, exc)
            continue
        if callable(getattr(mod, "make", None)) or callable(getattr(mod, "draw", None)):
            out[info.name] = mod
    return out


def _broken(name: str, exc: Exception) -> SimpleNamespace:
    msg = f"figure module paper_figs.{name} failed to import: {type(exc).__name__}: {exc}"

    def make(out_dir, quick=False):
        raise RuntimeError(msg) from exc
    return SimpleNamespace(__doc__=msg, __name__=f"paper_figs.{name}", make=make)


def claims_of(mod) -> tuple[str, ...]:
    """The claim ids a figure is drawn for (its CLAIMS; () when it declares none)."""
    c = getattr(mod, "CLAIMS", ())
    if isinstance(c, str):
        return (c,)
    return tuple(str(x) for x in c)


def kind(mod, name: str | None = None) -> str:
    """'data' (CLAIMS + draw), 'theory' (make() from closed forms) or 'recompute' (make() that
    re-runs an experiment)."""
    if callable(getattr(mod, "draw", None)) and claims_of(mod):
        return "data"
    if getattr(mod, "THEORY", False):
        return "theory"
    return "recompute"


def summary(mod: ModuleType) -> str:
    """First paragraph of the module docstring, on one line."""
    doc = (mod.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())
