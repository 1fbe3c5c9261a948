"""Bad input to the distributed runner (dynamics/distributed.py), checked before any process
group or run folder exists -> ValueError naming the argument."""
import torch

from dynamics import distributed as Dd
from dynamics import topology as T
from _bad_input import check, table

X = torch.zeros(1, 4, 2, dtype=torch.float64)
R4 = T.ring(4)


def ci(name="dsgd", top=R4, x0=X, steps=10, hp=None, seed=0, timeout=5.0, **kw):
    return lambda: Dd.check_inputs(name, top, x0, steps, dict(lr=0.1) if hp is None else hp, seed, timeout, **kw)


def cli(*args):
    a = Dd.parser().parse_args(["--K", "4", *args])
    return lambda: Dd.prepare(a)


CASES = [
    ("algo-not-distributed", ci("easgd_rr", None), r"algorithm 'easgd_rr' is not distributed"),
    ("algo-near-miss", ci("dsgdd"), r"not distributed \(did you mean 'dsgd'"),
    ("topology-none-gossip", ci("dsgd", None), r"topology: algorithm 'dsgd' mixes with its neighbours"),
    ("topology-none-gt", ci("gt", None), r"topology: algorithm 'gt'"),
    ("steps-negative", ci(steps=-5), r"steps must be an integer >= 0, got -5"),
    ("steps-float", ci(steps=2.5), r"steps must be an integer"),
    ("steps-bool", ci(steps=True), r"steps must be an integer"),
    ("seed-float", ci(seed=1.5), r"seed must be an integer >= 0, got 1.5"),
    ("seed-negative", ci(seed=-1), r"seed must be an integer >= 0"),
    ("timeout-zero", ci(timeout=0), r"timeout must be a finite number of seconds > 0, got 0"),
    ("timeout-negative", ci(timeout=-1.0), r"timeout must be"),
    ("timeout-inf", ci(timeout=float("inf")), r"timeout must be a finite"),
    ("timeout-str", ci(timeout="5"), r"timeout must be"),
    ("checkpoint-every-negative", ci(checkpoint_every=-1), r"checkpoint_every must be an integer >= 0"),
    ("x0-2d", ci(x0=torch.zeros(4, 2)), r"x0 must be a tensor of shape \(R, K, d\)"),
    ("x0-list", ci(x0=[[0.0]]), r"x0 must be a tensor of shape \(R, K, d\), got list"),
    ("x0-float16", ci(x0=X.half()), r"x0: dtype torch.float16 is not supported"),
    ("x0-K-mismatch", ci(x0=torch.zeros(1, 6, 2, dtype=torch.float64)), r"x0 has K = 6 workers but topology 'ring' has K = 4"),
    ("hp-unknown", ci(hp=dict(lr=0.1, beta=0.9)), r"unknown hyper-parameter 'beta' for algorithm 'dsgd'.*accepted: lr"),
    ("hp-lr-bool", ci(hp=dict(lr=True)), r"lr \(step size\).*got True"),
    ("hp-lr-str", ci(hp=dict(lr="0.1")), r"lr \(step size\)"),
    ("hp-beta-range", ci("mt", hp=dict(lr=0.1, beta=1.5)), r"beta must be a number in \[0, 1\)"),
    ("row-stochastic-W", ci("dsgd", T.custom([[0.5, 0.5, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.5, 0.5], [0.5, 0.25, 0.0, 0.25]])),
     r"dsgd needs a doubly stochastic"),
    ("cli-topology-none", cli("--algo", "dsgd", "--topology", "none"), r"--topology none: algorithm 'dsgd' mixes"),
    ("cli-topology-unknown", cli("--algo", "dsgd", "--topology", "rnig"), r"--topology: unknown topology 'rnig' \(did you mean 'ring'"),
    ("cli-topology-K", cli("--algo", "dsgd", "--topology", "hypercube", "--K", "6"), r"--topology hypercube with --K 6"),
    ("cli-algo-unknown", cli("--algo", "dsgdd"), r"--algo: 'dsgdd' is not a distributed algorithm \(did you mean 'dsgd'"),
    ("cli-steps", cli("--algo", "dsgd", "--steps", "-5"), r"--steps must be an integer >= 0, got -5"),
    ("cli-timeout", cli("--algo", "dsgd", "--timeout", "0"), r"--timeout must be > 0 seconds"),
    ("cli-K", cli("--algo", "dsgd", "--K", "0"), r"--K must be an integer >= 1"),
    ("cli-replicas", cli("--algo", "dsgd", "--replicas", "0"), r"--replicas must be an integer >= 1"),
    ("cli-seed", cli("--algo", "dsgd", "--seed", "-2"), r"--seed must be an integer >= 0"),
    ("cli-backend", cli("--algo", "dsgd", "--backend", "mpi"), r"--backend must be auto, gloo or nccl"),
    ("cli-hp-form", cli("--algo", "dsgd", "--hp", "beta"), r"--hp: 'beta' must be written key=value"),
    ("cli-hp-unknown", cli("--algo", "dsgd", "--hp", "beta=0.9"), r"unknown hyper-parameter 'beta'"),
    ("cli-landscape", cli("--algo", "dsgd", "--landscape", "quartc"), r"--landscape: unknown landscape 'quartc' \(did you mean 'quartic'"),
    ("dist-topology-divisible", lambda: Dd.DistTopology(5, T.ring(5), rank=0, world=2), r"K = 5 workers must be divisible by the number of processes 2"),
    ("dist-topology-timeout", lambda: Dd.DistTopology(4, R4, rank=0, world=2, timeout=0), r"timeout must be > 0 seconds"),
    ("dist-topology-K", lambda: Dd.DistTopology(6, R4, rank=0, world=2), r"K = 6 disagrees with topology 'ring'"),
    ("dist-topology-K-bool", lambda: Dd.DistTopology(True, None, rank=0, world=1), r"K \(number of workers\)"),
    ("dist-mix-no-W", lambda: Dd.DistTopology(4, None, rank=0, world=1).mix(X), r"no mixing matrix \(topology=None\)"),
    ("dist-mix-shape", lambda: Dd.DistTopology(4, R4, rank=0, world=2).mix(X), r"x must hold this rank's K_local = 2 workers"),
    ("init-backend", lambda: Dd.init("mpi"), r"backend must be 'auto', 'gloo' or 'nccl'"),
]


@table(CASES)
def test_bad_input(thunk, match):
    check(thunk, match)


def test_count():
    assert len(CASES) >= 40
