"""verify/report.py: summary by paper, decisive quantity, side-by-side tables, reported block,
controls, quick vs full, figures from paper_figs, the console table, atomic writes, old evidence."""
import html
import json
import re

import pytest

from verify import report
from verify.claims import Evidence, value
from verify.runner import claims_document, write_json

PAPER_A = "Author, Other, 'A first paper', Venue 2020, §3"
PAPER_B = "Someone et al., 'Second paper', Venue 2021"


def meta(cid, paper=PAPER_A, tol=0.1, controls=None):
    m = {"id": cid, "paper": paper, "statement": f"statement of {cid}", "predicted": "a formula",
         "measured": "a simulation", "tolerance": tol, "tolerance_reason": "why this tolerance",
         "tags": ["synthetic"]}
    if controls is not None:
        m["controls"] = controls
    return m


def make_run(tmp_path, metas, evidence, quick=True, name="run"):
    d = tmp_path / name
    d.mkdir()
    write_json(d / "claims.json", claims_document(metas, evidence))
    write_json(d / "config.json", {"quick": quick, "seed": 0, "device": "cpu"})
    write_json(d / "env.json", {"git_revision": "abc"})
    return d


@pytest.fixture
def run(tmp_path):
    metas = [meta("a.close", controls={"lr_x2": "doubles the learning rate"}), meta("a.far"),
             meta("b.text", paper=PAPER_B, tol="CI above zero")]
    ev = {
        "a.close": Evidence("holds", predicted={"rate": 1.0, "only_p": 2.0},
                            measured={"rate": value(1.05, 1.0, 1.1), "only_m": 3.0},
                            headline=["rate"], finding="rate 1.05 within 0.1 of 1",
                            reported={"wall_per_step": 0.25}, data={"xs": [1, 2, 3]}, elapsed=1.5),
        "a.far": Evidence("fails", predicted={"rate": 1.0}, measured={"rate": 1.2},
                          headline=["rate"], finding="rate 1.2 is 0.2 from 1", elapsed=0.5),
        "b.text": Evidence("inconclusive", predicted={f"k{i}": float(i) for i in range(12)},
                           measured={f"k{i}": float(i) + 0.5 for i in range(12)},
                           finding="interval straddles zero"),
    }
    return make_run(tmp_path, metas, ev), metas, ev


def summary_part(text):
    return text.split("<h2 ", 1)[0]


def test_summary_by_paper_with_counts_and_decisive(run, tmp_path):
    d, metas, ev = run
    md, ht = report.write_reports(d, full=tmp_path / "none.json")
    h = ht.read_text()
    s = summary_part(h)
    a_label = html.escape(report.paper_label("author", PAPER_A))
    b_label = html.escape(report.paper_label("someone", PAPER_B))
    # one group header per paper in the summary table, not one citation per row
    assert s.count(f"<tr class='paper'><td colspan='5'>{a_label}</td></tr>") == 1
    assert s.count(b_label) == 2  # counts table + one group header
    # per-paper counts: paper A 1 holds 1 fails, paper B 1 inconclusive
    row_a = re.search(r"<tr><td>" + re.escape(a_label) + r"</td>(.*?)</tr>", s).group(1)
    assert re.findall(r"<td class='n'>(\d*)</td>", row_a) == ["1", "1", "", "", ""]
    row_b = re.search(r"<tr><td>" + re.escape(b_label) + r"</td>(.*?)</tr>", s).group(1)
    assert re.findall(r"<td class='n'>(\d*)</td>", row_b) == ["", "", "1", "", ""]
    # finding and decisive quantity (predicted vs measured vs tolerance) in the summary
    assert "rate 1.05 within 0.1 of 1" in s
    assert "rate: predicted 1 vs measured 1.05 [1, 1.1] (tolerance 0.1)" in s
    m = md.read_text()
    assert "| [a.close](#aclose) | rate 1.05 within 0.1 of 1 |" in m


