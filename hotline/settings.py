"""Configuration from the environment (one place, typed, with defaults for a developer machine).

Secrets (the Telegram token, database passwords) only ever come from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    path = Path(raw) if raw else default
    return path if path.is_absolute() else PROJECT_ROOT / path


# The retention period's default (docs/security.md, "What is kept, for how long"): a year, long enough for a
# person to come back to the same problem (wage claims: the one-year arbitration limit of the Labour Dispute
# Mediation and Arbitration Law Art. 27) and for the office's yearly figures, no longer.
DEFAULT_RETENTION_DAYS = 365


def _retention_days() -> int:
    """RETENTION_DAYS: unset means the default; empty or 0 means no purge; otherwise a whole number of days."""
    raw = os.environ.get("RETENTION_DAYS")
    if raw is None:
        return DEFAULT_RETENTION_DAYS
    raw = raw.strip()
    if not raw:
        return 0
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"RETENTION_DAYS={raw!r}: give a whole number of days (0 or empty: no purge)") from None
    if days < 0:
        raise ValueError(f"RETENTION_DAYS={raw!r}: give a whole number of days (0 or empty: no purge)")
    return days


@dataclass(frozen=True)
class Settings:
    project_root: Path = PROJECT_ROOT
    rasa_url: str = field(default_factory=lambda: _env("RASA_URL", "http://127.0.0.1:5005"))
    action_port: int = field(default_factory=lambda: int(_env("ACTION_PORT", "5055")))
    gateway_host: str = field(default_factory=lambda: _env("GATEWAY_HOST", "127.0.0.1"))
    gateway_port: int = field(default_factory=lambda: int(_env("GATEWAY_PORT", "8080")))
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", ""))
    telegram_token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN", ""))
    # The secret behind the pseudonyms of channel identities (hotline/pseudonym.py); empty: a key in var/.
    pseudonym_key: str = field(default_factory=lambda: _env("PSEUDONYM_KEY", ""))
    # Another Bot API server (a local telegram-bot-api, or a test double); empty means Telegram's own.
    telegram_api_url: str = field(default_factory=lambda: _env("TELEGRAM_API_URL", ""))
    # Webhook mode (production): Telegram posts updates to this public https URL (the gateway's
    # /telegram/webhook behind the load balancer), with the secret in a header. Unset: polling (development).
    telegram_webhook_url: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_URL", ""))
    telegram_webhook_secret: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET", ""))
    # Rasa's tracker store when it is not the SQLite file of endpoints.yml (production: the PostgreSQL database of
    # deploy/endpoints.production.yml, as postgresql://user:password@host:port/db).
    rasa_tracker_database_url: str = field(default_factory=lambda: _env("RASA_TRACKER_URL", ""))
    # The lawyer desk: how often the outbox is sent, and how long an offer waits before it goes one level wider.
    outbox_interval_seconds: float = field(default_factory=lambda: float(_env("OUTBOX_INTERVAL_SECONDS", "5")))
    escalate_after_seconds: float = field(default_factory=lambda: float(_env("ESCALATE_AFTER_SECONDS", "600")))
    # Per person (bot/ratelimit.py): a burst of this many messages, then this many a minute.
    rate_limit_burst: int = field(default_factory=lambda: int(_env("RATE_LIMIT_BURST", "10")))
    rate_limit_per_minute: float = field(default_factory=lambda: float(_env("RATE_LIMIT_PER_MINUTE", "30")))
    # Messages kept while Rasa was down are answered when it is back; the gateway looks this often.
    retry_interval_seconds: float = field(default_factory=lambda: float(_env("RETRY_INTERVAL_SECONDS", "5")))
    # The retention purge (hotline/cases/retention.py): what is older than this many days is erased, by the gateway
    # at start and then daily, or by `hotline purge`; 0 turns the gateway's purge off.
    retention_days: int = field(default_factory=_retention_days)
    rasa_venv: Path = field(default_factory=lambda: _path("RASA_VENV", PROJECT_ROOT / ".venv-rasa"))
    # Rasa's endpoints file: endpoints.yml for one machine (SQLite tracker store, in-memory lock store), or
    # deploy/endpoints.production.yml for several Rasa servers (PostgreSQL tracker, Redis lock; docs/scale.md).
    rasa_endpoints: Path = field(default_factory=lambda: _path("RASA_ENDPOINTS", PROJECT_ROOT / "endpoints.yml"))
    models_dir: Path = field(default_factory=lambda: _path("HOTLINE_MODELS", PROJECT_ROOT / "models"))
    var_dir: Path = field(default_factory=lambda: _path("HOTLINE_VAR", PROJECT_ROOT / "var"))
    shared_dir: Path = field(default_factory=lambda: _path("HOTLINE_SHARED", PROJECT_ROOT.parent / "shared"))

    @property
    def rasa_bin(self) -> Path:
        return self.rasa_venv / "bin" / "rasa"

    @property
    def rasa_port(self) -> int:
        return int(self.rasa_url.rsplit(":", 1)[-1].split("/")[0])

    @property
    def action_endpoint_url(self) -> str:
        """Where Rasa calls the actions: ACTION_ENDPOINT_URL (a load balancer in front of several action servers,
        docs/scale.md), else the local action server on ACTION_PORT."""
        return os.environ.get("ACTION_ENDPOINT_URL", "").strip() or f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def action_health_url(self) -> str:
        """The action server's health check (rasa-sdk's /health beside /webhook)."""
        return self.action_endpoint_url.rsplit("/", 1)[0] + "/health"

    @property
    def effective_database_url(self) -> str:
        """SQLite file under var/ unless DATABASE_URL names another database (PostgreSQL in production)."""
        return self.database_url or f"sqlite:///{self.var_dir / 'hotline.db'}"

    @property
    def rasa_tracker_db(self) -> Path:
        return self.var_dir / "rasa_tracker.db"

    @property
    def rasa_tracker_url(self) -> str:
        """Rasa's SQL tracker store as a database URL: the gateway erases a person's conversation there (/delete),
        since Rasa's HTTP API cannot delete stored events. RASA_TRACKER_URL, else the SQLite file of endpoints.yml."""
        return self.rasa_tracker_database_url or f"sqlite:///{self.rasa_tracker_db}"


def get_settings() -> Settings:
    return Settings()


def rasa_environment(settings: Settings) -> dict[str, str]:
    """Environment for the Rasa subprocesses: telemetry off, endpoints filled in."""
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "ACTION_ENDPOINT_URL": settings.action_endpoint_url,
            "RASA_TRACKER_DB": str(settings.rasa_tracker_db),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore",
            "SANIC_HOST": "127.0.0.1",  # the rasa-sdk action server listens on loopback only
        }
    )
    return env
