"""Shared by the benchmark scripts: replace one marked section of benchmarks/RESULTS.md."""
from __future__ import annotations

import re
from pathlib import Path


def write_section(results: Path, begin: str, end: str, text: str) -> None:
    """Put `text` between the markers `begin` and `end` in `results` (a new file starts with
    '# Benchmark results'; a missing section is appended); the rest of the file is kept."""
    body = results.read_text() if results.exists() else "# Benchmark results\n"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in body and end in body:
        body = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, body, flags=re.DOTALL)
    else:
        body = body.rstrip() + "\n\n" + block + "\n"
    results.write_text(body)
