"""Bad input to dynamics (topologies, the algorithm registry and builders) and to the
simulator -> ValueError naming the argument."""
import numpy as np
import torch

import dynamics
import landscapes
from dynamics import topology as T
from dynamics.simulate import simulate
from _bad_input import check, table

R4 = T.ring(4)
ROW_ONLY = T.custom([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.25, 0.25]])  # rows sum to 1, columns do not
ORC = landscapes.oracle(landscapes.get("quartic"), noise="isotropic", sigma=0.1)
M = dynamics.make("dsgd", R4, lr=0.1)
X0 = torch.zeros(4, 1)


def plain_function(state, oracle, t, rng):
    return state


TOPOLOGY = [
    ("ring-bool", lambda: T.ring(True), r"K \(number of workers\) must be an integer"),
    ("ring-zero", lambda: T.ring(0), r"K \(number of workers\) must be an integer >= 1"),
    ("ring-float", lambda: T.ring(4.0), r"K \(number of workers\)"),
    ("ring-str", lambda: T.ring("4"), r"K \(number of workers\)"),
    ("star-one", lambda: T.star(1), r"K \(number of workers\) must be an integer >= 2"),
    ("complete-bool", lambda: T.complete(False), r"K \(number of workers\)"),
    ("torus-not-square", lambda: T.torus(10), r"torus with one argument needs K a perfect square"),
    ("torus-small", lambda: T.torus(4), r"torus needs both sides >= 3"),
    ("torus-cols", lambda: T.torus(12, 5), r"K = 12 is not divisible by cols = 5"),
    ("grid-cols-bool", lambda: T.grid(4, True), r"cols \(number of workers\)"),
    ("hypercube-6", lambda: T.hypercube(6), r"hypercube needs K a power of two"),
    ("erdos-p-zero", lambda: T.erdos_renyi(4, 0.0), r"edge probability p must be a number in \(0, 1\]"),
    ("erdos-p-str", lambda: T.erdos_renyi(4, "0.5"), r"edge probability p"),
    ("erdos-seed-float", lambda: T.erdos_renyi(4, 0.5, seed=1.5), r"erdos_renyi seed must be an integer"),
    ("one-peer-1", lambda: T.one_peer_exponential(1), r"K \(number of workers\) must be an integer >= 2"),
    ("get-unknown", lambda: T.get("rnig", 4), r"unknown topology 'rnig'.*did you mean 'ring'"),
    ("get-param", lambda: T.get("ring", 4, p=0.1), r"unknown parameter 'p' for topology 'ring'"),
    ("custom-nonsquare", lambda: T.custom(np.ones((2, 3)) / 3), r"mixing matrix must be square"),
    ("custom-negative", lambda: T.custom([[1.5, -0.5], [0.5, 0.5]]), r"negative entry W\[0,1\]"),
    ("custom-rows", lambda: T.custom([[0.5, 0.4], [0.5, 0.5]]), r"not row-stochastic: row 0"),
    ("custom-nan", lambda: T.custom([[float("nan"), 1.0], [0.5, 0.5]]), r"non-finite entries"),
    ("custom-disconnected", lambda: T.custom(np.eye(3)), r"not \(strongly\) connected"),
    ("custom-period-sizes", lambda: T.custom([np.eye(2), np.full((3, 3), 1 / 3)]), r"same size"),
    ("custom-doubly", lambda: T.custom(ROW_ONLY.W(0), require_doubly_stochastic=True), r"doubly stochastic.*column 1"),
    ("require-doubly", lambda: T.require_doubly_stochastic(ROW_ONLY, "gradient tracking"), r"gradient tracking needs a doubly"),
]

