"""`hotline bench e2e`: the whole hotline under load, on the trained model in models/.

- Cold start: `hotline run` (model already trained, case database already migrated) until the gateway's /healthz
  answers 200, then until a first message gets the dialogue's answer (not the gateway's fallback).
- Latency p50/p95/p99 and throughput with 1, 10 and 50 simulated people, each going through a scripted multi-turn
  conversation (closed loop: the next turn when the answer arrived; each conversation its own session), sent
  through the gateway (`POST /api/chat`) and, with the same load, straight to Rasa's REST channel ("bare Rasa":
  the same Rasa server and the same action server, without the gateway). Gateway and bare runs alternate, and
  each figure is the median of the runs; the overhead ratio is the median of the ratios of each side-by-side pair.
- Resident memory of every process at rest (started and warmed up) and at its peak under 50 concurrent people.
- Training time from scratch (`--retrain`, into a temporary models directory: the cached model stays).

The conversations are written here (never taken from ../shared/eval).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import html
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from hotline import messages
from hotline.bench_doc import write_section
from hotline.rasa_service import stop_process, train, training_record
from hotline.settings import Settings

console = Console(stderr=True)
COMMAND = ".venv/bin/hotline bench e2e"
MARK_START, MARK_END = "<!-- bench-e2e:start -->", "<!-- bench-e2e:end -->"
CHART = Path("docs") / "img" / "bench-e2e.svg"
LEVELS = (1, 10, 50)  # closed loop: each person sends the next turn as soon as the answer arrived
PATHS = ("gateway", "bare")
# Paced: 50 people who each wait for the answer and then for their turn in a schedule that offers this many messages
# a second in all: 5 % above the target, so that the phase's edges do not bring the figure under it.
PACED_LEVEL = 50
PATH_LABELS = {"gateway": "gateway (`POST /api/chat`)", "bare": "bare Rasa (`POST /webhooks/rest/webhook`)"}
PHASE_SECONDS, QUICK_SECONDS = 30.0, 5.0
RUNS, QUICK_RUNS = 3, 1
REQUEST_TIMEOUT = 60.0
SAMPLE_EVERY = 0.5
# Targets of the issue (6).
TARGET_RATIO_P50 = 1.3  # gateway p50 / bare p50 at 10 concurrent conversations
TARGET_RATE = 30.0  # messages/s at 50 concurrent conversations ...
TARGET_P95_MS = 500.0  # ... with p95 below this
PACED_RATE = TARGET_RATE * 1.05
LOADS = (*((level, 0.0) for level in LEVELS), (PACED_LEVEL, PACED_RATE))  # (people, msg/s offered; 0: closed loop)
TARGET_MEMORY_MB = 2048.0
TARGET_COLD_START_S = 60.0
TARGET_TRAIN_S = 300.0
# The simulated people type faster than anyone; they are not to be slowed down by the per-person limit.
RATE_LIMIT_BURST = "1000000"


# ───────────────────────────── the conversations ─────────────────────────────


HANDOFF_TURN = "我想找律师"


@dataclass(frozen=True)
class Script:
    name: str
    lang: str
    turns: tuple[str, ...]


def scripts(today: date | None = None) -> list[Script]:
    """The simulated people's conversations: guided flows in both languages, an information question, greetings."""
    left = (today or date.today()) - timedelta(days=150)
    return [
        Script(
            "wages (zh, construction site, to the outcome, then a lawyer: a case is opened)",
            "zh",
            (
                "工地老板欠我们工资",
                "是的",
                "对",
                "嗯 是包工头叫我去的",
                "番禺",
                "15000",
                "没有 早就不干了",
                f"{left.year}年{left.month}月{left.day}号",
                "有微信聊天记录",
                HANDOFF_TURN,
            ),
        ),
        Script(
            "injury (en, commuting, to the outcome)",
            "en",
            (
                "I got hurt on my way to work",
                "no it wasn't my fault",
                "two months ago",
                "they didn't apply",
                "don't know",
                "yes",
                "Tianhe",
            ),
        ),
        Script(
            "minors (zh, child support)",
            "zh",
            ("我今年15岁，爸妈离婚了，爸爸一直不给我抚养费", "我自己", "抚养费一般给多少？", "谢谢"),
        ),
        Script(
            "traffic accident (zh, means test)",
            "zh",
            ("我走路被车撞了，司机不赔医药费", "3个人", "全家一个月3万左右", "没有", "没有"),
        ),
        Script("information questions (zh)", "zh", ("你好", "劳动仲裁要钱吗", "工伤认定要多久", "谢谢 再见")),
        Script("greeting and a question (en)", "en", ("hello", "is labour arbitration free?", "thanks, bye")),
    ]


# ───────────────────────────── the two paths ─────────────────────────────


@functools.cache
def _fallback_texts() -> frozenset[str]:
    """The gateway's own answer when Rasa does not answer in time (bot/rasa_client.py): not the dialogue's."""
    return frozenset(messages.text("service_down", lang) for lang in ("zh", "en"))