def test_detail_sections(run, tmp_path):
    d, metas, ev = run
    md, ht = report.write_reports(d, full=tmp_path / "none.json")
    h = ht.read_text()
    sec = h.split("<h2 id='a.close'>", 1)[1].split("<h2 ", 1)[0]
    # the reason right under the verdict
    assert re.match(r"a\.close</h2><div class='reason holds-b'><div><span class='badge holds'>holds</span>.*?"
                    r"rate 1\.05 within 0\.1 of 1</div>", sec)
    # predicted | measured | within tolerance, side by side; one-sided keys leave a blank
    assert "<th>name</th><th>predicted</th><th>measured</th><th>within tolerance</th>" in sec
    assert "<td>rate</td><td>1</td><td>1.05 [1, 1.1]</td><td class='yes'>yes</td>" in sec
    assert "<td>only_p</td><td>2</td><td></td><td></td>" in sec
    assert "<td>only_m</td><td></td><td>3</td><td></td>" in sec
    assert "Reported, not judged" in sec and "wall_per_step" in sec
    assert "<code>lr_x2</code>: doubles the learning rate" in sec
    far = h.split("<h2 id='a.far'>", 1)[1].split("<h2 ", 1)[0]
    assert "<td>rate</td><td>1</td><td>1.2</td><td class='no'>no</td>" in far  # |1.2 - 1| > 0.1
    assert "Controls declared:</b> none" in far
    text = h.split("<h2 id='b.text'>", 1)[1]
    assert "<details><summary>predicted and measured: 11 more rows (12 in all)</summary>" in text  # folded
    assert "<td>k3</td><td>3</td><td>3.5</td><td></td>" in text  # text tolerance: not judged here
    assert "<details>" not in sec  # 3 rows stay open
    m = md.read_text()
    assert "**Verdict: fails (provisional)** — rate 1.2 is 0.2 from 1" in m
    assert "| rate | 1 | 1.2 | no |" in m


def test_within_reads_numeric_tolerance_only():
    m = meta("x", tol=0.1)
    assert report.within(m, 1.0, 1.09) == "yes" and report.within(m, 1.0, 1.11) == "no"
    assert report.within(m, 1.0, value(1.3, 1.05, 1.5)) == "yes"  # p inside [lo − tol, hi + tol]
    assert report.within(m, 1.0, value(1.3, 1.15, 1.5)) == "no"
    assert report.within(meta("y", tol="a sentence"), 1.0, 1.0) == ""
    assert report.within(m, "flat", "flat") == ""


def test_quick_marked_provisional_with_full_verdict(run, tmp_path):
    d, metas, ev = run
    full_ev = {"a.close": Evidence("holds"), "a.far": Evidence("holds")}  # a.far disagrees
    full = make_run(tmp_path, metas, full_ev, quick=False, name="full")
    md, ht = report.write_reports(d, full=full / "claims.json")
    s = summary_part(ht.read_text())
    assert s.count("quick · provisional") == 3
    close_row = s.split("href='#a.close'")[0].rsplit("<tr>", 1)[1]
    assert "full run: holds</span>" in close_row and "≠" not in close_row
    far_row = s.split("href='#a.far'")[0].rsplit("<tr>", 1)[1]
    assert "<span class='full differs'>full run: holds ≠ quick</span>" in far_row
    text_row = s.split("href='#b.text'")[0].rsplit("<tr>", 1)[1]
    assert "full run" not in text_row  # no full verdict recorded for it
    assert "fails (provisional); full: holds ≠ quick" in md.read_text()
    # a full run is not provisional and is not compared with itself
    md2, ht2 = report.write_reports(full, full=full / "claims.json")
    assert "provisional" not in ht2.read_text() and "full run:" not in ht2.read_text()


def test_figures_from_paper_figs_carry_the_verdict(run, tmp_path):
    d, metas, ev = run
    figs = {"a.far": [{"path": "figs/rate.png", "name": "rate", "caption": "Rate against steps",
                       "claims": ["a.far", "a.close"]}]}
    md, ht = report.write_reports(d, figures=figs, full=tmp_path / "none.json")
    h = ht.read_text()
    far = h.split("<h2 id='a.far'>", 1)[1].split("<h2 ", 1)[0]
    assert "<img src='figs/rate.png'" in far
    assert "<figcaption>Rate against steps — a.far: fails; a.close: holds</figcaption>" in far
    assert "![a.far](figs/rate.png)" in md.read_text()
    assert "figs/rate.png" not in h.split("<h2 id='a.far'>", 1)[0]  # only in the section it was drawn for


