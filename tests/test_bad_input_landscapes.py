"""Bad input to landscapes (registry, builders, oracles, random streams) -> ValueError naming
the argument."""
import torch

import landscapes as L
from landscapes import rng
from _bad_input import check, table

Q = L.get("quartic")
H = L.hetero_quadratics(4, 2, zeta=1.0, hess_spread=2.0, seed=0)

CASES = [
    ("unknown-name", lambda: L.get("double_gausian"), r"unknown landscape 'double_gausian'.*did you mean 'double_gaussian'"),
    ("name-not-str", lambda: L.get(3), r"unknown landscape 3"),
    ("unknown-param", lambda: L.get("quartic", epsilon=0.1), r"unknown parameter 'epsilon'.*did you mean 'eps'"),
    ("eps-str", lambda: L.get("quartic", eps="a"), r"eps must be a real number"),
    ("eps-nan", lambda: L.get("quartic", eps=float("nan")), r"eps must be finite"),
    ("rastrigin-A-str", lambda: L.get("rastrigin", A="10"), r"A must be a real number"),
    ("rastrigin-d-bool", lambda: L.get("rastrigin", d=True), r"d must be an integer"),
    ("rastrigin-d-zero", lambda: L.get("rastrigin", d=0), r"d must be an integer >= 1"),
    ("rastrigin-d-float", lambda: L.get("rastrigin", d=2.5), r"d must be an integer"),
    ("styblinski-d-str", lambda: L.get("styblinski_tang", d="2"), r"d must be an integer"),
    ("rosenbrock-d-1", lambda: L.get("rosenbrock", d=1), r"d must be an integer >= 2"),
    ("rosenbrock-b-neg", lambda: L.get("rosenbrock", b=-1.0), r"b must be > 0"),
    ("rosenbrock-a-bool", lambda: L.get("rosenbrock", a=True), r"a must be a real number"),
    ("dg-s1-zero", lambda: L.get("double_gaussian", s1=0.0), r"s1 must be > 0"),
    ("dg-A1-none", lambda: L.get("double_gaussian", A1=None), r"A1 must be a real number"),
    ("symmetric-d-3", lambda: L.get("symmetric", d=3), r"d must be 1 or 2"),
    ("symmetric-lam-2", lambda: L.get("symmetric", lam=2.0), r"lam must be < 2"),
    ("quadratic-H-str", lambda: L.get("quadratic", H="x"), r"H must be a real"),
    ("quadratic-H-nonsym", lambda: L.get("quadratic", H=[[1.0, 2.0], [0.0, 1.0]]), r"H must be symmetric"),
    ("quadratic-H-rect", lambda: L.get("quadratic", H=[[1.0, 0.0]]), r"H must be a square"),
    ("quadratic-xstar-shape", lambda: L.get("quadratic", H=[[1.0]], x_star=[1.0, 2.0]), r"x_star"),
    ("f-wrong-dim", lambda: Q.f(torch.zeros(3, 2)), r"x must have shape \(\.\.\., 1\)"),
    ("grad-scalar", lambda: Q.grad(torch.tensor(1.0)), r"x must have shape"),
    ("hess-wrong-dim", lambda: L.get("himmelblau").hess(torch.zeros(3)), r"x must have shape \(\.\.\., 2\)"),
    ("noise-unknown", lambda: L.oracle(Q, noise="isotropc"), r"noise must be one of.*did you mean 'isotropic'"),
    ("batch-zero", lambda: L.oracle(Q, batch=0), r"batch must be an integer >= 1"),
    ("batch-float", lambda: L.oracle(Q, batch=2.0), r"batch must be an integer"),
    ("batch-bool", lambda: L.oracle(Q, batch=True), r"batch must be an integer"),
    ("sigma-neg", lambda: L.oracle(Q, noise="isotropic", sigma=-1.0), r"sigma must be a finite number >= 0"),
    ("sigma-str", lambda: L.oracle(Q, noise="isotropic", sigma="1"), r"sigma must be a finite number"),
    ("sigma-inf", lambda: L.oracle(Q, noise="isotropic", sigma=float("inf")), r"sigma must be a finite"),
    ("scale-neg", lambda: L.oracle(Q, noise="loss", scale=-1.0), r"scale must be a finite number >= 0"),
    ("stream-float", lambda: L.oracle(Q, stream=1.5), r"stream must be an integer"),
    ("stream-neg", lambda: L.oracle(Q, stream=-1), r"stream must be an integer >= 0"),
    ("cov-missing-C", lambda: L.oracle(Q, noise="covariance"), r"C must be given"),
    ("cov-C-shape", lambda: L.oracle(Q, noise="covariance", C=torch.eye(2)), r"C must have shape \(1, 1\)"),
    ("cov-C-str", lambda: L.oracle(Q, noise="covariance", C="abc"), r"C must be a real"),
    ("cov-C-not-psd", lambda: L.oracle(Q, noise="covariance", C=[[-1.0]]), r"C must be positive semi-definite"),
    ("hessian-xref-shape", lambda: L.oracle(Q, noise="hessian", x_ref=[0.0, 1.0]), r"x_ref must have shape \(1,\)"),
    ("hessian-xref-str", lambda: L.oracle(Q, noise="hessian", x_ref="a"), r"x_ref must be a real vector"),
    ("minibatch-analytic", lambda: L.oracle(Q, noise="minibatch"), r"noise='minibatch' needs a data-based"),
    ("oracle-x-shape", lambda: L.oracle(H)(torch.zeros(2, 4, 3), 0, rng.Streams(0, 2)), r"x must have shape \(\.\.\., K, 2\)"),
    ("oracle-x-R", lambda: L.oracle(H)(torch.zeros(3, 4, 2), 0, rng.Streams(0, 2)), r"x must have shape \(R=2"),
    ("streams-R-zero", lambda: rng.Streams(0, 0), r"replicas must be >= 1"),
    ("streams-seed-neg", lambda: rng.Streams(-1, 2), r"seed must be >= 0"),
    ("streams-ids-2d", lambda: rng.Streams(0, torch.zeros(2, 2, dtype=torch.int64)), r"replica ids must be 1-D"),
    ("streams-seed-float", lambda: rng.Streams(1.5, 2), r"seed must be an integer"),
    ("streams-seed-bool", lambda: rng.Streams(True, 2), r"seed must be an integer"),
    ("streams-R-bool", lambda: rng.Streams(0, True), r"replicas must be an int"),
    ("streams-ids-float", lambda: rng.Streams(0, torch.tensor([0.0, 1.0])), r"replica ids must be integers"),
    ("randint-high-0", lambda: rng.Streams(0, 2).randint(0, 0, (3,)), r"high must be >= 1"),
    ("rng-source", lambda: rng.normal("seed", 0, (2,)), r"random source must be"),
]


@table(CASES)
def test_bad_input(thunk, match):
    check(thunk, match)


def test_count():
    assert len(CASES) >= 40
