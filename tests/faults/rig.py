"""Processes the fault tests may kill: an action server, two Rasa servers and gateways of their own (the stack's keep
serving the other tests), each with its log in the rig's directory; the web person's side of the chat API; what
Rasa's tracker holds of a conversation; PostgreSQL stopped, started and restarted on this machine.

The action server writes cases to a fresh PostgreSQL database of the rig (production's case store). Rasa A is
never killed (the action server and PostgreSQL are killed under it); Rasa B is killed by the tests that need Rasa
down. Each Rasa server has a SQLite tracker store of its own; each test's gateways a case store of their own (a
SQLite file), so that no other gateway's retry loop answers the messages they keep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from hotline import messages
from hotline.cases.db import database_url, upgrade
from hotline.entities import _shift_months
from hotline.rasa_service import RasaServer, stop_process
from hotline.services import action_server_command, gateway_command, wait_http
from hotline.settings import Settings, rasa_environment
from hotline.text import normalise
from tests.conftest import free_port

# The wages conversation of tests/test_conversations.py test_1, as a person types it.
_LEFT = _shift_months(date.today(), 11) - timedelta(days=27)
WAGES = [
    "工地老板欠我们工资",
    "是的",
    "对",
    "嗯 是包工头叫我去的",
    "番禺",
    "15000",
    "没有 早就不干了",
    f"{_LEFT.year}年{_LEFT.month}月{_LEFT.day}号",
    "有微信聊天记录",
]
HANDOFF = "/request_human"
# The gateway's own answer when the dialogue does not answer in time: the message is kept.
SERVICE_DOWN = messages.text("service_down", "zh")
# The action server's answer when the case store cannot take the handoff.
HANDOFF_FAILED = messages.text("handoff_failed", "zh")
FALLBACK_SECONDS = 5.0  # the gateway waits 4 s for Rasa; the person has an answer within 5


def session_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Service:
    """A child process on a fixed port (the action server), started again on the same port after a kill."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: Path, log: Path, health: str):
        self.name, self.command, self.env, self.cwd, self.log, self.health = name, command, env, cwd, log, health
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as handle:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the signals reach its children too
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.process is not None, f"{self.name} is not started"
        wait_http(self.health, self.name, self.process, self.log, timeout)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None, f"{self.name} is not running"
        os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """kill -9: no clean-up, no last words."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(30)
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):  # a paused process cannot stop
                os.killpg(self.process.pid, signal.SIGCONT)
            stop_process(self.process)
            self.process = None


def requests_waiting(port: int) -> int:
    """Connections to `port` on this machine with a request the server has not read yet (a paused server's)."""
    waiting = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                local, state, queues = fields[1], fields[3], fields[4]
                if int(local.rsplit(":", 1)[1], 16) == port and state == "01" and int(queues.split(":")[1], 16):
                    waiting += 1
    return waiting


def wait_requests_waiting(port: int, count: int, timeout: float = 20.0) -> None:
    """Until `count` requests wait at the (paused) server on `port`: they are in flight, past the sender."""
    deadline = time.monotonic() + timeout
    while requests_waiting(port) < count:
        assert time.monotonic() < deadline, f"{count} request(s) did not reach port {port}"
        time.sleep(0.05)


@contextmanager
def paused(service: Service) -> Iterator[None]:
    """SIGSTOP for the block: connections are accepted by the kernel, nothing is answered (a hung process)."""
    service.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        if service.alive():
            service.signal(signal.SIGCONT)


def kill_rasa(server: RasaServer) -> None:
    assert server.process is not None, "Rasa is not running"
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(30)
    server.process = None


def restart_rasa(server: RasaServer) -> None:
    """The same port, model and tracker store; back when it answers /status (not warmed up: as in production)."""
    server.start()
    server.wait_ready(timeout=300)


class Gateway(Service):
    """`python -m bot` with settings of its own: the web chat API of a test, killed and started again at will."""

    def __init__(self, settings: Settings, log_dir: Path, name: str, **overrides: str) -> None:
        self.settings, self.log_dir, self.overrides = settings, log_dir, overrides
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = (
            rasa_environment(settings)
            | {
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(self.port),
                "TELEGRAM_BOT_TOKEN": "",
                "TELEGRAM_WEBHOOK_URL": "",
                "RATE_LIMIT_BURST": "1000",
                "RETRY_INTERVAL_SECONDS": "1",
            }
            | overrides
        )
        health = f"{self.url}/api/chat/x/updates"
        super().__init__(name, gateway_command(), env, settings.project_root, log_dir / f"{name}.log", health)

    def restarted(self, name: str) -> Gateway:
        """Another gateway process with the same settings (the case store included), as after a crash."""
        return Gateway(self.settings, self.log_dir, name, **self.overrides)


@contextmanager
def running(gateway: Gateway) -> Iterator[Gateway]:
    gateway.start()
    try:
        gateway.wait_ready(60)
        yield gateway
    finally:
        gateway.stop()


@dataclass
class Rig:
    settings: Settings
    directory: Path
    cases_url: str  # the action server's case store (PostgreSQL)
    admin_url: str  # the PostgreSQL server's admin URL (creates and drops databases)
    actions: Service
    rasa_a: RasaServer  # never killed
    rasa_b: RasaServer  # killed by the tests that need Rasa down
    action_port: int

    def gateway(self, name: str, rasa: RasaServer, database_url: str | None = None, **overrides: str) -> Gateway:
        """A gateway on `rasa` with a case store of its own (a fresh SQLite file unless `database_url`)."""
        if database_url is None:
            database_url = f"sqlite:///{self.directory / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
            upgrade(database_url)
        return Gateway(
            self.settings,
            self.directory,
            name,
            RASA_URL=rasa.url,
            ACTION_PORT=str(self.action_port),
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.action_port}/webhook",  # its /healthz asks /health beside it
            DATABASE_URL=database_url,
            **overrides,
        )

    def restore(self) -> None:
        """Everything up again after a test (also one that failed half-way)."""
        if self.actions.alive():
            self.actions.signal(signal.SIGCONT)
        else:
            self.actions.start()
            self.actions.wait_ready()
        for server in (self.rasa_a, self.rasa_b):
            if server.process is None or server.process.poll() is not None:
                restart_rasa(server)


