"""analysis/heterogeneity.py: exact-gradient fixed points (docs/theory.md §5) and ζ²; claims in quick mode.

docs/theory.md §1's MT invariants (mean(c) = 0, x̄⁺ = x̄ − η m̄ with stochastic gradients, random
doubly stochastic W) are already tested in tests/test_tracking.py
(test_mt_invariants_and_gt_filter_equivalence) and are not repeated here.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import dynamics
from analysis import heterogeneity as H
from dynamics import topology as T
from test_gossip import _run_to_fixed_point, metropolis

DT = torch.float64
MOM = ("dsgdm", "qg_dsgdm", "decentlam", "mt")


def _make(name, W, lr, beta):
    if name == "d2":
        W = (np.eye(len(W)) + W) / 2
    kw = dict(beta=beta) if name in MOM else {}
    return dynamics.make(name, T.custom(W), lr=lr, **kw), W


def _numpy_closed_form(name, W, B, lr, beta, mu):
    """Independent eigen derivation: ATC X = W(X − s μ(X − B)) gives per mode
    x_k = sμλ_k/(1 − (1 − sμ)λ_k) b_k; consensus X = WX − sμ(X − B) gives sμ/(1 − λ_k + sμ);
    CTA X = (1 − sμ)WX + sμB gives sμ/(1 − (1 − sμ)λ_k); exact methods X = 1b̄ᵀ."""
    if name in ("gt", "mt", "d2"):
        return np.ones((len(W), 1)) * B.mean(0)
    s = lr / (1 - beta) if name == "dsgdm" else lr
    lam, V = np.linalg.eigh(W)
    a = s * mu
    c = {"dsgd": a / (1 - lam + a), "cta": a / (1 - (1 - a) * lam)}.get(name, a * lam / (1 - (1 - a) * lam))
    return sum(c[k] * np.outer(V[:, k], V[:, k]) for k in range(len(W))) @ B


@settings(max_examples=15)
@given(K=st.integers(2, 6), d=st.integers(1, 3), seed=st.integers(0, 10_000), lr=st.floats(0.01, 0.3),
       beta=st.floats(0.0, 0.99), mu=st.floats(0.3, 2.0), name=st.sampled_from(H.METHODS))
def test_fixed_points_equal_closed_forms_isotropic(K, d, seed, lr, beta, mu, name):
    W = metropolis(K, seed)
    B = np.random.default_rng(seed).standard_normal((K, d))
    m, Wm = _make(name, W, lr, beta)
    A = mu * np.eye(d)
    expect = _numpy_closed_form(name, W, B, lr, beta, mu)
    X, info = H.fixed_point(m, np.broadcast_to(A, (K, d, d)), B)
    assert np.abs(X - expect).max() < 1e-8 * (1 + np.abs(expect).max())
    assert np.abs(H.isotropic_closed_form(name, W, B, lr, beta, mu) - expect).max() < 1e-10
    assert np.abs(H.predicted_fixed_point(name, W, np.broadcast_to(A, (K, d, d)), B, lr, beta) - expect).max() < 1e-9
    assert np.allclose(X.mean(0), B.mean(0), atol=1e-8)  # average exact for every method (isotropic)
    if name in ("gt", "mt", "d2"):
        assert info["conserved"] >= d  # tracking / D² invariants


def _unequal(K, d, seed):
    rs = np.random.default_rng(seed)
    A = np.stack([q @ np.diag(rs.uniform(0.5, 2.0, d)) @ q.T
                  for q in (np.linalg.qr(rs.standard_normal((d, d)))[0] for _ in range(K))])
    return A, 2 * rs.standard_normal((K, d))


@pytest.mark.parametrize("name", H.METHODS)
def test_affine_fixed_point_matches_long_run_unequal_hessians(name):
    K, d, lr, beta = 5, 2, 0.1, 0.5
    A, B = _unequal(K, d, 7)
    m, _ = _make(name, metropolis(K, 3), lr, beta)
    At, Bt = torch.tensor(A), torch.tensor(B)

    def orc(x, t, rng=None):
        r = x - Bt
        g = torch.einsum("kij,...kj->...ki", At, r)
        return 0.5 * (r * g).sum(-1), g
    x0 = torch.tensor(np.random.default_rng(1).standard_normal((K, d)))
    X, info = H.fixed_point(m, A, B, x0)
    assert info["radius"] < 1
    assert np.abs(_run_to_fixed_point(m, orc, K, d, tol=1e-15, x0=x0) - X).max() < 1e-9
    xstar = np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, B))
    if name in ("gt", "mt", "d2"):
        assert np.abs(X - xstar).max() < 1e-10
    else:
        assert np.abs(X.mean(0) - xstar).max() > 1e-6  # unequal Hessians bias the average (§5)


def test_dsgdm_bias_is_atc_at_step_over_one_minus_beta():
    """docs/theory.md §5: DSGDm's fixed point is ATC's at η/(1 − β): ≈ 4× the consensus error on the
    8-ring at η = 0.05, β = 0.9 (THEORY's example 1.38/0.339)."""
    W = T.ring(8).W().numpy()
    B = np.random.default_rng(0).standard_normal((8, 3))
    dm = H.isotropic_closed_form("dsgdm", W, B, 0.05, 0.9)
    assert np.allclose(dm, H.isotropic_fixed_point(W, B, 0.5, "atc"))
    r = H.consensus_rms(dm) / H.consensus_rms(H.isotropic_closed_form("atc", W, B, 0.05))
    assert 3.0 < r < 5.0
    rms = lambda X: np.sqrt(((X - X.mean(0)) ** 2).sum(-1).mean())
    want = rms(_numpy_closed_form("atc", W, B, 0.5, 0.0, 1.0)) / rms(_numpy_closed_form("atc", W, B, 0.05, 0.0, 1.0))
    assert r == pytest.approx(want, rel=1e-10)          # independent eigen derivation above


@given(K=st.integers(1, 6), d=st.integers(1, 4), seed=st.integers(0, 1000))
def test_zeta2_definition(K, d, seed):
    rs = np.random.default_rng(seed)
    g = rs.standard_normal((3, K, d))
    ref = np.array([np.mean([np.sum((g[r, k] - g[r].mean(0)) ** 2) for k in range(K)]) for r in range(3)])
    assert np.allclose(H.zeta2_from_grads(torch.tensor(g)).numpy(), ref)


def test_zeta2_star_and_along():
    import landscapes
    p = landscapes.hetero_quadratics(6, 3, zeta=2.5, hess_spread=1.0, seed=1)
    assert H.zeta2_star(p) == pytest.approx(2.5 ** 2, rel=1e-10)  # construction sets ζ²(x*) = zeta²
    xs = torch.randn(4, 2, 3, dtype=DT)
    g = torch.einsum("kij,...kj->...ki", p.A, xs.unsqueeze(-2) - p.b)
    assert np.allclose(H.zeta2_along(p, xs.numpy()), H.zeta2_from_grads(g).numpy())


def test_bad_input():
    W = T.ring(4).W().numpy()
    B = np.zeros((4, 2))
    with pytest.raises(ValueError, match="form"):
        H.isotropic_fixed_point(W, B, 0.1, "nope")
    with pytest.raises(ValueError, match="lr"):
        H.isotropic_fixed_point(W, B, -0.1)
    with pytest.raises(ValueError, match="symmetric"):
        H.isotropic_fixed_point(np.roll(np.eye(4), 1, 1), B, 0.1)
    with pytest.raises(ValueError, match="beta"):
        H.predicted_fixed_point("dsgdm", W, np.eye(2), B, 0.1, 1.0)
    with pytest.raises(ValueError, match="name"):
        H.predicted_fixed_point("adam", W, np.eye(2), B, 0.1)
    with pytest.raises(ValueError, match="A must"):
        H.predicted_fixed_point("atc", W, np.eye(3), B, 0.1)
    with pytest.raises(ValueError, match="b must"):
        H.isotropic_fixed_point(W, np.zeros((3, 2)), 0.1)


def test_exactness_claim_quick_returns_verdict(tmp_path):
    from verify.claims import Context
    from verify.claims_momentum_tracking import exactness
    ev = exactness(Context(quick=True, out_dir=tmp_path))
    assert ev.verdict == "holds", ev.notes
    assert ev.measured["unequal/mt/max_err_vs_predicted"] <= 1e-10


@pytest.mark.slow
@pytest.mark.parametrize("fn", ["rate_vs_zeta", "momentum_sweep", "topology_claim", "dsgdm_vs_dsgd"])
def test_stochastic_claims_quick_return_verdict(fn, tmp_path):
    import verify.claims_momentum_tracking as M
    from verify.claims import VERDICTS, Context
    ev = getattr(M, fn)(Context(quick=True, out_dir=tmp_path))
    assert ev.verdict in VERDICTS and ev.verdict != "error"
    assert ev.finding and ev.headline and ev.data
