"""`hotline bench profile`: where each process's CPU goes under load, sampled with py-spy.

The stack is started as `hotline bench e2e` starts it (`hotline run`, a temporary HOTLINE_VAR), warmed up, and one
phase of simulated people is sent (the bench's conversations, closed loop or paced) while py-spy samples the Rasa
server, the action server and the gateway. Per process: CPU seconds and CPU milliseconds per message (from
/proc, without the profiler's own cost), and the frames that hold the most samples. For the Rasa server, the samples
are also grouped by the step of Rasa's message handling they fall in, which is how the throughput miss of
2026-12-02 was traced to jsonschema (docs/benchmarks.md, "Profile").
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hotline import bench_e2e as e2e
from hotline.bench_doc import write_section
from hotline.rasa_service import train
from hotline.settings import Settings

COMMAND = ".venv/bin/hotline bench profile"
MARK_START, MARK_END = "<!-- bench-profile:start -->", "<!-- bench-profile:end -->"
TOP_FRAMES = 12
TRUNK = 0.6  # a frame in more than this share of the working samples is the trunk, not shown
# The steps of Rasa's handling of one REST message (rasa/core/processor.py), by a frame that marks each; the first
# that matches a sample's stack names its step.
RASA_STEPS: tuple[tuple[str, str], ...] = (
    ("checking the action server's response (jsonschema)", "_validate_action_result"),
    # py-spy cuts very deep stacks (jsonschema recurses), losing their outer frames: named by the library then.
    ("checking the action server's response (jsonschema)", "(jsonschema/"),
    ("NLU: DIET classifier (TensorFlow)", "diet_classifier.py"),
    ("NLU: the other components and the graph", "_parse_message_with_graph"),
    ("tracker store: saving the turn (SQL)", "save_tracker"),
    ("tracker store: loading the conversation (SQL)", "fetch_tracker_and_update_session"),
    ("policies: predicting the next action", "_predict_next_with_tracker"),
    ("calling the action server (request, JSON)", "rasa/core/actions/action.py"),
)
# A sample whose innermost frame is one of these is a thread waiting (for a socket, a queue, a lock), not working;
# py-spy cannot always tell from the thread's state.
IDLE_LEAVES = frozenset({"select", "poll", "_poll", "wait", "acquire", "sleep", "_worker", "EpollSelector.select"})
# Frames every sample of a service starts with (interpreter, event loop, server): not worth a line.
BOILERPLATE = re.compile(
    r"^(?:<module>|_run_module_as_main|_run_code|main|run|serve|serve_single|Runner\.run|run_until_complete|"
    r"run_forever|_run_once|BaseEventLoop\.\w+|Handle\._run|_run|connection_task|http1|handle_request|"
    r"Thread\.\w+|_bootstrap\w*) \("
)


@dataclass
class ServiceProfile:
    name: str
    cpu_seconds: float
    samples: int = 0  # working samples (idle ones not counted)
    idle: int = 0
    frames: Counter[str] = field(default_factory=Counter)  # inclusive samples by "function (file)"
    leaves: Counter[str] = field(default_factory=Counter)  # samples whose innermost frame it is
    steps: Counter[str] = field(default_factory=Counter)  # Rasa server only
    error: str | None = None


def frame_key(frame: str) -> str:
    """'handle (/x/site-packages/rasa/core/agent.py:12)' → 'handle (rasa/core/agent.py)': the package path only."""
    for prefix in (r"/\S*?/site-packages/", r"/\S*?/lib/python3\.\d+/", r"/\S*?/(?=(?:hotline|bot|actions)/)"):
        frame, found = re.subn(r" \(" + prefix, " (", frame, count=1)
        if found:
            break
    return re.sub(r":\d+\)$", ")", frame)


def read_samples(path: Path, profile: ServiceProfile, steps: Sequence[tuple[str, str]] = ()) -> None:
    """py-spy's raw format: one line per distinct stack, 'frame;frame;...;frame count', outermost frame first."""
    for line in path.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        keys = [frame_key(f) for f in stack.split(";")]
        if keys[-1].split(" (")[0] in IDLE_LEAVES:
            profile.idle += n
            continue
        profile.samples += n
        profile.leaves[keys[-1]] += n
        for key in set(keys):
            profile.frames[key] += n
        if steps:
            joined = ";".join(keys)
            step = next((name for name, marker in steps if marker in joined), "other (HTTP server, dialogue glue)")
            profile.steps[step] += n


def samples_file(directory: Path, service: str) -> Path:
    return directory / f"{service.replace(' ', '-')}.txt"


def _cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in a process group (each service runs in its own)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def py_spy() -> Path:
    executable = Path(sys.executable).parent / "py-spy"
    if not executable.exists():
        raise SystemExit(f"py-spy is not installed at {executable} (requirements/app.lock has it: run `make setup`)")
    return executable


