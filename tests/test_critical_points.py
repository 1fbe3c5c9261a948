"""Critical points: stationarity, Hessian signature, and completeness against an independent
search (autograd gradients, a different and finer grid, scipy root finding)."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq, root
from scipy.spatial import cKDTree

import landscapes
from landscapes.core import classify

LOW_DIM = [
    ("quartic", {}), ("quartic", {"eps": 0.2}), ("quartic", {"eps": -0.35}),
    ("double_gaussian", {}), ("double_gaussian", {"s1": 0.3, "c": 0.1, "A2": 0.8}),
    ("symmetric", {"d": 1}), ("symmetric", {"d": 2}), ("symmetric", {"d": 2, "lam": 1.5}),
    ("styblinski_tang", {"d": 1}), ("styblinski_tang", {"d": 2}),
    ("rastrigin", {"d": 1}), ("rastrigin", {"d": 2}), ("rastrigin", {"d": 2, "A": 1.0}),
    ("double_well_2d", {}), ("double_well_2d", {"k": 3.0}), ("himmelblau", {}),
    ("muller_brown", {}), ("rosenbrock", {"d": 2}), ("rosenbrock", {"d": 2, "a": -0.5}),
    ("quadratic", {"H": [[1.0, 2.0], [2.0, -3.0]], "x_star": [0.5, -1.0]}),
]
ALL = LOW_DIM + [("styblinski_tang", {"d": 3}), ("rastrigin", {"d": 3}),
                 ("rosenbrock", {"d": 3}), ("rosenbrock", {"d": 6}),
                 ("quadratic", {"H": torch.diag(torch.tensor([-1.0, 2.0, -3.0, 4.0]))})]


def _id(case):
    return case[0] + "".join(f"-{k}={v}" for k, v in case[1].items() if k != "H")


def _ad_grad(land, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(land.f(x).sum(), x)
    return g


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_listed_points_are_stationary_and_classified(case):
    land = landscapes.get(case[0], **case[1])
    cps = land.critical_points
    assert cps, "no critical points listed"
    assert [c.value for c in cps] == sorted(c.value for c in cps)
    xs = torch.stack([c.x for c in cps])
    assert xs.shape == (len(cps), land.dim)
    assert float(land.grad(xs).norm(dim=-1).max()) <= 1e-9
    assert float(_ad_grad(land, xs).norm(dim=-1).max()) <= 1e-9
    vals = torch.tensor([c.value for c in cps])
    assert torch.allclose(vals, land.f(xs), rtol=1e-15, atol=1e-15)
    # signature from an independent eigen-solver (numpy) on the autograd Hessian
    h = torch.func.vmap(torch.func.hessian(land.f))(xs).numpy()
    eig = np.linalg.eigvalsh(h)
    ours = np.sort(torch.stack([c.hessian_eigvals for c in cps]).numpy(), axis=-1)
    assert np.allclose(ours, eig, rtol=1e-8, atol=1e-8 * max(1.0, np.abs(eig).max()))
    n_neg = (eig < 0).sum(-1)
    expected = ["min" if k == 0 else "max" if k == land.dim else f"saddle-{k}" for k in n_neg]
    assert [c.kind for c in cps] == expected
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    assert bool(((xs >= lo - 1e-9) & (xs <= hi + 1e-9)).all())
    # no duplicates
    assert not cKDTree(xs.numpy()).query_pairs(r=1e-6)


def _independent_1d(land, n=200_003):
    lo, hi = (float(v) for v in land.bounds[0])
    t = torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]
    g = _ad_grad(land, t)[:, 0].numpy()
    tt = t[:, 0].numpy()

    def scalar(u):
        return float(_ad_grad(land, torch.tensor([u], dtype=torch.float64))[0])

    roots = [tt[i] for i in np.nonzero(g == 0)[0]]
    roots += [brentq(scalar, tt[i], tt[i + 1], xtol=1e-14)
              for i in np.nonzero(g[:-1] * g[1:] < 0)[0]]
    return np.array(roots).reshape(-1, 1)


def _independent_2d(land, n=241):
    """Local minima of ||grad f||^2 (autograd) on a grid offset from the search grid, each
    refined by scipy's hybrid Powell root finder (MINPACK hybrj). The refinement uses the
    analytic grad/hess, which test_landscapes checks against autograd; the final residual
    is checked with autograd."""
    lo, hi = land.bounds[:, 0], land.bounds[:, 1]
    w = hi - lo
    axes = [torch.linspace(float(lo[i] + 0.0037 * w[i]), float(hi[i] - 0.0041 * w[i]), n,
                           dtype=torch.float64) for i in range(2)]
    X, Y = torch.meshgrid(*axes, indexing="ij")
    pts = torch.stack([X, Y], -1)
    G = (_ad_grad(land, pts) ** 2).sum(-1).numpy()
    P = np.pad(G, 1, constant_values=np.inf)
    is_min = np.ones_like(G, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                is_min &= G <= P[1 + di:1 + di + n, 1 + dj:1 + dj + n]
    starts = pts.numpy()[is_min]

    def fun(z):
        return land.grad(torch.from_numpy(z)).numpy()

    def jac(z):
        return land.hess(torch.from_numpy(z)).numpy()

    found = []
    for z0 in starts:
        sol = root(fun, z0, jac=jac, method="hybr", options={"xtol": 1e-13})
        z = sol.x
        inside = np.all(z >= lo.numpy() - 1e-9) and np.all(z <= hi.numpy() + 1e-9)
        resid = float(_ad_grad(land, torch.from_numpy(z)).norm())
        if inside and resid <= 1e-8 * max(1.0, np.abs(jac(z)).max()):
            found.append(z)
    return np.array(found).reshape(-1, 2)


@pytest.mark.parametrize("case", LOW_DIM, ids=_id)
def test_independent_search_finds_nothing_missing(case):
    land = landscapes.get(case[0], **case[1])
    listed = torch.stack([c.x for c in land.critical_points]).numpy()
    found = _independent_1d(land) if land.dim == 1 else _independent_2d(land)
    assert len(found) > 0
    scale = float((land.bounds[:, 1] - land.bounds[:, 0]).max())
    for z in found:
        dist = np.abs(listed - z).max(axis=1).min()
        assert dist <= 1e-6 * scale, f"critical point {z} missing from the list"


def test_known_counts():
    # Himmelblau: 4 minima, 4 saddles, 1 maximum (at (-0.270845, -0.923039), f = 181.617)
    hb = landscapes.get("himmelblau")
    kinds = [c.kind for c in hb.critical_points]
    assert (kinds.count("min"), kinds.count("saddle-1"), kinds.count("max")) == (4, 4, 1)
    (mx,) = hb.maxima()
    assert np.allclose(mx.x.numpy(), [-0.270845, -0.923039], atol=1e-6)
    assert mx.value == pytest.approx(181.617, abs=1e-3)
    # quartic: the real roots of x^3 - x + eps (numpy polynomial roots)
    for eps in (0.0, 0.2, 0.5):
        r = np.roots([1.0, 0.0, -1.0, eps])
        r = np.sort(r[np.abs(r.imag) < 1e-12].real)
        got = np.sort([c.x.item() for c in landscapes.get("quartic", eps=eps).critical_points])
        assert np.allclose(got, r, atol=1e-12)
    # double_well_2d: (+-1, 0) minima, (0, 0) saddle
    dw = landscapes.get("double_well_2d")
    assert sorted(c.kind for c in dw.critical_points) == ["min", "min", "saddle-1"]
    assert np.allclose(sorted(c.x.tolist() for c in dw.minima()), [[-1, 0], [1, 0]], atol=1e-12)
    assert landscapes.get("rosenbrock").critical_points[0].x.tolist() == pytest.approx([1, 1])


def test_separable_product_structure():
    r = np.sort(np.roots([2.0, 0.0, -16.0, 2.5]).real)  # Styblinski–Tang 1-D: 2x^3-16x+5/2
    st3 = landscapes.get("styblinski_tang", d=3)
    assert len(st3.critical_points) == 27
    assert st3.critical_points[0].value == pytest.approx(
        3 * 0.5 * (r[0] ** 4 - 16 * r[0] ** 2 + 5 * r[0]), rel=1e-13)
    # kinds: choose k coordinates at the 1-D maximum (middle root): C(3,k) * 2^(3-k)
    kinds = [c.kind for c in st3.critical_points]
    for k, name in enumerate(["min", "saddle-1", "saddle-2", "max"]):
        assert kinds.count(name) == math.comb(3, k) * 2 ** (3 - k)
    # d = 9: 3^9 > 10000 points, so only the 2^9 minima are listed
    st9 = landscapes.get("styblinski_tang", d=9)
    assert len(st9.critical_points) == 2 ** 9
    assert all(c.kind == "min" for c in st9.critical_points)
    # Rastrigin 1-D critical-point count squared in 2-D
    m = len(landscapes.get("rastrigin", d=1).critical_points)
    assert len(landscapes.get("rastrigin", d=2).critical_points) == m * m
    assert landscapes.get("rastrigin", d=4).critical_points[0].value == pytest.approx(0, abs=1e-12)


def test_classify():
    assert classify(torch.tensor([1.0, 2.0])) == "min"
    assert classify(torch.tensor([-1.0, 2.0, 3.0])) == "saddle-1"
    assert classify(torch.tensor([-1.0, -2.0, 3.0])) == "saddle-2"
    assert classify(torch.tensor([-1.0, -2.0])) == "max"
    assert classify(torch.tensor([0.0, 2.0])) == "degenerate"


def test_rosenbrock_high_dim_global_min():
    land = landscapes.get("rosenbrock", d=6)
    assert any(torch.allclose(c.x, torch.ones(6), atol=1e-12) and c.kind == "min"
               for c in land.critical_points)
