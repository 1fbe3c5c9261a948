"""Reports of a run folder, built from its claims.json (+ config.json, env.json): the console
table, report.md (figures embedded as images) and report.html (static, relative <img> links)."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

from .claims import Evidence

COLUMNS = ("claim", "paper", "predicted", "measured", "verdict", "time")


def fmt_number(x) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


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
    """'name=value; name=value (+n more)' for the table."""
    items = list(d.items())
    s = "; ".join(f"{k}={fmt_value(v)}" for k, v in items[:limit])
    return s + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def verdict_text(ev: Evidence | None) -> str:
    if ev is None:
        return "not run"
    return ev.verdict + (" (recorded)" if ev.recorded else "")


def rows(metas: list[dict], evidence: dict[str, Evidence]) -> list[list[str]]:
    out = []
    for m in metas:
        ev = evidence.get(m["id"])
        out.append([m["id"], m["paper"], summarize(ev.predicted) if ev else "",
                    summarize(ev.measured) if ev else "", verdict_text(ev),
                    f"{ev.elapsed:.1f}s" if ev else ""])
    return out


def table(metas: list[dict], evidence: dict[str, Evidence], width: int = 60) -> str:
    """Plain-text table for the console (cells cut to `width` characters)."""
    body = [[c if len(c) <= width else c[:width - 1] + "…" for c in r] for r in rows(metas, evidence)]
    all_rows = [list(COLUMNS)] + body
    w = [max(len(r[i]) for r in all_rows) for i in range(len(COLUMNS))]
    line = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
    return "\n".join([line(all_rows[0]), "  ".join("-" * x for x in w)] + [line(r) for r in body])


def counts(evidence: dict[str, Evidence]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ev in evidence.values():
        out[ev.verdict] = out.get(ev.verdict, 0) + 1
    return out


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _numbers_md(title: str, d: dict) -> list[str]:
    if not d:
        return []
    out = [f"**{title}**", "", "| name | value |", "|---|---|"]
    out += [f"| {_md_cell(k)} | {_md_cell(fmt_value(v))} |" for k, v in d.items()]
    return out + [""]


def _load(run_dir: Path):
    from .runner import load_claims_json
    metas, evidence = load_claims_json(run_dir)
    read = lambda n: json.loads((run_dir / n).read_text()) if (run_dir / n).is_file() else {}
    return metas, evidence, read("config.json"), read("env.json")


def _recorded_line(ev: Evidence) -> str:
    s = ev.source
    return (f"Recorded evidence (not run here: no CUDA): machine {s.get('machine')}, "
            f"date {s.get('date')}, command `{s.get('command')}`")


def markdown(run_dir: Path, metas, evidence, config, env, interrupted=False) -> str:
    lines = ["# decentlab verify report", ""]
    if interrupted:
        lines += [("**Interrupted: partial report** (claims not run are marked 'not run'; "
                   f"continue with `python -m verify --resume {run_dir}`)."), ""]
    mode = "quick" if config.get("quick", True) else "full"
    lines += [f"- mode: {mode}, seed {config.get('seed')}, device {config.get('device')}",
              (f"- git revision: {env.get('git_revision')}, host {env.get('hostname')}, "
               f"python {env.get('python')}, torch {env.get('torch')}, numpy {env.get('numpy')}"),
              f"- verdicts: {', '.join(f'{k} {v}' for k, v in sorted(counts(evidence).items())) or 'none'}",
              "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows(metas, evidence)]
    lines.append("")
    for m in metas:
        ev = evidence.get(m["id"])
        lines += [f"## {m['id']} — {verdict_text(ev)}", "", f"*{m['paper']}*", "",
                  f"> {m['statement']}", "",
                  f"- **Predicted:** {m['predicted']}", f"- **Measured:** {m['measured']}",
                  f"- **Tolerance:** {m['tolerance']} — {m['tolerance_reason']}",
                  f"- **Tags:** {', '.join(m.get('tags', [])) or '—'}", ""]
        if ev is None:
            continue
        if ev.recorded:
            lines += [_recorded_line(ev), ""]
        lines += _numbers_md("Predicted", ev.predicted) + _numbers_md("Measured", ev.measured)
        lines += _numbers_md("Regime", ev.regime)
        if ev.notes:
            lines += [f"Notes: {ev.notes}", ""]
        lines += [f"![{m['id']}]({f})" for f in ev.figures] + ([""] if ev.figures else [])
        if ev.error:
            lines += ["```", ev.error.rstrip(), "```", ""]
        lines += [f"Time: {ev.elapsed:.2f} s", ""]
    return "\n".join(lines)


def _numbers_html(title: str, d: dict) -> str:
    if not d:
        return ""
    body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(fmt_value(v))}</td></tr>"
                   for k, v in d.items())
    return f"<h4>{title}</h4><table><tr><th>name</th><th>value</th></tr>{body}</table>"


_CSS = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.2em .5em;"
        "text-align:left;vertical-align:top}.holds{color:#1a7f37}.fails,.error{color:#c62828}"
        ".inconclusive{color:#b26a00}img{max-width:100%}pre{background:#f4f4f4;padding:.5em;"
        "overflow:auto}blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:1em}")


def to_html(run_dir: Path, metas, evidence, config, env, interrupted=False) -> str:
    e = lambda s: html.escape(str(s))
    mode = "quick" if config.get("quick", True) else "full"
    out = [(f"<!doctype html><html><head><meta charset='utf-8'><title>decentlab verify</title>"
            f"<style>{_CSS}</style></head><body><h1>decentlab verify report</h1>")]
    if interrupted:
        out.append("<p><b>Interrupted: partial report.</b></p>")
    out.append(f"<ul><li>mode: {mode}, seed {e(config.get('seed'))}, device {e(config.get('device'))}</li>"
               f"<li>git revision: {e(env.get('git_revision'))}, host {e(env.get('hostname'))}, "
               f"python {e(env.get('python'))}, torch {e(env.get('torch'))}</li>"
               f"<li>verdicts: {e(', '.join(f'{k} {v}' for k, v in sorted(counts(evidence).items())))}"
               "</li></ul>")
    out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr>")
    for r, m in zip(rows(metas, evidence), metas):
        ev = evidence.get(m["id"])
        cls = ev.verdict if ev else ""
        cells = [f"<a href='#{e(m['id'])}'>{e(r[0])}</a>"] + [e(c) for c in r[1:]]
        cells[4] = f"<span class='{cls}'>{cells[4]}</span>"
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    for m in metas:
        ev = evidence.get(m["id"])
        out.append(f"<h2 id='{e(m['id'])}'>{e(m['id'])} — <span class='{ev.verdict if ev else ''}'>"
                   f"{e(verdict_text(ev))}</span></h2><p><i>{e(m['paper'])}</i></p>"
                   f"<blockquote>{e(m['statement'])}</blockquote><ul>"
                   f"<li><b>Predicted:</b> {e(m['predicted'])}</li><li><b>Measured:</b> {e(m['measured'])}</li>"
                   f"<li><b>Tolerance:</b> {e(m['tolerance'])} — {e(m['tolerance_reason'])}</li>"
                   f"<li><b>Tags:</b> {e(', '.join(m.get('tags', [])) or '—')}</li></ul>")
        if ev is None:
            continue
        if ev.recorded:
            out.append(f"<p>{e(_recorded_line(ev))}</p>")
        out.append(_numbers_html("Predicted", ev.predicted) + _numbers_html("Measured", ev.measured)
                   + _numbers_html("Regime", ev.regime))
        if ev.notes:
            out.append(f"<p>Notes: {e(ev.notes)}</p>")
        out += [f"<p><img src='{e(f)}' alt='{e(m['id'])}'></p>" for f in ev.figures]
        if ev.error:
            out.append(f"<pre>{e(ev.error)}</pre>")
        out.append(f"<p>Time: {ev.elapsed:.2f} s</p>")
    out.append("</body></html>")
    return "\n".join(out)


def write_reports(run_dir: str | Path, interrupted: bool = False) -> tuple[Path, Path]:
    """(Re)write report.md and report.html from the run folder's JSON files."""
    run_dir = Path(run_dir)
    metas, evidence, config, env = _load(run_dir)
    md, ht = run_dir / "report.md", run_dir / "report.html"
    md.write_text(markdown(run_dir, metas, evidence, config, env, interrupted))
    ht.write_text(to_html(run_dir, metas, evidence, config, env, interrupted))
    return md, ht
