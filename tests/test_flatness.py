"""analysis.flatness against exact Hessians (torch.autograd.functional.hessian + numpy eigvalsh)."""
import numpy as np
import pytest
import scipy.stats
import torch

from analysis.flatness import hessian_operator, hutchinson_trace, top_eigenvalue


def tiny_net_loss(seed=0):
    """Cross-entropy of a 3-5-3 tanh MLP on 12 points, as a function of its 38 flat parameters."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(12, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=g)
    shapes = [(5, 3), (5,), (3, 5), (3,)]

    def loss(p):
        parts, o = [], 0
        for s in shapes:
            n = int(np.prod(s))
            parts.append(p[o:o + n].reshape(s))
            o += n
        W1, b1, W2, b2 = parts
        return torch.nn.functional.cross_entropy(torch.tanh(X @ W1.T + b1) @ W2.T + b2, y)
    p0 = torch.randn(sum(int(np.prod(s)) for s in shapes), generator=g, dtype=torch.float64)
    return loss, p0


@pytest.mark.parametrize("method", ["double_backward", "jvp"])
def test_top_eigenvalue_equals_eigvalsh_of_exact_hessian(method):
    loss, p0 = tiny_net_loss()
    H = torch.autograd.functional.hessian(loss, p0).numpy()
    exact = np.linalg.eigvalsh(H)
    assert top_eigenvalue(loss, p0, tol=1e-10, method=method) == pytest.approx(exact[-1], rel=1e-8)
    top3 = top_eigenvalue(loss, p0, k=3, tol=1e-10, method=method)
    np.testing.assert_allclose(top3, exact[::-1][:3], rtol=1e-7)


def test_operator_matches_exact_hessian_columns():
    loss, p0 = tiny_net_loss(1)
    H = torch.autograd.functional.hessian(loss, p0).numpy()
    op = hessian_operator(loss, p0)
    E = np.eye(p0.numel())
    np.testing.assert_allclose(np.stack([op.matvec(E[i]) for i in range(5)], 1), H[:, :5], atol=1e-12)


def test_hutchinson_ci_covers_exact_trace():
    loss, p0 = tiny_net_loss(2)
    exact = float(np.trace(torch.autograd.functional.hessian(loss, p0).numpy()))
    est = hutchinson_trace(loss, p0, samples=200, confidence=0.99, seed=3)
    assert est.low <= exact <= est.high
    assert est.high - est.low < abs(exact)          # the interval says something


def test_quadratic_closed_form():
    """H = diag(A, -2), A = [[3, 1], [1, 2]]: λ_max = (5 + √5)/2, tr H = 3, and each Rademacher
    draw gives vᵀHv = 3 + 2·A12·v1·v2 ∈ {1, 5}: mean, standard error and t-interval follow from
    the count of fives."""
    A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    loss = lambda z: 0.5 * z[:2] @ A @ z[:2] - z[2] ** 2
    z = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64)
    assert top_eigenvalue(loss, z, tol=1e-12) == pytest.approx((5 + np.sqrt(5)) / 2, rel=1e-10)
    est = hutchinson_trace(loss, z, samples=10)
    j = (est.mean - 1.0) * 10 / 4           # so the mean is 1 + 4j/10, j = number of draws equal to 5
    assert abs(j - round(j)) < 1e-9 and 0 <= round(j) <= 10
    j = round(j)
    se = 4 * np.sqrt(j * (10 - j) / (10 * 9)) / np.sqrt(10)   # sample sd (ddof 1) of j fives, 10 − j ones
    assert est.stderr == pytest.approx(se, abs=1e-12)
    half = scipy.stats.t.ppf(0.975, 9) * se                    # 95% Student-t interval
    assert (est.low, est.high) == pytest.approx((est.mean - half, est.mean + half), abs=1e-12)


def test_bad_input_names_parameter():
    loss, p0 = tiny_net_loss()
    with pytest.raises(ValueError, match="x must"):
        top_eigenvalue(loss, p0.reshape(2, -1))
    with pytest.raises(ValueError, match="samples"):
        hutchinson_trace(loss, p0, samples=1)
    with pytest.raises(ValueError, match="method"):
        top_eigenvalue(loss, p0, method="nope")


def test_disagreement_trend_finds_a_reversal_only_where_intervals_separate():
    from verify.claims_flatness import _disagreement_trend

    def cells(pairs):  # (Σ_dis/D_c, ratio, half-width)
        reg = {f"g{i}/B=1/dsgd": {"Sigma_dis_over_D_c": s} for i, (s, _, _) in enumerate(pairs)}
        meas = {f"g{i}/B=1/dsgd/ratio": {"value": v, "ci_low": v - h, "ci_high": v + h}
                for i, (_, v, h) in enumerate(pairs)}
        return reg, meas

    s, note = _disagreement_trend(*cells([(3.0, 0.2, 0.01), (1.0, 0.5, 0.01), (2.0, 0.3, 0.01)]))
    assert s == 3.0 and "not monotone" not in note
    s, note = _disagreement_trend(*cells([(1.0, 0.5, 0.01), (2.0, 0.3, 0.01), (4.0, 0.9, 0.05)]))
    assert s == 2.0 and "significantly higher at 4.00" in note
    s, note = _disagreement_trend(*cells([(1.0, 0.5, 0.01), (2.0, 0.3, 0.2), (4.0, 0.4, 0.05)]))
    assert "not monotone" not in note  # overlapping intervals: no reversal claimed
    assert _disagreement_trend(*cells([(1.0, 0.5, 0.01), (2.0, 0.3, 0.01)])) is None
