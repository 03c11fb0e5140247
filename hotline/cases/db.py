"""Engines, sessions and the schema's migrations for the case store (SQLite for a developer, PostgreSQL in
production; the same code and the same migrations on both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Seconds a SQLite writer waits for another's transaction to end before "database is locked".
SQLITE_BUSY_TIMEOUT = 30.0


class DatabaseError(Exception):
    """The database cannot be used as it is (bad URL, unreachable, schema not migrated): a one-line reason."""


def database_url(url: str) -> URL:
    """The URL with our driver: plain `postgresql://` (or `postgres://`) means psycopg 3, the one installed."""
    try:
        parsed = make_url(url)
    except SQLAlchemyError as error:
        raise DatabaseError(f"DATABASE_URL is not a database URL: {error}") from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: str | URL) -> str:
    """The URL for messages: never its password."""
    try:
        return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparseable URL>"


def engine_for(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for `url`. SQLite gets foreign keys, WAL (readers don't wait for the writer) and transactions
    that take the write lock when they begin: two transactions that read and then write would otherwise both
    hold a read lock and one of them fail at once with "database is locked", whatever the busy timeout."""
    parsed = database_url(url)
    kwargs: dict[str, Any] = {"pool_size": pool_size, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT}
    try:
        engine = create_engine(parsed, **kwargs)
    except (SQLAlchemyError, ImportError) as error:
        raise DatabaseError(f"cannot use DATABASE_URL {shown(parsed)}: {error}") from error
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # The pysqlite driver's own transaction handling would defer BEGIN and break SAVEPOINT; we emit BEGIN
    # ourselves (SQLAlchemy's documented recipe), as BEGIN IMMEDIATE (see engine_for).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for one unit of work each (`with factory.begin() as session:`). Objects stay readable after
    the commit, so a method can build its records after the transaction ended."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic's configuration built in code: the migrations shipped in this package, the URL passed through
    to env.py (not written into an ini file, where a password's % would be read as interpolation)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """`alembic upgrade head` on the database at `url`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """`alembic downgrade <revision>` ("base" drops every table of the case store)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None, "no migration in hotline/cases/migrations/versions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current(engine: Engine) -> None:
    """Raise DatabaseError unless the database answers and its schema is at the latest migration."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise DatabaseError(f"cannot use the database at {shown(engine.url)}: {reason}") from error
    head = head_revision()
    if current != head:
        raise DatabaseError(
            f"the database at {shown(engine.url)} is at schema {current or 'none'}, not {head}: "
            "run `hotline db upgrade`"
        )
