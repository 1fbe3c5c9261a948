"""Claims about mixing matrices (docs/theory.md §8): closed-form spectral gaps against eigenvalue
computations (including a lazy ring whose most negative eigenvalue sets ρ), and exact averaging
of the one-peer exponential graph over one period (Ying et al., NeurIPS 2021).

Negative controls (docs/theory.md §10): ρ read as the second-largest real eigenvalue λ₂ instead
of max_{j≥2}|λ_j| (`Topology.lambda2`), and the one-peer product one round short.
"""
from __future__ import annotations

import math

import numpy as np

from dynamics import topology as T

from .claims import Evidence, claim, compare

SIZES = {"quick": {"one_peer_max_log2": 6, "one_peer_other": (3, 6, 12, 24)},
         "full": {"one_peer_max_log2": 10, "one_peer_other": (3, 5, 6, 12, 24, 48, 100)}}

GAP_TOL = 1e-9
LAZY_SELF = 0.1   # lazy ring: self weight w, (1 − w)/2 to each neighbour


def lazy_ring(K: int, w: float = LAZY_SELF) -> T.Topology:
    """Ring with self weight w and (1 − w)/2 to each neighbour (K ≥ 3): for small w its most
    negative eigenvalue w + (1 − w)cos(2π⌊K/2⌋/K) dominates ρ (≈ 1 − 2w for even K)."""
    if K < 3:
        raise ValueError(f"lazy_ring: K must be >= 3, got {K}")
    W = np.zeros((K, K))
    for i in range(K):
        W[i, i] = w
        W[i, (i + 1) % K] += (1 - w) / 2
        W[i, (i - 1) % K] += (1 - w) / 2
    return T.custom(W, name=f"ring_lazy(w={w})")


def _topology(name: str, K: int) -> T.Topology:
    return lazy_ring(K) if name == "ring_lazy" else T.get(name, K)


