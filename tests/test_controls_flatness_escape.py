"""Negative controls of the escape and flatness claims: every claim declares at least one
control, and under each control (a sabotaged world in which the claim's statement is false) the
quick-mode verdict is not 'holds'. The claims' own judging code runs unchanged (ctx.sabotaged)."""
import pytest

from verify.catalog import load
from verify.claims import Context, one_thread

CLAIMS = ["escape.chain_vs_monte_carlo", "escape.kramers_asymptotic",
          "flatness.decentralised_escape_faster", "flatness.flat_well_occupancy",
          "flatness.consensus_vs_diffusion_flatness", "flatness.excess_risk_ordering",
          "flatness.accuracy_flatness_and_error", "flatness.diffusion_better_balance"]
# quick runs of a claim under its controls taking well under 20 s in total on one core
FAST = {"flatness.flat_well_occupancy", "flatness.consensus_vs_diffusion_flatness",
        "flatness.excess_risk_ordering"}


def test_every_claim_of_these_modules_has_a_control():
    reg = load()
    mine = [c.id for c in reg if c.id.startswith(("escape.", "flatness."))]
    assert sorted(mine) == sorted(CLAIMS)
    for cid in CLAIMS:
        assert reg[cid].controls, cid


def _params():
    reg = load()
    out = []
    for cid in CLAIMS:
        for name in reg[cid].controls:
            marks = () if cid in FAST else (pytest.mark.slow,)
            out.append(pytest.param(cid, name, marks=marks, id=f"{cid}:{name}"))
    return out


@pytest.mark.parametrize("cid,control", _params())
def test_control_does_not_hold(cid, control, tmp_path):
    with one_thread():
        ev = load()[cid].run(Context(quick=True, seed=0, control=control, out_dir=tmp_path))
    assert ev.verdict in ("fails", "inconclusive"), (cid, control, ev.verdict, ev.finding)
