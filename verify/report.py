"""Reports of a run folder, built from its claims.json (+ config.json, env.json): the console
table, report.md and report.html (static, relative <img> links).

Layout of both files: per-paper verdict counts; a summary grouped by paper (verdict badge, claim,
finding, decisive quantity, time); then one section per claim: the verdict and the reason right
under it, the statement, predicted and measured side by side (name | predicted | measured |
within tolerance), the numbers reported but not judged, the negative controls declared, and the
claim's figures. A quick run's verdicts are marked provisional, with the verdict recorded by the
full run (results/verify-full/claims.json) beside each and disagreements flagged.

Figures drawn by `python -m paper_figs all --from RUN_DIR` are passed in as
`write_reports(run_dir, figures={claim id: [{"path": ..., "name": ..., "caption": ...}]})`
(verify never imports paper_figs: paper_figs reads claims.json and calls back here)."""
from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
from pathlib import Path

from dynamics.runfolder import write_text

from .claims import Evidence, point, results_root

VERDICT_ORDER = ("holds", "fails", "inconclusive", "error", "not run")
COLLAPSE_ROWS = 8  # tables longer than this are folded (<details>)
SUMMARY_CHARS = 300  # a finding longer than this is cut in the summary (shown whole in its section)

# Short names of the papers the claims come from, keyed by the first author's surname (the
# first word of a claim's `paper`); a paper not listed is shown under its own first words.
PAPERS = {
    "cao": "Cao, Wu, Yuan, Sayed — Flatness vs optimisation in decentralised learning "
           "(arXiv 2406.20006)",
    "zhu": "Zhu et al. — Decentralized SGD and average-direction SAM are asymptotically "
           "equivalent (ICML 2023, arXiv 2306.02913)",
    "teng": "Teng et al. — Leader Stochastic Gradient Descent (NeurIPS 2019, arXiv 1905.10395)",
    "zhang": "Zhang, Choromanska, LeCun — Deep learning with elastic averaging SGD "
             "(NeurIPS 2015, arXiv 1412.6651)",
    "takezawa": "Takezawa, Bao, Niwa, Sato, Yamada — Momentum Tracking (TMLR 2023)",
    "theory": "Derived in docs/theory.md (graph spectra and exact averaging: §8; Ying et al., "
              "NeurIPS 2021)",
}


# ---------------------------------------------------------------- numbers and words

def fmt_number(x) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    return f"{x:.4g}"  # 0.001375, 1.665e-15, 1e-09, 2.5e+05


def fmt_value(v) -> str:
    """'v' or 'v [lo, hi]' for a value() dict; lists shortened."""
    if isinstance(v, dict) and "value" in v:
        s = fmt_value(v["value"])
        if "ci_low" in v:
            s += f" [{fmt_number(v['ci_low'])}, {fmt_number(v['ci_high'])}]"
        return s
    if isinstance(v, list):
        inner = ", ".join(fmt_value(u) for u in v[:4])
        return f"[{inner}{', …' if len(v) > 4 else ''}]"
    return fmt_number(v)


def summarize(d: dict, limit: int = 2) -> str:
    """'name=value; name=value (+n more)'."""
    items = list(d.items())
    s = "; ".join(f"{k}={fmt_value(v)}" for k, v in items[:limit])
    return s + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def cut(s: str, width: int) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= width else s[:max(width - 1, 0)] + "…"


def paper_key(paper: str) -> str:
    """Grouping key of a claim's citation: the first author's surname, lower case ('theory' for
    results derived in the project's theory notes)."""
    m = re.match(r"\s*([A-Za-z][A-Za-z\-]*)", str(paper))
    word = m.group(1).lower() if m else ""
    return "theory" if word in ("theory", "docs", "") else word


def paper_label(key: str, example: str) -> str:
    return PAPERS.get(key, cut(example, 120))


