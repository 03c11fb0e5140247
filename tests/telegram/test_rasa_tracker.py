"""Erasing a conversation from a Rasa SQL tracker store's `events` table, on SQLite and PostgreSQL (production's
tracker store, deploy/endpoints.production.yml). Against the real Rasa server: tests/telegram/test_commands.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hotline.cases.db import database_url
from hotline.rasa_tracker import TrackerEraser
from tests.cases.conftest import fresh_postgres_schema

# Rasa 3.6's table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent).
EVENTS = (
    "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
    "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
    else:
        with fresh_postgres_schema() as url:
            yield url


def test_erase_deletes_one_conversations_events(tracker_url: str) -> None:
    eraser = TrackerEraser(tracker_url)
    assert eraser.erase("tg:nobody") == 0  # no table yet: Rasa never ran against it
    engine = create_engine(database_url(tracker_url))
    with engine.begin() as connection:
        connection.execute(text(EVENTS))
        for number, sender in enumerate(["tg:a", "tg:a", "tg:b", "tg:a"], 1):
            connection.execute(
                text("INSERT INTO events (id, sender_id, type_name, data) VALUES (:id, :sender, 'user', '{}')"),
                {"id": number, "sender": sender},
            )
    assert eraser.erase("tg:a") == 3
    assert eraser.erase("tg:a") == 0
    with engine.connect() as connection:
        assert list(connection.execute(text("SELECT sender_id FROM events"))) == [("tg:b",)]
    eraser.dispose()
    engine.dispose()
