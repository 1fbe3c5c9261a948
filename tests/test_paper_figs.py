"""paper_figs: discovery, style helpers, CLI writing PNG + PDF + index.md."""
import matplotlib
import numpy as np
import pytest

from paper_figs import style
from paper_figs.__main__ import main
from paper_figs.registry import figures, summary


def test_discovery_finds_topology_figure():
    figs = figures()
    assert "topology_spectral_gaps" in figs
    assert not {"style", "registry", "__main__"} & set(figs)
    assert summary(figs["topology_spectral_gaps"]).startswith("Spectral gap")


def test_diverging_norm_centred():
    norm = style.diverging_norm(np.array([-1.0, 0.5, 3.0]), center=0.5)
    assert float(norm(0.5)) == pytest.approx(0.5)
    assert float(norm(-1.0)) == pytest.approx(0.0) and float(norm(3.0)) == pytest.approx(1.0)
    one_sided = style.diverging_norm([2.0, 3.0], center=1.0)  # all above the centre
    assert float(one_sided(1.0)) == pytest.approx(0.5) and float(one_sided(3.0)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="finite"):
        style.diverging_norm([np.nan])


def test_apply_and_save(tmp_path):
    style.apply()
    assert matplotlib.get_backend().lower() == "agg" and not matplotlib.rcParams["text.usetex"]
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    png, pdf = style.save(fig, tmp_path / "sub", "line")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="stem"):
        style.save(fig, tmp_path, "a/b")


def test_cli_topology_quick(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["topology_spectral_gaps", "--quick", "--out", str(out)]) == 0
    png, pdf = out / "topology_spectral_gaps.png", out / "topology_spectral_gaps.pdf"
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    index = (out / "index.md").read_text()
    assert "## topology_spectral_gaps" in index and "](topology_spectral_gaps.png)" in index
    assert "Spectral gap" in index


def test_cli_unknown_name(tmp_path, capsys):
    assert main(["no_such_fig", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no_such_fig" in err and "topology_spectral_gaps" in err


# ---------------------------------------------------------------- --from RUN_DIR: figures from saved data

def _run_folder(tmp_path, quick=True):
    from verify.claims import Evidence
    from verify.runner import claims_document, write_json
    metas = [{"id": cid, "paper": "Author et al., 'A paper', 2020", "statement": "s", "predicted": "p",
              "measured": "m", "tolerance": 0.1, "tolerance_reason": "r", "tags": []}
             for cid in ("c.one", "c.two", "c.err")]
    ev = {"c.one": Evidence("holds", predicted={"y": 1.0}, measured={"y": 1.02},
                            data={"x": [0, 1, 2], "y": [0.0, 1.0, 4.0]}),
          "c.two": Evidence("fails", data={"x": [0, 1], "y": [3.0, 1.0]}),
          "c.err": Evidence("error", notes="boom")}
    d = tmp_path / "run"
    write_json(d / "claims.json", claims_document(metas, ev))
    write_json(d / "config.json", {"quick": quick, "seed": 0})
    return d


def _line_figure(stem, seen):
    def draw(evidence, out_dir):
        seen[stem] = evidence
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        for ev in evidence.values():
            ax.plot(ev.data["x"], ev.data["y"])
        return style.save(fig, out_dir, stem)
    return draw


def test_from_run_dir_draws_from_data_and_rewrites_report(tmp_path, capsys):
    from types import SimpleNamespace
    seen, made = {}, []
    def theory_make(out_dir, quick=False):
        made.append(("theory", quick))
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [1, 0])
        return style.save(fig, out_dir, "theory_fig")
    mods = {
        "both": SimpleNamespace(__doc__="Both claims' curves.", CLAIMS=("c.one", "c.two"),
                                draw=_line_figure("both", seen)),
        "absent": SimpleNamespace(__doc__="Needs a claim not run.", CLAIMS=("c.one", "c.missing"),
                                  draw=_line_figure("absent", seen)),
        "errored": SimpleNamespace(__doc__="Needs the errored claim.", CLAIMS=("c.err",),
                                   draw=_line_figure("errored", seen)),
        "legacy": SimpleNamespace(__doc__="Old figure.", __name__="paper_figs.legacy",
                                  make=lambda out_dir, quick=False: made.append(("legacy", quick)) or []),
        "theory": SimpleNamespace(__doc__="Closed form.", THEORY=True, make=theory_make),
    }
    d = _run_folder(tmp_path)
    assert main(["all", "--from", str(d)], figures=mods) == 0
    out = capsys.readouterr().out
    assert "both (from the run's data): both.png, both.pdf" in out
    assert "absent: skipped: claims absent from" in out and "c.missing" in out
    assert "errored: skipped: claim errored" in out
    assert "legacy (recomputes)" in out and "theory (theory): theory_fig.png" in out
    assert sorted(seen) == ["both"] and sorted(seen["both"]) == ["c.one", "c.two"]
    assert seen["both"]["c.one"].data["y"] == [0.0, 1.0, 4.0]  # the saved data reached draw
    assert made == [("legacy", True), ("theory", True)]  # quick taken from the run's config.json
    assert (d / "figs" / "both.png").read_bytes()[:4] == b"\x89PNG"
    html = (d / "report.html").read_text()
    one = html.split("<h2 id='c.one'>", 1)[1].split("<h2 ", 1)[0]
    two = html.split("<h2 id='c.two'>", 1)[1].split("<h2 ", 1)[0]
    for sec in (one, two):
        assert "<img src='figs/both.png'" in sec
        assert "Both claims&#x27; curves. — c.one: holds; c.two: fails</figcaption>" in sec
    assert "Figures not tied to a claim" in html and "<img src='figs/theory_fig.png'" in html
    assert "figs/absent.png" not in html and not (d / "figs" / "absent.png").exists()
    manifest = __import__("json").loads((d / "figs" / "figures.json").read_text())
    assert manifest["absent"]["status"].startswith("skipped") and manifest["both"]["status"] == "made"


def test_from_missing_run_dir_exit_2(tmp_path, capsys):
    assert main(["all", "--from", str(tmp_path / "nothing")], figures={}) == 2
    assert "claims.json" in capsys.readouterr().err


def test_every_figure_module_declares_a_kind():
    from paper_figs.registry import claims_of, kind
    for name, mod in figures().items():
        k = kind(mod, name)
        assert k in ("data", "theory", "recompute"), name
        if k == "data":
            assert claims_of(mod) and callable(mod.draw), name


def test_verify_never_imports_paper_figs():
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "verify"
    offenders = [p.name for p in root.glob("*.py")
                 if re.search(r"^\s*(from|import)\s+paper_figs", p.read_text(), re.M)]
    assert offenders == []
