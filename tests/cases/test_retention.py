"""The retention purge (hotline/cases/retention.py, `hotline purge`, the gateway's daily run) on a real SQLite file
and on PostgreSQL, each with a Rasa tracker store of the same kind beside it: what is older than the limit goes,
what is newer or belongs to an open case stays, a dry run changes nothing, and the counts are right."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text

from bot.__main__ import purge_daily
from hotline.cases.db import database_url, engine_for, upgrade
from hotline.cases.mailbox import Inbox, KeptMessages
from hotline.cases.models import Base, Consultation, Person
from hotline.cases.retention import PurgeCounts, purge
from hotline.cases.store import CaseStore
from hotline.rasa_tracker import TrackerEraser
from hotline.settings import DEFAULT_RETENTION_DAYS, Settings
from tests.cases.conftest import T0, AddLawyer, NewCase, fresh_postgres_schema
from tests.conftest import hotline_command

DAYS = 365
NOW = T0 + timedelta(days=400)  # the limit: T0 + 35 days
OLD, RECENT = T0, NOW - timedelta(days=10)
# Rasa 3.6's table (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent; its id from a sequence on PostgreSQL).
EVENTS = (
    "CREATE TABLE events (id {id} PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
    "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
)


def create_events(url: str) -> None:
    engine = create_engine(database_url(url))
    with engine.begin() as connection:
        connection.execute(text(EVENTS.format(id="INTEGER" if engine.dialect.name == "sqlite" else "SERIAL")))
    engine.dispose()


@pytest.fixture
def tracker_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Rasa's tracker store beside the case store, on the same kind of database (another file, another schema)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'rasa_tracker.db'}"
    else:
        with fresh_postgres_schema() as url:
            yield url


@pytest.fixture
def tracker(tracker_url: str) -> Iterator[TrackerEraser]:
    create_events(tracker_url)
    eraser = TrackerEraser(tracker_url)
    yield eraser
    eraser.dispose()


def said(tracker: TrackerEraser, sender: str, *instants: datetime) -> None:
    """Events of a conversation in Rasa's tracker store, at these times."""
    engine = create_engine(database_url(tracker.database_url))
    with engine.begin() as connection:
        for at in instants:
            connection.execute(
                text("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, 'user', :t, '{}')"),
                {"s": sender, "t": at.timestamp()},
            )
    engine.dispose()