def closed_form_gap(name: str, K: int) -> float:
    """Spectral gap 1 - rho of docs/theory.md §8 (rho = max_{j>=2} |lambda_j(W)|):
    ring (4/3)sin^2(pi/K) (K >= 3); torus (4/5)sin^2(pi/sqrt K) (square, side >= 3);
    hypercube 2/(1 + log2 K); directed exponential 2/(1 + ceil(log2 K)) (even K);
    undirected exponential 2/log2 K (K = 2^m >= 4); star 1/K (K >= 3); complete 1;
    lazy ring (self weight w = 0.1, circulant eigenvalues w + (1 - w)cos(2 pi j/K)):
    1 - max(|w + (1 - w)cos(2 pi/K)|, |w + (1 - w)cos(2 pi floor(K/2)/K)|) [derived]."""
    if name == "ring_lazy":
        w = LAZY_SELF
        return 1 - max(abs(w + (1 - w) * math.cos(2 * math.pi / K)),
                       abs(w + (1 - w) * math.cos(2 * math.pi * (K // 2) / K)))
    if name == "ring":
        return 4 / 3 * math.sin(math.pi / K) ** 2
    if name == "torus":
        return 4 / 5 * math.sin(math.pi / math.isqrt(K)) ** 2
    if name == "hypercube":
        return 2 / (1 + math.log2(K))
    if name == "exponential":
        return 2 / (1 + math.ceil(math.log2(K)))
    if name == "exponential_undirected":
        return 2 / math.log2(K)
    if name == "star":
        return 1 / K
    if name == "complete":
        return 1.0
    raise ValueError(f"closed_form_gap: no closed form for topology {name!r}; choose from {list(K_VALUES)}")


def _pow2(lo, hi):
    return [2 ** m for m in range(lo, hi + 1)]


# K where each closed form is stated (docs/theory.md §8), (quick, full).
K_VALUES = {
    "ring": ([3, 4, 5, 8, 13, 16, 32], [3, 4, 5, 7, 8, 13, 16, 32, 64, 100, 128, 256]),
    "torus": ([9, 16, 25, 36, 64], [9, 16, 25, 36, 49, 64, 100, 144, 256]),
    "hypercube": (_pow2(1, 6), _pow2(1, 8)),
    "exponential": ([2, 4, 6, 8, 10, 16, 24, 32], [2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 30, 32, 48, 64, 100, 128, 256]),
    "exponential_undirected": (_pow2(2, 6), _pow2(2, 8)),
    "star": ([3, 4, 5, 8, 16, 32], [3, 4, 5, 8, 16, 32, 64, 128, 256]),
    "complete": ([1, 2, 5, 16], [1, 2, 3, 5, 16, 64, 256]),
    "ring_lazy": ([3, 4, 5, 8, 9, 16], [3, 4, 5, 6, 7, 8, 9, 16, 17, 32, 64, 128]),
}
LABELS = {"ring": "ring (1/3 weights)", "torus": "torus √K×√K", "hypercube": "hypercube",
          "exponential": "directed exponential", "exponential_undirected": "undirected exponential",
          "star": "star (Metropolis–Hastings)", "complete": "complete",
          "ring_lazy": f"lazy ring (self weight {LAZY_SELF})"}


def k_values(name: str, quick: bool) -> list[int]:
    return K_VALUES[name][0 if quick else 1]


@claim("topology.spectral_gap_closed_forms")
def spectral_gap_closed_forms(ctx) -> Evidence:
    names = list(K_VALUES)
    wrong = ctx.sabotaged("rho_as_lambda2")
    pred, meas, worst, data = {}, {}, {}, {}
    for n, name in enumerate(names):
        errs, rows = [], {"K": [], "closed": [], "computed": []}
        for K in k_values(name, ctx.quick):
            top = _topology(name, K)
            p = closed_form_gap(name, K)
            m = (1.0 - top.lambda2 if K > 1 else 1.0) if wrong else top.spectral_gap
            pred[f"{name}/K={K}"], meas[f"{name}/K={K}"] = p, m
            errs.append(abs(m - p))
            rows["K"].append(K)
            rows["closed"].append(p)
            rows["computed"].append(m)
        worst[name] = max(errs)
        data[name] = rows
        ctx.progress((n + 1) / len(names), name)
    max_err = max(worst.values())
    verdict = compare(0.0, max_err, GAP_TOL, "abs")
    bad = [k for k in pred if abs(meas[k] - pred[k]) > GAP_TOL]
    n_cases = len(pred)
    finding = (f"{n_cases - len(bad)} of {n_cases} (topology, K) cases match their closed form; the largest "
               f"error is {max_err:.1e} ({max(worst, key=worst.get)})")
    return Evidence(verdict, predicted={"max_abs_error": 0.0, **pred},
                    measured={"max_abs_error": max_err, **meas},
                    reported={f"max_err/{k}": v for k, v in worst.items()},
                    headline=["max_abs_error"], finding=finding,
                    data={"families": data, "labels": {k: LABELS[k] for k in names}},
                    regime={"K_max": max(max(k_values(n, ctx.quick)) for n in names),
                            "topologies": len(names), "cases": n_cases},
                    notes="all closed forms match" if not bad else f"mismatch at {', '.join(bad)}")


ONE_PEER_TOL = 1e-12


@claim("topology.one_peer_exact_averaging")
def one_peer_exact_averaging(ctx) -> Evidence:
    S = SIZES["quick" if ctx.quick else "full"]
    pow2 = _pow2(1, S["one_peer_max_log2"])
    other = list(S["one_peer_other"])
    short = 1 if ctx.sabotaged("one_round_short") else 0
    pred, meas, rep, errs = {}, {}, {}, []
    for n, K in enumerate(pow2 + other):
        top = T.one_peer_exponential(K)
        P = np.eye(K)
        for t in range(top.period - short):
            P = top.W(t).numpy() @ P
        err = float(np.max(np.abs(P - 1.0 / K)))
        if K in pow2:
            errs.append(err)
            pred[f"K={K}"], meas[f"K={K}"] = 0.0, err
        else:
            rep[f"K={K} (not 2^m)"] = err
        ctx.progress((n + 1) / (len(pow2) + len(other)), f"K={K}")
    max_err = max(errs)
    not_exact = [K for K in other if rep[f"K={K} (not 2^m)"] > ONE_PEER_TOL]
    exact = [K for K, e in zip(pow2, errs) if e <= ONE_PEER_TOL]
    finding = (f"the period product averages exactly for {len(exact)} of {len(pow2)} powers of two K = 2 … "
               f"{pow2[-1]} (largest entry error {max_err:.1e}); not exact for {len(not_exact)} of {len(other)} K that are not powers of two")
    return Evidence(compare(0.0, max_err, ONE_PEER_TOL, "abs"),
                    predicted={"max_entry_error(2^m)": 0.0, **pred},
                    measured={"max_entry_error(2^m)": max_err, **meas}, reported=rep,
                    headline=["max_entry_error(2^m)"], finding=finding,
                    data={"K_pow2": pow2, "err_pow2": errs, "K_other": other,
                          "err_other": [rep[f"K={K} (not 2^m)"] for K in other]},
                    regime={"K_powers_of_two": pow2, "K_other": other},
                    notes=f"not exact for K not a power of two: {not_exact}" if not_exact else
                    "exact also for every K tested that is not a power of two")
