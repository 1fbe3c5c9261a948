"""Claims as data: `Claim` (what a paper says and how we check it), `Evidence` (what a run found),
`Context` (how a claim is run), a `Registry`, and the verdict helpers `compare` / `within_ci`.

A claim module registers its claims with the `claim(...)` decorator on the module-level
`REGISTRY` (see `verify/catalog.py`); `run(ctx) -> Evidence` must be a module-level function so
that `--jobs N` can ship it to worker processes (docs/design.md, "verify/").

Numbers in `Evidence.predicted` / `Evidence.measured` map a name to a plain number (or string)
or to `{"value": v, "ci_low": lo, "ci_high": hi}` (see `value()`).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

VERDICTS = ("holds", "fails", "inconclusive", "error")
TAGS = ("synthetic", "gpu", "slow")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _plain(x):
    """numpy / torch scalars and arrays, tuples, Paths -> JSON-ready Python objects."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        return _plain(x.tolist())
    if isinstance(x, bool) or x is None or isinstance(x, (str, int)):
        return x
    if isinstance(x, float):
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def value(v, ci_low=None, ci_high=None) -> dict:
    """A number with an optional confidence interval: {'value', 'ci_low', 'ci_high'}."""
    if (ci_low is None) != (ci_high is None):
        raise ValueError("value: give both ci_low and ci_high or neither")
    if ci_low is not None and float(ci_low) > float(ci_high):
        raise ValueError(f"value: ci_low ({ci_low}) must not exceed ci_high ({ci_high})")
    out = {"value": _plain(v)}
    if ci_low is not None:
        out["ci_low"], out["ci_high"] = _plain(ci_low), _plain(ci_high)
    return out


def ci_text(x: dict, spec: str = ".3g") -> str:
    """'v [lo, hi]' of a `value()` dict, each number formatted with `spec` (as in f'{v:spec}')."""
    return f"{x['value']:{spec}} [{x['ci_low']:{spec}}, {x['ci_high']:{spec}}]"


def side(verdict: str, holds: str, fails: str, neither: str = "not significantly different") -> str:
    """The word a finding uses for a directional verdict: `holds` / `fails` / `neither`."""
    return {"holds": holds, "fails": fails}.get(verdict, neither)


def point(x) -> float:
    """The point value of a number or of a `value()` dict."""
    return float(x["value"] if isinstance(x, dict) else x)


def interval(x) -> tuple[float, float] | None:
    """(ci_low, ci_high) of a `value()` dict, None when it carries no interval."""
    if isinstance(x, dict) and "ci_low" in x and "ci_high" in x:
        return float(x["ci_low"]), float(x["ci_high"])
    return None


@dataclass
class Evidence:
    """What one run of a claim found. `verdict` in VERDICTS ('error' is set by the runner, with
    the message and traceback in `error`); `recorded` marks evidence read from results/ (GPU
    claims run without CUDA) with `source` = {machine, date, command}; `figures` are paths
    relative to the run folder; `elapsed` in seconds.

    For the reader: `headline` names the one or two keys of predicted/measured that decide the
    verdict; `finding` is one sentence computed from the evidence (never a fixed conclusion);
    `reported` holds numbers shown but not judged; `data` the experiment data the claim's figure
    is drawn from (JSON-ready; figures never re-run an experiment); `control` is the name of the
    negative control this evidence was produced under ('' for the real run)."""
    verdict: str
    predicted: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)
    notes: str = ""
    regime: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    elapsed: float = 0.0
    recorded: bool = False
    source: dict = field(default_factory=dict)
    error: str = ""
    headline: list = field(default_factory=list)
    finding: str = ""
    reported: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    control: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"Evidence verdict must be one of {VERDICTS}, got {self.verdict!r}")
        for name in ("predicted", "measured", "regime", "source", "reported", "data"):
            d = getattr(self, name)
            if not isinstance(d, dict):
                raise ValueError(f"Evidence {name} must be a dict, got {type(d).__name__}")  # noqa: TRY004
            setattr(self, name, _plain(d))
        self.figures = [str(f) for f in self.figures]
        self.elapsed = float(self.elapsed)
        self.notes = str(self.notes)
        self.finding = str(self.finding)
        self.control = str(self.control or "")
        self.headline = [str(h) for h in self.headline]
        known = set(self.predicted) | set(self.measured) | set(self.reported)
        bad = [h for h in self.headline if h not in known]
        if bad:
            raise ValueError(f"Evidence headline names {bad} that are in neither predicted, "
                             "measured nor reported")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Evidence:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> Evidence:
        return cls.from_dict(json.loads(s))


