"""verify: theory against experiment. A claim is data (`Claim`), a run gives `Evidence`;
`python -m verify` runs the registry (`verify.catalog`) and writes a report to a run folder."""
from .claims import (
    REGISTRY,
    TAGS,
    VERDICTS,
    Claim,
    Context,
    Evidence,
    Registry,
    claim,
    combine,
    compare,
    interval,
    load_recorded,
    point,
    value,
    within_ci,
)

__all__ = ["REGISTRY", "TAGS", "VERDICTS", "Claim", "Context", "Evidence", "Registry", "claim",
           "combine", "compare", "interval", "load_recorded", "point", "value", "within_ci"]
