"""`hotline run`: the action server, the Rasa server and the gateway as child processes, started in order,
watched, and all stopped cleanly on Ctrl-C or when one of them dies."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from hotline.rasa_service import RasaServer, RasaServiceError, stop_process, train
from hotline.settings import Settings, rasa_environment

console = Console(stderr=True)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def spawn(name: str, command: list[str], settings: Settings, log: Path) -> Child:
    handle = open(log, "ab")  # noqa: SIM115 (owned by the child for its lifetime)
    process = subprocess.Popen(
        command,
        cwd=settings.project_root,
        env=rasa_environment(settings),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Child(name, process, log)


def _wait_http(url: str, child: Child, timeout: float) -> None:
    wait_http(url, child.name, child.process, child.log, timeout)


def wait_http(url: str, name: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Block until `url` answers (any status below 500), or fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RasaServiceError(f"{name} exited with code {process.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RasaServiceError(f"{name} did not answer at {url} within {timeout:.0f} s; see {log}")


def action_server_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(settings.action_port)]


def gateway_command() -> list[str]:
    return [sys.executable, "-m", "bot"]


def run(settings: Settings) -> int:
    """Check the flows, train if needed, start everything, block until Ctrl-C (or a child dies), stop everything."""
    from hotline.flow_schema import validate_flows

    _, problems = validate_flows()
    if problems:  # the action server would refuse them too; say why before training and starting anything
        for problem in problems:
            console.print(f"[red]{problem}[/]")
        console.print("[red]The flows have problems (above); fix them and run `hotline flows check`.[/]")
        return 1
    model = train(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    from hotline.cases.db import shown, upgrade

    try:
        with console.status("Bringing the case database up to date ..."):
            upgrade(settings.effective_database_url)  # Alembic: creates or migrates the schema, idempotent
    except Exception as error:  # unreachable, bad URL, no permission: one readable line, not a traceback
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        console.print(f"[red]The case database {shown(settings.effective_database_url)} cannot be used: {reason}[/]")
        return 1
    console.print(f"[green]✓[/] case database {shown(settings.effective_database_url)}")
    children: list[Child] = []
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        with console.status("Starting the action server ..."):
            actions = spawn(
                "action server", action_server_command(settings), settings, settings.var_dir / "actions.log"
            )
            children.append(actions)
            _wait_http(f"http://127.0.0.1:{settings.action_port}/health", actions, 60)
        console.print(f"[green]✓[/] action server on 127.0.0.1:{settings.action_port}")
        with console.status(f"Starting the Rasa server with {model.name} ..."):
            rasa = RasaServer(settings, model)
            rasa_child = spawn("Rasa server", rasa.command(), settings, settings.var_dir / "rasa.log")
            children.append(rasa_child)
            _wait_http(f"{rasa.url}/status", rasa_child, 180)
        console.print(f"[green]✓[/] Rasa server on {rasa.url}")
        with console.status("Starting the gateway ..."):
            gateway = spawn("gateway", gateway_command(), settings, settings.var_dir / "gateway.log")
            children.append(gateway)
            base = f"http://{settings.gateway_host}:{settings.gateway_port}"
            _wait_http(f"{base}/healthz", gateway, 60)
        telegram = "Telegram polling on" if settings.telegram_token else "Telegram off (set TELEGRAM_BOT_TOKEN)"
        console.print(f"[green]✓[/] gateway: web chat API on {base}/api/chat; {telegram}")
        console.print(
            f"[bold]The hotline is running.[/] Try it: [cyan]hotline chat[/]. Logs in {settings.var_dir}/. "
            "Ctrl-C stops everything."
        )
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    console.print(
                        f"[red]{child.name} stopped (exit code {child.process.returncode}); "
                        f"see {child.log}. Stopping the rest.[/]"
                    )
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except RasaServiceError as error:
        console.print(f"[red]{error}[/]")
        return 1
    finally:
        for child in reversed(children):
            stop_process(child.process)
        if children:
            console.print("Stopped: " + ", ".join(c.name for c in reversed(children)) + ".")
