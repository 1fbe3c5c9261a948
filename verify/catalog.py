"""The claim modules that fill `verify.claims.REGISTRY` when imported, in report order. A new
verify/claims_NAME.py comes with its cards verify/cards/NAME.toml and a line here
(tests/test_verify.py checks that the two agree)."""
from __future__ import annotations

import importlib

from .claims import REGISTRY, Registry

CLAIM_MODULES = [
    "verify.claims_topology",
    "verify.claims_dsgd_sam",
    "verify.claims_momentum_tracking",
    "verify.claims_lsgd",
    "verify.claims_easgd",
    "verify.claims_escape",
    "verify.claims_flatness",
    "verify.claims_flatness_accuracy",
    "verify.claims_cifar",
]


def load(modules: list[str] | None = None) -> Registry:
    """Import the claim modules (each registers its claims on REGISTRY) and return REGISTRY."""
    for name in CLAIM_MODULES if modules is None else modules:
        importlib.import_module(name)
    return REGISTRY