def _warm_up(url: str) -> None:
    """Rasa builds its prediction graph on the first message (longer than a gateway waits)."""
    body = {"sender": f"warm-up-{uuid.uuid4().hex[:6]}", "message": "你好"}
    httpx.post(f"{url}/webhooks/rest/webhook", json=body, timeout=180.0).raise_for_status()


@contextmanager
def rig(settings: Settings, model: Path, directory: Path, admin_url: str) -> Iterator[Rig]:
    from hotline.scale import fresh_database

    with fresh_database(admin_url, "faults") as url:
        cases_url = url.render_as_string(hide_password=False)
        upgrade(cases_url)
        action_port = free_port()
        env = rasa_environment(replace(settings, action_port=action_port)) | {
            "ACTION_PORT": str(action_port),
            "DATABASE_URL": cases_url,
        }
        actions = Service(
            "action server",
            action_server_command(replace(settings, action_port=action_port)),
            env,
            settings.project_root,
            directory / "actions.log",
            f"http://127.0.0.1:{action_port}/health",
        )
        servers = {
            name: RasaServer(
                settings,
                model,
                port=free_port(),
                log_file=directory / f"rasa-{name}.log",
                env={
                    "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
                    "RASA_TRACKER_DB": str(directory / f"tracker-{name}.db"),
                },
            )
            for name in ("a", "b")
        }
        try:
            actions.start()
            for server in servers.values():  # both load the model at once
                server.start()
            actions.wait_ready()
            for server in servers.values():
                server.wait_ready(timeout=300)
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(_warm_up, [s.url for s in servers.values()]))
            yield Rig(settings, directory, cases_url, admin_url, actions, servers["a"], servers["b"], action_port)
        finally:
            for server in servers.values():
                server.stop()
            actions.stop()


# --- the person's side of the web chat API ----------------------------------------------------------------------


