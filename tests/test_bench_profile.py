"""`hotline bench profile`: reading py-spy's samples and the report (the run itself needs py-spy and the stack; it
is run by hand and its figures are in docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path

from hotline.bench_doc import write_section
from hotline.bench_e2e import Phase
from hotline.bench_profile import (
    MARK_END,
    MARK_START,
    RASA_STEPS,
    ServiceProfile,
    frame_key,
    read_samples,
    render,
)

SITE = "/work/x/.venv-rasa/lib/python3.10/site-packages"
LOOP = f"<module> ({SITE}/rasa/__main__.py:9);run ({SITE}/sanic/app.py:10);handle_message ({SITE}/rasa/core/agent.py:3)"
RAW = "\n".join(
    [
        f"{LOOP};_validate_action_result ({SITE}/rasa/core/actions/action.py:704)"
        f";validate ({SITE}/jsonschema/v.py:1) 6",
        f"{LOOP};parse_message ({SITE}/rasa/core/processor.py:1)"
        f";process ({SITE}/rasa/nlu/classifiers/diet_classifier.py:9)"
        f";quick_execute ({SITE}/tensorflow/python/eager/execute.py:5) 3",
        f"{LOOP};save_tracker ({SITE}/rasa/core/processor.py:1095);do_commit ({SITE}/sqlalchemy/engine/default.py:1) 1",
        f"run ({SITE}/sanic/app.py:10);select (/root/.pyenv/versions/3.10.13/lib/python3.10/selectors.py:469) 5",
        "not a sample line",
    ]
)


def test_frames_are_named_by_their_package_path() -> None:
    assert frame_key(f"handle ({SITE}/rasa/core/agent.py:12)") == "handle (rasa/core/agent.py)"
    assert frame_key("answer (/work/main/bot/dialogue_service.py:80)") == "answer (bot/dialogue_service.py)"
    assert frame_key("select (/root/.pyenv/versions/3.12.1/lib/python3.12/selectors.py:1)") == "select (selectors.py)"


def test_samples_are_counted_by_frame_and_by_rasas_step_and_waiting_is_left_out(tmp_path: Path) -> None:
    raw = tmp_path / "Rasa-server.txt"
    raw.write_text(RAW, "utf-8")
    profile = ServiceProfile("Rasa server", cpu_seconds=2.0)
    read_samples(raw, profile, RASA_STEPS)
    assert profile.samples == 10 and profile.idle == 5
    assert profile.frames["handle_message (rasa/core/agent.py)"] == 10
    assert profile.leaves["validate (jsonschema/v.py)"] == 6
    assert profile.steps == {
        "checking the action server's response (jsonschema)": 6,
        "NLU: DIET classifier (TensorFlow)": 3,
        "tracker store: saving the turn (SQL)": 1,
    }


def test_the_report_is_a_marked_section_with_cpu_per_message_and_the_heaviest_frames(tmp_path: Path) -> None:
    raw = tmp_path / "Rasa-server.txt"
    raw.write_text(RAW, "utf-8")
    rasa = ServiceProfile("Rasa server", cpu_seconds=2.0)
    read_samples(raw, rasa, RASA_STEPS)
    broken = ServiceProfile("gateway", cpu_seconds=0.5, error="py-spy failed: Permission denied")
    phase = Phase("gateway", 50, 1, offered=0.0, latencies_ms=[40.0] * 100, seconds=10.0)
    text = render(
        [rasa, broken], phase, when="2026-12-02 03:00 UTC", machine="x86_64", model="m", rate=50, out=tmp_path
    )
    assert text.startswith(MARK_START) and text.endswith(MARK_END)
    assert "`.venv/bin/hotline bench profile --path gateway --people 50`" in text
    assert "| Rasa server | 2.0 | 20.0 |" in text and "| gateway | 0.5 | 5.0 |" in text
    assert "| checking the action server's response (jsonschema) | 60 % |" in text
    assert "`validate (jsonschema/v.py)` | 60 %" in text
    assert "`handle_message (rasa/core/agent.py)`" not in text  # the trunk: in every sample
    assert "py-spy failed: Permission denied" in text
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- bench-e2e:start -->\nE2E\n<!-- bench-e2e:end -->\n", "utf-8")
    write_section(doc, text)
    write_section(doc, text)
    written = doc.read_text("utf-8")
    assert written.count(MARK_START) == 1 and "<!-- bench-e2e:start -->\nE2E\n<!-- bench-e2e:end -->" in written
