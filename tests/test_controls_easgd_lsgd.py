"""Negative controls of the elastic-averaging, Leader SGD and topology claims
(docs/theory.md §10): every claim declares at least one control, and under each control the
claim's own judging code, run in quick mode, does not say 'holds'. Controls whose quick run
takes more than a few seconds are marked slow. Also: the sabotage building blocks behave as
stated (the flipped elastic force, the worst-leader oracle)."""
import pytest
import torch

import dynamics
import landscapes
from verify.catalog import load
from verify.claims import Context
from verify.claims_easgd import flipped_elastic
from verify.claims_lsgd import worst_leader_oracle

MODULES = ["verify.claims_easgd", "verify.claims_lsgd", "verify.claims_topology"]
PREFIXES = ("easgd.", "lsgd.", "topology.")
REG = load(MODULES)
CLAIMS = [c for c in REG if c.id.startswith(PREFIXES)]
# (claim, control) pairs whose quick run takes a few seconds at most
FAST = {("topology.spectral_gap_closed_forms", "rho_as_lambda2"),
        ("topology.one_peer_exact_averaging", "one_round_short"),
        ("lsgd.communication", "perturbed_closed_form"),
        ("easgd.downpour_unstable", "downpour_small_lr"),
        ("easgd.center_variance", "perturbed_variance")}
PAIRS = [pytest.param(c.id, n, marks=() if (c.id, n) in FAST else pytest.mark.slow, id=f"{c.id}:{n}")
         for c in CLAIMS for n in c.controls]


def test_every_claim_declares_a_control():
    ids = {c.id for c in CLAIMS}
    assert {"easgd.rr_stability_region", "easgd.admm_unstable", "easgd.center_variance",
            "easgd.exploration", "easgd.eamsgd_vs_baselines", "easgd.downpour_unstable",
            "lsgd.stationary_points_unchanged", "lsgd.curse_of_symmetry", "lsgd.convergence_speed",
            "lsgd.multi_leader", "lsgd.descent_bound_t2", "lsgd.communication",
            "topology.spectral_gap_closed_forms", "topology.one_peer_exact_averaging"} <= ids
    missing = [c.id for c in CLAIMS if not c.controls]
    assert not missing, f"claims without a negative control: {missing}"


@pytest.mark.parametrize("cid, control", PAIRS)
def test_control_does_not_hold(cid, control, tmp_path):
    ev = REG[cid].run(Context(quick=True, seed=0, out_dir=tmp_path, control=control))
    assert ev.verdict in ("fails", "inconclusive"), (cid, control, ev.verdict, ev.finding)
    assert ev.headline and ev.finding and ev.data


def test_fast_real_runs_hold(tmp_path):
    # the same claims without sabotage: the control is what flips them
    for cid in ("topology.spectral_gap_closed_forms", "topology.one_peer_exact_averaging",
                "lsgd.communication", "easgd.downpour_unstable"):
        ev = REG[cid].run(Context(quick=True, seed=0, out_dir=tmp_path))
        assert ev.verdict == "holds", (cid, ev.finding)


def test_flipped_elastic_step_by_hand():
    # synchronous EASGD with the sign of the elastic force flipped:
    # x ← x − ηg + α(x − x̃),  x̃ ← x̃ − β(mean x − x̃), β = Kα
    lr, al, K = 0.1, 0.2, 3
    land = landscapes.get("quadratic", H=[[2.0]])
    orc = landscapes.oracle(land, noise="none")
    x = torch.tensor([[[1.0], [-0.5], [2.0]]], dtype=torch.float64)
    m = flipped_elastic("easgd", lr=lr, alpha=al, K=K)
    s = m.init(x)
    c = s.center.clone()
    new = m.step(s, orc, 0, None)
    want_x = x - lr * 2.0 * x + al * (x - c.unsqueeze(-2))
    want_c = c - K * al * (x.mean(-2) - c)
    assert torch.allclose(new.x, want_x, atol=1e-15)
    assert torch.allclose(new.center, want_c, atol=1e-15)


def test_flipped_elastic_needs_alpha():
    with pytest.raises(ValueError, match="alpha"):
        flipped_elastic("easgd", lr=0.1, rho=1.0)


def test_worst_leader_oracle_makes_lsgd_pull_to_the_worst():
    land = landscapes.get("quadratic", H=[[1.0]])
    orc = landscapes.oracle(land, noise="none")
    x = torch.tensor([[[0.1], [3.0], [-1.0]]], dtype=torch.float64)   # best 0, worst 1
    m = dynamics.make("lsgd", lr=0.1, lam=0.0, lam_global=0.5, tau=1, K=3)
    s = m.step(m.init(x), worst_leader_oracle(orc), 0, None)
    # x ← x − 0.1·x − ½(x − x_worst), x_worst = 3.0: 0.09 + 1.45, 2.7 + 0, −0.9 + 2
    assert torch.allclose(s.x[0, :, 0], torch.tensor([1.54, 2.7, 1.1], dtype=torch.float64))