@dataclass(frozen=True)
class Endpoint:
    """Where a simulated person's message goes: through the gateway, or straight to Rasa's REST channel."""

    path: str  # "gateway" or "bare"
    url: str

    async def send(self, client: httpx.AsyncClient, session: str, text: str) -> bool:
        """Send one message; True if the dialogue answered it (200, at least one text, not the gateway's fallback)."""
        try:
            if self.path == "gateway":
                response = await client.post(f"{self.url}/api/chat", json={"session": session, "text": text})
                if response.status_code != 200:
                    return False
                texts = [str(m.get("text", "")) for m in response.json().get("messages") or []]
                return bool(texts) and not any(t in _fallback_texts() for t in texts)
            response = await client.post(
                f"{self.url}/webhooks/rest/webhook",
                # The gateway's sender form and channel, so the action server does the same work on both paths.
                json={"sender": f"web:{session}", "message": text, "metadata": {"channel": "web"}},
            )
            if response.status_code != 200:
                return False
            return any(item.get("text") for item in response.json())
        except (httpx.HTTPError, ValueError):
            return False


# ───────────────────────────── figures ─────────────────────────────


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks (numpy's default; statistics' inclusive)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Phase:
    """One path at one concurrency level for one run: every message's latency and whether it was answered."""

    path: str
    concurrency: int
    run: int
    offered: float = 0.0  # msg/s offered in all when paced; 0: closed loop
    latencies_ms: list[float] = field(default_factory=list)
    failed: int = 0
    conversations: int = 0
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies_ms) - self.failed

    @property
    def rate(self) -> float:
        """Messages answered by the dialogue per second (failed ones not counted)."""
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


@dataclass(frozen=True)
class Summary:
    """Medians over the runs of one path at one level."""

    p50: float
    p95: float
    p99: float
    rate: float
    messages: int
    failed: int
    runs: int


def summarise(phases: Sequence[Phase]) -> Summary:
    if not phases:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0, 0, 0)
    return Summary(
        p50=statistics.median(p.p(50) for p in phases),
        p95=statistics.median(p.p(95) for p in phases),
        p99=statistics.median(p.p(99) for p in phases),
        rate=statistics.median(p.rate for p in phases),
        messages=sum(len(p.latencies_ms) for p in phases),
        failed=sum(p.failed for p in phases),
        runs=len(phases),
    )


def paired_ratios(phases: Sequence[Phase], concurrency: int, offered: float = 0.0) -> list[float]:
    """Gateway p50 / bare p50 of each run at this level (the two measured side by side)."""
    by_run: dict[int, dict[str, Phase]] = {}
    for phase in phases:
        if phase.concurrency == concurrency and phase.offered == offered:
            by_run.setdefault(phase.run, {})[phase.path] = phase
    return [
        pair["gateway"].p(50) / pair["bare"].p(50)
        for _, pair in sorted(by_run.items())
        if "gateway" in pair and "bare" in pair and pair["bare"].p(50) > 0
    ]


# ───────────────────────────── resident memory (/proc) ─────────────────────────────


def _rss_kb(pid: int | str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, process group) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # after "pid (comm) ", which may hold spaces
    return int(fields[1]), int(fields[2])


def rss_by_group(pgids: Sequence[int]) -> dict[int, float]:
    """Resident memory of every process in each of these process groups (each service runs in its own), in MB:
    one pass over /proc."""
    totals = dict.fromkeys(pgids, 0)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None and stat[1] in totals:
            totals[stat[1]] += _rss_kb(entry)
    return {pgid: kb / 1024 for pgid, kb in totals.items()}


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None and stat[0] == pid:
            out.append(int(entry))
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def service_name(cmdline: Sequence[str]) -> str | None:
    """Which of `hotline run`'s children a command line is."""
    if "rasa_sdk" in cmdline:
        return "action server"
    if "bot" in cmdline and "-m" in cmdline:
        return "gateway"
    if any(Path(part).name == "rasa" for part in cmdline) and "run" in cmdline:
        return "Rasa server"
    return None


SERVICES = ("Rasa server", "action server", "gateway", "hotline run")


@dataclass
class Memory:
    at_rest: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)
    peak_total: float = 0.0

    @staticmethod
    def sample(groups: dict[str, int]) -> dict[str, float]:
        by_group = rss_by_group(list(groups.values()))
        return {name: by_group[pgid] for name, pgid in groups.items()}

    def record_peak(self, sample: dict[str, float]) -> None:
        for name, mb in sample.items():
            self.peak[name] = max(self.peak.get(name, 0.0), mb)
        self.peak_total = max(self.peak_total, sum(sample.values()))


# ───────────────────────────── the stack (`hotline run`) ─────────────────────────────


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    gateway_url: str
    rasa_url: str
    database_url: str
    log: Path
    groups: dict[str, int] = field(default_factory=dict)  # service → its process group (= its pid)


@dataclass(frozen=True)
class ColdStart:
    healthz_s: float
    first_answer_s: float
    fallbacks: int  # first messages answered by the gateway's fallback (Rasa still warming up) before a real one


def stack_environment(var: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RASA_URL": f"http://127.0.0.1:{free_port()}",
        "ACTION_PORT": str(free_port()),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(free_port()),
        "HOTLINE_VAR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'cases.db'}",
        "TELEGRAM_BOT_TOKEN": "",
        "RATE_LIMIT_BURST": RATE_LIMIT_BURST,
    }


