"""Every registered claim declares at least one negative control (a sabotaged world in which
the paper's statement is false). Whether each control flips its claim's verdict away from
'holds' is checked per family in tests/test_controls_*.py (slow claims marked slow) and for all
claims at once by `python -m verify --controls --quick`."""
from verify.catalog import load


def test_every_claim_declares_a_control():
    reg = load()
    missing = [c.id for c in reg if not c.controls]
    assert len(reg) >= 38
    assert missing == []


def test_every_claim_has_a_control_exercised_by_a_test():
    """Each claim's controls are run by some test (the flip tests of the claim's family)."""
    from pathlib import Path
    here = Path(__file__).parent
    text = "\n".join(p.read_text() for p in here.glob("test_*.py") if p.name != Path(__file__).name)
    unexercised = [c.id for c in load()
                   if c.id not in text and c.id.split(".")[0] + "." not in text]
    assert unexercised == []
