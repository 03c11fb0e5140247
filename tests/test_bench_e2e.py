"""`hotline bench e2e`: its figures, its report and chart, its load generator (against a stand-in), and its
scripted conversations through the real stack."""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from hotline import bench_e2e, messages
from hotline.bench_doc import write_section
from hotline.bench_e2e import (
    HANDOFF_TURN,
    LOADS,
    MARK_END,
    MARK_START,
    PACED_LEVEL,
    PACED_RATE,
    ColdStart,
    Endpoint,
    Memory,
    Phase,
    Result,
    ScaleRun,
    chart_svg,
    paired_ratios,
    percentile,
    render,
    run_phase,
    scripts,
    service_name,
    summarise,
    targets,
)
from tests.conftest import Stack, post_chat


def test_percentile_is_linear_between_ranks_like_statistics_inclusive() -> None:
    values = [float(v) for v in (12, 3, 7, 40, 18, 25, 9, 31, 5, 14, 22)]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert percentile(values, 50) == pytest.approx(statistics.median(values))
    assert percentile(values, 95) == pytest.approx(cuts[94])
    assert percentile(values, 99) == pytest.approx(cuts[98])
    assert percentile([4.0], 99) == 4.0
    assert math.isnan(percentile([], 50))


def _phase(path: str, level: int, run: int, latencies: list[float], failed: int = 0, seconds: float = 10) -> Phase:
    return Phase(path, level, run, latencies_ms=latencies, failed=failed, seconds=seconds)


def test_summaries_are_medians_of_runs_and_ratios_pair_each_run() -> None:
    phases = [
        _phase("gateway", 10, 1, [100.0] * 9 + [300.0]),
        _phase("bare", 10, 1, [80.0] * 10),
        _phase("gateway", 10, 2, [120.0] * 10, failed=2),
        _phase("bare", 10, 2, [100.0] * 10),
        _phase("gateway", 10, 3, [90.0] * 10),
        _phase("bare", 10, 3, [60.0] * 10),
    ]
    summary = summarise([p for p in phases if p.path == "gateway"])
    assert summary.p50 == 100.0 and summary.runs == 3 and summary.messages == 30 and summary.failed == 2
    assert summary.rate == 1.0  # 10, 8 and 10 answered in 10 s each: the median
    assert paired_ratios(phases, 10) == pytest.approx([1.25, 1.2, 1.5])
    assert paired_ratios(phases, 50) == []


def _result(
    gateway_ms: float = 100.0, bare_ms: float = 90.0, rate_messages: int = 400, paced_ms: float = 40.0
) -> Result:
    """Closed-loop latencies grow with the people (a queue); paced ones are `paced_ms` at 31.5 msg/s answered."""
    phases = []
    for level, offered in LOADS:
        for run in (1, 2):
            for path, ms in (("gateway", gateway_ms), ("bare", bare_ms)):
                if offered:
                    phase = _phase(path, level, run, [paced_ms] * 315)
                    phase.offered = offered
                else:
                    phase = _phase(path, level, run, [ms * level] * rate_messages)
                phases.append(phase)
    memory = Memory(
        at_rest={"Rasa server": 900.0, "action server": 150.0, "gateway": 90.0, "hotline run": 40.0},
        peak={"Rasa server": 1000.0, "action server": 170.0, "gateway": 100.0, "hotline run": 40.0},
        peak_total=1310.0,
    )
    return Result(
        when="2026-12-02 10:00 UTC",
        command=".venv/bin/hotline bench e2e",
        machine="x86_64, 2 cores",
        model="hotline-abc.tar.gz",
        seconds=10.0,
        runs=2,
        phases=phases,
        memory=memory,
        cold_starts=[ColdStart(31.0, 35.0, 0), ColdStart(29.0, 33.5, 1)],
        train_seconds=None,
        train_how="not timed",
    )


def test_targets_say_which_are_met() -> None:
    met = {target.split(" ")[0]: ok for target, _, ok in targets(_result(gateway_ms=100, bare_ms=90))}
    assert met["gateway"] is True  # 1.11x at 10 concurrent
    assert met["≥"] is True  # paced: 31.5 msg/s answered, p95 40 ms (the closed loop's 5 s at 50 is a queue)
    assert met["total"] is True and met["cold"] is True
    assert met["training"] is None  # not measured in that run
    slow = {target.split(" ")[0]: ok for target, _, ok in targets(_result(gateway_ms=200, bare_ms=100, paced_ms=600))}
    assert slow["gateway"] is False
    assert slow["≥"] is False  # p95 600 ms at the paced rate
    unpaced = _result()
    unpaced.phases = [p for p in unpaced.phases if not p.offered]
    assert {t.split(" ")[0]: ok for t, _, ok in targets(unpaced)}["≥"] is None  # not measured