def hotline_command() -> list[str]:
    return [str(Path(sys.executable).parent / "hotline"), "run"]


def start_stack(env: dict[str, str], log: Path, timeout: float = 300.0) -> tuple[Stack, ColdStart]:
    """`hotline run` as a person starts it; timed until /healthz says 200, then until a first real answer."""
    gateway_url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
    with open(log, "ab") as handle:
        started = time.monotonic()
        process = subprocess.Popen(
            hotline_command(), env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack = Stack(process, gateway_url, env["RASA_URL"], env["DATABASE_URL"], log)
    try:
        deadline = started + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"`hotline run` exited with code {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway was not healthy within {timeout:.0f} s; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{gateway_url}/healthz", timeout=2.0).status_code == 200:
                    break
            time.sleep(0.1)
        healthz = time.monotonic() - started
        fallbacks = 0
        endpoint = Endpoint("gateway", gateway_url)

        async def first() -> bool:
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
                return await endpoint.send(client, f"bench-cold-{uuid.uuid4().hex[:10]}", "你好")

        while not asyncio.run(first()):
            fallbacks += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"no first answer within {timeout:.0f} s; see {log}")
        first_answer = time.monotonic() - started
        for child in children_of(process.pid):
            name = service_name(_cmdline(child))
            if name is not None:
                stack.groups[name] = child  # started with start_new_session: its own process group
        stack.groups["hotline run"] = process.pid
        return stack, ColdStart(healthz, first_answer, fallbacks)
    except BaseException:
        stop_stack(stack)
        raise


def stop_stack(stack: Stack) -> None:
    """Ctrl-C to `hotline run` (it stops its children); anything of ours left after that is stopped by its id."""
    for child in children_of(stack.process.pid):  # known before they are orphaned, if starting failed midway
        name = service_name(_cmdline(child))
        if name is not None:
            stack.groups.setdefault(name, child)
    if stack.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(60)
        except subprocess.TimeoutExpired:
            stop_process(stack.process)
    for name, pgid in stack.groups.items():
        if name != "hotline run" and service_name(_cmdline(pgid)) == name:  # still ours (not a reused pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)


# ───────────────────────────── load ─────────────────────────────

Send = Callable[[httpx.AsyncClient, str, str], Awaitable[bool]]


async def run_phase(
    send: Send,
    phase: Phase,
    conversations: Sequence[Script],
    seconds: float,
    *,
    tag: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Phase:
    """`phase.concurrency` simulated people for `seconds`: each runs conversation after conversation (its own
    session each), sending a turn when the previous one was answered (closed loop) or, when the phase is paced,
    at its next time in a schedule of one message every `concurrency / offered` seconds, the people spread evenly
    over that interval; a person behind schedule (a slow answer) sends as soon as the answer arrived. A person stops
    at the deadline (the message in flight is still counted); the phase lasts until the last of them stopped."""
    n = phase.concurrency
    limits = httpx.Limits(max_connections=n + 4, max_keepalive_connections=n + 4)
    started = time.monotonic()
    deadline = started + seconds
    interval = n / phase.offered if phase.offered > 0 else 0.0

    async def person(client: httpx.AsyncClient, index: int) -> None:
        turn_of = index  # the people start on different conversations
        due = started + interval * index / n
        while time.monotonic() < deadline:
            script = conversations[turn_of % len(conversations)]
            turn_of += n
            session = f"{tag}-{index}-{uuid.uuid4().hex[:10]}"
            for number, text in enumerate(script.turns):
                if interval:
                    if due >= deadline:  # not slept past the end: the phase's length stays `seconds`
                        return
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    due += interval
                if time.monotonic() >= deadline:
                    return
                if number == 0:
                    phase.conversations += 1
                sent = time.perf_counter()
                ok = await send(client, session, text)
                phase.latencies_ms.append((time.perf_counter() - sent) * 1000)
                if not ok:
                    phase.failed += 1

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits, transport=transport) as client:
        await asyncio.gather(*(person(client, i) for i in range(n)))
    phase.seconds = time.monotonic() - started
    return phase


async def _sample_memory(memory: Memory, groups: dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        memory.record_peak(await asyncio.to_thread(memory.sample, groups))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)


async def settle(stack: Stack, quiet_ms: float, timeout: float = 120.0) -> float:
    """Wait until the previous phase's work is done: no message kept by the gateway (it answers them in the
    background) and a single message answered by Rasa within `quiet_ms`. Rasa goes on with requests whose caller
    gave up (the gateway's 4 s timeout), so an overloaded phase would otherwise slow down the next one. Seconds."""
    from hotline.cases.db import engine_for
    from hotline.cases.mailbox import KeptMessages

    engine = engine_for(stack.database_url)
    kept = KeptMessages(engine)
    started = time.monotonic()
    probe = Endpoint("bare", stack.rasa_url)
    try:
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
            while time.monotonic() - started < timeout:
                pending = await asyncio.to_thread(kept.pending)
                sent = time.perf_counter()
                ok = await probe.send(client, f"bench-settle-{uuid.uuid4().hex[:10]}", "你好")
                if not pending and ok and (time.perf_counter() - sent) * 1000 <= quiet_ms:
                    break
                await asyncio.sleep(1.0)
    finally:
        engine.dispose()
    return time.monotonic() - started


