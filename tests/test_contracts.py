"""docs/CONTRACTS.md matches the code: every backticked `package.module.name` (or `name(...)` /
`Name.attr` under a heading naming its module) imports, and every parameter a documented
signature names exists in the real signature, in the documented order, with the documented
default where that default is a literal."""
import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONTRACTS.md"
PACKAGES = {"landscapes", "dynamics", "analysis", "verify", "paper_figs", "training"}
TOKEN = re.compile(r"^(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?P<sig>\((?P<params>.*)\))?$")
PARAM = re.compile(r"^(?P<stars>\*{0,2})(?P<name>[A-Za-z_]\w*)(?:\s*=\s*(?P<default>.+))?$")


def split_params(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def documented() -> list[tuple[str, str, list[str] | None, int]]:
    """(qualified name, the span, params or None, line) for every checkable span of the doc."""
    out, module, fence, carry = [], None, False, ""
    for n, line in enumerate(DOC.read_text().splitlines(), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        line = carry + line.strip()
        if line.count("`") % 2:  # a span continued on the next line
            carry = line + " "
            continue
        carry = ""
        spans = re.findall(r"`([^`]+)`", line)
        if line.startswith("## "):
            module = spans[-1] if spans else None
            continue
        for span in spans:
            m = TOKEN.match(span.strip())
            if not m:
                continue
            name, params = m["name"], None
            if m["sig"] is not None:
                params = split_params(m["params"])
                if not all(p in ("...", "*", "/") or PARAM.match(p) for p in params):
                    continue  # a formula such as oracle(x^s, s, rng), not a signature
            first = name.split(".")[0]
            if first in PACKAGES:
                out.append((name, span, params, n))
            elif module is not None:
                mod = importlib.import_module(module)
                if hasattr(mod, first) or params is not None:
                    out.append((f"{module}.{name}", span, params, n))
    return out


def resolve(qualified: str):
    parts = qualified.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for j, attr in enumerate(parts[i:]):
            if hasattr(obj, attr):
                obj = getattr(obj, attr)
                continue
            # a dataclass field without a default is not a class attribute
            if j == len(parts[i:]) - 1 and dataclasses.is_dataclass(obj) and \
                    attr in {f.name for f in dataclasses.fields(obj)}:
                return dataclasses.MISSING
            raise AttributeError(f"{'.'.join(parts[:i + j])} has no attribute {attr!r}")
        return obj
    raise ModuleNotFoundError(qualified)


SPANS = documented()


def test_the_doc_documents_enough():
    names = {q for q, *_ in SPANS}
    assert len(SPANS) > 120
    for q in ("dynamics.topology.require_doubly_stochastic", "dynamics.topology.grid", "dynamics.simulate.simulate",
              "verify.claims.Evidence", "analysis.stats.mean_ci", "dynamics.runfolder.write_text"):
        assert q in names, q


@pytest.mark.parametrize("qualified,span,params,line", SPANS, ids=[f"L{n}:{s}" for _, s, _, n in SPANS])
def test_documented_name_matches_code(qualified, span, params, line):
    obj = resolve(qualified)
    if params is None:
        return
    assert callable(obj), f"line {line}: {qualified} is documented with a signature but is not callable"
    sig = inspect.signature(obj)
    real = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    names = [p.name for p in real]
    var_kw = any(p.kind is p.VAR_KEYWORD for p in real)
    pos = -1
    for p in params:
        if p in ("...", "*", "/"):
            continue
        m = PARAM.match(p)
        stars, name, default = m["stars"], m["name"], m["default"]
        if stars == "**":
            assert var_kw, f"line {line}: {span}: {qualified} takes no **{name}"
            continue
        if name not in names:
            assert var_kw and default is not None, \
                f"line {line}: {span}: {qualified} has no parameter {name!r}; it has {names}"
            continue
        i = names.index(name)
        assert i > pos, f"line {line}: {span}: parameter {name!r} out of order; real order {names}"
        pos = i
        real_default = real[i].default
        if default is not None and isinstance(real_default, (int, float, str, bool, type(None), tuple)):
            try:
                doc_default = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                continue
            assert doc_default == real_default, \
                f"line {line}: {span}: default of {name!r} is {real_default!r}, documented {doc_default!r}"
