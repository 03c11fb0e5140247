"""The Alembic migrations make the same schema as the models on SQLite and PostgreSQL, from an empty
database, and take it away again; 0002 goes up and down over existing rows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from hotline.cases.db import (
    MIGRATIONS_DIR,
    DatabaseError,
    current_revision,
    downgrade,
    engine_for,
    head_revision,
    require_current,
    upgrade,
)
from hotline.cases.models import Base
from tests.cases.conftest import fresh_postgres_schema

TABLES = {
    "people",
    "person_inbox",
    "kept_messages",
    "lawyers",
    "duty_shifts",
    "cases",
    "case_offers",
    "case_events",
    "case_messages",
    "outbox_items",
    "consultations",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'empty.db'}"  # var/ does not exist yet either
    else:
        with fresh_postgres_schema() as url:
            yield url


def test_upgrade_from_empty_makes_the_models_schema_and_downgrade_removes_it(empty_url: str) -> None:
    engine = engine_for(empty_url)
    try:
        with pytest.raises(DatabaseError, match="hotline db upgrade"):
            require_current(engine)
        upgrade(empty_url)
        assert current_revision(engine) == head_revision() == "0005"
        require_current(engine)
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == TABLES | {"alembic_version"}
            # Columns, types, nullability, keys, indexes and unique constraints as the models declare them.
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            # compare_metadata does not look at CHECK constraints: the names at least must match.
            for table in Base.metadata.sorted_tables:
                declared = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
                made = {c["name"] for c in inspect(connection).get_check_constraints(table.name)}
                assert made == declared, table.name
        downgrade(empty_url, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 0
        upgrade(empty_url)  # and again: repeatable
        assert current_revision(engine) == "0005"
    finally:
        engine.dispose()


def test_the_check_constraints_hold_on_both_databases(empty_url: str) -> None:
    upgrade(empty_url)
    engine = engine_for(empty_url)
    try:
        with pytest.raises(IntegrityError, match=r"(?i)check"), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO people (channel, channel_key, lang, created_at) "
                    "VALUES ('sms', 'k', 'zh', CURRENT_TIMESTAMP)"
                )
            )
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO duty_shifts (lawyer_id, starts_at, ends_at) "
                    "VALUES (42, '2026-11-02 01:00:00', '2026-11-02 09:00:00')"
                )
            )
    finally:
        engine.dispose()


def test_the_migrations_ship_inside_the_package(tmp_path: Path) -> None:
    """A wheel built from our sources carries env.py, the script template and every revision (package-data)."""
    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(root / "pyproject.toml", source)
    for package in ("hotline", "bot", "actions"):
        shutil.copytree(root / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(source),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("hotline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"hotline/cases/migrations/{path.relative_to(MIGRATIONS_DIR).as_posix()}"
        for path in MIGRATIONS_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"hotline/cases/migrations/env.py", "hotline/cases/migrations/script.py.mako"} <= shipped
    assert shipped <= names


def test_0002_adds_the_reply_address_over_existing_rows_and_goes_back_down(empty_url: str) -> None:
    """A database at 0001 with a person, a case and an offer: 0002 keeps them (the new columns NULL), the index
    on cases.person_id exists, and the downgrade to 0001 drops exactly what 0002 added, rows intact."""
    upgrade(empty_url, "0001")
    engine = engine_for(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO people (id, channel, channel_key, lang, created_at) "
                    "VALUES (1, 'telegram', 'tg:abc', 'zh', CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO lawyers (id, name, languages, topics, minors_qualified, supervisor, active, "
                    "created_at) VALUES (1, 'Li', 'zh', 'wages', false, false, true, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO cases (id, ref, person_id, topic, facts, urgent, lang, channel, consent, "
                    "transcript_excerpt, status, created_at, escalation_level) VALUES (1, 'GZLA-2026-000001', 1, "
                    "'wages', '{}', false, 'zh', 'telegram', false, '', 'offered', CURRENT_TIMESTAMP, 0)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO case_offers (case_id, lawyer_id, level, offered_at) "
                    "VALUES (1, 1, 0, CURRENT_TIMESTAMP)"
                )
            )
        upgrade(empty_url)
        assert current_revision(engine) == "0005"
        with engine.connect() as connection:
            assert connection.execute(text("SELECT reply_address FROM people")).scalar_one() is None
            assert connection.execute(text("SELECT message_ref FROM case_offers")).scalar_one() is None
            assert "ix_cases_person_id" in {index["name"] for index in inspect(connection).get_indexes("cases")}
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        with engine.begin() as connection:
            connection.execute(text("UPDATE people SET reply_address = '700100'"))
        downgrade(empty_url, "0001")
        assert current_revision(engine) == "0001"
        with engine.connect() as connection:
            inspector = inspect(connection)
            assert "reply_address" not in {column["name"] for column in inspector.get_columns("people")}
            assert "message_ref" not in {column["name"] for column in inspector.get_columns("case_offers")}
            assert "ix_cases_person_id" not in {index["name"] for index in inspector.get_indexes("cases")}
            assert connection.execute(text("SELECT ref FROM cases")).scalar_one() == "GZLA-2026-000001"
            assert connection.execute(text("SELECT count(*) FROM case_offers")).scalar_one() == 1
        upgrade(empty_url)
        assert current_revision(engine) == "0005"
    finally:
        engine.dispose()


def test_0005_adds_fetched_at_over_existing_inbox_rows_and_goes_back_down(empty_url: str) -> None:
    """A database at 0004 with a waiting inbox message: 0005 keeps it, not fetched (NULL); the downgrade to 0004
    drops the column, the row intact."""
    upgrade(empty_url, "0004")
    engine = engine_for(empty_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO person_inbox (channel, channel_key, sender, text, buttons, created_at) "
                    "VALUES ('web', 'web:abc', 'lawyer', '你好', '[]', CURRENT_TIMESTAMP)"
                )
            )
        upgrade(empty_url)
        assert current_revision(engine) == "0005"
        with engine.connect() as connection:
            assert connection.execute(text("SELECT fetched_at FROM person_inbox")).scalar_one() is None
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        downgrade(empty_url, "0004")
        with engine.connect() as connection:
            columns = {column["name"] for column in inspect(connection).get_columns("person_inbox")}
            assert "fetched_at" not in columns
            assert connection.execute(text("SELECT text FROM person_inbox")).scalar_one() == "你好"
        upgrade(empty_url)
    finally:
        engine.dispose()