def test_the_two_replica_run_is_reported_and_judged() -> None:
    result = _result()
    phase = _phase("gateway", PACED_LEVEL, 1, [50.0] * 300, seconds=10)
    phase.offered = PACED_RATE
    result.scale = ScaleRun(replicas=2, phase=phase, checked=60, out_of_order=0, handoffs=9, not_one_case=0)
    text = render(result, scripts())
    assert "### Beyond one machine: 2 replicas (run once)" in text
    assert "| 31.5 | 30.0 | 50.0 | 50.0 | 50.0 | 300 | 0 | 60 | 0 | 9 | 0 |" in text
    rows = {target.split(" ")[0]: (figure, ok) for target, figure, ok in targets(result)}
    assert rows["2"] == ("60 conversations, 0 out of order; 9 handoffs, 0 without exactly one case", True)
    result.scale.out_of_order = 1
    assert {t.split(" ")[0]: ok for t, _, ok in targets(result)}["2"] is False
    result.scale = ScaleRun(replicas=2, error="OperationalError: no PostgreSQL")
    assert "Not measured in this run: OperationalError: no PostgreSQL." in render(result, scripts())
    assert {t.split(" ")[0]: ok for t, _, ok in targets(result)}["2"] is None


def test_the_report_is_a_marked_section_with_every_table() -> None:
    conversations = scripts()
    text = render(_result(), conversations)
    assert text.startswith(MARK_START) and text.endswith(MARK_END)
    for heading in ("### Latency and throughput", "### Resident memory", "### Cold start", "### Targets"):
        assert heading in text
    assert ".venv/bin/hotline bench e2e" in text and "2026-12-02 10:00 UTC" in text
    assert "img/bench-e2e.svg" in text and "RATE_LIMIT_BURST" in text
    assert "| 10 | gateway (`POST /api/chat`) | 1000 |" in text
    assert "| 50, paced at 31.5 msg/s | gateway (`POST /api/chat`) | 40.0 | 40.0 | 40.0 | 31.5 |" in text
    assert "Little's law" in text
    assert "1.11× (runs: 1.11, 1.11)" in text
    assert "| **total** | 1180 | 1310 |" in text
    assert "| **median** | 30.0 | 34.2 |" in text
    assert all(s.turns[0] in text for s in conversations)


