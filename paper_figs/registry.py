"""Figure discovery: every module of paper_figs (other than __init__, __main__, style, registry)
with a callable `make(out_dir, quick=False) -> list[Path]` is a figure named after the module."""
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
        if callable(getattr(mod, "make", None)):
            out[info.name] = mod
    return out


def _broken(name: str, exc: Exception) -> SimpleNamespace:
    msg = f"figure module paper_figs.{name} failed to import: {type(exc).__name__}: {exc}"

    def make(out_dir, quick=False):
        raise RuntimeError(msg) from exc
    return SimpleNamespace(__doc__=msg, make=make)


def summary(mod: ModuleType) -> str:
    """First paragraph of the module docstring, on one line."""
    doc = (mod.__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())