@dataclass
class WebPerson:
    """One web-chat person (a session), as their page talks to the gateway: POST a message, GET the inbox."""

    session: str
    sent: list[str] = field(default_factory=list)  # every text whose POST was answered 200 (the page's "sent")
    after: int = 0

    @property
    def sender(self) -> str:
        return f"web:{self.session}"

    def post(self, gateway: str, text: str, timeout: float = 30.0) -> httpx.Response:
        body = {"session": self.session, "text": text, "channel": "web", "lang": "zh", "consent": True}  # as chat.js
        return httpx.post(f"{gateway}/api/chat", json=body, timeout=timeout)

    def say(self, gateway: str, text: str) -> list[str]:
        """The answers to one message; never a server error, never nothing."""
        response = self.post(gateway, text)
        assert response.status_code == 200, (self.session, text, response.status_code, response.text)
        self.sent.append(text)
        answers = [str(m["text"]) for m in response.json()["messages"]]
        assert answers, f"{self.session}: no answer at all to {text!r}"
        return answers

    def inbox(self, gateway: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{gateway}/api/chat/{self.session}/updates", params={"after": self.after}, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        self.after = int(body["after"])
        items: list[dict[str, Any]] = body["messages"]
        return items

    def wait_inbox(self, gateway: str, count: int, timeout: float = 90.0) -> list[str]:
        """`count` texts from the inbox (the answers to kept messages), fetched as the page does."""
        texts: list[str] = []
        deadline = time.monotonic() + timeout
        while len(texts) < count and time.monotonic() < deadline:
            texts += [str(m["text"]) for m in self.inbox(gateway)]
            if len(texts) < count:
                time.sleep(0.5)
        return texts


def nothing_more(gateway: str, people: list[WebPerson]) -> None:
    """A moment later, nothing else has arrived in anyone's inbox: nothing was answered twice."""
    time.sleep(2.0)  # two rounds of the gateways' retry loop
    for person in people:
        assert person.inbox(gateway) == [], person.session


def reference(gateway: str, turns: list[str]) -> list[list[str]]:
    """The answers to each turn in a conversation nothing went wrong in."""
    person = WebPerson(session_id("ref"))
    return [person.say(gateway, turn) for turn in turns]


def tracker_user_messages(rasa_url: str, sender: str) -> list[tuple[str, str]]:
    """The person's messages in Rasa's tracker: (text, message_id) in order."""
    response = httpx.get(f"{rasa_url}/conversations/{sender}/tracker", params={"include_events": "ALL"}, timeout=30)
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json().get("events") or []
    return [
        (str(e.get("text")), str((e.get("metadata") or {}).get("message_id")))
        for e in events
        if e.get("event") == "user"
    ]


def assert_in_tracker_once(rasa_url: str, person: WebPerson, turns: list[str]) -> None:
    """Every message the person sent is in the conversation exactly once, in order, none lost, none doubled."""
    seen = tracker_user_messages(rasa_url, person.sender)
    assert [text for text, _ in seen] == [normalise(t) for t in turns], person.session
    ids = [message_id for _, message_id in seen]
    assert len(set(ids)) == len(ids) and "None" not in ids, (person.session, ids)


# --- PostgreSQL on this machine ---------------------------------------------------------------------------------


def local_postgres(admin_url: str) -> None:
    """Skip unless the test PostgreSQL is this machine's cluster (pg_ctlcluster can only restart that one)."""
    host = urlsplit(admin_url.replace("+psycopg", "")).hostname
    if host not in ("127.0.0.1", "localhost", "::1") or not Path("/etc/postgresql").is_dir():
        pytest.skip("PostgreSQL is not this machine's cluster: it cannot be restarted from here")


def _cluster() -> list[str]:
    [version] = sorted(os.listdir("/etc/postgresql"))[-1:]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def pg_ctl(action: str) -> None:
    subprocess.run([*_cluster(), action], check=True, timeout=120, capture_output=True)


def accepts_connections(admin_url: str) -> bool:
    conninfo = database_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def wait_accepting(admin_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not accepts_connections(admin_url):
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.2)


def ensure_postgres_running(admin_url: str) -> None:
    """The finalizer: whatever happened, this machine's PostgreSQL is up again afterwards."""
    if not accepts_connections(admin_url):
        subprocess.run([*_cluster(), "start"], check=False, timeout=120, capture_output=True)
        wait_accepting(admin_url)


@contextmanager
def postgres_down(admin_url: str) -> Iterator[None]:
    """PostgreSQL stopped (fast: every connection cut) for the block, then started and accepting again: a restart
    whose middle lasts as long as the block."""
    pg_ctl("stop")
    try:
        assert not accepts_connections(admin_url)
        yield
    finally:
        pg_ctl("start")
        wait_accepting(admin_url)


def restart_postgres(admin_url: str) -> None:
    pg_ctl("restart")
    wait_accepting(admin_url)
