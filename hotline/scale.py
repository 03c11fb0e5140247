"""Several replicas on one machine, as in production across machines (docs/scale.md): two action servers, two Rasa
servers with deploy/endpoints.production.yml (one PostgreSQL tracker store, one Redis lock store) and two gateways,
all on one case store in PostgreSQL. For tests/scale and `hotline bench e2e`.

Everything is fresh and removed afterwards: a PostgreSQL database for Rasa's trackers and one for the case store
(migrated), a Redis key prefix for the conversation locks, a free port for each process. Replica i is action
server i ← Rasa server i ← gateway i; the databases and the lock store are what the replicas share.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from hotline.cases.db import database_url, upgrade
from hotline.rasa_service import RasaServer, RasaServiceError, stop_process
from hotline.services import action_server_command, gateway_command, wait_http
from hotline.settings import Settings, rasa_environment

# Where the fresh databases are made (any database on the server: the admin connection only creates and drops),
# and the Redis server of the lock store. The same defaults as the case store's PostgreSQL tests.
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PRODUCTION_ENDPOINTS = Path("deploy") / "endpoints.production.yml"
ATOMIC_LOCK_STORE = "deploy.rasa_lock_store.AtomicRedisLockStore"

# "atomic": deploy/endpoints.production.yml as it is. "redis": Rasa's own RedisLockStore (its ticket is not taken
# atomically), "in_memory": one lock per process. The last two are controls: they can let two replicas handle one
# conversation at the same time.
LockStoreKind = Literal["atomic", "redis", "in_memory"]


@dataclass(frozen=True)
class Replicas:
    gateway_urls: tuple[str, ...]  # the web chat API of each gateway (POST {url}/api/chat)
    rasa_urls: tuple[str, ...]  # each Rasa server (GET {url}/conversations/{id}/tracker)
    action_urls: tuple[str, ...]
    database_url: str  # the case store they all write (CaseStore(engine_for(database_url)))
    tracker_database_url: str  # Rasa's tracker store (PostgreSQL, table `events`)
    log_dir: Path  # actions-i.log, rasa-i.log, gateway-i.log

    def rasa_logs(self) -> list[Path]:
        return [self.log_dir / f"rasa-{i}.log" for i in range(1, len(self.rasa_urls) + 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[URL]:
    """An empty PostgreSQL database named `{prefix}_<random>` on the server of `admin_url`, dropped afterwards
    (also while something is still connected). Its URL (driver psycopg 3), password included."""
    admin = database_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def lock_store_environment(redis_url: str, key_prefix: str) -> dict[str, str]:
    parts = urlsplit(redis_url)
    return {
        "RASA_LOCK_REDIS_HOST": parts.hostname or "127.0.0.1",
        "RASA_LOCK_REDIS_PORT": str(parts.port or 6379),
        "RASA_LOCK_REDIS_DB": parts.path.strip("/") or "0",
        "RASA_LOCK_REDIS_PASSWORD": parts.password or "",
        "RASA_LOCK_KEY_PREFIX": key_prefix,
    }


def tracker_store_environment(url: URL) -> dict[str, str]:
    return {
        "RASA_TRACKER_HOST": url.host or "127.0.0.1",
        "RASA_TRACKER_PORT": str(url.port or 5432),
        "RASA_TRACKER_DATABASE": url.database or "",
        "RASA_TRACKER_USER": url.username or "",
        "RASA_TRACKER_PASSWORD": url.password or "",
    }


def endpoints_file(settings: Settings, lock_store: LockStoreKind, directory: Path) -> Path:
    """deploy/endpoints.production.yml, or a copy of it with another lock store (the controls)."""
    production = settings.project_root / PRODUCTION_ENDPOINTS
    if lock_store == "atomic":
        return production
    text = production.read_text()
    if f"type: {ATOMIC_LOCK_STORE}" not in text:
        raise RasaServiceError(f"{production} no longer names the lock store {ATOMIC_LOCK_STORE}")
    copy = directory / f"endpoints.{lock_store}.yml"
    copy.write_text(text.replace(f"type: {ATOMIC_LOCK_STORE}", f"type: {lock_store}"))
    return copy


def _drop_lock_keys(settings: Settings, redis_url: str, key_prefix: str) -> None:
    """Remove what the lock store left under its prefix (nothing, normally: a lock goes with its last ticket). Our
    environment has no Redis client; Rasa's has one."""
    script = (
        "import redis, sys\n"
        "r = redis.Redis.from_url(sys.argv[1])\n"
        "keys = list(r.scan_iter(match=sys.argv[2] + ':*'))\n"
        "r.delete(*keys) if keys else None\n"
    )
    python = settings.rasa_venv / "bin" / "python"
    subprocess.run([str(python), "-c", script, redis_url, key_prefix], check=False, timeout=30, capture_output=True)


def _spawn(command: Sequence[str], settings: Settings, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as handle:
        return subprocess.Popen(
            list(command),
            cwd=settings.project_root,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_process stops its children too
        )


def _stop_all(processes: Sequence[subprocess.Popen[bytes] | RasaServer]) -> None:
    """Stop them all at once (each SIGTERM, then SIGKILL after 15 s)."""

    def stop(process: subprocess.Popen[bytes] | RasaServer) -> None:
        if isinstance(process, RasaServer):
            process.stop()
        else:
            stop_process(process)

    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(stop, processes))


