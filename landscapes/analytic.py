"""Closed-form test landscapes with hand-written gradients and Hessians (float64, batched).

Each builder is registered under its name (`landscapes.get(name, **params)`); all
parameters are keyword arguments with the defaults shown. Formulas (x in R^d):

quartic(eps=0)              f = x^4/4 - x^2/2 + eps*x (1-D; docs/theory.md §2 escape example).
double_gaussian(A1=1, m1=-1, s1=0.25, A2=1, m2=1.5, s2=0.75, c=0)
                            f = -A1 exp(-(x-m1)^2/(2 s1^2)) - A2 exp(-(x-m2)^2/(2 s2^2))
                                + c x^2/2 (1-D). A sharp and a flat well of nearly equal
                            depth. The plain two-Gaussian form (c = 0, no constant) already
                            reproduces the issue's numbers: curvature ~A/s^2 at each well,
                            f'' = 15.93 at x = -0.99892 and 1.7778 at x = 1.5, barrier top
                            x = -0.28305 (f = -0.07562), barriers 0.9283 (sharp well) and
                            0.9244 (flat well). c >= 0 adds an optional confinement.
double_well_2d(k=1)         f = (x^2 - 1)^2 + k y^2: minima (+-1, 0), saddle (0, 0).
muller_brown()              f = sum_{i=1..4} A_i exp(a_i (x-x0_i)^2 + b_i (x-x0_i)(y-y0_i)
                                + c_i (y-y0_i)^2), standard parameters (Müller & Brown,
                            Theor. Chim. Acta 53, 75 (1979)).
styblinski_tang(d=2)        f = 1/2 sum_i (x_i^4 - 16 x_i^2 + 5 x_i); separable.
rastrigin(d=2, A=10)        f = A d + sum_i (x_i^2 - A cos(2 pi x_i)); separable.
himmelblau()                f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2: 4 minima, 4 saddles, 1 max.
rosenbrock(d=2, a=1, b=100) f = sum_{i<d} b (x_{i+1} - x_i^2)^2 + (a - x_i)^2.
symmetric(d=1, lam=0.5)     "curse of symmetry" (docs/theory.md, curse-of-symmetry test case):
                            d=1: f = (x^2 - 1)^2, mirror x -> -x, minima +-1, their average 0
                            is a maximum. d=2: regularised scalar matrix factorisation
                            f = (u v - 1)^2 + lam/2 (u^2 + v^2), 0 < lam < 2, symmetric under
                            (u, v) -> (-u, -v) (and u <-> v); minima +-sqrt(1 - lam/2)(1, 1),
                            their average (0, 0) is a saddle-1 (Hessian eigenvalues lam +- 2).
quadratic(H=diag(1,10), x_star=0)  f = 1/2 (x - x*)^T H (x - x*), H symmetric (d, d).

Critical points: 1-D and separable landscapes by a dense sign-change scan of g' plus Brent
(`critical.scan_1d`), products for d > 1 (`critical.product_points`: complete when at most
10 000 points, else minima only, else the global minimum only); other 2-D landscapes by
grid-started Newton (`critical.newton_search`). rosenbrock d = 3: the same Newton search
from ~2000 starts (best effort); d > 3: only the root Newton reaches from (a, ..., a).
quadratic: x_star (the whole affine set x* + null(H) when H is singular: kind 'degenerate').
"""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from .core import DTYPE, Landscape, register
from .critical import finite_check as _finite_check
from .critical import newton_search, product_points, scan_1d


def finite_check(name: str, value) -> float:
    """A finite real number; strings ('10'), bools and None are refused naming `name` (float()
    would turn '10' into 10.0 and True into 1.0)."""
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return _finite_check(name, value)


def _dim(d, minimum: int = 1) -> int:
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < minimum:
        raise ValueError(f"d must be an integer >= {minimum}, got {d!r}")
    return int(d)


def _positive(name: str, v) -> float:
    v = finite_check(name, v)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def _nonneg(name: str, v) -> float:
    v = finite_check(name, v)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def _box(d: int, lo: float, hi: float) -> torch.Tensor:
    return torch.tensor([[lo, hi]] * d, dtype=DTYPE)


def _sym2(hxx, hxy, hyy) -> torch.Tensor:
    return torch.stack([torch.stack([hxx, hxy], -1), torch.stack([hxy, hyy], -1)], -2)