def tracked(tracker: TrackerEraser) -> dict[str, int]:
    return {sender: conversation.events for sender, conversation in tracker.conversations().items()}


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every table of the case store."""
    with engine.connect() as connection:
        return {
            table.name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def test_the_purge_erases_what_is_older_than_the_limit_and_keeps_the_rest(
    store: CaseStore, engine: Engine, tracker: TrackerEraser, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    li = add_lawyer("Li")
    inbox, kept = Inbox(engine), KeptMessages(engine)

    # A: a Telegram person, idle since long: a case closed long ago, a consultation, their conversation in Rasa.
    store.record_consent("telegram", "tg:a", "zh", OLD)
    a_case = new_case(channel_key="tg:a", reply_address="5550001", at=OLD)
    assert store.claim(a_case.id, li.id, OLD)
    store.add_message(a_case.id, "person_to_lawyer", "我有工资条", OLD)
    assert store.close(a_case.id, li.id, "advice", None, OLD + timedelta(hours=1))
    store.record_consultation(channel="telegram", conversation_key="tg:a", topic="wages", lang="zh", at=OLD)
    said(tracker, "tg:a", OLD, OLD, OLD + timedelta(hours=1))
    # B: a web visitor without a case, idle: the conversation, an inbox message fetched long ago and one never
    # fetched, a kept message answered long ago and one never answered.
    said(tracker, "web:b", OLD, OLD)
    inbox.put("web", "web:b", "hotline", "回答", OLD)
    inbox.since("web", "web:b", 0, at=OLD)
    inbox.put("web", "web:b", "hotline", "另一个回答", OLD)
    kept.answered(kept.keep(message_id="b1", channel="web", conversation_key="web:b", text="一", meta={}, at=OLD), OLD)
    kept.keep(message_id="b2", channel="web", conversation_key="web:b", text="二", meta={}, at=OLD)
    # C: a case closed long ago, but the person talks to the bot again: the case's content goes, the person stays.
    c_case = new_case(channel_key="tg:c", reply_address="5550003", at=OLD)
    assert store.claim(c_case.id, li.id, OLD) and store.close(c_case.id, li.id, "referred", None, OLD)
    said(tracker, "tg:c", OLD, RECENT)
    # D: a case still open (offered since long ago): everything stays.
    d_case = new_case(channel_key="tg:d", reply_address="5550004", at=OLD)
    said(tracker, "tg:d", OLD)
    # E: recent: a case closed ten days ago.
    e_case = new_case(channel_key="tg:e", reply_address="5550005", at=RECENT)
    assert store.claim(e_case.id, li.id, RECENT) and store.close(e_case.id, li.id, "advice", None, RECENT)
    # F: agreed to the notice long ago and never wrote anything Rasa kept.
    store.record_consent("telegram", "tg:f", "en", OLD)
    # G: a web person active lately: what their page fetched and what was answered long ago goes, the rest stays.
    said(tracker, "web:g", OLD, RECENT)
    inbox.put("web", "web:g", "lawyer", "旧", OLD + timedelta(days=1))
    inbox.since("web", "web:g", 0, at=OLD + timedelta(days=1))
    unread = inbox.put("web", "web:g", "lawyer", "未读", OLD + timedelta(days=2))
    fresh = inbox.put("web", "web:g", "lawyer", "新", RECENT)
    inbox.since("web", "web:g", unread, at=RECENT)
    kept.answered(
        kept.keep(message_id="g1", channel="web", conversation_key="web:g", text="旧", meta={}, at=OLD),
        OLD + timedelta(days=1),
    )
    # H: erased at their own request long ago: already anonymous, not counted again.
    h_case = new_case(channel_key="tg:h", at=OLD)
    store.erase_person("telegram", "tg:h", OLD)

    expected = PurgeCounts(
        cases=2,  # A's and C's (H's content went with its /delete)
        conversations=3,  # A, B, F
        persons=2,  # A (kept anonymous under the case), F (removed)
        tracker_events=5,  # A's 3, B's 2
        kept_messages=3,  # B's two, G's answered one
        inbox_messages=3,  # B's two, G's fetched long ago
    )
    before, events = snapshot(engine), tracked(tracker)
    assert purge(engine, tracker, DAYS, now=NOW, dry_run=True) == expected
    assert snapshot(engine) == before and tracked(tracker) == events  # a dry run changes nothing

    assert purge(engine, tracker, DAYS, now=NOW) == expected
    assert purge(engine, tracker, DAYS, now=NOW) == PurgeCounts()  # nothing left to do: a second run is harmless

    # Rasa's tracker store: the idle conversations are gone, the others whole.
    assert tracked(tracker) == {"tg:c": 2, "tg:d": 1, "web:g": 2}
    # A: no person under the key; the case an anonymous row with its outcome, the consultation under a random key.
    assert store.person("telegram", "tg:a") is None and store.person_cases("telegram", "tg:a") == []
    a = store.get_case(a_case.id)
    assert a is not None and (a.facts, a.eligibility, a.deadline, a.transcript_excerpt) == ({}, None, None, "")
    assert (a.status, a.close_outcome, a.topic, a.ref) == ("closed", "advice", "wages", a_case.ref)
    assert store.messages(a_case.id) == [] and store.reply_address(a_case.id) is None
    assert [(e.kind, e.actor) for e in store.events(a_case.id)][-1] == ("purged", "system")
    with engine.connect() as connection:
        keys = list(connection.execute(select(Consultation.conversation_key)).scalars())
        people = set(connection.execute(select(Person.channel_key)).scalars())
    assert len(keys) == 1 and keys[0].startswith("erased-")
    # B and F: nothing left.
    assert inbox.since("web", "web:b", 0) == [] and kept.pending("web:b") == []
    assert store.person("telegram", "tg:f") is None
    assert {key for key in people if not key.startswith("erased-")} == {"tg:c", "tg:d", "tg:e"}
    # C: the person stays, their old case's content goes.
    c = store.get_case(c_case.id)
    assert store.person("telegram", "tg:c") is not None and store.reply_address(c_case.id) == "5550003"
    assert c is not None and c.transcript_excerpt == "" and c.facts == {} and c.close_outcome == "referred"
    # D and E: untouched.
    assert store.get_case(d_case.id) == d_case
    e = store.get_case(e_case.id)
    assert e is not None and e.transcript_excerpt == e_case.transcript_excerpt and e.facts == e_case.facts
    # G: the message not fetched yet and the recent one stay.
    assert [item.id for item in inbox.since("web", "web:g", 0)] == [unread, fresh]
    assert kept.pending("web:g") == []
    # H: one 'erased' event, no 'purged' one.
    assert [e.kind for e in store.events(h_case.id)].count("purged") == 0
    # The office's figures do not change: every case is still there.
    assert len(store.cases_created_between(OLD - timedelta(days=1), NOW)) == 5


def test_a_conversation_active_on_one_side_only_is_kept(
    store: CaseStore, engine: Engine, tracker: TrackerEraser
) -> None:
    """Recent in Rasa but old in the case store, or the other way round: kept (the newest of both counts)."""
    store.record_consent("telegram", "tg:rasa-recent", "zh", OLD)
    said(tracker, "tg:rasa-recent", RECENT)
    store.record_consent("telegram", "tg:store-recent", "zh", RECENT)
    said(tracker, "tg:store-recent", OLD)
    assert purge(engine, tracker, DAYS, now=NOW) == PurgeCounts()
    assert store.person("telegram", "tg:rasa-recent") and store.person("telegram", "tg:store-recent")
    # Without the tracker store (none configured): the case store's activity alone decides.
    assert purge(engine, None, DAYS, now=NOW) == PurgeCounts(conversations=1, persons=1)
    assert store.person("telegram", "tg:rasa-recent") is None
    assert tracked(tracker) == {"tg:rasa-recent": 1, "tg:store-recent": 1}


def test_a_missing_tracker_store_holds_nothing(tmp_path: Path) -> None:
    eraser = TrackerEraser(f"sqlite:///{tmp_path / 'none' / 'rasa_tracker.db'}")
    assert eraser.conversations() == {} and eraser.erase_if_idle("tg:x", NOW) == 0 and eraser.erase("tg:x") == 0
    assert not (tmp_path / "none").exists()  # asking did not create it


def test_the_retention_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert Settings().retention_days == DEFAULT_RETENTION_DAYS == 365
    for raw, days in (("", 0), ("  ", 0), ("0", 0), ("30", 30)):
        monkeypatch.setenv("RETENTION_DAYS", raw)
        assert Settings().retention_days == days
    for bad in ("-1", "a year"):
        monkeypatch.setenv("RETENTION_DAYS", bad)
        with pytest.raises(ValueError, match="RETENTION_DAYS"):
            Settings()


async def test_the_gateway_purges_at_start_and_then_again(
    store: CaseStore, engine: Engine, tracker: TrackerEraser
) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    store.record_consent("telegram", "tg:first", "zh", old)
    said(tracker, "tg:first", old)
    task = asyncio.create_task(purge_daily(engine, tracker, 30, every=0.2))
    try:
        for _ in range(200):  # the case store's part commits first, then the tracker store's
            if store.person("telegram", "tg:first") is None and tracked(tracker) == {}:
                break
            await asyncio.sleep(0.02)
        assert store.person("telegram", "tg:first") is None and tracked(tracker) == {}  # at start
        store.record_consent("telegram", "tg:second", "zh", old)
        for _ in range(200):
            if store.person("telegram", "tg:second") is None:
                break
            await asyncio.sleep(0.02)
        assert store.person("telegram", "tg:second") is None  # and at the next interval
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_hotline_purge_prints_counts_only(tmp_path: Path) -> None:
    """`hotline purge` on a SQLite file (DATABASE_URL) with Rasa's SQLite tracker under HOTLINE_VAR."""
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = engine_for(url)
    store = CaseStore(engine)
    old = datetime.now(UTC) - timedelta(days=100)
    store.record_consent("telegram", "tg:purge-me", "zh", old)
    case = store.create_case(
        channel="web",
        channel_key="web:closed-long-ago",
        lang="zh",
        topic="wages",
        facts={"amount_owed": 15000},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="老板欠我三个月工资",
        at=old,
    )
    lawyer = store.add_lawyer(name="Li", topics=["wages"], at=old)
    assert store.claim(case.id, lawyer.id, old) and store.close(case.id, lawyer.id, "advice", None, old)
    tracker = TrackerEraser(f"sqlite:///{tmp_path / 'rasa_tracker.db'}")
    create_events(tracker.database_url)
    said(tracker, "tg:purge-me", old, old, old)

    def hotline(*args: str, retention: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": url, "HOTLINE_VAR": str(tmp_path)}
        if retention is not None:
            env["RETENTION_DAYS"] = retention
        result = subprocess.run(
            [*hotline_command(), "purge", *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        return result

    before = snapshot(engine)
    off = hotline(retention="")
    assert "purge is off" in off.stdout and snapshot(engine) == before
    assert hotline("--days", "365").stdout.splitlines()[1:] == [
        "closed cases, personal content: 0",
        "idle conversations: 0",
        "  of them person records: 0",
        "  their events in Rasa's tracker store: 0",
        "kept messages: 0",
        "inbox messages: 0",
    ]
    dry = hotline("--dry-run", retention="90")
    assert dry.stdout.startswith("dry run, nothing changed; would erase what is older than 90 days")
    assert snapshot(engine) == before and tracked(tracker) == {"tg:purge-me": 3}
    done = hotline(retention="90")
    assert (
        done.stdout.splitlines()[1:]
        == dry.stdout.splitlines()[1:]
        == [
            "closed cases, personal content: 1",
            "idle conversations: 2",
            "  of them person records: 2",
            "  their events in Rasa's tracker store: 3",
            "kept messages: 0",
            "inbox messages: 0",
        ]
    )
    for secret in ("tg:purge-me", "web:closed-long-ago", "老板", case.ref):
        assert secret not in done.stdout + done.stderr  # counts only
    assert tracked(tracker) == {} and store.person("telegram", "tg:purge-me") is None
    erased = store.get_case(case.id)
    assert erased is not None and erased.transcript_excerpt == ""
    bad = subprocess.run(
        [*hotline_command(), "purge", "--days", "0"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": url, "HOTLINE_VAR": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2  # at least one day: --days 0 would erase everyone without an open case
    tracker.dispose()
    engine.dispose()