def test_old_evidence_and_meta_render(tmp_path):
    """claims.json written before headline/finding/reported/data/control and Claim.controls."""
    d = tmp_path / "old"
    d.mkdir()
    old_ev = {"verdict": "holds", "predicted": {"gap": 0.5}, "measured": {"gap": 0.5001},
              "notes": "closed forms match", "regime": {}, "figures": [], "elapsed": 0.2,
              "recorded": False, "source": {}, "error": ""}
    m = meta("t.old")
    doc = {"schema": "decentlab.claims/1", "claims": [{**m, "evidence": old_ev},
                                                      {**meta("t.pending"), "evidence": None}]}
    (d / "claims.json").write_text(json.dumps(doc))
    md, ht = report.write_reports(d, full=tmp_path / "none.json")
    h = ht.read_text()
    assert "closed forms match" in summary_part(h)  # the notes stand in for the finding
    assert "gap: predicted 0.5 vs measured 0.5001 (tolerance 0.1)" in h  # first shared key
    assert "<span class='badge not-run'>not run</span>" in h
    assert "1 holds, 1 not run" in md.read_text()


def test_console_table_fits_and_counts(run, monkeypatch):
    d, metas, ev = run
    for width in (60, 100):
        out = report.table(metas, ev, width=width)
        lines = out.splitlines()
        assert all(len(x) <= width for x in lines), width
        assert lines[0].split()[:2] == ["claim", "verdict"]
        assert lines[2].split()[:2] == ["a.close", "holds"]  # verdict second
        assert lines[-1] == "verdicts: 1 holds, 1 fails, 1 inconclusive"
    monkeypatch.setenv("COLUMNS", "50")
    assert max(len(x) for x in report.table(metas, ev).splitlines()) <= 50
    out = report.table(metas, ev, width=200, full={"a.far": "holds"})
    assert "fails (full: holds ≠ quick)" in out


def test_reports_written_atomically(run, tmp_path, monkeypatch):
    d, metas, ev = run
    written = []
    real = report.write_text
    monkeypatch.setattr(report, "write_text", lambda p, t: written.append(p.name) or real(p, t))
    report.write_reports(d, full=tmp_path / "none.json")
    assert written == ["report.md", "report.html"]
    assert not [p for p in d.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- the HTML as a person sees it

def _png(path, w=640, h=360):
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(w / 100, h / 100), dpi=100)
    ax.plot([0, 1], [0, 1])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _page_with_figures(run, tmp_path, broken=False):
    d, metas, ev = run
    _png(d / "figs" / "rate.png")
    figs = {"a.close": [{"path": "figs/rate.png", "name": "rate", "caption": "Rate", "claims": ["a.close"]}]}
    if broken:
        figs["a.far"] = [{"path": "figs/missing.png", "name": "missing", "caption": "", "claims": ["a.far"]}]
    return report.write_reports(d, figures=figs, full=tmp_path / "none.json")[1]


def test_image_files_checked(run, tmp_path):
    from verify import htmlcheck
    ht = _page_with_figures(run, tmp_path)
    assert htmlcheck.image_sources(ht.read_text()) == ["figs/rate.png"]
    assert htmlcheck.missing_images(ht) == []
    ht = _page_with_figures(run, tmp_path, broken=True)
    assert htmlcheck.missing_images(ht) == ["figs/missing.png: no such file"]


@pytest.mark.slow
def test_report_in_chromium_fits_1400px_and_images_load(run, tmp_path):
    from verify import htmlcheck
    if htmlcheck.find_chromium() is None:
        pytest.skip("chromium not installed")
    ht = _page_with_figures(run, tmp_path)
    shot = tmp_path / "shot.png"
    res = htmlcheck.browser_check(ht, width=1400, screenshot=shot)
    assert res["images"] == 1 and res["broken"] == []
    assert res["scroll_width"] <= 1400 and 0 < res["badge_right"] <= 1400
    assert htmlcheck.problems(res, 1400) == []
    assert shot.read_bytes()[:8] == htmlcheck.PNG
    res = htmlcheck.browser_check(_page_with_figures(run, tmp_path, broken=True), width=1400)
    assert res["broken"] == ["figs/missing.png"]  # the check sees a broken <img>
    wide = ht.parent / "wide.html"  # a page 2000 px wide must be flagged
    wide.write_text(ht.read_text().replace("<h1>", "<div style='width:2000px'>wide</div><h1>", 1))
    res = htmlcheck.browser_check(wide, width=1400)
    assert res["scroll_width"] >= 2000
    assert any("horizontal scroll" in p for p in htmlcheck.problems(res, 1400))