def _warm_up(rasa_url: str, name: str) -> None:
    """Rasa builds its prediction graph on the first message, which takes longer than a gateway waits (4 s); one
    message straight to each Rasa server, with time to spare, before the replicas are handed out."""
    response = httpx.post(
        f"{rasa_url}/webhooks/rest/webhook", json={"sender": f"warm-up-{name}", "message": "你好"}, timeout=180.0
    )
    response.raise_for_status()


@contextmanager
def two_replicas(
    settings: Settings,
    model: Path,
    *,
    count: int = 2,
    lock_store: LockStoreKind = "atomic",
    log_dir: Path | None = None,
    postgres_url: str | None = None,
    redis_url: str | None = None,
) -> Iterator[Replicas]:
    """`count` (2) replicas of the whole hotline on one case store, one tracker store and one lock store, started
    (the Rasa servers in parallel) and warmed up for the `with` block, then stopped and their databases dropped.
    `postgres_url`/`redis_url` default to HOTLINE_TEST_POSTGRES_URL / HOTLINE_TEST_REDIS_URL, else the local
    servers. Raises RasaServiceError (naming the log) when a process does not come up."""
    postgres_url = postgres_url or os.environ.get("HOTLINE_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    redis_url = redis_url or os.environ.get("HOTLINE_TEST_REDIS_URL") or DEFAULT_REDIS_URL
    run_id = uuid.uuid4().hex[:10]
    logs = log_dir or settings.var_dir / f"scale-{run_id}"
    logs.mkdir(parents=True, exist_ok=True)
    key_prefix = f"scale{run_id}"  # Rasa takes an alphanumeric prefix only
    indices = range(1, count + 1)
    with ExitStack() as stack:
        tracker_db = stack.enter_context(fresh_database(postgres_url, "rasa_scale"))
        cases_db = stack.enter_context(fresh_database(postgres_url, "cases_scale"))
        stack.callback(_drop_lock_keys, settings, redis_url, key_prefix)
        cases_url = cases_db.render_as_string(hide_password=False)
        upgrade(cases_url)
        common = rasa_environment(settings) | {
            "DATABASE_URL": cases_url,
            "HOTLINE_VAR": str(logs),
            "TELEGRAM_BOT_TOKEN": "",
            "TELEGRAM_WEBHOOK_URL": "",
            "RATE_LIMIT_BURST": "1000",
        }
        action_ports = [free_port() for _ in indices]
        rasa_ports = [free_port() for _ in indices]
        gateway_ports = [free_port() for _ in indices]

        actions: list[subprocess.Popen[bytes]] = []
        stack.callback(_stop_all, actions)
        for i, port in zip(indices, action_ports, strict=True):
            command = action_server_command(replace(settings, action_port=port))
            actions.append(_spawn(command, settings, common | {"ACTION_PORT": str(port)}, logs / f"actions-{i}.log"))

        endpoints = endpoints_file(settings, lock_store, logs)
        shared = tracker_store_environment(tracker_db) | lock_store_environment(redis_url, key_prefix)
        servers = [
            RasaServer(
                settings,
                model,
                port=port,
                log_file=logs / f"rasa-{i}.log",
                endpoints=endpoints,
                env=common | shared | {"ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook"},
            )
            for i, port, action_port in zip(indices, rasa_ports, action_ports, strict=True)
        ]
        stack.callback(_stop_all, servers)
        for server in servers:  # all load the model at once
            server.start()
        for i, port, process in zip(indices, action_ports, actions, strict=True):
            wait_http(f"http://127.0.0.1:{port}/health", f"action server {i}", process, logs / f"actions-{i}.log", 90)
        for server in servers:
            try:
                server.wait_ready(timeout=300)
            except RasaServiceError as error:
                raise RasaServiceError(f"{error} See {server.log_file}.") from error
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(_warm_up, [s.url for s in servers], [str(i) for i in indices]))

        gateway_urls: list[str] = []
        gateways: list[subprocess.Popen[bytes]] = []
        stack.callback(_stop_all, gateways)
        for i, port, server, action_port in zip(indices, gateway_ports, servers, action_ports, strict=True):
            env = common | {
                "RASA_URL": server.url,
                "GATEWAY_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(port),
                "ACTION_PORT": str(action_port),
                "RASA_TRACKER_URL": tracker_db.render_as_string(hide_password=False),  # where /delete erases
            }
            gateways.append(_spawn(gateway_command(), settings, env, logs / f"gateway-{i}.log"))
            gateway_urls.append(f"http://127.0.0.1:{port}")
        for i, url, process in zip(indices, gateway_urls, gateways, strict=True):
            wait_http(f"{url}/api/chat/x/updates", f"gateway {i}", process, logs / f"gateway-{i}.log", 90)

        yield Replicas(
            gateway_urls=tuple(gateway_urls),
            rasa_urls=tuple(s.url for s in servers),
            action_urls=tuple(f"http://127.0.0.1:{p}" for p in action_ports),
            database_url=cases_url,
            tracker_database_url=tracker_db.render_as_string(hide_password=False),
            log_dir=logs,
        )