def groups(metas: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """[(key, label, metas)] in order of first appearance."""
    out: dict[str, list[dict]] = {}
    for m in metas:
        out.setdefault(paper_key(m["paper"]), []).append(m)
    return [(k, paper_label(k, ms[0]["paper"]), ms) for k, ms in out.items()]


def verdict_of(ev: Evidence | None) -> str:
    return "not run" if ev is None else ev.verdict


def verdict_text(ev: Evidence | None) -> str:
    if ev is None:
        return "not run"
    return ev.verdict + (" (recorded)" if ev.recorded else "")


def counts(evidence: dict[str, Evidence], metas: list[dict] | None = None) -> dict[str, int]:
    """verdict -> number of claims ('not run' for metas without evidence)."""
    out: dict[str, int] = {}
    ids = [m["id"] for m in metas] if metas is not None else list(evidence)
    for cid in ids:
        v = verdict_of(evidence.get(cid))
        out[v] = out.get(v, 0) + 1
    return out


def counts_text(c: dict[str, int]) -> str:
    order = [v for v in VERDICT_ORDER if v in c] + sorted(v for v in c if v not in VERDICT_ORDER)
    return ", ".join(f"{c[v]} {v}" for v in order) or "none"


def reason(ev: Evidence | None) -> str:
    """Why the verdict: the computed finding; else the notes; else the error's first line."""
    if ev is None:
        return "not run"
    if ev.finding:
        return ev.finding
    if ev.notes:
        return ev.notes
    if ev.error:
        return ev.error.strip().splitlines()[-1]
    return ""


def tolerance_text(meta: dict) -> str:
    t = meta.get("tolerance")
    return fmt_number(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else str(t)


def headline_keys(ev: Evidence) -> list[str]:
    """The decisive keys: ev.headline; for older evidence the first key predicted and measured
    share, else the first predicted and the first measured key."""
    if ev.headline:
        return list(ev.headline)
    common = [k for k in ev.predicted if k in ev.measured]
    if common:
        return common[:1]
    return [k for k in (next(iter(ev.predicted), None), next(iter(ev.measured), None)) if k]


def decisive(meta: dict, ev: Evidence | None, tol_width: int = 60) -> list[str]:
    """One line per decisive quantity: 'name: predicted P vs measured M (tolerance T)'."""
    if ev is None:
        return []
    out = []
    for k in headline_keys(ev)[:2]:
        parts = []
        if k in ev.predicted:
            parts.append(f"predicted {fmt_value(ev.predicted[k])}")
        if k in ev.measured:
            parts.append(f"measured {fmt_value(ev.measured[k])}")
        if k in ev.reported and not parts:
            parts.append(f"reported {fmt_value(ev.reported[k])}")
        out.append(f"{k}: {' vs '.join(parts)}")
    if out:
        out[-1] += f" (tolerance {cut(tolerance_text(meta), tol_width)})"
    return out


def within(meta: dict, p, m) -> str:
    """'yes' / 'no' when the claim's tolerance is a number and both sides are numbers (|m − p| ≤
    tol, or the measured interval widened by tol contains p); '' otherwise (the verdict is the
    claim's own rule; this column only reads the pair against a numeric tolerance)."""
    tol = meta.get("tolerance")
    if not isinstance(tol, (int, float)) or isinstance(tol, bool):
        return ""
    try:
        pv, mv = point(p), point(m)
    except (TypeError, ValueError, KeyError):
        return ""
    if math.isnan(pv) or math.isnan(mv):
        return ""
    if isinstance(m, dict) and "ci_low" in m:
        ok = float(m["ci_low"]) - tol <= pv <= float(m["ci_high"]) + tol
    else:
        ok = abs(mv - pv) <= tol or (math.isinf(pv) and pv == mv)
    return "yes" if ok else "no"


def side_by_side(meta: dict, ev: Evidence) -> list[list[str]]:
    """[name, predicted, measured, within tolerance] over the keys of both, headline keys first,
    then shared keys, then predicted-only, then measured-only."""
    head = [k for k in ev.headline if k in ev.predicted or k in ev.measured]
    shared = [k for k in ev.predicted if k in ev.measured]
    keys = list(dict.fromkeys(head + shared + list(ev.predicted) + list(ev.measured)))
    rows = []
    for k in keys:
        p, m = ev.predicted.get(k), ev.measured.get(k)
        rows.append([k, "" if p is None else fmt_value(p), "" if m is None else fmt_value(m),
                     within(meta, p, m) if p is not None and m is not None else ""])
    return rows


# ---------------------------------------------------------------- quick vs full

def full_run_path() -> Path:
    return results_root() / "verify-full" / "claims.json"


def load_full(path: str | Path | None = None) -> dict[str, str]:
    """claim id -> verdict recorded by the full run ({} when there is none)."""
    p = Path(path) if path is not None else full_run_path()
    if not p.is_file():
        return {}
    try:
        doc = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {c["id"]: c["evidence"]["verdict"] for c in doc.get("claims", [])
            if isinstance(c.get("evidence"), dict) and "verdict" in c["evidence"]}


def _full_for(run_dir: Path, config: dict, full) -> dict[str, str]:
    """The full run's verdicts when this run is quick (and is not that full run itself)."""
    if not config.get("quick", True):
        return {}
    p = Path(full) if full is not None else full_run_path()
    try:
        if p.parent.resolve() == Path(run_dir).resolve():
            return {}
    except OSError:
        return {}
    return load_full(p)


def full_note(cid: str, ev: Evidence | None, full: dict[str, str]) -> str:
    """'full: holds' / 'full: fails ≠' (disagreement) / '' when no full verdict is recorded."""
    if cid not in full:
        return ""
    differs = ev is not None and ev.verdict != full[cid]
    return f"full: {full[cid]}" + (" ≠ quick" if differs else "")


# ---------------------------------------------------------------- console

def _terminal_width(width: int | None) -> int:
    if width is not None:
        return width
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size((120, 24)).columns


def table(metas: list[dict], evidence: dict[str, Evidence], width: int | None = None,
          full: dict[str, str] | None = None) -> str:
    """Plain-text table for the console: claim | verdict | time | finding, each line cut to the
    terminal width (`width`, else $COLUMNS, else the terminal's), then the verdict counts."""
    width = max(_terminal_width(width), 40)
    full = full or {}
    body = []
    for m in metas:
        ev = evidence.get(m["id"])
        v = verdict_text(ev)
        note = full_note(m["id"], ev, full)
        if note:
            v += f" ({note})"
        body.append([m["id"], v, f"{ev.elapsed:.1f}s" if ev else "", reason(ev) if ev else ""])
    head = ["claim", "verdict", "time", "finding"]
    rows = [head] + body
    w_claim = min(max(len(r[0]) for r in rows), max(width // 3, 12))
    w_verd = min(max(len(r[1]) for r in rows), 34)
    w_time = max(len(r[2]) for r in rows)
    w_rest = max(width - w_claim - w_verd - w_time - 6, 0)

    def line(r):
        cells = [cut(r[0], w_claim).ljust(w_claim), cut(r[1], w_verd).ljust(w_verd),
                 r[2].rjust(w_time), cut(r[3], w_rest)]
        return "  ".join(cells).rstrip()[:width]
    out = [line(head), "-" * min(width, w_claim + w_verd + w_time + w_rest + 6)]
    out += [line(r) for r in body]
    out.append(cut(f"verdicts: {counts_text(counts(evidence, metas))}", width))
    return "\n".join(out)


# ---------------------------------------------------------------- loading

def _load(run_dir: Path):
    from .runner import load_claims_json
    metas, evidence = load_claims_json(run_dir)
    read = lambda n: json.loads((run_dir / n).read_text()) if (run_dir / n).is_file() else {}
    return metas, evidence, read("config.json"), read("env.json")


def _recorded_line(ev: Evidence) -> str:
    s = ev.source
    return (f"Recorded evidence (not run here: no CUDA): machine {s.get('machine')}, "
            f"date {s.get('date')}, command `{s.get('command')}`")


def _figure_entries(cid: str, ev: Evidence | None, figures: dict | None) -> list[dict]:
    """The claim's own figures (ev.figures) and those paper_figs drew for it, as
    {'path', 'caption'} with paths relative to the run folder."""
    out = [{"path": f, "caption": ""} for f in (ev.figures if ev else []) if str(f).endswith(".png")]
    for f in (figures or {}).get(cid, []):
        out.append({"path": str(f), "caption": ""} if isinstance(f, (str, Path)) else dict(f))
    return out


def _caption(cid: str, entry: dict, evidence: dict[str, Evidence], metas: list[dict]) -> str:
    """'<caption> — <claim>: <verdict>' (every claim the figure is drawn for)."""
    claims = entry.get("claims") or ([cid] if cid else [])
    known = {m["id"] for m in metas}
    verdicts = "; ".join(f"{c}: {verdict_text(evidence.get(c))}" for c in claims if c in known)
    text = entry.get("caption") or entry.get("name") or Path(entry["path"]).stem
    return f"{text} — {verdicts}" if verdicts else text


# ---------------------------------------------------------------- markdown

def summary_groups(metas: list[dict], evidence: dict[str, Evidence]):
    """(paper label, rows) per paper, a row (meta, evidence, finding cut to SUMMARY_CHARS,
    decisive quantities, time) per claim: the summary table, which markdown and HTML only format."""
    for _, label, ms in groups(metas):
        yield label, [(m, evidence.get(m["id"]), cut(reason(evidence.get(m["id"])), SUMMARY_CHARS),
                       decisive(m, evidence.get(m["id"])),
                       f"{evidence[m['id']].elapsed:.1f}s" if evidence.get(m["id"]) else "") for m in ms]


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]], what: str, keep: int = 0) -> list[str]:
    if not rows:
        return []
    tab = lambda rs: (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                      + ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rs])
    if len(rows) <= COLLAPSE_ROWS:
        return tab(rows) + [""]
    if keep:
        return tab(rows[:keep]) + ["", f"<details><summary>{what}: {len(rows) - keep} more rows "
                                   f"({len(rows)} in all)</summary>", ""] + tab(rows[keep:]) + ["", "</details>", ""]
    return [f"<details><summary>{what}: {len(rows)} rows</summary>", ""] + tab(rows) + ["", "</details>", ""]


