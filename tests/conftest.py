"""Real components for the tests: the Rasa model trained from our own data (cached in models/ by content
hash), `rasa run` and the rasa-sdk action server as subprocesses on 127.0.0.1, and the gateway process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hotline.cases.db import upgrade
from hotline.rasa_service import RasaServer, stop_process, train
from hotline.services import action_server_command, gateway_command, spawn, wait_http
from hotline.settings import Settings, rasa_environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Stack:
    settings: Settings
    env: dict[str, str]
    rasa_url: str
    gateway_url: str


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the processes under test: own ports, own var/ directory."""
    var = tmp_path_factory.mktemp("var")
    rasa_port, action_port, gateway_port = free_port(), free_port(), free_port()
    env = {
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "ACTION_PORT": str(action_port),
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_HOST": "127.0.0.1",
        "HOTLINE_VAR": str(var),
        "TELEGRAM_BOT_TOKEN": "",
        "DATABASE_URL": f"sqlite:///{var / 'cases.db'}",
        # The tests' people type faster than anyone: the rate limit has its own test (tests/web/test_gateway.py).
        "RATE_LIMIT_BURST": "1000",
        "RETRY_INTERVAL_SECONDS": "1",
    }
    return env


@pytest.fixture(scope="session")
def settings(stack_env: dict[str, str]) -> Iterator[Settings]:
    saved = {k: os.environ.get(k) for k in stack_env}
    os.environ.update(stack_env)
    yield Settings()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def model(settings: Settings) -> Path:
    """The model trained from config.yml, domain.yml and nlu_data/ (trained once per content hash)."""
    return train(settings)


@pytest.fixture(scope="session")
def action_server(settings: Settings) -> Iterator[str]:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)  # the case store the action server writes handoffs to
    child = spawn("action server", action_server_command(settings), settings, settings.var_dir / "actions.log")
    url = f"http://127.0.0.1:{settings.action_port}"
    try:
        wait_http(f"{url}/health", child.name, child.process, child.log, 60)
        yield url
    finally:
        stop_process(child.process)


@pytest.fixture(scope="session")
def rasa_server(settings: Settings, model: Path, action_server: str) -> Iterator[str]:
    with RasaServer(settings, model, log_file=settings.var_dir / "rasa.log").running() as url:
        yield url


@pytest.fixture(scope="session")
def stack(settings: Settings, stack_env: dict[str, str], rasa_server: str) -> Iterator[Stack]:
    """Action server + Rasa + gateway, all real processes (the settings fixture put our ports in the environment)."""
    child = spawn("gateway", gateway_command(), settings, settings.var_dir / "gateway.log")
    gateway_url = f"http://127.0.0.1:{settings.gateway_port}"
    try:
        wait_http(f"{gateway_url}/healthz", child.name, child.process, child.log, 60)
        # Warm-up: Rasa builds its prediction graph on the first message, which can take longer than the gateway
        # waits for an answer (it then replies on its own); the tests' conversations start warm.
        httpx.post(f"{gateway_url}/api/chat", json={"session": "warm-up", "text": "你好"}, timeout=60.0)
        yield Stack(settings, rasa_environment(settings), rasa_server, gateway_url)
    finally:
        stop_process(child.process)


@contextmanager
def extra_gateway(settings: Settings, name: str, **overrides: str) -> Iterator[str]:
    """Another gateway process beside the stack's, with some settings of its own (a rate limit, another Rasa);
    its URL for the `with` block. The log is `{name}.log` in the stack's var/ directory."""
    port = free_port()
    env = rasa_environment(settings) | {"GATEWAY_PORT": str(port)} | overrides
    log = settings.var_dir / f"{name}.log"
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            gateway_command(),
            cwd=settings.project_root,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/chat/x/updates", name, process, log, 60)
        yield url
    finally:
        stop_process(process)


def hotline_command() -> list[str]:
    return [str(Path(sys.executable).parent / "hotline")]


def post_chat(gateway_url: str, body: object, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{gateway_url}/api/chat", json=body, timeout=30.0, **kwargs)  # type: ignore[arg-type]
