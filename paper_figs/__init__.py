"""paper_figs: one module per regenerated figure. A figure module exposes
`make(out_dir, quick=False) -> list[Path]` (writing PNG and PDF through `style.save`);
`python -m paper_figs [NAME ... | all] [--quick] [--out DIR]` runs them and writes index.md."""
