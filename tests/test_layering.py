"""The import graph: no cycle anywhere in the packages (every import counted, function-level
ones included), the layers only import downwards, and the trainer imports nothing from verify."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["landscapes", "dynamics", "analysis", "training", "verify", "paper_figs"]
# a package may import only packages to its left (the trainer uses dynamics' methods and
# analysis.flatness; verify reads the trainer's run plan; paper_figs draws what verify saved)
LAYER = {"landscapes": 0, "dynamics": 1, "analysis": 2, "training": 3, "verify": 4, "paper_figs": 5}


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


def imports(name: str, path: Path, mods: dict) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph():
    mods = modules()
    return {m: imports(m, p, mods) for m, p in mods.items()}


def cycles(G):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in G[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in G:
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_layers_import_downwards_only():
    bad = [(m, d) for m, deps in graph().items() for d in deps
           if LAYER[d.split(".")[0]] > LAYER[m.split(".")[0]]
           or (LAYER[d.split(".")[0]] == LAYER[m.split(".")[0]] and d.split(".")[0] != m.split(".")[0])]
    assert bad == []


def test_training_imports_nothing_from_verify():
    assert [(m, d) for m, deps in graph().items() if m.startswith("training")
            for d in deps if d.startswith("verify")] == []