def _separable(name, d, lo, hi, g, dg, ddg, params) -> Landscape:
    """f(x) = sum_i g(x_i) on [lo, hi]^d; critical points = products of g's (Brent scan)."""

    def crit(land):
        r = scan_1d(dg, lo, hi)
        pts, _ = product_points(r, ddg(r), g(r), d)
        return pts

    note = ("complete within bounds (sign-change scan of g' + products)" if d <= 2 else
            "products of 1-D critical points: complete if <= 10000, else minima only, "
            "else the global minimum only")
    return Landscape(name=name, dim=d, bounds=_box(d, lo, hi), params=params,
                     value_fn=lambda x: g(x).sum(-1), grad_fn=dg,
                     hess_fn=lambda x: torch.diag_embed(ddg(x)), critical_fn=crit, note=note)


def _newton_crit(land):
    return newton_search(land.grad_fn, land.hess_fn, land.bounds)


@register("quartic")
def quartic(eps=0.0) -> Landscape:
    """f = x^4/4 - x^2/2 + eps x on [-2, 2]; minima near +-1 (docs/theory.md §2)."""
    eps = finite_check("eps", eps)
    return _separable("quartic", 1, -2.0, 2.0,
                      lambda x: x ** 4 / 4 - x ** 2 / 2 + eps * x,
                      lambda x: x ** 3 - x + eps,
                      lambda x: 3 * x ** 2 - 1, {"eps": eps})


@register("double_gaussian")
def double_gaussian(A1=1.0, m1=-1.0, s1=0.25, A2=1.0, m2=1.5, s2=0.75, c=0.0) -> Landscape:
    """f = -A1 e1 - A2 e2 + c x^2/2, e_i = exp(-(x-m_i)^2/(2 s_i^2)) (module docstring);
    bounds [min(m_i - 4 s_i), max(m_i + 4 s_i)]."""
    A1, m1, A2, m2 = (finite_check(n, v) for n, v in
                      (("A1", A1), ("m1", m1), ("A2", A2), ("m2", m2)))
    s1, s2, c = _positive("s1", s1), _positive("s2", s2), _nonneg("c", c)
    lo, hi = min(m1 - 4 * s1, m2 - 4 * s2), max(m1 + 4 * s1, m2 + 4 * s2)

    k1, k2 = -0.5 / s1 ** 2, -0.5 / s2 ** 2  # e_i = exp(k_i u_i^2), u_i = x - m_i

    def g(x):
        u1, u2 = x - m1, x - m2
        out = -A1 * torch.exp(k1 * u1 * u1) - A2 * torch.exp(k2 * u2 * u2)
        return out + 0.5 * c * x * x if c else out

    def dg(x):  # (A1/s1^2) u1 e1 + (A2/s2^2) u2 e2 (+ c x), in place after the first products
        u1, u2 = x - m1, x - m2
        out = ((A1 / s1 ** 2) * u1).mul_((k1 * u1).mul_(u1).exp_())
        out.add_(((A2 / s2 ** 2) * u2).mul_((k2 * u2).mul_(u2).exp_()))
        return out.add_(c * x) if c else out

    def ddg(x):
        u1, u2 = x - m1, x - m2
        return (A1 * torch.exp(k1 * u1 * u1) * (1 / s1 ** 2 - u1 * u1 / s1 ** 4)
                + A2 * torch.exp(k2 * u2 * u2) * (1 / s2 ** 2 - u2 * u2 / s2 ** 4) + c)

    return _separable("double_gaussian", 1, lo, hi, g, dg, ddg,
                      {"A1": A1, "m1": m1, "s1": s1, "A2": A2, "m2": m2, "s2": s2, "c": c})


@register("styblinski_tang")
def styblinski_tang(d=2) -> Landscape:
    """f = 1/2 sum (x^4 - 16 x^2 + 5 x) on [-5, 5]^d (Styblinski & Tang 1990)."""
    d = _dim(d)
    return _separable("styblinski_tang", d, -5.0, 5.0,
                      lambda x: 0.5 * (x ** 4 - 16 * x ** 2 + 5 * x),
                      lambda x: 2 * x ** 3 - 16 * x + 2.5,
                      lambda x: 6 * x ** 2 - 16, {"d": d})


@register("rastrigin")
def rastrigin(d=2, A=10.0) -> Landscape:
    """f = A d + sum (x^2 - A cos(2 pi x)) on [-5.12, 5.12]^d (docs/theory.md §4 rough landscape)."""
    d, A = _dim(d), _nonneg("A", A)
    w = 2 * math.pi
    return _separable("rastrigin", d, -5.12, 5.12,
                      lambda x: x ** 2 - A * torch.cos(w * x) + A,
                      lambda x: 2 * x + A * w * torch.sin(w * x),
                      lambda x: 2 + A * w * w * torch.cos(w * x), {"d": d, "A": A})


