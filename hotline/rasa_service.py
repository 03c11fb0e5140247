"""The Rasa service, run in its own environment (.venv-rasa) through its CLI: training with a cache keyed by
the content of the model's inputs, and starting and stopping `rasa run` as a subprocess."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from hotline.settings import Settings, rasa_environment

RASA_VERSION = "3.6.21"


class RasaServiceError(RuntimeError):
    """Rasa could not be trained or started; the message says what to do."""


def model_inputs(root: Path, config: Path | None = None) -> list[Path]:
    """Every file the model is trained from: config, domain and the training data."""
    files = [config or root / "config.yml", root / "domain.yml"]
    files += sorted(p for p in (root / "nlu_data").rglob("*.yml") if p.is_file())
    return files


def model_hash(root: Path, config: Path | None = None) -> str:
    digest = hashlib.sha256(f"rasa=={RASA_VERSION}\n".encode())
    for path in model_inputs(root, config):
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path(settings: Settings, config: Path | None = None, prefix: str = "hotline") -> Path:
    return settings.models_dir / f"{prefix}-{model_hash(settings.project_root, config)}.tar.gz"


def ensure_rasa_installed(settings: Settings) -> None:
    if not settings.rasa_bin.exists():
        raise RasaServiceError(
            f"Rasa is not installed at {settings.rasa_venv}. Run `make setup` (or `make run`) to build it."
        )


def train(
    settings: Settings,
    config: Path | None = None,
    prefix: str = "hotline",
    force: bool = False,
    *,
    from_scratch: bool = False,
) -> Path:
    """The trained model for the current inputs; trains it (showing Rasa's progress) only when missing.

    Rasa keeps what its components learnt in `.rasa/cache` and reuses it when their inputs did not change (the
    tokenizer and featurizers after a change of DIET's settings, say). `from_scratch` trains with an empty cache
    instead, as on a fresh machine: what the benches time."""
    target = model_path(settings, config, prefix)
    if target.exists() and not force:
        return target
    ensure_rasa_installed(settings)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    root = settings.project_root
    print(
        f"Training the Rasa model {target.name} (inputs changed or no model yet) ...",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=settings.models_dir) as tmp:
        command = [
            str(settings.rasa_bin),
            "train",
            "--config",
            str(config or root / "config.yml"),
            "--domain",
            str(root / "domain.yml"),
            "--data",
            str(root / "nlu_data"),
            "--out",
            tmp,
            "--fixed-model-name",
            "model",
        ]
        environment = rasa_environment(settings)
        if from_scratch:
            environment["RASA_CACHE_DIRECTORY"] = str(Path(tmp) / "empty-cache")
        started = time.monotonic()
        result = subprocess.run(command, cwd=root, env=environment, check=False)
        if result.returncode != 0:
            raise RasaServiceError(f"`rasa train` failed with exit code {result.returncode}; see its output above.")
        produced = Path(tmp) / "model.tar.gz"
        if not produced.exists():
            raise RasaServiceError("`rasa train` finished but wrote no model.")
        os.replace(produced, target)  # atomic: a half-written model is never picked up
    seconds = time.monotonic() - started
    # Kept beside the model so that `hotline bench nlu` can report how long training from scratch took.
    training_record(target).write_text(
        json.dumps(
            {
                "train_seconds": round(seconds, 1),
                "command": " ".join(command[:2]),
                "rasa_cache": "empty" if from_scratch else "project (.rasa/cache)",
            }
        )
    )
    print(f"Model trained in {seconds:.0f} s: {target}", file=sys.stderr, flush=True)
    return target


def training_record(model: Path) -> Path:
    return model.with_name(model.name.removesuffix(".tar.gz") + ".train.json")


def rasa_ready(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/status", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class RasaServer:
    """`rasa run` as a child process on 127.0.0.1."""

    def __init__(
        self,
        settings: Settings,
        model: Path,
        port: int | None = None,
        log_file: Path | None = None,
        *,
        endpoints: Path | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.settings = settings
        self.model = model
        self.port = port or settings.rasa_port
        self.log_file = log_file
        # Another endpoints file than RASA_ENDPOINTS, and environment on top of rasa_environment (a replica's
        # tracker and lock store, its action server; hotline/scale.py).
        self.endpoints = endpoints or settings.rasa_endpoints
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        root = self.settings.project_root
        return [
            str(self.settings.rasa_bin),
            "run",
            "--model",
            str(self.model),
            "--enable-api",
            "--interface",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--endpoints",
            str(self.endpoints),
            "--credentials",
            str(root / "credentials.yml"),
        ]

    def start(self) -> None:
        ensure_rasa_installed(self.settings)
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        environment = rasa_environment(self.settings) | self.env
        if sqlite_tracker_store(self.endpoints):
            write_ahead_log(Path(environment["RASA_TRACKER_DB"]))
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.settings.project_root,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops its children too
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RasaServiceError(f"The Rasa server exited with code {self.process.returncode} while starting.")
            if rasa_ready(self.url):
                return
            time.sleep(0.5)
        raise RasaServiceError(f"The Rasa server did not answer at {self.url} within {timeout:.0f} s.")

    @contextmanager
    def running(self) -> Iterator[str]:
        """Started and answering for the `with` block (its URL), stopped after, also when starting fails."""
        self.start()
        try:
            self.wait_ready()
            yield self.url
        finally:
            self.stop()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None:
            stop_process(self.process, timeout)
            self.process = None


def sqlite_tracker_store(endpoints: Path) -> bool:
    """Whether this endpoints file keeps Rasa's trackers in SQLite (endpoints.yml; production's uses PostgreSQL)."""
    try:
        config = yaml.safe_load(endpoints.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    store = config.get("tracker_store") if isinstance(config, dict) else None
    return isinstance(store, dict) and store.get("type") == "SQL" and store.get("dialect") == "sqlite"


def write_ahead_log(database: Path) -> None:
    """Put Rasa's SQLite tracker store in WAL mode, which the file keeps: Rasa commits every turn, and in the
    default rollback-journal mode each commit costs several fsyncs and locks readers out (the gateway's /delete
    erases rows there too). Rasa creates its tables in the file as usual."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM to the process group, then SIGKILL if it has not gone after `timeout` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def rasa_server_for_nlu(settings: Settings) -> Iterator[str]:
    """A Rasa server answering at settings.rasa_url, or one started for the trained model and stopped after."""
    if rasa_ready(settings.rasa_url):
        yield settings.rasa_url
        return
    model = train(settings)
    server = RasaServer(settings, model, log_file=settings.var_dir / "rasa-nlu.log")
    print(
        f"No Rasa server at {settings.rasa_url}; starting one for {model.name} ...",
        file=sys.stderr,
        flush=True,
    )
    with server.running() as url:
        yield url
