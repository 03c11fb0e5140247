"""docs/benchmarks.md is written by several benches, each into its own marked section."""

from __future__ import annotations

import re
from pathlib import Path

_MARKER = re.compile(r"<!-- [\w-]+:(start|end) -->")


def write_section(path: Path, section: str) -> None:
    """Replace the section between the markers that `section` starts and ends with (`<!-- name:start -->` …
    `<!-- name:end -->`), or append it; the rest of the file stays as it is."""
    lines = section.strip().splitlines()
    start, end = lines[0].strip(), lines[-1].strip()
    if not (_MARKER.fullmatch(start) and _MARKER.fullmatch(end)):
        raise ValueError("a benchmark section starts and ends with its markers")
    text = path.read_text("utf-8") if path.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