def _symmetric_1d(lam: float) -> Landscape:
    return _separable("symmetric", 1, -2.0, 2.0,
                      lambda x: (x * x - 1) ** 2,
                      lambda x: 4 * x * (x * x - 1),
                      lambda x: 12 * x * x - 4, {"d": 1, "lam": lam})


@register("symmetric")
def symmetric(d=1, lam=0.5) -> Landscape:
    """Curse of symmetry: d=1 (x^2-1)^2; d=2 (uv-1)^2 + lam/2 (u^2+v^2) (module docstring)."""
    d = _dim(d)
    if d > 2:
        raise ValueError(f"d must be 1 or 2 for 'symmetric', got {d}")
    lam = _positive("lam", lam)
    if lam >= 2:
        raise ValueError(f"lam must be < 2 (else the mirror minima merge at 0), got {lam}")
    if d == 1:
        return _symmetric_1d(lam)

    def f(x):
        u, v = x[..., 0], x[..., 1]
        return (u * v - 1) ** 2 + 0.5 * lam * (u * u + v * v)

    def grad(x):
        u, v = x[..., 0], x[..., 1]
        r = u * v - 1
        return torch.stack([2 * r * v + lam * u, 2 * r * u + lam * v], -1)

    def hess(x):
        u, v = x[..., 0], x[..., 1]
        return _sym2(2 * v * v + lam, 4 * u * v - 2, 2 * u * u + lam)

    return Landscape("symmetric", 2, _box(2, -2.0, 2.0), {"d": 2, "lam": lam}, f, grad, hess,
                     _newton_crit, "complete within bounds (grid Newton)")


@register("double_well_2d")
def double_well_2d(k=1.0) -> Landscape:
    """f = (x^2 - 1)^2 + k y^2 on [-2, 2]^2."""
    k = _positive("k", k)

    def f(x):
        return (x[..., 0] ** 2 - 1) ** 2 + k * x[..., 1] ** 2

    def grad(x):
        return torch.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), 2 * k * x[..., 1]], -1)

    def hess(x):
        return _sym2(12 * x[..., 0] ** 2 - 4, torch.zeros_like(x[..., 0]),
                     torch.full_like(x[..., 0], 2 * k))

    return Landscape("double_well_2d", 2, _box(2, -2.0, 2.0), {"k": k}, f, grad, hess,
                     _newton_crit, "complete within bounds (grid Newton)")


_MB = {k: torch.tensor(v, dtype=DTYPE) for k, v in {
    "A": [-200.0, -100.0, -170.0, 15.0], "a": [-1.0, -1.0, -6.5, 0.7],
    "b": [0.0, 0.0, 11.0, 0.6], "c": [-10.0, -10.0, -6.5, 0.7],
    "x0": [1.0, 0.0, -0.5, -1.0], "y0": [0.0, 0.5, 1.5, 1.0]}.items()}


def _mb_terms(x):
    u = x[..., 0:1] - _MB["x0"]
    v = x[..., 1:2] - _MB["y0"]
    a, b, c = _MB["a"], _MB["b"], _MB["c"]
    e = _MB["A"] * torch.exp(a * u * u + b * u * v + c * v * v)
    return e, 2 * a * u + b * v, b * u + 2 * c * v


@register("muller_brown")
def muller_brown() -> Landscape:
    """Müller–Brown potential on [-1.5, 1.2] x [-0.5, 2.0] (module docstring)."""

    def f(x):
        return _mb_terms(x)[0].sum(-1)

    def grad(x):
        e, qx, qy = _mb_terms(x)
        return torch.stack([(e * qx).sum(-1), (e * qy).sum(-1)], -1)

    def hess(x):
        e, qx, qy = _mb_terms(x)
        return _sym2((e * (qx * qx + 2 * _MB["a"])).sum(-1), (e * (qx * qy + _MB["b"])).sum(-1),
                     (e * (qy * qy + 2 * _MB["c"])).sum(-1))

    bounds = torch.tensor([[-1.5, 1.2], [-0.5, 2.0]], dtype=DTYPE)
    return Landscape("muller_brown", 2, bounds, {}, f, grad, hess, _newton_crit,
                     "complete within bounds (grid Newton)")