async def run_load(
    stack: Stack,
    conversations: Sequence[Script],
    seconds: float,
    runs: int,
    memory: Memory,
    progress: Progress,
    quiet_ms: float,
) -> list[Phase]:
    """Every level, `runs` pairs of (gateway, bare) side by side; the order alternates from run to run. Before
    each phase the hotline settles (no work left from the one before)."""
    endpoints = {"gateway": Endpoint("gateway", stack.gateway_url), "bare": Endpoint("bare", stack.rasa_url)}
    phases: list[Phase] = []
    for level, offered in LOADS:
        for run in range(1, runs + 1):
            order = PATHS if run % 2 else tuple(reversed(PATHS))
            for path in order:
                phase = Phase(path, level, run, offered)
                await settle(stack, quiet_ms)
                pace = f" at {offered:.1f}/s" if offered else ""
                task = progress.add_task(f"{path:>7} ×{level:<2}{pace} run {run}/{runs}", total=seconds, info="")
                ticker_stop = asyncio.Event()

                async def ticker(task: TaskID = task, phase: Phase = phase, stop: asyncio.Event = ticker_stop) -> None:
                    began = time.monotonic()
                    while not stop.is_set():  # cheap: the load generator shares the 2 cores with the hotline
                        info = f"{len(phase.latencies_ms)} msgs, {phase.failed} failed"
                        progress.update(task, completed=min(seconds, time.monotonic() - began), info=info)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 0.5)

                sampler_stop = asyncio.Event()
                background = [asyncio.create_task(ticker())]
                if level == max(LEVELS) and not offered:
                    background.append(asyncio.create_task(_sample_memory(memory, stack.groups, sampler_stop)))
                tag = f"b{path[0]}{level}{'p' if offered else ''}r{run}"
                await run_phase(endpoints[path].send, phase, conversations, seconds, tag=tag)
                ticker_stop.set()
                sampler_stop.set()
                await asyncio.gather(*background)
                rate = f"{phase.rate:.1f} msg/s, p50 {phase.p(50):.0f} ms, p95 {phase.p(95):.0f} ms"
                progress.update(task, completed=seconds, info=f"{rate}, {phase.failed} failed")
                phases.append(phase)
    return phases


async def warm_up(stack: Stack, conversations: Sequence[Script]) -> tuple[int, float]:
    """Each conversation once on each path, one message at a time (Rasa builds its graph on first use): how many
    were not answered, and the median latency of bare Rasa's answers (ms)."""
    failed = 0
    bare_ms: list[float] = []
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
        for path, url in (("gateway", stack.gateway_url), ("bare", stack.rasa_url)):
            endpoint = Endpoint(path, url)
            for script in conversations:
                session = f"bench-warm-{path}-{uuid.uuid4().hex[:10]}"
                for text in script.turns:
                    sent = time.perf_counter()
                    failed += not await endpoint.send(client, session, text)
                    if path == "bare":
                        bare_ms.append((time.perf_counter() - sent) * 1000)
    return failed, statistics.median(bare_ms)


# ───────────────────────────── the run ─────────────────────────────


@dataclass
class Result:
    when: str
    command: str
    machine: str
    model: str
    seconds: float
    runs: int
    phases: list[Phase]
    memory: Memory
    cold_starts: list[ColdStart]
    train_seconds: float | None
    train_how: str
    warm_up_failed: int = 0
    scale: ScaleRun | None = None

    def summary(self, path: str, level: int, offered: float = 0.0) -> Summary:
        return summarise([p for p in self.phases if p.path == path and p.concurrency == level and p.offered == offered])

    def ratio(self, level: int, offered: float = 0.0) -> float:
        ratios = paired_ratios(self.phases, level, offered)
        return statistics.median(ratios) if ratios else math.nan


def machine_line() -> str:
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores{memory}, load average at the start {load}"


