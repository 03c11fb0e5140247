"""hotline/rasa_service.py: how the Rasa server's tracker store is prepared before Rasa starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hotline.rasa_service import sqlite_tracker_store, write_ahead_log
from hotline.settings import PROJECT_ROOT


def test_the_default_endpoints_keep_trackers_in_sqlite_and_production_in_postgresql(tmp_path: Path) -> None:
    assert sqlite_tracker_store(PROJECT_ROOT / "endpoints.yml")
    assert not sqlite_tracker_store(PROJECT_ROOT / "deploy" / "endpoints.production.yml")
    assert not sqlite_tracker_store(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("tracker_store: [unclosed", "utf-8")
    assert not sqlite_tracker_store(broken)


def test_the_sqlite_tracker_store_is_put_in_wal_mode_and_keeps_it(tmp_path: Path) -> None:
    database = tmp_path / "rasa_tracker.db"
    write_ahead_log(database)  # a new file, as on the first `hotline run`
    write_ahead_log(database)  # and again on every start
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        connection.close()
