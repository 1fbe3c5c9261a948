"""verify/claims_momentum_tracking.py: the batched problems against independent references, the
penalty statistic on constructed data, and every claim's negative controls (quick mode)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import dynamics
import verify.claims_momentum_tracking as M
from verify.catalog import load
from verify.claims import Context, one_thread

DT = torch.float64
MT_CLAIMS = [c for c in load() if c.id.startswith("momentum_tracking.")]


def _mlp(zeta2=(0.0, 1.0, 4.0)):
    return M.MLPLevels(zeta2, n=12, d_in=3, hidden=4, seed=3)


def _f_autograd(p, x, lv, k):
    """Worker k's objective at level lv written from the definition with torch autograd:
    (1/2n) Σ_j (W2 ψ(W1 a_j + b1) + b2 − y_j − ζ_lv u_k)², ψ(z) = z/√(1 + z²)."""
    h, d = p.h, p.d_in
    W1 = x[:h * d].reshape(h, d)
    b1, W2, b2 = x[h * d:h * d + h], x[h * d + h:h * d + 2 * h], x[-1]
    z = p.a @ W1.T + b1
    s = (z / torch.sqrt(1 + z * z)) @ W2 + b2
    return 0.5 * ((s - p.y - p.shift[lv, k]) ** 2).mean()


def test_mlp_gradient_matches_autograd():
    p = _mlp()
    x = (p.x0 + 0.3 * torch.randn(3, 2, M.K, p.P, dtype=DT, generator=torch.Generator().manual_seed(0)))
    g = p.grad(x)
    for lv in range(3):
        for k in (0, 5):
            xx = x[lv, 1, k].clone().requires_grad_(True)
            ref, = torch.autograd.grad(_f_autograd(p, xx, lv, k), xx)
            assert torch.allclose(g[lv, 1, k], ref, rtol=1e-10, atol=1e-13)
            assert float(p.f_k(x)[lv, 1, k]) == pytest.approx(float(_f_autograd(p, x[lv, 1, k], lv, k)), rel=1e-12)


def test_mlp_heterogeneity_is_exact_and_global_objective_fixed():
    """ζ²(x*) = (1/K) Σ_k ‖∇f_k(x*) − ∇f(x*)‖² equals the level (autograd gradients at the
    teacher), ∇f(x*) = 0, and f − f_0 is the same constant ½ζ² mean u² at any x (f unchanged up
    to a constant across levels, so x* and the suboptimality are level-independent)."""
    p = _mlp()
    for lv, z2 in enumerate(p.zeta2):
        gs = []
        for k in range(M.K):
            xx = p.x_star.clone().requires_grad_(True)
            gs.append(torch.autograd.grad(_f_autograd(p, xx, lv, k), xx)[0])
        G = torch.stack(gs)
        assert float(G.mean(0).abs().max()) < 1e-12
        zeta2 = float(((G - G.mean(0)) ** 2).sum(-1).mean())
        assert zeta2 == pytest.approx(z2, rel=1e-10, abs=1e-14)
    x = p.x0.expand(3, 1, M.K, p.P) + 0.2
    f = p.f_k(x).mean(-1)                              # (L, 1) global objective per level
    const = 0.5 * p.zeta2 * float((p.u ** 2).mean())
    f0 = p.subopt(x).mean(-1)
    assert np.allclose((f - f0).numpy()[:, 0], const, rtol=1e-10, atol=1e-14)


def test_quadratic_levels_match_landscapes():
    q = M.QuadLevels((0.0, 1.0, 4.0), 3, seed=2)
    x = torch.randn(3, 2, M.K, 3, dtype=DT, generator=torch.Generator().manual_seed(1))
    for lv, z2 in enumerate((0.0, 1.0, 4.0)):
        p = M.quadratic(math.sqrt(z2), 3, 2)
        assert torch.allclose(q.grad(x)[lv], p.grad_i(x[lv]), rtol=1e-12, atol=1e-12)
        ref = p.f(x[lv]) - p.f_star                     # f(x_k) − f* from landscapes' own f
        assert torch.allclose(q.subopt(x)[lv], ref, rtol=1e-9, atol=1e-12)
        assert q.zeta2[lv] == pytest.approx(z2, abs=1e-9)


@given(slope=st.floats(-2, 5), base=st.floats(0.1, 3), R=st.integers(3, 8))
def test_penalty_statistic_on_lines(slope, base, R):
    """S = base + slope·ζ² for every replica: Π = slope·ζ²_max/base exactly, a zero-width interval."""
    z2 = np.array([0.0, 1.0, 2.0, 4.0])
    S = np.repeat((base + slope * z2)[:, None], R, 1)
    pi = M.penalty_ci(S, z2, n_boot=200)
    assert pi["value"] == pytest.approx(slope * 4 / base, rel=1e-9, abs=1e-12)
    assert pi["ci_low"] == pytest.approx(pi["value"], abs=1e-9) and pi["ci_high"] == pytest.approx(pi["value"], abs=1e-9)
    d = M.penalty_diff_ci(S, S, z2, n_boot=200)
    assert abs(d["value"]) < 1e-12


def test_flat_verdict_is_two_sided():
    assert M.flat_verdict({"value": 0.0, "ci_low": -0.05, "ci_high": 0.05}) == "holds"
    assert M.flat_verdict({"value": 0.3, "ci_low": 0.2, "ci_high": 0.4}) == "fails"
    assert M.flat_verdict({"value": -0.3, "ci_low": -0.4, "ci_high": -0.2}) == "fails"
    assert M.flat_verdict({"value": 0.1, "ci_low": 0.05, "ci_high": 0.15}) == "inconclusive"


def test_no_tracking_control_breaks_exactness():
    """The sabotaged MT (c ← 0) no longer converges to 1x*ᵀ with exact gradients."""
    q = M.QuadLevels((4.0,), 3, seed=0)
    m = M.no_tracking(M.bind("mt", M.topology("ring"), 0.1, 0.9))
    real = M.bind("mt", M.topology("ring"), 0.1, 0.9)
    orc = M.GaussianOracle(q, 0.0)
    x0 = q.x0.expand(1, 1, M.K, 3).clone()
    a, b = (dynamics.rollout(meth, orc, x0, 1500).state for meth in (m, real))
    assert float((b.x - q.x_star).abs().max()) < 1e-8
    assert float((a.x - q.x_star).abs().max()) > 1e-3


def test_every_claim_declares_a_control():
    assert {c.id for c in MT_CLAIMS} >= {"momentum_tracking.exactness", "momentum_tracking.rate_vs_zeta",
                                         "momentum_tracking.momentum_sweep", "momentum_tracking.topology",
                                         "momentum_tracking.dsgdm_vs_dsgd"}
    for c in MT_CLAIMS:
        assert len(c.controls) >= 1, c.id


@pytest.mark.slow
@pytest.mark.parametrize("cid, control", [(c.id, n) for c in MT_CLAIMS for n in c.controls])
def test_control_flips_quick_verdict(cid, control, tmp_path):
    c = next(c for c in MT_CLAIMS if c.id == cid)
    with one_thread():
        ev = c.run(Context(quick=True, out_dir=tmp_path, control=control))
    assert ev.verdict != "holds", (cid, control, ev.finding)
    assert ev.verdict != "error"


def _fake_rate_evidence():
    """Evidence shaped like momentum_tracking.rate_vs_zeta's, numbers made up (figure contract)."""
    from verify.claims import Evidence
    z2, checks, methods = [0.0, 1.0, 2.0, 4.0], [10, 20], list(M.MOMENTUM) + ["atc"]
    ci = lambda v: {"value": v, "ci_low": v * 0.9 - (0.2 if v < 0.05 else 0), "ci_high": v * 1.1}
    fam = {"zeta2": z2, "checks": checks, "methods": methods, "steps": 20,
           "S": {m: {str(t): [ci(0.01 * (1 + i * (m != "mt"))) for i in range(4)] for t in checks} for m in methods},
           "curves": {m: {"times": [5, 10, 15, 20], "mean": [[0.1, 0.05, 0.02, 0.01]] * 4} for m in methods},
           "penalty": {m: {str(t): ci(0.0 if m == "mt" else 2.0) for t in checks} for m in methods}}
    return Evidence("holds", data={"quadratic": fam, "mlp": fam}, regime={"margin": 0.1})


def test_figures_draw_from_evidence_only(tmp_path):
    from paper_figs import momentum_tracking_heterogeneity_panels, momentum_tracking_suboptimality_vs_zeta
    for mod in (momentum_tracking_suboptimality_vs_zeta, momentum_tracking_heterogeneity_panels):
        assert mod.CLAIMS == ("momentum_tracking.rate_vs_zeta",)
        paths = mod.draw({mod.CLAIMS[0]: _fake_rate_evidence()}, tmp_path)
        assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)
