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
