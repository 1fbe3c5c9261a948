"""Shared runner of the bad-input tables (tests/test_bad_input_*.py): each case is
(id, thunk, regex); the thunk must raise ValueError whose message matches the regex, which
names the offending argument."""
from __future__ import annotations

import pytest


def table(cases):
    ids = [c[0] for c in cases]
    assert len(set(ids)) == len(ids), "duplicate case ids"
    return pytest.mark.parametrize("thunk, match", [c[1:] for c in cases], ids=ids)


def check(thunk, match):
    with pytest.raises(ValueError, match=match):
        thunk()
