"""Real databases for the case store's tests, both of them: a SQLite file per test, and PostgreSQL (a schema of
its own per test session in the `test` database, emptied before each test). PostgreSQL is never skipped: if it
does not answer, these tests fail."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from hotline.cases.db import engine_for, upgrade
from hotline.cases.models import OFFICE_TZ, Base
from hotline.cases.records import CaseRecord, LawyerRecord
from hotline.cases.store import CaseStore

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
# Monday 10:00 in Guangzhou; the default shift runs 09:00-17:00 around it.
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=OFFICE_TZ)
SHIFT = (T0 - timedelta(hours=1), T0 + timedelta(hours=7))
CONCURRENT_CONNECTIONS = 25  # the claim race runs 20 threads, each on a connection of its own


@contextmanager
def fresh_postgres_schema() -> Iterator[str]:
    """A URL whose connections use an empty schema of their own (search_path), dropped afterwards."""
    schema = f"cases_test_{uuid.uuid4().hex[:10]}"
    admin = engine_for(POSTGRES_URL, pool_size=1)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The session's PostgreSQL schema, migrated once with the same migration as SQLite."""
    with fresh_postgres_schema() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.db'}"
        upgrade(url)
        return url
    url = str(request.getfixturevalue("postgres_url"))
    engine = engine_for(url, pool_size=1)
    try:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = engine_for(db_url, pool_size=CONCURRENT_CONNECTIONS)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> CaseStore:
    return CaseStore(engine)


AddLawyer = Callable[..., LawyerRecord]
NewCase = Callable[..., CaseRecord]


@pytest.fixture
def add_lawyer(store: CaseStore) -> AddLawyer:
    """A lawyer on duty 09:00-17:00 around T0 unless on_duty=False (keywords as CaseStore.add_lawyer)."""

    def make(name: str, *, on_duty: bool = True, **kwargs: Any) -> LawyerRecord:
        kwargs.setdefault("topics", ("wages", "injury", "other"))
        kwargs.setdefault("languages", ("zh",))
        lawyer = store.add_lawyer(name=name, at=T0 - timedelta(days=1), **kwargs)
        if on_duty:
            store.add_shift(lawyer.id, *SHIFT)
        return lawyer

    return make


@pytest.fixture
def new_case(store: CaseStore) -> NewCase:
    """A case as the bot hands it off (keywords override: topic, lang, urgent, channel_key, at, ...)."""
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> CaseRecord:
        values: dict[str, Any] = {
            "channel": "telegram",
            "channel_key": f"tg-{next(counter):04d}-5f2a9c",
            "lang": "zh",
            "topic": "wages",
            "facts": {"amount_owed": 15000, "months_unpaid": 3, "employer": "工地"},
            "eligibility": {"result": "exempt", "reasons": ["LAL Art. 42(3)"]},
            "urgent": False,
            "deadline": date(2026, 12, 1),
            "consent": True,
            "transcript_excerpt": "老板欠我三个月工资",
            "at": T0,
        }
        values.update(overrides)
        return store.create_case(**values)

    return make
