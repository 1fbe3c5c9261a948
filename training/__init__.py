"""CNN training of K simulated workers on one device (fused (K, P) stack), CIFAR-10 loading,
and the resumable run plans behind the cifar.* claims.

    python -m training --help              # the trainer
    python -m training.plan list           # the run plans (GPU and CPU profiles)

Imports nothing from `verify` (the claims read what this package records).
"""
