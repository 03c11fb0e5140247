"""The Telegram channel's tests: the real python-telegram-bot application against the fake Bot API
(tests/desk/fake_telegram.py), over real case stores; the end-to-end ones over the real stack (tests/conftest.py:
Rasa with the trained model, the action server, the gateway process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.cases.db import engine_for, upgrade
from hotline.cases.records import LawyerRecord
from hotline.cases.store import CaseStore
from tests.cases.conftest import add_lawyer, db_url, engine, new_case, postgres_url, store
from tests.conftest import Stack
from tests.desk.harness import on_duty
from tests.telegram.harness import DUTY

__all__ = ["add_lawyer", "db_url", "engine", "new_case", "postgres_url", "store"]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[CaseStore]:
    """A case store of its own (SQLite) for the tests that do not need both databases."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    upgrade(url)
    engine = engine_for(url)
    yield CaseStore(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def stack_store(stack: Stack) -> Iterator[CaseStore]:
    """The stack's own case store: the action server writes the handoffs there."""
    engine = engine_for(stack.settings.effective_database_url)
    yield CaseStore(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def duty_lawyer(stack_store: CaseStore) -> LawyerRecord:
    """A lawyer on duty now for every topic, Chinese and English, with a Telegram desk (a chat in the fake)."""
    lawyer = stack_store.add_lawyer(
        name="Duty", telegram_user_id=str(DUTY), topics=["wages", "injury", "other", "minors"], languages=["zh", "en"]
    )
    on_duty(stack_store, lawyer)
    return lawyer
