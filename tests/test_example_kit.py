"""Runs the worked example's property tests (docs/examples/test_my_algorithm.py) in the default
suite: pytest collects the imported test functions and the module-scoped fixture here."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs.examples.test_my_algorithm import (  # noqa: E402,F401
    extra_registered,
    test_extra_has_no_heterogeneity_bias,
    test_extra_scorecard_row,
    test_extra_stable_inside_its_region,
    test_false_property_is_refuted_and_shrunk,
)
