"""paper_figs."""