ALGORITHMS = [
    ("make-unknown", lambda: dynamics.make("dsgdd", R4, lr=0.1), r"unknown algorithm 'dsgdd'.*did you mean 'dsgd'"),
    ("make-not-str", lambda: dynamics.make(None, R4, lr=0.1), r"unknown algorithm None"),
    ("make-unknown-hp", lambda: dynamics.make("dsgd", R4, lr=0.1, beta=0.9), r"unknown hyper-parameter 'beta' for algorithm 'dsgd'.*accepted: lr"),
    ("make-near-hp", lambda: dynamics.make("dsgdm", R4, lr=0.1, bta=0.9), r"unknown hyper-parameter 'bta'.*did you mean 'beta'"),
    ("lr-missing", lambda: dynamics.make("dsgd", R4), r"lr \(step size\) must be a positive finite number, got None"),
    ("lr-bool", lambda: dynamics.make("dsgd", R4, lr=True), r"lr \(step size\).*got True"),
    ("lr-str", lambda: dynamics.make("dsgd", R4, lr="0.1"), r"lr \(step size\).*got '0.1'"),
    ("lr-neg", lambda: dynamics.make("atc", R4, lr=-0.1), r"lr \(step size\)"),
    ("lr-inf", lambda: dynamics.make("cta", R4, lr=float("inf")), r"lr \(step size\)"),
    ("lr-tensor", lambda: dynamics.make("gt", R4, lr=torch.tensor(0.1)), r"lr \(step size\)"),
    ("beta-one", lambda: dynamics.make("dsgdm", R4, lr=0.1, beta=1.0), r"beta must be a number in \[0, 1\)"),
    ("beta-str", lambda: dynamics.make("mt", R4, lr=0.1, beta="0.9"), r"beta must be a number"),
    ("beta-bool", lambda: dynamics.make("csgd", R4, lr=0.1, beta=True), r"beta must be a number"),
    ("period-float", lambda: dynamics.make("local_sgd", R4, lr=0.1, period=1.5), r"period \(steps between averagings\) must be an integer"),
    ("period-bool", lambda: dynamics.make("local_sgd", R4, lr=0.1, period=True), r"period"),
    ("dsgd-no-topology", lambda: dynamics.make("dsgd", None, lr=0.1), r"dsgd needs a topology"),
    ("dsgd-row-stochastic", lambda: dynamics.make("dsgd", ROW_ONLY, lr=0.1), r"dsgd needs a doubly stochastic mixing matrix.*column 1"),
    ("atc-row-stochastic", lambda: dynamics.make("atc", ROW_ONLY, lr=0.1), r"atc needs a doubly stochastic"),
    ("cta-row-stochastic", lambda: dynamics.make("cta", ROW_ONLY, lr=0.1), r"cta needs a doubly stochastic"),
    ("gt-row-stochastic", lambda: dynamics.make("gt", ROW_ONLY, lr=0.1), r"doubly stochastic"),
    ("init-x0-list", lambda: M.init([[0.0]] * 4), r"dsgd: x0 must be a tensor"),
    ("init-x0-K", lambda: M.init(torch.zeros(3, 1)), r"dsgd: x0 has 3 workers on axis -2 but topology 'ring' has K = 4"),
    ("hyper-parameters-unknown", lambda: dynamics.base.hyper_parameters("easgdd"), r"unknown algorithm 'easgdd'.*did you mean"),
]