def _no_progress(frac: float, msg: str = "") -> None:
    pass


@dataclass
class Context:
    """How a claim is run: `quick` (small sizes, seconds) or full, base `seed`, `device`
    ('cpu' / 'cuda'), `out_dir` (where the claim writes its figures; inside the run folder),
    `progress(frac in [0,1], message)`, `control` (None for the real run, else the name of
    the negative control to apply: see `Claim.controls` and `sabotaged`)."""
    quick: bool = True
    seed: int = 0
    device: str = "cpu"
    out_dir: Path = field(default_factory=lambda: Path("."))
    progress: Callable = _no_progress
    control: str | None = None

    def sabotaged(self, name: str) -> bool:
        """True when this run is the negative control `name` (the claim then builds its
        sabotaged world: a broken algorithm, a perturbed prediction, a reversed premise)."""
        return self.control == name

    def figure(self, stem: str) -> Path:
        """Path for a figure file `stem` (e.g. 'gap.png') inside out_dir (created)."""
        Path(self.out_dir).mkdir(parents=True, exist_ok=True)
        return Path(self.out_dir) / stem


@dataclass(frozen=True)
class Claim:
    """A paper's claim and how it is checked. `tolerance` is a number or a short text;
    `tolerance_reason` says why that tolerance; `tags` from TAGS; `controls` maps the name of
    each negative control to what it sabotages (a world in which the statement is false; the
    claim's run applies it when `ctx.sabotaged(name)`, through public interfaces only, never in
    the judging code)."""
    id: str
    paper: str
    statement: str
    predicted: str
    measured: str
    tolerance: float | str
    tolerance_reason: str
    run: Callable = field(repr=False, compare=False)
    tags: tuple = ()
    controls: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if not self.id or any(c.isspace() for c in self.id):
            raise ValueError(f"Claim id must be a non-empty string without spaces, got {self.id!r}")
        for name in ("paper", "statement", "predicted", "measured", "tolerance_reason"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"Claim {self.id!r}: {name} must not be empty")
        if not callable(self.run):
            raise ValueError(f"Claim {self.id!r}: run must be callable (ctx -> Evidence)")  # noqa: TRY004
        tags = tuple(self.tags)
        bad = [t for t in tags if t not in TAGS]
        if bad:
            raise ValueError(f"Claim {self.id!r}: unknown tags {bad}; choose from {TAGS}")
        object.__setattr__(self, "tags", tags)
        if not isinstance(self.controls, dict) or not all(
                isinstance(k, str) and k and isinstance(v, str) and v.strip() for k, v in self.controls.items()):
            raise ValueError(f"Claim {self.id!r}: controls must map a control name to a description")

    def meta(self) -> dict:
        """Everything but `run`, JSON-ready."""
        return {"id": self.id, "paper": self.paper, "statement": self.statement,
                "predicted": self.predicted, "measured": self.measured,
                "tolerance": _plain(self.tolerance), "tolerance_reason": self.tolerance_reason,
                "tags": list(self.tags), "controls": dict(self.controls)}