def time_training(settings: Settings) -> float:
    """`rasa train` of our config from scratch into a temporary models directory; seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        started = time.monotonic()
        train(dataclasses.replace(settings, models_dir=Path(tmp)), force=True, from_scratch=True)
        return time.monotonic() - started


def recorded_training(model: Path) -> float | None:
    record = training_record(model)
    if not record.exists():
        return None
    seconds = json.loads(record.read_text()).get("train_seconds")
    return float(seconds) if seconds is not None else None


def run_bench(
    settings: Settings,
    *,
    quick: bool = False,
    runs: int | None = None,
    seconds: float | None = None,
    retrain: bool = False,
    write: bool = True,
    command: str = COMMAND,
) -> int:
    runs = runs or (QUICK_RUNS if quick else RUNS)
    seconds = seconds or (QUICK_SECONDS if quick else PHASE_SECONDS)
    machine = machine_line()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    model = train(settings)  # the cached model (trained now only if its inputs changed): `hotline run` serves it
    train_seconds: float | None
    if retrain:
        console.print("Training from scratch into a temporary models directory (the cached model stays) ...")
        train_seconds, train_how = time_training(settings), "trained from scratch in this run (`--retrain`)"
    else:
        train_seconds = recorded_training(model)
        train_how = "recorded by `hotline train` when it last trained this model (`--retrain` times it in the run)"
    conversations = scripts()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        var = Path(tmp)
        env = stack_environment(var)
        from hotline.cases.db import upgrade

        upgrade(env["DATABASE_URL"])  # as on any restart: the schema is there; `hotline run` checks it
        cold_starts: list[ColdStart] = []
        stack: Stack | None = None
        try:
            for attempt in range(1, runs + 1):
                with console.status(f"Cold start {attempt}/{runs}: `hotline run` until /healthz and a first answer"):
                    stack, cold = start_stack(env, var / "hotline-run.log")
                cold_starts.append(cold)
                console.print(
                    f"cold start {attempt}/{runs}: /healthz after {cold.healthz_s:.1f} s, first answer after "
                    f"{cold.first_answer_s:.1f} s" + (f" ({cold.fallbacks} fallback first)" if cold.fallbacks else "")
                )
                if attempt < runs:
                    stop_stack(stack)
                    stack = None
            assert stack is not None
            with console.status("Warming up: each conversation once on each path ..."):
                warm_failed, warm_ms = asyncio.run(warm_up(stack, conversations))
            time.sleep(2.0)
            memory = Memory()
            memory.at_rest = memory.sample(stack.groups)
            console.print("at rest: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in memory.at_rest.items()))
            columns = [
                TextColumn("{task.description}"),
                BarColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
            ]
            with Progress(*columns, console=console, refresh_per_second=2) as progress:
                # Settled: a single message answered within 3 times the warm-up's median (at least half a second).
                quiet_ms = max(500.0, 3 * warm_ms)
                phases = asyncio.run(run_load(stack, conversations, seconds, runs, memory, progress, quiet_ms))
        finally:
            if stack is not None:
                stop_stack(stack)
        scale_run = run_scale(settings, model, conversations, seconds, var)
        if scale_run.error:
            console.print(f"[red]two replicas: not measured ({scale_run.error})[/red]")
    result = Result(
        when=when,
        command=command,
        machine=machine,
        model=model.name,
        seconds=seconds,
        runs=runs,
        phases=phases,
        memory=memory,
        cold_starts=cold_starts,
        train_seconds=train_seconds,
        train_how=train_how,
        warm_up_failed=warm_failed,
        scale=scale_run,
    )
    report = render(result, conversations)
    sys.stdout.write(report + "\n")  # the Markdown as written to docs/benchmarks.md (progress went to stderr)
    if write:
        root = settings.project_root
        write_section(root / "docs" / "benchmarks.md", report)
        (root / CHART).parent.mkdir(parents=True, exist_ok=True)
        (root / CHART).write_text(chart_svg(result), "utf-8")
        console.print(f"Written to {root / 'docs' / 'benchmarks.md'} and {root / CHART}")
    return 0


# ───────────────────────────── beyond one machine (once) ─────────────────────────────


@dataclass
class ScaleRun:
    """The paced load once through two replicas of the whole hotline (hotline/scale.py), each person's messages
    alternating between the two gateways; then each conversation checked in the shared tracker store."""

    replicas: int
    phase: Phase | None = None
    checked: int = 0  # conversations whose user messages were compared with what was sent
    out_of_order: int = 0  # ... whose user messages in the tracker differ from what was sent, in order
    handoffs: int = 0  # conversations that asked for a lawyer
    not_one_case: int = 0  # ... that have no case or more than one
    error: str | None = None  # why it could not run


async def _check_conversations(
    rasa_url: str, database_url: str, sent: dict[str, list[str]], result: ScaleRun, timeout: float = 120.0
) -> None:
    """Once nothing is kept any more (every message answered), each conversation's user messages in the tracker
    store must be what was sent, in the order sent, and each one that asked for a lawyer must have one case."""
    from hotline.cases.db import engine_for
    from hotline.cases.mailbox import KeptMessages
    from hotline.cases.store import CaseStore
    from hotline.text import normalise

    engine = engine_for(database_url)
    try:
        kept, store = KeptMessages(engine), CaseStore(engine)
        started = time.monotonic()
        while await asyncio.to_thread(kept.pending) and time.monotonic() - started < timeout:
            await asyncio.sleep(1.0)
        limit = asyncio.Semaphore(8)

        async def check(client: httpx.AsyncClient, session: str, turns: list[str]) -> None:
            async with limit:
                response = await client.get(f"{rasa_url}/conversations/web:{session}/tracker")
            response.raise_for_status()
            users = [str(e.get("text")) for e in response.json().get("events") or [] if e.get("event") == "user"]
            result.checked += 1
            if users != [normalise(t) for t in turns]:
                result.out_of_order += 1
            if HANDOFF_TURN in turns:
                result.handoffs += 1
                if len(await asyncio.to_thread(store.person_cases, "web", f"web:{session}")) != 1:
                    result.not_one_case += 1

        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as client:
            await asyncio.gather(*(check(client, session, turns) for session, turns in sent.items() if turns))
    finally:
        engine.dispose()


def run_scale(settings: Settings, model: Path, conversations: Sequence[Script], seconds: float, var: Path) -> ScaleRun:
    """Two replicas (two action servers, two Rasa servers on one PostgreSQL tracker store and the atomic Redis lock
    store, two gateways, one PostgreSQL case store), the paced load once. On one machine the replicas share its
    cores: this shows that conversations stay whole and handoffs single across replicas, not more capacity."""
    from hotline.scale import two_replicas

    result = ScaleRun(replicas=2)
    try:
        with contextlib.ExitStack() as replicas_running:
            with console.status("Beyond one machine: starting two replicas of the hotline ..."):
                replicas = replicas_running.enter_context(
                    two_replicas(settings, model, count=result.replicas, log_dir=var / "scale")
                )
            sent: dict[str, list[str]] = {}
            gateways = [Endpoint("gateway", url) for url in replicas.gateway_urls]

            async def send(client: httpx.AsyncClient, session: str, text: str) -> bool:
                turns = sent.setdefault(session, [])
                gateway = gateways[len(turns) % len(gateways)]  # each message to the other gateway
                turns.append(text)
                return await gateway.send(client, session, text)

            phase = Phase("gateway", PACED_LEVEL, 1, PACED_RATE)
            with console.status(f"Two replicas: {PACED_LEVEL} people at {PACED_RATE:.1f} msg/s for {seconds:.0f} s"):
                asyncio.run(run_phase(send, phase, conversations, seconds, tag="bscale"))
            result.phase = phase
            with console.status("Two replicas: checking every conversation in the shared tracker store ..."):
                asyncio.run(_check_conversations(replicas.rasa_urls[0], replicas.database_url, sent, result))
    except Exception as error:  # the rest of the figures stand; the report says why this one is missing
        result.error = f"{type(error).__name__}: {error}"
    return result


# ───────────────────────────── the report ─────────────────────────────


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.0f}" if x >= 100 else f"{x:.1f}"


def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else "yes" if ok else "**no**"


def targets(result: Result) -> list[tuple[str, str, bool | None]]:
    """(target, figure, met?) for each target of the issue."""
    ratio10 = result.ratio(10)
    paced = result.summary("gateway", PACED_LEVEL, PACED_RATE)
    closed = result.summary("gateway", PACED_LEVEL)
    cold = statistics.median(c.healthz_s for c in result.cold_starts)
    first = statistics.median(c.first_answer_s for c in result.cold_starts)
    rest = sum(result.memory.at_rest.values())
    rows: list[tuple[str, str, bool | None]] = [
        (
            f"gateway + actions p50 ≤ {TARGET_RATIO_P50}× bare Rasa's at 10 concurrent",
            f"{ratio10:.2f}×" if not math.isnan(ratio10) else "n/a",
            None if math.isnan(ratio10) else ratio10 <= TARGET_RATIO_P50,
        ),
        (
            f"≥ {TARGET_RATE:.0f} messages/s sustained with p95 < {TARGET_P95_MS:.0f} ms at {PACED_LEVEL} concurrent "
            f"(gateway; {PACED_RATE:.1f} msg/s offered)",
            f"{paced.rate:.1f} msg/s, p95 {_ms(paced.p95)} ms, {paced.failed} failed (capacity without think time: "
            f"{closed.rate:.1f} msg/s)",
            None if paced.runs == 0 else paced.rate >= TARGET_RATE and paced.p95 < TARGET_P95_MS and not paced.failed,
        ),
        (
            f"total resident memory ≤ {TARGET_MEMORY_MB / 1024:.0f} GB",
            f"{result.memory.peak_total:.0f} MB at peak under load ({rest:.0f} MB at rest)",
            max(result.memory.peak_total, rest) <= TARGET_MEMORY_MB,
        ),
        (
            f"cold start ≤ {TARGET_COLD_START_S:.0f} s (`hotline run` to /healthz 200)",
            f"{cold:.1f} s (first answer {first:.1f} s)",
            cold <= TARGET_COLD_START_S,
        ),
        (
            f"training from scratch ≤ {TARGET_TRAIN_S / 60:.0f} min",
            f"{result.train_seconds:.0f} s" if result.train_seconds is not None else "not measured",
            None if result.train_seconds is None else result.train_seconds <= TARGET_TRAIN_S,
        ),
    ]
    if result.scale is not None:
        run = result.scale
        rows.append(
            (
                f"{run.replicas} replicas: each conversation's messages handled in order, no handoff duplicated",
                f"not measured: {run.error}"
                if run.error
                else f"{run.checked} conversations, {run.out_of_order} out of order; {run.handoffs} handoffs, "
                f"{run.not_one_case} without exactly one case",
                None if run.error else run.checked > 0 and run.out_of_order == 0 and run.not_one_case == 0,
            )
        )
    return rows


def scale_lines(run: ScaleRun) -> list[str]:
    lines = [
        f"### Beyond one machine: {run.replicas} replicas (run once)",
        "",
        f"`hotline/scale.py`, as `tests/scale` and [docs/scale.md](scale.md) run it: {run.replicas} action servers, "
        f"{run.replicas} Rasa servers on one PostgreSQL tracker store with the atomic Redis lock store "
        f"(`deploy/endpoints.production.yml`), {run.replicas} gateways, one PostgreSQL case store. The paced load, "
        "each person's messages sent to the gateways in turn (message 1 to the first, message 2 to the second, ...). "
        "Afterwards every conversation's user messages in the tracker store are compared with what was sent, in "
        "order, and every conversation that asked for a lawyer must have exactly one case. On this one machine the "
        "replicas share its 2 cores (and PostgreSQL's): the run shows that conversations stay whole across "
        "replicas, not more capacity; that needs more machines.",
        "",
    ]
    if run.error or run.phase is None:
        return [*lines, f"Not measured in this run: {run.error}.", ""]
    phase = run.phase
    return [
        *lines,
        "| offered msg/s | msg/s | p50 ms | p95 ms | p99 ms | messages | failed | conversations checked | out of "
        "order | asked for a lawyer | without exactly one case |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {phase.offered:.1f} | {phase.rate:.1f} | {_ms(phase.p(50))} | {_ms(phase.p(95))} | {_ms(phase.p(99))} | "
        f"{len(phase.latencies_ms)} | {phase.failed} | {run.checked} | {run.out_of_order} | {run.handoffs} | "
        f"{run.not_one_case} |",
        "",
    ]


def render(result: Result, conversations: Sequence[Script]) -> str:
    turns = sum(len(s.turns) for s in conversations)
    lines = [
        MARK_START,
        "## End to end: latency, throughput, memory, cold start",
        "",
        f"Reproduce: `{result.command}`"
        + ("" if "--retrain" in result.command else " (add `--retrain` to time training from scratch)")
        + f". Run {result.when} on "
        f"{result.machine}; model `{result.model}`; each figure the median of {result.runs} run(s), "
        f"{result.seconds:.0f} s per path, level and run.",
        "",
        "How: `hotline run` starts the action server, Rasa and the gateway (own ports, a temporary `HOTLINE_VAR` "
        f"and SQLite case store; `RATE_LIMIT_BURST={RATE_LIMIT_BURST}` so that the simulated people are not rate "
        "limited). Each simulated person goes through scripted conversations (below), one session each, and sends "
        "the next turn when the answer to the previous one arrived. *Bare Rasa* is the same load sent to the same "
        "Rasa server's REST channel (`POST /webhooks/rest/webhook`), without the gateway: Rasa still calls our "
        "action server for every message (RulePolicy maps every message to `action_reply`), so the ratio is the "
        "gateway's overhead (its HTTP hop, normalisation, rate limit, kept-message check); our action server's "
        "cost is in both. Gateway and bare phases alternate (G B, then B G, ...) at each level. *Failed*: no "
        "answer from the dialogue (an error, or the gateway's own fallback when Rasa took more than 4 s); failed "
        "messages count in the latencies but not in msg/s. Where the gateway fails many, its latencies stop near "
        "4 s while bare Rasa's go on growing: read the ratio with the failed column. Before each phase the hotline "
        "settles (no kept message left, a single message answered quickly again). The load generator runs on the "
        "same machine.",
        "",
        "Two kinds of load. *Closed loop* (1, 10, 50): each person sends the next turn the moment the answer "
        "arrived, with no time to read or type, so the hotline is always saturated at 10 and 50 and the latency "
        "there is the queue: by Little's law, latency ≈ people ÷ throughput (50 people at 40 msg/s wait 1.25 s "
        "whatever the code does). It measures capacity. *Paced* (the target's row): the same 50 people, each "
        f"sending when the answer arrived and its turn came, one message every {PACED_LEVEL / PACED_RATE:.2f} s, "
        f"{PACED_RATE:.1f} msg/s offered in all (5 % above the target of {TARGET_RATE:.0f}, so that the edges of "
        "the phase do not bring the figure under it): the sustained rate and the latency people see at that rate.",
        "",
        f"![p50 and p95 latency by concurrent conversations, gateway and bare Rasa]({CHART.relative_to('docs')})",
        "",
        "### Latency and throughput",
        "",
        "| concurrent conversations | path | p50 ms | p95 ms | p99 ms | msg/s | messages | failed "
        "| p50 ratio gateway/bare |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level, offered in LOADS:
        ratios = paired_ratios(result.phases, level, offered)
        label = f"{level}, paced at {offered:.1f} msg/s" if offered else f"{level}"
        for path in PATHS:
            s = result.summary(path, level, offered)
            ratio = ""
            if path == "gateway" and ratios:
                ratio = f"{statistics.median(ratios):.2f}× (runs: " + ", ".join(f"{r:.2f}" for r in ratios) + ")"
            lines.append(
                f"| {label} | {PATH_LABELS[path]} | {_ms(s.p50)} | {_ms(s.p95)} | {_ms(s.p99)} | {s.rate:.1f} | "
                f"{s.messages} | {s.failed} | {ratio} |"
            )
    lines += [
        "",
        "### Resident memory (MB)",
        "",
        "| process | at rest (started, warmed up) | peak under load (50 concurrent, sampled every 0.5 s) |",
        "|---|---|---|",
    ]
    for name in SERVICES:
        if name in result.memory.at_rest:
            label = "`hotline run` (the supervisor)" if name == "hotline run" else name
            lines.append(
                f"| {label} | {result.memory.at_rest[name]:.0f} | {result.memory.peak.get(name, math.nan):.0f} |"
            )
    lines += [
        f"| **total** | {sum(result.memory.at_rest.values()):.0f} | {result.memory.peak_total:.0f} |",
        "",
        "VmRSS from /proc of each service's process group; shared pages are counted in each process.",
        "",
        "### Cold start and training",
        "",
        "| run | `hotline run` → /healthz 200 s | → first answer s |",
        "|---|---|---|",
    ]
    for index, cold in enumerate(result.cold_starts, 1):
        fallback = f" ({cold.fallbacks} gateway fallback(s) first)" if cold.fallbacks else ""
        lines.append(f"| {index} | {cold.healthz_s:.1f} | {cold.first_answer_s:.1f}{fallback} |")
    lines += [
        f"| **median** | {statistics.median(c.healthz_s for c in result.cold_starts):.1f} | "
        f"{statistics.median(c.first_answer_s for c in result.cold_starts):.1f} |",
        "",
        "Model already trained, case database already migrated (as on any restart). The first answer is the "
        "dialogue's answer to a first `你好`, not the gateway's fallback.",
        "",
        "Training from scratch: "
        + (f"{result.train_seconds:.0f} s, " if result.train_seconds is not None else "not measured; ")
        + f"{result.train_how}.",
        "",
    ]
    if result.scale is not None:
        lines += scale_lines(result.scale)
    lines += [
        "### Targets",
        "",
        "| target | figure | met? |",
        "|---|---|---|",
    ]
    for target, figure, met in targets(result):
        lines.append(f"| {target} | {figure} | {_yes(met)} |")
    lines += [
        "",
        f"### The conversations ({len(conversations)}, {turns} turns; written in `hotline/bench_e2e.py`)",
        "",
    ]
    for script in conversations:
        lines.append(f"- {script.name}: " + " / ".join(f"“{t}”" for t in script.turns))
    if result.warm_up_failed:
        lines += ["", f"Warm-up: {result.warm_up_failed} message(s) not answered by the dialogue."]
    lines.append(MARK_END)
    return "\n".join(lines)


# ───────────────────────────── the chart ─────────────────────────────

SERIES = (
    ("gateway", "p50", "#3b6ea5"),
    ("gateway", "p95", "#9bb7d4"),
    ("bare", "p50", "#c0504d"),
    ("bare", "p95", "#e6a8a6"),
)


def _nice_top(value: float) -> float:
    """A round axis maximum at or above `value`."""
    if not value > 0 or math.isnan(value):
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def chart_svg(result: Result) -> str:
    """p50 and p95 latency at each level, gateway beside bare Rasa: one panel per level, each with its own scale
    (the levels differ by an order of magnitude), values written on the bars. Hand-written SVG."""
    panel_w, panel_h, top_pad, bottom_pad, left_pad = 200, 220, 50, 40, 46
    bar_w, gap = 28, 8
    width = left_pad + len(LOADS) * (panel_w + 20) + 10
    height = top_pad + panel_h + bottom_pad + 30
    title = f"Latency by concurrent conversations (median of {result.runs} run(s), {result.when})"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="10" y="18" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for index, (level, offered) in enumerate(LOADS):
        x0 = left_pad + index * (panel_w + 20)
        values = {(path, q): getattr(result.summary(path, level, offered), q) for path, q, _ in SERIES}
        finite = [v for v in values.values() if not math.isnan(v)]
        top = _nice_top(max(finite) if finite else 1.0)
        base = top_pad + panel_h
        parts.append(f'<line x1="{x0}" y1="{top_pad}" x2="{x0}" y2="{base}" stroke="#888"></line>')
        parts.append(f'<line x1="{x0}" y1="{base}" x2="{x0 + panel_w}" y2="{base}" stroke="#888"></line>')
        for tick in range(5):
            value = top * tick / 4
            y = base - panel_h * tick / 4
            parts.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
            if tick:
                parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + panel_w}" y2="{y:.1f}" stroke="#ddd"></line>')
        start = x0 + (panel_w - (len(SERIES) * bar_w + (len(SERIES) - 1) * gap)) / 2
        for k, (path, q, colour) in enumerate(SERIES):
            value = values[(path, q)]
            height_px = 0.0 if math.isnan(value) else panel_h * value / top
            x = start + k * (bar_w + gap)
            parts.append(
                f'<rect x="{x:.1f}" y="{base - height_px:.1f}" width="{bar_w}" height="{height_px:.1f}" '
                f'fill="{colour}"><title>{html.escape(f"{path} {q}: {_ms(value)} ms")}</title></rect>'
            )
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base - height_px - 4:.1f}" text-anchor="middle">'
                f"{html.escape(_ms(value))}</text>"
            )
        parts.append(
            f'<text x="{x0 + panel_w / 2}" y="{base + 18}" text-anchor="middle" font-size="12">'
            + (f"{level} paced, {offered:.1f} msg/s" if offered else f"{level} concurrent, closed loop")
            + "</text>"
        )
    parts.append(f'<text x="10" y="{top_pad - 8}">ms (each panel has its own scale)</text>')
    legend_y = height - 12
    for k, (path, q, colour) in enumerate(SERIES):
        x = left_pad + k * 150
        label = f"{'gateway' if path == 'gateway' else 'bare Rasa'} {q}"
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"></rect>')
        parts.append(f'<text x="{x + 16}" y="{legend_y}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