SIMULATE = [
    ("method-plain-function", lambda: simulate(plain_function, ORC, X0, 3), r"method must be a dynamics Method.*plain_function"),
    ("method-str", lambda: simulate("dsgd", ORC, X0, 3), r"method must be a dynamics Method"),
    ("oracle-not-callable", lambda: simulate(M, None, X0, 3), r"oracle must be callable"),
    ("steps-neg", lambda: simulate(M, ORC, X0, -5), r"steps must be an integer >= 0, got -5"),
    ("steps-float", lambda: simulate(M, ORC, X0, 2.5), r"steps must be an integer"),
    ("steps-str", lambda: simulate(M, ORC, X0, "10"), r"steps must be an integer"),
    ("steps-bool", lambda: simulate(M, ORC, X0, True), r"steps must be an integer"),
    ("seed-float", lambda: simulate(M, ORC, X0, 3, seed=1.5), r"seed must be an integer >= 0, got 1.5"),
    ("seed-neg", lambda: simulate(M, ORC, X0, 3, seed=-1), r"seed must be an integer >= 0"),
    ("seed-bool", lambda: simulate(M, ORC, X0, 3, seed=True), r"seed must be an integer"),
    ("replicas-zero", lambda: simulate(M, ORC, X0, 3, replicas=0), r"replicas must be >= 1"),
    ("replicas-bool", lambda: simulate(M, ORC, X0, 3, replicas=True), r"replicas must be an int"),
    ("replicas-dup", lambda: simulate(M, ORC, X0, 3, replicas=torch.tensor([1, 1])), r"replicas: replica ids must be distinct"),
    ("replicas-float", lambda: simulate(M, ORC, X0, 3, replicas=torch.tensor([0.0, 1.0])), r"replicas must be an int >= 1 or a non-empty"),
    ("x0-1d", lambda: simulate(M, ORC, torch.zeros(4), 3), r"x0 must have shape \(K, d\) or \(R, K, d\)"),
    ("x0-R-mismatch", lambda: simulate(M, ORC, torch.zeros(2, 4, 1), 3, replicas=3), r"x0 has 2 replicas"),
    ("record-every-zero", lambda: simulate(M, ORC, X0, 3, record_every=0), r"record_every must be an int >= 1"),
    ("record-every-range", lambda: simulate(M, ORC, X0, 3, record_every=[0, 9]), r"record_every: scheduled steps must lie in \[0, steps=3\]"),
    ("record-every-str", lambda: simulate(M, ORC, X0, 3, record_every="x"), r"record_every must be"),
    ("recorder-unknown", lambda: simulate(M, ORC, X0, 3, recorders=["los_avg"]), r"recorders: unknown recorder 'los_avg'"),
    ("recorder-not-callable", lambda: simulate(M, ORC, X0, 3, recorders={"a": 1}), r"recorders\['a'\] must be callable"),
    ("stop-on", lambda: simulate(M, ORC, X0, 3, stop_on="first"), r"stop_on must be one of"),
    ("stop-not-callable", lambda: simulate(M, ORC, X0, 3, stop=1), r"stop must be a callable"),
    ("divergence-neg", lambda: simulate(M, ORC, X0, 3, divergence=-1.0), r"divergence must be a positive threshold"),
    ("divergence-bool", lambda: simulate(M, ORC, X0, 3, divergence=True), r"divergence must be a positive threshold"),
    ("dtype-int", lambda: simulate(M, ORC, X0, 3, dtype=torch.int64), r"dtype must be a floating torch.dtype"),
    ("dtype-str", lambda: simulate(M, ORC, X0, 3, dtype="float64"), r"dtype must be a floating torch.dtype"),
    ("dtype-float16-not-honoured", lambda: simulate(M, ORC, X0, 3, dtype=torch.float16), r"dtype=torch.float16 is not honoured"),
    ("checkpoint-every-alone", lambda: simulate(M, ORC, X0, 3, checkpoint_every=2), r"checkpoint_every needs checkpoint=path"),
    ("checkpoint-every-zero", lambda: simulate(M, ORC, X0, 3, checkpoint="c.pt", checkpoint_every=0), r"checkpoint_every must be an int >= 1"),
    ("resume-no-checkpoint", lambda: simulate(M, ORC, X0, 3, resume=True), r"resume=True needs checkpoint=path"),
    ("resume-not-bool", lambda: simulate(M, ORC, X0, 3, resume="yes"), r"resume must be True or False"),
    ("objective-not-callable", lambda: simulate(M, ORC, X0, 3, objective=1.0), r"objective must be a callable"),
]

CASES = TOPOLOGY + ALGORITHMS + SIMULATE


@table(CASES)
def test_bad_input(thunk, match):
    check(thunk, match)


def test_count():
    assert (len(TOPOLOGY), len(ALGORITHMS), len(SIMULATE)) >= (20, 20, 30)


def test_ring_true_is_not_one_worker():
    """Regression: bools are not ints here (ring(True) used to be K = 1)."""
    check(lambda: T.ring(True), "got True")