@register("himmelblau")
def himmelblau() -> Landscape:
    """f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2 on [-5, 5]^2."""

    def f(x):
        p = x[..., 0] ** 2 + x[..., 1] - 11
        q = x[..., 0] + x[..., 1] ** 2 - 7
        return p * p + q * q

    def grad(x):
        X, Y = x[..., 0], x[..., 1]
        p, q = X * X + Y - 11, X + Y * Y - 7
        return torch.stack([4 * X * p + 2 * q, 2 * p + 4 * Y * q], -1)

    def hess(x):
        X, Y = x[..., 0], x[..., 1]
        p, q = X * X + Y - 11, X + Y * Y - 7
        return _sym2(4 * p + 8 * X * X + 2, 4 * X + 4 * Y, 2 + 4 * q + 8 * Y * Y)

    return Landscape("himmelblau", 2, _box(2, -5.0, 5.0), {}, f, grad, hess, _newton_crit,
                     "complete within bounds (grid Newton)")


@register("rosenbrock")
def rosenbrock(d=2, a=1.0, b=100.0) -> Landscape:
    """f = sum_{i<d} b (x_{i+1} - x_i^2)^2 + (a - x_i)^2 on [-2, 2]^d, d >= 2."""
    d, a, b = _dim(d, 2), finite_check("a", a), _positive("b", b)

    def f(x):
        r = x[..., 1:] - x[..., :-1] ** 2
        return (b * r * r + (a - x[..., :-1]) ** 2).sum(-1)

    def grad(x):
        xi = x[..., :-1]
        r = x[..., 1:] - xi ** 2
        return F.pad(-4 * b * xi * r - 2 * (a - xi), (0, 1)) + F.pad(2 * b * r, (1, 0))

    def hess(x):
        xi, xn = x[..., :-1], x[..., 1:]
        diag = F.pad(12 * b * xi ** 2 - 4 * b * xn + 2, (0, 1)) + F.pad(
            torch.full_like(xi, 2 * b), (1, 0))
        off = -4 * b * xi
        return (torch.diag_embed(diag) + torch.diag_embed(off, offset=1)
                + torch.diag_embed(off, offset=-1))

    if d <= 3:
        crit, note = _newton_crit, ("complete within bounds (grid Newton)" if d == 2 else
                                    "grid Newton from ~2000 starts (best effort)")
    else:
        def crit(land):
            return newton_search(land.grad_fn, land.hess_fn, land.bounds,
                                 starts=torch.full((1, d), a, dtype=DTYPE))
        note = "only the critical point Newton reaches from (a, ..., a)"
    return Landscape("rosenbrock", d, _box(d, -2.0, 2.0), {"d": d, "a": a, "b": b}, f, grad,
                     hess, crit, note)


@register("quadratic")
def quadratic(H=None, x_star=None) -> Landscape:
    """f = 1/2 (x - x*)^T H (x - x*) on x* +- 3; H symmetric (d, d), default diag(1, 10)."""
    H = torch.diag(torch.tensor([1.0, 10.0], dtype=DTYPE)) if H is None else H
    try:
        H = torch.as_tensor(H, dtype=DTYPE).clone()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"H must be a real (d, d) matrix, got {H!r}") from None
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] < 1:
        raise ValueError(f"H must be a square (d, d) matrix with d >= 1, got shape "
                         f"{tuple(H.shape)}")
    if not bool(torch.isfinite(H).all()):
        raise ValueError("H must be finite")
    if not torch.allclose(H, H.T, rtol=0, atol=1e-12 * max(1.0, float(H.abs().max()))):
        raise ValueError("H must be symmetric")
    d = H.shape[0]
    x_star = torch.zeros(d, dtype=DTYPE) if x_star is None else x_star
    try:
        x_star = torch.as_tensor(x_star, dtype=DTYPE).clone()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"x_star must be a real vector of shape ({d},)") from None
    if x_star.shape != (d,) or not bool(torch.isfinite(x_star).all()):
        raise ValueError(f"x_star must be a finite vector of shape ({d},), got shape "
                         f"{tuple(x_star.shape)}")

    def f(x):
        dx = x - x_star
        return 0.5 * ((dx @ H) * dx).sum(-1)

    def grad(x):
        return (x - x_star) @ H

    def hess(x):
        return H.expand(*x.shape[:-1], d, d).clone()

    bounds = torch.stack([x_star - 3.0, x_star + 3.0], -1)
    return Landscape("quadratic", d, bounds, {"H": H, "x_star": x_star}, f, grad, hess,
                     lambda land: x_star.reshape(1, d),
                     "x_star (kind 'degenerate' when H is singular: the critical set is "
                     "x_star + null(H))")
