"""`python -m training ...` = the trainer (training/train.py)."""
import sys

from .train import cli

sys.exit(cli())