class Registry:
    """Ordered id -> Claim map. `select(patterns)`: ids equal to or starting with a pattern."""

    def __init__(self, claims=()):
        self._claims: dict[str, Claim] = {}
        for c in claims:
            self.add(c)

    def add(self, c: Claim) -> Claim:
        if c.id in self._claims and self._claims[c.id] is not c:
            old = self._claims[c.id]
            if getattr(old.run, "__qualname__", None) != getattr(c.run, "__qualname__", "") or \
                    getattr(old.run, "__module__", None) != getattr(c.run, "__module__", ""):
                raise ValueError(f"claim id {c.id!r} is already registered")
        self._claims[c.id] = c
        return c

    def claim(self, cid: str | None = None, /, **meta) -> Callable:
        """Decorator on `def run(ctx) -> Evidence`: `@REGISTRY.claim("prefix.name")` takes the
        claim's text (paper, statement, predicted, measured, tolerance, tags, controls) from its
        card in verify/cards/*.toml (`card`); `@REGISTRY.claim(id=..., paper=..., ...)` gives it
        inline. Returns the function unchanged (so it stays picklable by reference)."""
        if cid is not None:
            if meta:
                raise ValueError(f"claim {cid!r}: give the id alone (text from its card) or every field inline")
            meta = card(cid)

        def deco(fn):
            self.add(Claim(run=fn, **meta))
            return fn
        return deco

    def ids(self) -> list[str]:
        return list(self._claims)

    def _hint(self, name) -> str:
        from landscapes.registry import did_you_mean
        return did_you_mean(str(name), self.ids())

    def __getitem__(self, cid: str) -> Claim:
        if cid not in self._claims:
            raise ValueError(f"unknown claim id {cid!r}{self._hint(cid)}; known ids: "
                             f"{', '.join(self.ids()) or '(none)'}")
        return self._claims[cid]

    def __contains__(self, cid) -> bool:
        return cid in self._claims

    def __iter__(self):
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)

    def select(self, patterns=None) -> list[Claim]:
        """All claims for no pattern; else those whose id equals or starts with a pattern,
        in registry order. A pattern matching nothing -> ValueError listing the ids."""
        if not patterns:
            return list(self)
        for p in patterns:
            if not any(cid == p or cid.startswith(p) for cid in self._claims):
                raise ValueError(f"unknown claim id or prefix {p!r}{self._hint(p)}; known ids: "
                                 f"{', '.join(self.ids()) or '(none)'}")
        return [c for c in self if any(c.id == p or c.id.startswith(p) for p in patterns)]


CARDS = Path(__file__).resolve().parent / "cards"
_CARDS: dict[str, dict] = {}


def cards() -> dict[str, dict]:
    """Every claim card: id -> {id, paper, statement, predicted, measured, tolerance,
    tolerance_reason, tags, controls}, read once from verify/cards/*.toml (one file per claim
    module, one table per claim, keyed by the claim id)."""
    if not _CARDS:
        import tomllib
        for path in sorted(CARDS.glob("*.toml")):
            for cid, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
                if cid in _CARDS:
                    raise ValueError(f"claim card {cid!r} appears twice (second time in {path.name})")
                _CARDS[cid] = {"id": cid, **table, "tags": tuple(table.get("tags", ()))}
    return _CARDS


def card(cid: str) -> dict:
    """The card of claim `cid` (ValueError naming the id when verify/cards/ has none)."""
    all_cards = cards()
    if cid not in all_cards:
        raise ValueError(f"claim {cid!r} has no card in verify/cards/*.toml")
    return dict(all_cards[cid])


REGISTRY = Registry()
claim = REGISTRY.claim


# ---------------------------------------------------------------- verdict helpers

def within_ci(x, ci_low=None, ci_high=None, tol: float = 0.0) -> bool:
    """Is the number x inside [ci_low - tol, ci_high + tol]? `ci_low` may instead be a
    `value()` dict carrying the interval: within_ci(predicted, measured_dict)."""
    if isinstance(ci_low, dict):
        iv = interval(ci_low)
        if iv is None:
            raise ValueError("within_ci: the measured dict carries no ci_low/ci_high")
        ci_low, ci_high = iv
    if ci_low is None or ci_high is None:
        raise ValueError("within_ci: ci_low and ci_high are required")
    if tol < 0:
        raise ValueError(f"within_ci: tol must be >= 0, got {tol}")
    x = point(x)
    return float(ci_low) - tol <= x <= float(ci_high) + tol