def test_the_section_replaces_its_own_markers_and_keeps_the_rest(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- bench-nlu:start -->\nNLU\n<!-- bench-nlu:end -->\n", "utf-8")
    write_section(doc, f"{MARK_START}\nfirst\n{MARK_END}")
    write_section(doc, f"{MARK_START}\nsecond\n{MARK_END}")
    text = doc.read_text("utf-8")
    assert "<!-- bench-nlu:start -->\nNLU\n<!-- bench-nlu:end -->" in text
    assert "second" in text and "first" not in text and text.count(MARK_START) == 1


def test_the_chart_is_well_formed_svg_with_a_bar_per_series_and_level() -> None:
    svg = chart_svg(_result())
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    bars = [
        r
        for r in root.iter("{http://www.w3.org/2000/svg}rect")
        if r.find("{http://www.w3.org/2000/svg}title") is not None
    ]
    assert len(bars) == len(LOADS) * 4
    heights = [float(r.attrib["height"]) for r in bars]
    assert all(h >= 0 for h in heights) and max(heights) > 0
    # A run without figures still draws (no bars' heights from NaN).
    empty = _result()
    empty.phases = []
    ET.fromstring(chart_svg(empty))


def test_every_script_is_a_conversation_of_several_turns_in_its_language() -> None:
    conversations = scripts()
    assert len(conversations) >= 5 and len({s.name for s in conversations}) == len(conversations)
    assert {s.lang for s in conversations} == {"zh", "en"}
    assert sum(len(s.turns) >= 5 for s in conversations) >= 3  # guided flows to their outcome
    assert all(t.strip() for s in conversations for t in s.turns)


def test_service_names_from_command_lines() -> None:
    assert service_name(["/x/.venv/bin/python", "-m", "rasa_sdk", "--actions", "actions"]) == "action server"
    assert service_name(["/x/.venv-rasa/bin/python", "/x/.venv-rasa/bin/rasa", "run", "--model", "m"]) == "Rasa server"
    assert service_name(["/x/.venv/bin/python", "-m", "bot"]) == "gateway"
    assert service_name(["/usr/bin/sleep", "10"]) is None


def test_resident_memory_of_a_process_group() -> None:
    pgid = os.getpgid(0)
    sample = Memory.sample({"this test": pgid})
    assert sample["this test"] > 10  # MB: at least this Python
    memory = Memory()
    memory.record_peak({"a": 5.0, "b": 1.0})
    memory.record_peak({"a": 3.0, "b": 4.0})
    assert memory.peak == {"a": 5.0, "b": 4.0} and memory.peak_total == 7.0


def _stand_in(seen: list[tuple[str, str]], fallback_for: str = "") -> httpx.MockTransport:
    """A gateway and a Rasa REST channel that answer after a millisecond (one text each)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # as a network would, lets the other people go on
        body = json.loads(request.content)
        if request.url.path == "/api/chat":
            seen.append((body["session"], body["text"]))
            text = messages.text("service_down", "zh") if body["text"] == fallback_for else "好的"
            return httpx.Response(200, json={"session": body["session"], "messages": [{"text": text}]})
        seen.append((body["sender"], body["message"]))
        assert body["metadata"] == {"channel": "web"}
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": "ok"}])

    return httpx.MockTransport(handle)


def test_the_load_keeps_each_person_in_order_in_their_own_session() -> None:
    seen: list[tuple[str, str]] = []
    conversations = scripts()
    phase = Phase("gateway", 3, 1)
    endpoint = Endpoint("gateway", "http://gateway")
    asyncio.run(run_phase(endpoint.send, phase, conversations, 1.0, tag="t", transport=_stand_in(seen)))
    assert phase.failed == 0 and len(phase.latencies_ms) == len(seen) > 3 and phase.rate > 0
    by_session: dict[str, list[str]] = {}
    for session, text in seen:
        by_session.setdefault(session, []).append(text)
    assert len(by_session) == phase.conversations
    for texts in by_session.values():  # each session is the beginning of one script, in order
        assert any(tuple(texts) == s.turns[: len(texts)] for s in conversations), texts
    assert {texts[0] for texts in by_session.values()} >= {s.turns[0] for s in conversations[:3]}


def test_a_paced_phase_offers_its_rate_and_ends_on_time() -> None:
    seen: list[tuple[str, str]] = []
    phase = Phase("gateway", 10, 1, offered=40.0)  # one message every 0.25 s from each of 10 people
    endpoint = Endpoint("gateway", "http://gateway")
    asyncio.run(run_phase(endpoint.send, phase, scripts(), 1.5, tag="p", transport=_stand_in(seen)))
    assert 55 <= len(seen) <= 61 and phase.failed == 0  # 40/s for 1.5 s
    assert phase.seconds < 1.7  # nobody slept past the end
    assert 35 <= phase.rate <= 41
    people = {session.rsplit("-", 1)[0] for session, _ in seen}
    assert len(people) == 10  # every person sent, spread over the first interval


def test_the_gateways_fallback_and_errors_count_as_failed() -> None:
    seen: list[tuple[str, str]] = []
    phase = Phase("gateway", 1, 1)
    only = [bench_e2e.Script("one", "zh", ("你好", "老板欠我工资"))]
    transport = _stand_in(seen, fallback_for="老板欠我工资")
    asyncio.run(run_phase(Endpoint("gateway", "http://g").send, phase, only, 0.2, tag="f", transport=transport))
    assert phase.failed == len(phase.latencies_ms) // 2 > 0

    bare = Phase("bare", 1, 1)
    asyncio.run(run_phase(Endpoint("bare", "http://r").send, bare, only, 0.1, tag="b", transport=_stand_in(seen)))
    assert bare.failed == 0 and bare.answered > 0
    assert seen[-1][0].startswith("web:b-")  # the gateway's sender form

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="boom")

    down = Phase("bare", 1, 1)
    asyncio.run(
        run_phase(Endpoint("bare", "http://r").send, down, only, 0.1, tag="d", transport=httpx.MockTransport(broken))
    )
    assert down.failed == len(down.latencies_ms) > 0 and down.rate == 0


# What each conversation reaches (by the first word of its name): the flows' outcomes, the information answers.
REACHES = {
    "wages": "【初步结果】",
    "injury": "[First view]",
    "minors": "【初步结果】",
    "traffic": "【初步结果】",
    "information": "《劳动争议调解仲裁法》第53条",
    "greeting": "Labour arbitration is free",
}


@pytest.mark.rasa
def test_every_script_is_answered_by_the_dialogue_through_the_real_stack(stack: Stack) -> None:
    fallbacks = {messages.text("service_down", lang) for lang in ("zh", "en")}
    not_understood = {messages.text("flow_not_understood", lang) for lang in ("zh", "en")}
    assert set(REACHES) == {script.name.split(" ")[0] for script in scripts()}
    for script in scripts():
        session = "bench-script-" + uuid.uuid4().hex[:12]
        answers = []
        for turn in script.turns:
            response = post_chat(stack.gateway_url, {"session": session, "text": turn})
            assert response.status_code == 200, (script.name, turn, response.text)
            texts = [m["text"] for m in response.json()["messages"]]
            assert texts and all(texts) and not fallbacks & set(texts), (script.name, turn, texts)
            assert not any(t.startswith(n) for t in texts for n in not_understood), (script.name, turn, texts)
            answers += texts
        assert any(REACHES[script.name.split(" ")[0]] in text for text in answers), (script.name, answers)
        if HANDOFF_TURN in script.turns:  # the conversation ends with a case opened
            assert any("GZLA-" in text for text in answers[-2:]), (script.name, answers[-2:])


def test_the_command_line_names_the_options_that_reproduce_a_run_and_refuses_to_write_a_quick_one() -> None:
    from typer.testing import CliRunner

    from hotline.cli import _given, app

    assert _given(quick=False, retrain=True, runs=5, seconds=None) == " --retrain --runs 5"
    assert _given(quick=False, retrain=False, runs=None, seconds=12.5) == " --seconds 12.5"
    for command in ("e2e", "all"):
        result = CliRunner().invoke(app, ["bench", command, "--quick"])
        assert result.exit_code == 2 and "--no-write" in result.output