def run_profile(
    settings: Settings,
    *,
    path: str = "gateway",
    people: int = 50,
    offered: float = 0.0,
    seconds: float = 25.0,
    rate: int = 50,
    write: bool = True,
) -> int:
    spy = py_spy()
    model = train(settings)
    conversations = e2e.scripts()
    out = settings.var_dir / "profile"
    out.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = e2e.machine_line()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        var = Path(tmp)
        env = e2e.stack_environment(var)
        from hotline.cases.db import upgrade

        upgrade(env["DATABASE_URL"])
        with e2e.console.status("Starting `hotline run` ..."):
            stack, _ = e2e.start_stack(env, var / "hotline-run.log")
        try:
            with e2e.console.status("Warming up ..."):
                asyncio.run(e2e.warm_up(stack, conversations))
            services = {name: pgid for name, pgid in stack.groups.items() if name != "hotline run"}
            before = {name: _cpu_seconds(pgid) for name, pgid in services.items()}
            spies = {
                name: subprocess.Popen(
                    [str(spy), "record", "--pid", str(pgid), "--duration", str(round(seconds)), "--rate", str(rate),
                     "--format", "raw", "--nonblocking", "--subprocesses", "--output", str(samples_file(out, name))],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for name, pgid in services.items()
            }  # fmt: skip
            endpoint = e2e.Endpoint(path, stack.gateway_url if path == "gateway" else stack.rasa_url)
            phase = e2e.Phase(path, people, 1, offered)
            pace = f" at {offered:.1f} msg/s" if offered else " (closed loop)"
            with e2e.console.status(f"{people} people{pace} through {path} for {seconds:.0f} s, py-spy sampling ..."):
                asyncio.run(e2e.run_phase(endpoint.send, phase, conversations, seconds, tag="prof"))
            used = {name: _cpu_seconds(pgid) - before[name] for name, pgid in services.items()}
            profiles: list[ServiceProfile] = []
            for name, process in spies.items():
                _, stderr = process.communicate(timeout=seconds + 60)
                profile = ServiceProfile(name, used[name])
                samples = samples_file(out, name)
                if process.returncode != 0 or not samples.exists():
                    last = (stderr.decode(errors="replace").strip().splitlines() or ["no samples"])[-1]
                    profile.error = f"py-spy failed: {last}"
                else:
                    read_samples(samples, profile, RASA_STEPS if name == "Rasa server" else ())
                profiles.append(profile)
        finally:
            e2e.stop_stack(stack)
    report = render(profiles, phase, when=when, machine=machine, model=model.name, rate=rate, out=out)
    sys.stdout.write(report + "\n")
    if write:
        target = settings.project_root / "docs" / "benchmarks.md"
        write_section(target, report)
        e2e.console.print(f"Written to {target}; the samples (py-spy's raw format) are in {out}")
    return 0


def render(
    profiles: Sequence[ServiceProfile], phase: e2e.Phase, *, when: str, machine: str, model: str, rate: int, out: Path
) -> str:
    messages = len(phase.latencies_ms)
    pace = f"paced at {phase.offered:.1f} msg/s offered" if phase.offered else "closed loop"
    command = f"{COMMAND} --path {phase.path} --people {phase.concurrency}" + (
        f" --offered {phase.offered:g}" if phase.offered else ""
    )
    lines = [
        MARK_START,
        "## Profile: where the CPU goes under load",
        "",
        f"Reproduce: `{command}`. Run {when} on {machine}; model `{model}`. {phase.concurrency} simulated people, "
        f"{pace}, through {phase.path} for {phase.seconds:.0f} s: {messages} messages, {phase.rate:.1f} msg/s, "
        f"p50 {e2e._ms(phase.p(50))} ms, p95 {e2e._ms(phase.p(95))} ms, {phase.failed} failed. py-spy sampled each "
        f"process {rate} times a second (its raw samples are kept in `{out.name}/` under `HOTLINE_VAR`); CPU is "
        "from /proc for each service's process group.",
        "",
        "| process | CPU s | CPU ms per message |",
        "|---|---|---|",
    ]
    for p in profiles:
        lines.append(f"| {p.name} | {p.cpu_seconds:.1f} | {1000 * p.cpu_seconds / max(messages, 1):.1f} |")
    for p in profiles:
        lines += ["", f"### {p.name}", ""]
        if p.error:
            lines.append(p.error)
            continue
        total = max(p.samples, 1)
        lines += [f"{p.samples} working samples ({p.idle} more waiting: not counted below).", ""]
        if p.steps:
            lines += ["| step of Rasa's message handling | share of working samples |", "|---|---|"]
            for step, n in p.steps.most_common():
                lines.append(f"| {step} | {100 * n / total:.0f} % |")
            lines.append("")
        # The trunk (frames in most samples: the server's loop, the request handler) says nothing; below it, the
        # heaviest branches, then the functions the samples were in.
        branches = [(k, n) for k, n in p.frames.most_common() if n / total < TRUNK and not BOILERPLATE.match(k)]
        lines += [
            "| heaviest frames (function, file) | inclusive | | innermost frames | self |",
            "|---|---|---|---|---|",
        ]
        leaves = p.leaves.most_common(TOP_FRAMES)
        for index in range(min(TOP_FRAMES, max(len(branches), len(leaves)))):
            lines.append(f"| {_cell(branches, index, total)} | | {_cell(leaves, index, total)} |")
    lines.append(MARK_END)
    return "\n".join(lines)


def _cell(rows: Sequence[tuple[str, int]], index: int, total: int) -> str:
    return f"`{rows[index][0]}` | {100 * rows[index][1] / total:.0f} %" if index < len(rows) else " | "
