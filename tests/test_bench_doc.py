"""hotline/bench_doc.py: each bench writes its own marked section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.bench_doc import write_section


def test_sections_are_replaced_by_their_own_markers_and_a_new_one_is_appended(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"
    write_section(doc, "<!-- bench-a:start -->\nA1\n<!-- bench-a:end -->")  # a new file
    write_section(doc, "<!-- bench-b:start -->\nB1\n<!-- bench-b:end -->")
    write_section(doc, "<!-- bench-a:start -->\nA2\n<!-- bench-a:end -->")
    text = doc.read_text("utf-8")
    assert text.startswith("# Benchmarks") and "A1" not in text
    assert text.index("A2") < text.index("B1")  # replaced where it stood


def test_a_section_without_its_markers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_section(tmp_path / "benchmarks.md", "no markers here")
    assert not (tmp_path / "benchmarks.md").exists()