def _mode_line(config, env) -> list[str]:
    mode = "quick" if config.get("quick", True) else "full"
    return [f"- mode: {mode}, seed {config.get('seed')}, device {config.get('device')}",
            (f"- git revision: {env.get('git_revision')}, host {env.get('hostname')}, "
             f"python {env.get('python')}, torch {env.get('torch')}, numpy {env.get('numpy')}"
             + (f", CPU {env['cpu_model']} ({env.get('cpu_capability')})" if env.get("cpu_model") else ""))]


def _verdict_cell(cid, ev, full, quick: bool) -> str:
    v = verdict_text(ev)
    if quick and ev is not None:
        v += " (provisional)"
    note = full_note(cid, ev, full)
    return f"{v}; {note}" if note else v


def markdown(run_dir: Path, metas, evidence, config, env, interrupted=False, figures=None,
             full: dict[str, str] | None = None) -> str:
    full = full or {}
    quick = bool(config.get("quick", True))
    lines = ["# decentlab verify report", ""]
    if interrupted:
        lines += [("**Interrupted: partial report** (claims not run are marked 'not run'; "
                   f"continue with `python -m verify --resume {run_dir}`)."), ""]
    lines += _mode_line(config, env)
    lines += [f"- verdicts: {counts_text(counts(evidence, metas))}"]
    if quick:
        lines.append("- quick run: verdicts are provisional (small sizes)"
                     + ("; the full run's recorded verdict is shown beside each" if full else ""))
    lines += ["", "| paper | " + " | ".join(VERDICT_ORDER) + " |", "|---|" + "---|" * len(VERDICT_ORDER)]
    for _, label, ms in groups(metas):
        c = counts(evidence, ms)
        lines.append(f"| {_md_cell(label)} | " + " | ".join(str(c.get(v, 0)) for v in VERDICT_ORDER) + " |")
    lines.append("")
    for label, rows in summary_groups(metas, evidence):
        lines += [f"### {label}", "", "| verdict | claim | finding | decisive quantity | time |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_md_cell(_verdict_cell(m['id'], ev, full, quick))} | "
                  f"[{m['id']}](#{m['id'].replace('.', '').lower()}) | {_md_cell(finding)} | "
                  f"{_md_cell('; '.join(dec))} | {took} |" for m, ev, finding, dec, took in rows] + [""]
    for m in metas:
        ev = evidence.get(m["id"])
        lines += [f"## {m['id']}", "", f"**Verdict: {_verdict_cell(m['id'], ev, full, quick)}** — "
                  f"{reason(ev)}", "", f"*{m['paper']}*", "", f"> {m['statement']}", "",
                  f"- **Predicted:** {m['predicted']}", f"- **Measured:** {m['measured']}",
                  f"- **Tolerance:** {m['tolerance']} — {m['tolerance_reason']}",
                  f"- **Tags:** {', '.join(m.get('tags', [])) or '—'}"]
        ctrls = m.get("controls") or {}
        lines.append("- **Controls declared:** " + ("; ".join(f"`{k}`: {v}" for k, v in ctrls.items())
                                                   if ctrls else "none"))
        lines.append("")
        if ev is None:
            continue
        if ev.control:
            lines += [f"Produced under the negative control `{ev.control}`.", ""]
        if ev.recorded:
            lines += [_recorded_line(ev), ""]
        lines += _md_table(["name", "predicted", "measured", "within tolerance"],
                           side_by_side(m, ev), "predicted and measured",
                           keep=len(headline_keys(ev)[:COLLAPSE_ROWS]) or 1)
        if ev.reported:
            lines += ["**Reported, not judged**", ""]
            lines += _md_table(["name", "value"], [[k, fmt_value(v)] for k, v in ev.reported.items()],
                               "reported")
        if ev.regime:
            lines += ["**Regime**", ""]
            lines += _md_table(["name", "value"], [[k, fmt_value(v)] for k, v in ev.regime.items()], "regime")
        if ev.notes and ev.notes != reason(ev):
            lines += [f"Notes: {ev.notes}", ""]
        for f in _figure_entries(m["id"], ev, figures):
            cap = _caption(m["id"], f, evidence, metas)
            lines += [f"![{m['id']}]({f['path']})", "", f"*{cap}*", ""]
        if ev.error:
            lines += ["```", ev.error.rstrip(), "```", ""]
        lines += [f"Time: {ev.elapsed:.2f} s", ""]
    other = (figures or {}).get("", [])
    if other:
        lines += ["## Figures not tied to a claim", ""]
        for f in other:
            lines += [f"![{f.get('name', '')}]({f['path']})", "", f"*{_caption('', f, evidence, metas)}*", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- html

# the style sheet lives in verify/report.css; the report inlines it on one line (self-contained html)
_CSS = " ".join((Path(__file__).resolve().parent / "report.css").read_text(encoding="utf-8")
                .split("*/", 1)[1].split())


def _breakable(name: str) -> str:
    """Escaped, with line-break opportunities after '.', '_' and '/'."""
    return re.sub(r"([._/])", r"\1<wbr>", html.escape(name))


def _badge(v: str) -> str:
    return f"<span class='badge {v.replace(' ', '-')}'>{html.escape(v)}</span>"


def _html_table(head: list[str], rows: list[list[str]], what: str, cls: str = "", keep: int = 0) -> str:
    """A table; longer than COLLAPSE_ROWS: the first `keep` rows shown, the rest (or all, for
    keep = 0) folded in <details>."""
    if not rows:
        return ""
    e = html.escape

    def tab(rs):
        body = []
        for r in rs:
            cells = []
            for i, c in enumerate(r):
                k = f" class='{c}'" if cls == "pm" and i == 3 and c in ("yes", "no") else ""
                cells.append(f"<td{k}>{e(str(c))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return (f"<table class='{cls}'><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                + "".join(body) + "</table>")
    if len(rows) <= COLLAPSE_ROWS:
        return tab(rows)
    if keep:
        return (tab(rows[:keep]) + f"<details><summary>{e(what)}: {len(rows) - keep} more rows "
                f"({len(rows)} in all)</summary>{tab(rows[keep:])}</details>")
    return f"<details><summary>{e(what)}: {len(rows)} rows</summary>{tab(rows)}</details>"


def _html_verdict(cid, ev, full, quick: bool) -> str:
    v = verdict_of(ev)
    s = _badge(v)
    if ev is not None and ev.recorded:
        s += " <span class='prov'>recorded</span>"
    if quick and ev is not None:
        s += " <span class='prov'>quick · provisional</span>"
    if cid in full:
        differs = ev is not None and ev.verdict != full[cid]
        s += (f"<br><span class='full{' differs' if differs else ''}'>full run: {html.escape(full[cid])}"
              f"{' ≠ quick' if differs else ''}</span>")
    return s


def to_html(run_dir: Path, metas, evidence, config, env, interrupted=False, figures=None,
            full: dict[str, str] | None = None) -> str:
    e = lambda s: html.escape(str(s))
    full = full or {}
    quick = bool(config.get("quick", True))
    mode = "quick" if quick else "full"
    out = [(f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>decentlab verify report</title><style>{_CSS}</style></head><body>"
            f"<h1>decentlab verify report</h1>")]
    if interrupted:
        out.append("<p><b>Interrupted: partial report.</b> Claims not run are marked 'not run'; "
                   f"continue with <code>python -m verify --resume {e(run_dir)}</code>.</p>")
    out.append(f"<ul class='meta'><li>mode: {mode}, seed {e(config.get('seed'))}, device "
               f"{e(config.get('device'))}</li><li>git revision: {e(env.get('git_revision'))}, host "
               f"{e(env.get('hostname'))}, python {e(env.get('python'))}, torch {e(env.get('torch'))}"
               + (f", CPU {e(env['cpu_model'])} ({e(env.get('cpu_capability'))})" if env.get("cpu_model") else "")
               + "</li>"
               f"<li>verdicts: {e(counts_text(counts(evidence, metas)))}</li>")
    if quick:
        out.append("<li>quick run: verdicts are provisional (small sizes)"
                   + ("; the full run's recorded verdict is shown beside each, "
                      "<span class='differs'>≠</span> where they disagree" if full else "") + "</li>")
    out.append("</ul>")
    out.append("<table class='counts'><tr><th>paper</th>" + "".join(f"<th>{_badge(v)}</th>" for v in VERDICT_ORDER)
               + "</tr>")
    for _, label, ms in groups(metas):
        c = counts(evidence, ms)
        out.append(f"<tr><td>{e(label)}</td>" + "".join(f"<td class='n'>{c.get(v, 0) or ''}</td>"
                                                      for v in VERDICT_ORDER) + "</tr>")
    out.append("</table>")
    out.append("<table class='summary'><colgroup><col class='v'><col class='c'><col class='f'>"
               "<col class='d'><col class='t'></colgroup><tr><th>verdict</th><th>claim</th><th>finding</th>"
               "<th>decisive quantity (predicted vs measured, tolerance)</th><th>time</th></tr>")
    for label, rows in summary_groups(metas, evidence):
        out.append(f"<tr class='paper'><td colspan='5'>{e(label)}</td></tr>")
        out += [f"<tr><td>{_html_verdict(m['id'], ev, full, quick)}</td>"
                f"<td><a href='#{e(m['id'])}'>{_breakable(m['id'])}</a></td><td>{e(finding)}</td>"
                f"<td>{'<br>'.join(e(x) for x in dec)}</td><td>{took}</td></tr>" for m, ev, finding, dec, took in rows]
    out.append("</table>")
    for m in metas:
        ev = evidence.get(m["id"])
        v = verdict_of(ev)
        out.append(f"<h2 id='{e(m['id'])}'>{e(m['id'])}</h2>"
                   f"<div class='reason {v.replace(' ', '-')}-b'><div>{_html_verdict(m['id'], ev, full, quick)}"
                   f"</div><div>{e(reason(ev))}</div></div>"
                   f"<p><i>{e(m['paper'])}</i></p><blockquote>{e(m['statement'])}</blockquote>"
                   f"<ul class='meta'><li><b>Predicted:</b> {e(m['predicted'])}</li>"
                   f"<li><b>Measured:</b> {e(m['measured'])}</li>"
                   f"<li><b>Tolerance:</b> {e(m['tolerance'])} — {e(m['tolerance_reason'])}</li>"
                   f"<li><b>Tags:</b> {e(', '.join(m.get('tags', [])) or '—')}</li>")
        ctrls = m.get("controls") or {}
        out.append("<li><b>Controls declared:</b> " + ("; ".join(f"<code>{e(k)}</code>: {e(d)}" for k, d in ctrls.items())
                                                     if ctrls else "none") + "</li></ul>")
        if ev is None:
            continue
        if ev.control:
            out.append(f"<p>Produced under the negative control <code>{e(ev.control)}</code>.</p>")
        if ev.recorded:
            out.append(f"<p>{e(_recorded_line(ev))}</p>")
        out.append(_html_table(["name", "predicted", "measured", "within tolerance"], side_by_side(m, ev),
                               "predicted and measured", "pm", keep=len(headline_keys(ev)[:COLLAPSE_ROWS]) or 1))
        if ev.reported:
            out.append("<h4>Reported, not judged</h4>" + _html_table(
                ["name", "value"], [[k, fmt_value(x)] for k, x in ev.reported.items()], "reported"))
        if ev.regime:
            out.append("<h4>Regime</h4>" + _html_table(
                ["name", "value"], [[k, fmt_value(x)] for k, x in ev.regime.items()], "regime"))
        if ev.notes and ev.notes != reason(ev):
            out.append(f"<p>Notes: {e(ev.notes)}</p>")
        for f in _figure_entries(m["id"], ev, figures):
            cap = _caption(m["id"], f, evidence, metas)
            out.append(f"<figure><img src='{e(f['path'])}' alt='{e(m['id'])}' loading='lazy'>"
                       f"<figcaption>{e(cap)}</figcaption></figure>")
        if ev.error:
            out.append(f"<pre>{e(ev.error)}</pre>")
        out.append(f"<p>Time: {ev.elapsed:.2f} s</p>")
    other = (figures or {}).get("", [])
    if other:
        out.append("<h2 id='other-figures'>Figures not tied to a claim</h2>")
        out += [f"<figure><img src='{e(f['path'])}' alt='{e(f.get('name', ''))}' loading='lazy'>"
                f"<figcaption>{e(_caption('', f, evidence, metas))}</figcaption></figure>" for f in other]
    out.append("</body></html>")
    return "\n".join(out)


def write_reports(run_dir: str | Path, interrupted: bool = False, figures: dict | None = None,
                  full: str | Path | None = None) -> tuple[Path, Path]:
    """(Re)write report.md and report.html (atomically) from the run folder's JSON files.
    `figures`: claim id -> [{'path' (relative to run_dir), 'name', 'caption', 'claims'}] drawn
    for it; `full`: claims.json of the full run to compare a quick run with (default
    results/verify-full/claims.json)."""
    run_dir = Path(run_dir)
    metas, evidence, config, env = _load(run_dir)
    fv = _full_for(run_dir, config, full)
    md = write_text(run_dir / "report.md", markdown(run_dir, metas, evidence, config, env, interrupted,
                                                    figures, fv))
    ht = write_text(run_dir / "report.html", to_html(run_dir, metas, evidence, config, env, interrupted,
                                                     figures, fv))
    return md, ht
