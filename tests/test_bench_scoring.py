"""The benchmark's arithmetic (hotline.bench_nlu.score), on made-up items (never the evaluation sets)."""

from hotline.bench_doc import write_section
from hotline.bench_nlu import render, score


def test_precision_recall_macro_f1_and_false_urgent_rate() -> None:
    items = [
        {"label": "wages", "src_id": "a"},
        {"label": "wages", "src_id": "b"},
        {"label": "injury", "src_id": "c"},
        {"label": "minors", "src_id": "d"},
        {"label": "other", "src_id": "e"},
    ]
    predictions = [("wages", False), ("none", False), ("injury", True), ("minors", True), ("wages", False)]
    result = score("zh", items, predictions)
    assert result.per_topic["wages"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert result.per_topic["injury"]["f1"] == 1.0
    assert result.per_topic["other"]["f1"] == 0.0
    assert result.macro_f1 == (0.5 + 1.0 + 1.0 + 0.0) / 4
    assert result.confusion["wages"]["none"] == 1
    # the injury item's flag is false (1 of 4 non-minors items); the minors item's flag is not counted
    assert result.false_urgent_rate == 0.25
    assert result.urgent_ids_by_label["minors"] == ["d"]


def test_the_section_is_replaced_in_place(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "benchmarks.md"
    path.write_text("# Benchmarks\n\nintro\n", "utf-8")
    write_section(path, "<!-- bench-nlu:start -->\nfirst\n<!-- bench-nlu:end -->")
    write_section(path, "<!-- bench-nlu:start -->\nsecond\n<!-- bench-nlu:end -->")
    text = path.read_text("utf-8")
    assert "intro" in text and "second" in text and "first" not in text


def test_render_names_the_command() -> None:
    assert "hotline bench nlu" in render([], {"zh": {"urgent": 1, "missed": [], "not_urgent": 1, "false_flags": []}})
