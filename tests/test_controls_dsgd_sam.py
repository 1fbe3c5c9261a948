"""Negative controls of the dsgd_sam claims: every claim declares at least one, and under each the
claim's own (unchanged) judging code does not say 'holds' (quick sizes)."""
import pytest

from verify import claims_dsgd_sam  # noqa: F401  (registers the claims)
from verify.claims import REGISTRY, Context

CLAIMS = [c for c in REGISTRY if c.id.startswith("dsgd_sam.")]
SLOW = {"dsgd_sam.sharpness_vs_batch", "dsgd_sam.consensus_vs_gap", "dsgd_sam.flat_minimum_preference",
        "dsgd_sam.posterior_uncertainty"}
CASES = [pytest.param(c.id, name, id=f"{c.id}:{name}",
                      marks=[pytest.mark.slow] if c.id in SLOW else [])
         for c in CLAIMS for name in c.controls]

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_claim_declares_a_control():
    assert len(CLAIMS) >= 7
    missing = [c.id for c in CLAIMS if not c.controls]
    assert not missing, f"claims without a negative control: {missing}"


@pytest.mark.parametrize("cid,control", CASES)
def test_control_flips_the_verdict(cid, control):
    ev = REGISTRY[cid].run(Context(quick=True, control=control))
    assert ev.verdict in ("fails", "inconclusive"), (cid, control, ev.verdict, ev.finding)
