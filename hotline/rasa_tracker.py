"""Erasing conversations from Rasa's tracker store: one at a person's request (/delete, the web page's button, in
the gateway), and the idle ones of the retention purge (`hotline purge`, and the gateway once a day; it is here, in
`hotline/`, so that both the command and the gateway can use it: `hotline/` never imports `bot/`).

Rasa Open Source has no HTTP call that deletes a conversation. `PUT /conversations/<id>/tracker/events` looks
like one ("replace the events"), but the SQL tracker store only ever appends: it saves the events beyond the
number it already holds, so a PUT of `[]` or of a restart event leaves every stored event in place (tests/telegram
checks this against the real server). A `restart` event only hides the older events from the dialogue; they stay
in the database and in `GET .../tracker?include_events=ALL`. So we delete the conversation's rows from the tracker
store's `events` table ourselves: `RASA_TRACKER_URL`, the database endpoints.yml names (by default the SQLite file
`RASA_TRACKER_DB`; in production the PostgreSQL database of deploy/endpoints.production.yml).

Rasa reads a conversation from the database on every message (no cache in between). A person's updates are
handled one after another (bot/concurrency.py), so /delete never runs while that person's own message is inside
Rasa, except one the gateway stopped waiting for (4 s): if Rasa saves it after the delete, those events come back.
The purge deletes a conversation only while its newest event is older than the limit, in one statement, so a
person who writes again at that moment keeps their conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, create_engine, delete, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from hotline.cases.db import SQLITE_BUSY_TIMEOUT, database_url

log = logging.getLogger(__name__)

# The part of Rasa's table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent) that we read and delete from;
# `timestamp` is the event's time in seconds since the epoch.
_EVENTS = Table("events", MetaData(), Column("sender_id", String(255)), Column("timestamp", Float))


@dataclass(frozen=True)
class TrackedConversation:
    """A conversation in the tracker store: its newest event's time (None if no event has one) and how many
    events it holds."""

    last: datetime | None
    events: int


def _no_table(error: Exception) -> bool:
    return "no such table" in str(error) or "does not exist" in str(error)


class TrackerEraser:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None

    def _missing(self) -> bool:
        """A SQLite tracker file that does not exist holds nothing (and is not created by asking)."""
        url = database_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return False
        return not url.database.startswith("file:") and not Path(url.database).exists()

    def _connect(self) -> Engine:
        if self._engine is None:
            url = database_url(self.database_url)  # postgresql:// means psycopg 3, as for DATABASE_URL
            sqlite = url.get_backend_name() == "sqlite"
            connect_args = {"timeout": SQLITE_BUSY_TIMEOUT} if sqlite else {}
            self._engine = create_engine(url, pool_size=1, pool_pre_ping=True, connect_args=connect_args)
        return self._engine

    def erase(self, conversation_id: str) -> int:
        """Delete every stored event of the conversation; how many there were. A store without the table (Rasa
        never ran against it) holds nothing to erase. Blocking: call it in a worker thread."""
        if self._missing():
            return 0
        try:
            with self._connect().begin() as connection:
                result = connection.execute(delete(_EVENTS).where(_EVENTS.c.sender_id == conversation_id))
        except (OperationalError, ProgrammingError) as error:
            if _no_table(error):
                return 0
            raise
        log.info("conversation=%s: %s tracker events erased", conversation_id, result.rowcount)
        return result.rowcount

    def conversations(self) -> dict[str, TrackedConversation]:
        """Every conversation in the store with its newest event's time and its number of events (the retention
        purge's view of who was active when). Empty when Rasa never ran against the store."""
        if self._missing():
            return {}
        query = select(_EVENTS.c.sender_id, func.max(_EVENTS.c.timestamp), func.count()).group_by(_EVENTS.c.sender_id)
        try:
            with self._connect().connect() as connection:
                rows = list(connection.execute(query).tuples())
        except (OperationalError, ProgrammingError) as error:
            if _no_table(error):
                return {}
            raise
        return {
            sender: TrackedConversation(None if last is None else datetime.fromtimestamp(last, UTC), count)
            for sender, last, count in rows
        }

    def erase_if_idle(self, conversation_id: str, before: datetime) -> int:
        """Delete the conversation's events if its newest one is older than `before` (one statement: a message
        that arrives meanwhile keeps the conversation); how many went. Nothing is logged but the count."""
        if self._missing():
            return 0
        same = _EVENTS.alias("same")  # an alias, so that the subquery reads the whole conversation, not one row
        newest = select(func.max(same.c.timestamp)).where(same.c.sender_id == conversation_id).scalar_subquery()
        statement = delete(_EVENTS).where(_EVENTS.c.sender_id == conversation_id, newest < before.timestamp())
        try:
            with self._connect().begin() as connection:
                result = connection.execute(statement)
        except (OperationalError, ProgrammingError) as error:
            if _no_table(error):
                return 0
            raise
        return result.rowcount

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