def compare(predicted, measured, tol: float, kind: str = "abs") -> str:
    """Verdict of a prediction against a measurement.

    'abs': holds iff |m - p| <= tol; 'rel': holds iff |m - p| <= tol |p|.
    'ci' (measured carries a confidence interval [lo, hi]; tol absolute): an equivalence test
    against the band [p - tol, p + tol]: holds when the whole CI lies in the band, fails when
    the CI misses the band, inconclusive when the CI straddles a band edge (too wide to decide).
    A NaN prediction or measurement is inconclusive.
    """
    if kind not in ("abs", "rel", "ci"):
        raise ValueError(f"compare: kind must be 'abs', 'rel' or 'ci', got {kind!r}")
    tol = float(tol)
    if not tol >= 0:
        raise ValueError(f"compare: tol must be >= 0, got {tol}")
    p, m = point(predicted), point(measured)
    if math.isnan(p) or math.isnan(m):
        return "inconclusive"
    if kind == "ci":
        iv = interval(measured)
        if iv is None:
            raise ValueError("compare(kind='ci'): measured must be a value() dict with ci_low/ci_high")
        lo, hi = iv
        if p - tol <= lo and hi <= p + tol:
            return "holds"
        if hi < p - tol or lo > p + tol:
            return "fails"
        return "inconclusive"
    if math.isinf(p) or math.isinf(m):
        return "holds" if p == m else "fails"
    bound = tol if kind == "abs" else tol * abs(p)
    return "holds" if abs(m - p) <= bound else "fails"


def combine(verdicts) -> str:
    """Overall verdict of several checks: any 'error' > any 'fails' > any 'inconclusive' > 'holds'."""
    vs = list(verdicts)
    if not vs:
        raise ValueError("combine: no verdicts given")
    for v in ("error", "fails", "inconclusive"):
        if v in vs:
            return v
    bad = [v for v in vs if v not in VERDICTS]
    if bad:
        raise ValueError(f"combine: unknown verdicts {bad}")
    return "holds"


def results_root() -> Path:
    return Path(os.environ.get("DECENTLAB_RESULTS", REPO_ROOT / "results"))


def load_recorded(path_under_results: str | Path, root: str | Path | None = None) -> Evidence:
    """Evidence recorded on another machine (GPU runs): reads results/<path>/evidence.json (or
    the .json file named), returns it with recorded=True and source = {machine, date, command}
    (from the file's 'source' dict or its top-level keys). A missing file gives an
    'inconclusive' Evidence saying so (nothing recorded yet) rather than an error."""
    base = Path(root) if root is not None else results_root()
    p = base / Path(path_under_results)
    if p.suffix != ".json":
        p = p / "evidence.json"
    if not p.is_file():
        return Evidence("inconclusive", notes=f"no recorded evidence at {p}; run the claim on a "
                        "CUDA machine (--device cuda) and copy its evidence.json there")
    d = json.loads(p.read_text())
    src = dict(d.get("source") or {})
    for k in ("machine", "date", "command"):
        if k in d and k not in src:
            src[k] = d[k]
    missing = [k for k in ("machine", "date", "command") if k not in src]
    if missing:
        raise ValueError(f"recorded evidence {p} lacks source fields {missing}")
    d = {k: v for k, v in d.items() if k not in ("machine", "date", "command")}
    d["source"], d["recorded"] = src, True
    d["source"]["path"] = str(p)
    return Evidence.from_dict(d)


@contextlib.contextmanager
def one_thread():
    """One torch intra-op thread inside (restored after). Claims and figures work on small
    tensors (10^3-10^5 numbers per op), where intra-op threads on a 2-core machine cost far more
    than they save (measured ~10x slower elementwise ops under load); dynamics.threads.using(1)."""
    from dynamics.threads import using

    with using(1):
        yield
