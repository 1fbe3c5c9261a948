"""Landscape values/derivatives against autograd, published numbers, bad input, CLI."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import landscapes
from landscapes.__main__ import main, table

CASES = [(n, {}) for n in landscapes.names()] + [
    ("quartic", {"eps": 0.3}),
    ("double_gaussian", {"A1": 0.7, "m1": -0.5, "s1": 0.4, "A2": 1.3, "m2": 1.0, "s2": 0.6,
                         "c": 0.2}),
    ("double_well_2d", {"k": 2.5}),
    ("styblinski_tang", {"d": 4}),
    ("rastrigin", {"d": 3, "A": 4.0}),
    ("rosenbrock", {"d": 5, "a": 0.5, "b": 30.0}),
    ("symmetric", {"d": 2, "lam": 1.2}),
    ("quadratic", {"H": [[2.0, -1.0, 0.5], [-1.0, -3.0, 0.0], [0.5, 0.0, 1.0]],
                   "x_star": [1.0, -2.0, 0.5]}),
]


def _point(land, u):
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    return lo + torch.tensor(u[:land.dim], dtype=torch.float64) * (hi - lo)


def _close(a, b, rtol=1e-8):
    """|a - b| <= rtol |b| + rtol max(1, max|b|) elementwise (floor scaled to magnitude)."""
    floor = rtol * max(1.0, float(b.abs().max()))
    return bool(((a - b).abs() <= rtol * b.abs() + floor).all())


@given(case=st.sampled_from(CASES),
       u=st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5))
def test_grad_and_hess_match_autograd(case, u):
    land = landscapes.get(case[0], **case[1])
    x = _point(land, u)
    xr = x.clone().requires_grad_(True)
    (g_ad,) = torch.autograd.grad(land.f(xr), xr)
    assert _close(land.grad(x), g_ad)
    h_ad = torch.autograd.functional.jacobian(land.grad, x)
    assert _close(land.hess(x), h_ad)
    assert _close(land.hess(x), torch.autograd.functional.hessian(land.f, x))
    assert torch.allclose(land.hess(x), land.hess(x).transpose(-1, -2), rtol=0, atol=1e-12 *
                          max(1.0, float(land.hess(x).abs().max())))


@pytest.mark.parametrize("name,params", CASES)
def test_batched_shapes_match_pointwise(name, params):
    land = landscapes.get(name, **params)
    g = torch.Generator().manual_seed(0)
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    x = lo + torch.rand(2, 3, land.dim, generator=g, dtype=torch.float64) * (hi - lo)
    f, gr, h = land.f(x), land.grad(x), land.hess(x)
    assert f.shape == (2, 3) and gr.shape == (2, 3, land.dim)
    assert h.shape == (2, 3, land.dim, land.dim)
    assert f.dtype == torch.float64
    for i in range(2):
        for j in range(3):
            assert torch.equal(land.f(x[i, j]), f[i, j])
            assert torch.allclose(land.grad(x[i, j]), gr[i, j], rtol=1e-14, atol=0)
            assert torch.allclose(land.hess(x[i, j]), h[i, j], rtol=1e-14, atol=0)


def test_closed_form_values():
    # textbook definitions evaluated independently with numpy
    x = np.array([0.3, -1.7])
    t = torch.tensor(x)
    st2 = 0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x)
    assert float(landscapes.get("styblinski_tang").f(t)) == pytest.approx(st2, rel=1e-14)
    ra = 20 + np.sum(x ** 2 - 10 * np.cos(2 * np.pi * x))
    assert float(landscapes.get("rastrigin").f(t)) == pytest.approx(ra, rel=1e-14)
    hb = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    assert float(landscapes.get("himmelblau").f(t)) == pytest.approx(hb, rel=1e-14)
    rb = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    assert float(landscapes.get("rosenbrock").f(t)) == pytest.approx(rb, rel=1e-14)
    q = float(landscapes.get("quartic", eps=0.2).f(torch.tensor([0.7])))
    assert q == pytest.approx(0.7 ** 4 / 4 - 0.7 ** 2 / 2 + 0.2 * 0.7, rel=1e-14)
    # Müller–Brown at the origin from the published parameter table (Müller & Brown 1979)
    A, a, b, c = [-200, -100, -170, 15], [-1, -1, -6.5, 0.7], [0, 0, 11, 0.6], [-10, -10, -6.5, 0.7]
    x0, y0 = [1, 0, -0.5, -1], [0, 0.5, 1.5, 1]
    mb = sum(A[i] * math.exp(a[i] * x0[i] ** 2 + b[i] * x0[i] * y0[i] + c[i] * y0[i] ** 2)
             for i in range(4))
    assert float(landscapes.get("muller_brown").f(torch.zeros(2))) == pytest.approx(mb, rel=1e-13)
    sym = landscapes.get("symmetric", d=2, lam=0.5)
    assert float(sym.f(torch.tensor([0.4, -1.1]))) == pytest.approx(
        (0.4 * -1.1 - 1) ** 2 + 0.25 * (0.4 ** 2 + 1.1 ** 2), rel=1e-14)


def test_muller_brown_published_points():
    land = landscapes.get("muller_brown")
    mins = sorted(land.minima(), key=lambda c: c.value)
    # standard literature values for the Müller–Brown stationary points (Müller & Brown 1979)
    published_min = [((-0.558224, 1.441726), -146.6995), ((0.623499, 0.028038), -108.1667),
                     ((-0.050011, 0.466694), -80.7678)]
    assert len(mins) == 3
    for cp, (xy, v) in zip(mins, published_min):
        assert np.allclose(cp.x.numpy(), xy, atol=2e-6)
        assert cp.value == pytest.approx(v, abs=1e-4)
    sad = sorted(land.saddles(), key=lambda c: c.x[0].item())
    published_saddle = [((-0.822, 0.624), -40.665), ((0.212, 0.293), -72.249)]
    assert len(sad) == 2
    for cp, (xy, v) in zip(sad, published_saddle):
        assert cp.kind == "saddle-1"
        assert np.allclose(cp.x.numpy(), xy, atol=1e-3)
        assert cp.value == pytest.approx(v, abs=1e-3)


def test_styblinski_tang_global_minimum():
    land = landscapes.get("styblinski_tang", d=2)
    best = land.critical_points[0]
    assert best.kind == "min"
    assert np.allclose(best.x.numpy(), [-2.903534, -2.903534], atol=1e-6)
    assert best.value == pytest.approx(-78.33233, abs=1e-5)


def test_double_gaussian_issue_numbers():
    land = landscapes.get("double_gaussian")
    (sharp, flat) = sorted(land.minima(), key=lambda c: c.x.item())
    (top,) = land.maxima()
    assert sharp.x.item() < top.x.item() < flat.x.item()
    assert round(sharp.hessian_eigvals.item(), 1) == 15.9
    assert round(flat.hessian_eigvals.item(), 2) == 1.78
    assert round(top.value - sharp.value, 2) == 0.93
    assert round(top.value - flat.value, 2) == 0.92
    # single-Gaussian limit: curvature A/s^2 at each well, depth ~ A
    assert sharp.hessian_eigvals.item() == pytest.approx(1 / 0.25 ** 2, rel=0.01)
    assert flat.hessian_eigvals.item() == pytest.approx(1 / 0.75 ** 2, rel=0.01)


def test_symmetric_curse_of_symmetry():
    one = landscapes.get("symmetric", d=1)
    mins = one.minima()
    assert sorted(c.x.item() for c in mins) == pytest.approx([-1.0, 1.0], abs=1e-12)
    mid = torch.stack([c.x for c in mins]).mean(0)
    assert torch.linalg.eigvalsh(one.hess(mid)).max() < 0  # average of mirror minima: a max
    lam = 0.8
    two = landscapes.get("symmetric", d=2, lam=lam)
    r = math.sqrt(1 - lam / 2)
    pts = sorted(c.x.tolist() for c in two.minima())
    assert np.allclose(pts, [[-r, -r], [r, r]], atol=1e-12)
    mid = torch.stack([c.x for c in two.minima()]).mean(0)
    eig = torch.linalg.eigvalsh(two.hess(mid))
    assert np.allclose(eig.numpy(), [lam - 2, lam + 2], atol=1e-12)  # saddle-1
    x = torch.tensor([0.3, -0.7])
    assert float(two.f(x)) == pytest.approx(float(two.f(-x)), rel=1e-15)


def test_critical_points_are_cached():
    land = landscapes.get("himmelblau")
    assert land.critical_points is land.critical_points
    assert landscapes.get("himmelblau") is land


def test_quadratic():
    H = torch.tensor([[2.0, 1.0], [1.0, -1.0]])
    land = landscapes.get("quadratic", H=H, x_star=[1.0, 2.0])
    (cp,) = land.critical_points
    assert cp.kind == "saddle-1" and torch.equal(cp.x, torch.tensor([1.0, 2.0]))
    x = torch.tensor([0.5, -1.0])
    dx = x - torch.tensor([1.0, 2.0])
    assert float(land.f(x)) == pytest.approx(0.5 * float(dx @ H @ dx), rel=1e-14)
    sing = landscapes.get("quadratic", H=[[1.0, 0.0], [0.0, 0.0]])
    assert sing.critical_points[0].kind == "degenerate"


# ------------------------------------------------------------------ bad input
def test_unknown_name_lists_names():
    with pytest.raises(ValueError, match="muller_brown"):
        landscapes.get("no_such_landscape")


def test_unknown_parameter():
    with pytest.raises(ValueError, match="sigma"):
        landscapes.get("quartic", sigma=1.0)


@pytest.mark.parametrize("name,params,word", [
    ("double_gaussian", {"s1": 0.0}, "s1"), ("double_gaussian", {"s2": -1.0}, "s2"),
    ("double_gaussian", {"c": -0.1}, "c"), ("double_gaussian", {"A1": float("nan")}, "A1"),
    ("styblinski_tang", {"d": 0}, "d"), ("rastrigin", {"d": 1.5}, "d"),
    ("rastrigin", {"A": -1.0}, "A"), ("rosenbrock", {"d": 1}, "d"),
    ("rosenbrock", {"b": 0.0}, "b"), ("quartic", {"eps": "x"}, "eps"),
    ("symmetric", {"d": 3}, "d"), ("symmetric", {"lam": 2.0}, "lam"),
    ("double_well_2d", {"k": 0.0}, "k"),
    ("quadratic", {"H": [[1.0, 2.0], [0.0, 1.0]]}, "symmetric"),
    ("quadratic", {"H": [[1.0, 0.0, 0.0]]}, "H"),
    ("quadratic", {"H": [[1.0, 0.0], [0.0, 1.0]], "x_star": [0.0, 0.0, 0.0]}, "x_star"),
])
def test_invalid_parameter_named(name, params, word):
    with pytest.raises(ValueError, match=word):
        landscapes.get(name, **params)


@pytest.mark.parametrize("method", ["f", "grad", "hess"])
def test_wrong_trailing_dim(method):
    land = landscapes.get("himmelblau")
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        getattr(land, method)(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        getattr(land, method)(torch.tensor(1.0))


# ------------------------------------------------------------------ CLI
def test_cli_plot_and_table(tmp_path, capsys):
    out = tmp_path / "dg.png"
    assert main(["plot", "double_gaussian", "--out", str(out), "s1=0.3"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out2 = tmp_path / "hb.png"
    assert main(["plot", "himmelblau", "--out", str(out2)]) == 0
    assert out2.stat().st_size > 1000
    assert main(["plot", "rastrigin", "--out", str(tmp_path / "r.png"), "d=3"]) == 2
    assert "dim" in capsys.readouterr().err
    text = table(max_rows=3)
    for n in landscapes.names():
        assert n in text
    assert "-146.69" in text
