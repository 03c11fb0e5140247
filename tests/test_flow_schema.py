"""flows/ as validated data: the real flows pass; each kind of mistake is reported with its file and step."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.flow_schema import FLOWS_DIR, FlowError, load_flows, validate_flows
from tests.conftest import hotline_command

GOOD_STEP = """
  - id: ask_amount
    collect: amount
    type: money
    ask: {zh: "欠多少钱？", en: "How much?"}
    why: {zh: "金额。", en: "The amount."}
    next: decide
  - id: decide
    action: assess_wages
"""


def write_flows(tmp_path: Path, wages_steps: str) -> Path:
    """The real flows, with flows/wages.yml replaced by a small one with the given steps."""
    folder = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, folder)
    (folder / "wages.yml").write_text(
        "flow: wages\ntopic: wages\ntitle: {zh: 欠薪, en: Wages}\nintro: {zh: 开始, en: Start}\nsteps:" + wages_steps,
        "utf-8",
    )
    return folder


def problems_for(tmp_path: Path, wages_steps: str) -> list[str]:
    return validate_flows(write_flows(tmp_path, wages_steps))[1]


def test_the_real_flows_are_valid() -> None:
    flows, problems = validate_flows()
    assert problems == []
    assert {"wages", "injury", "minors", "means_test"} <= set(flows)


def test_a_valid_small_flow_passes(tmp_path: Path) -> None:
    assert problems_for(tmp_path, GOOD_STEP) == []


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            GOOD_STEP.replace("next: decide", "next: nowhere"),
            "flows/wages.yml step 'ask_amount': `next` goes to unknown step 'nowhere'",
        ),
        (
            GOOD_STEP + "  - id: orphan\n    say: {zh: 孤立, en: Alone}\n    next: decide\n",
            "flows/wages.yml step 'orphan': unreachable",
        ),
        (
            GOOD_STEP.replace("next: decide\n", "next: talk\n  - id: talk\n    say: {zh: 说, en: Say}\n"),
            "flows/wages.yml step 'talk': this path ends with no outcome",
        ),
        (
            GOOD_STEP.replace('en: "How much?"', 'xx: "?"'),
            "flows/wages.yml step 'ask_amount': `ask` has no en text (missing translation)",
        ),
        (GOOD_STEP.replace("assess_wages", "assess_luck"), "flows/wages.yml step 'decide': unknown rule 'assess_luck'"),
        (
            GOOD_STEP.replace("type: money", "type: colour"),
            "flows/wages.yml step 'ask_amount': unknown answer type 'colour'",
        ),
        (
            GOOD_STEP.replace(
                "next: decide",
                "next:\n      - if: {commute_at_fault: maybe}\n        then: decide\n      - else: decide",
            ),
            "flows/wages.yml step 'ask_amount': 'commute_at_fault' is a yes/no answer",
        ),
        (
            GOOD_STEP.replace(
                "next: decide", "next:\n      - if: {how: moon}\n        then: decide\n      - else: decide"
            ),
            "flows/wages.yml step 'ask_amount': 'how' has no option 'moon'",
        ),
        (
            GOOD_STEP.replace("next: decide", "next:\n      - if: {amount: {gt: 100}}\n        then: decide"),
            "the last `next` entry must be an `else`",
        ),
        (
            GOOD_STEP.replace("    action: assess_wages", "    link: nowhere"),
            "flows/wages.yml step 'decide': links to unknown flow 'nowhere'",
        ),
        (
            GOOD_STEP.replace("ask: {", "colour: red\n    ask: {"),
            "flows/wages.yml step 'ask_amount': unknown keys ['colour']",
        ),
        (
            GOOD_STEP
            + GOOD_STEP.replace("ask_amount", "ask_again").replace("  - id: decide\n    action: assess_wages\n", ""),
            "unreachable",
        ),
        (
            GOOD_STEP + "  - id: decide\n    action: assess_wages\n",
            "flows/wages.yml step 'decide': this id is used twice",
        ),
        (GOOD_STEP.replace('{zh: "欠多少钱？"', '{zh: "欠{money}？"'), "unknown placeholder"),
        (" [unclosed", "flows/wages.yml: not valid YAML"),
    ],
)
def test_each_mistake_is_named_with_file_and_step(tmp_path: Path, steps: str, expected: str) -> None:
    problems = problems_for(tmp_path, steps)
    assert any(expected in p for p in problems), problems


def test_a_loop_without_exit_has_no_outcome(tmp_path: Path) -> None:
    steps = """
  - id: one
    say: {zh: 一, en: One}
    next: two
  - id: two
    say: {zh: 二, en: Two}
    next: one
"""
    problems = problems_for(tmp_path, steps)
    assert any("step 'one': no path from here ends in an outcome" in p for p in problems), problems


def test_loading_refuses_invalid_flows(tmp_path: Path) -> None:
    folder = write_flows(tmp_path, GOOD_STEP.replace("assess_wages", "assess_luck"))
    with pytest.raises(FlowError) as error:
        load_flows(folder)
    assert "unknown rule 'assess_luck'" in str(error.value)


def test_flows_check_command(tmp_path: Path) -> None:
    good = subprocess.run([*hotline_command(), "flows", "check"], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and "all valid" in good.stdout
    folder = write_flows(tmp_path, GOOD_STEP.replace("next: decide", "next: nowhere"))
    bad = subprocess.run(
        [*hotline_command(), "flows", "check", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "flows/wages.yml step 'ask_amount': `next` goes to unknown step 'nowhere'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_action_server_refuses_to_start_with_an_invalid_flow(tmp_path: Path) -> None:
    folder = write_flows(tmp_path, GOOD_STEP.replace("assess_wages", "assess_luck"))
    env = {**os.environ, "HOTLINE_FLOWS": str(folder), "RASA_TELEMETRY_ENABLED": "false"}
    command = [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode != 0
    assert "flows/wages.yml step 'decide': unknown rule 'assess_luck'" in result.stderr


def test_button_payloads_fit_telegram_callback_data() -> None:
    # A choice's label is also its button's payload, and Telegram takes at most 64 bytes of callback data.
    for flow in load_flows().values():
        for step in flow.steps.values():
            for option in step.options:
                for label in option.label.values():
                    assert len(label.encode("utf-8")) <= 64, (flow.file, step.id, option.value)
