"""Shared by the benchmark scripts: print a report and replace its marked section of
benchmarks/RESULTS.md."""
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


def publish(text: str, write: bool, writer, what: str) -> None:
    """Print `text`; with `write`, hand it to `writer` (a script's write_section) and say so."""
    print(text)
    if write:
        writer(text)
        print(f"wrote {what}")
