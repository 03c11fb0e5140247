"""Erasing a conversation from Rasa's tracker store, for a person's /delete.

Rasa Open Source has no HTTP call that deletes a conversation. `PUT /conversations/<id>/tracker/events` looks
like one ("replace the events"), but the SQL tracker store only ever appends: it saves the events beyond the
number it already holds, so a PUT of `[]` or of a restart event leaves every stored event in place (tests/telegram
checks this against the real server). A `restart` event only hides the older events from the dialogue; they stay
in the database and in `GET .../tracker?include_events=ALL`. So the gateway deletes the conversation's rows from
the tracker store's `events` table itself: `RASA_TRACKER_URL`, the database endpoints.yml names (by default the
SQLite file `RASA_TRACKER_DB`; in production the PostgreSQL database of deploy/endpoints.production.yml).

Rasa reads a conversation from the database on every message (no cache in between). A person's updates are
handled one after another (bot/concurrency.py), so /delete never runs while that person's own message is inside
Rasa, except one the gateway stopped waiting for (4 s): if Rasa saves it after the delete, those events come back.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, delete
from sqlalchemy.exc import OperationalError, ProgrammingError

from hotline.cases.db import SQLITE_BUSY_TIMEOUT, database_url

log = logging.getLogger(__name__)

# The part of Rasa's table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent) that the delete needs.
_EVENTS = Table("events", MetaData(), Column("sender_id", String(255)))


class TrackerEraser:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None

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
        try:
            with self._connect().begin() as connection:
                result = connection.execute(delete(_EVENTS).where(_EVENTS.c.sender_id == conversation_id))
        except (OperationalError, ProgrammingError) as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return 0
            raise
        log.info("conversation=%s: %s tracker events erased", conversation_id, result.rowcount)
        return result.rowcount

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
