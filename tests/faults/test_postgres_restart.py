"""PostgreSQL restarted (issue 6) under the case store: web conversations through a gateway and an action server
whose case store is PostgreSQL (kept messages, inbox, cases), and twenty lawyers claiming one case.

This machine's PostgreSQL goes down for a few seconds for everyone using it: these tests are in one module, and a
finalizer starts it again whatever happens. Skipped when the test PostgreSQL is another machine's.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from hotline.cases.db import database_url, engine_for
from hotline.cases.records import CaseRecord, LawyerRecord
from hotline.cases.store import CaseStore
from tests.faults.rig import (
    HANDOFF,
    HANDOFF_FAILED,
    SERVICE_DOWN,
    WAGES,
    Rig,
    WebPerson,
    assert_in_tracker_once,
    ensure_postgres_running,
    local_postgres,
    postgres_down,
    reference,
    restart_postgres,
    running,
    session_id,
)

pytestmark = pytest.mark.rasa

REF = re.compile(r"GZLA-\d{4}-\d{6}")
RACERS = 20


@pytest.fixture
def postgres(faults: Rig) -> Iterator[str]:
    """This machine's PostgreSQL (its admin URL), up again after the test whatever happened."""
    local_postgres(faults.admin_url)
    try:
        yield faults.admin_url
    finally:
        ensure_postgres_running(faults.admin_url)


def cases_of(url: str, person: WebPerson) -> list[str]:
    """The person's cases, read on a connection of the test's own (opened now)."""
    engine = engine_for(url, pool_size=1)
    try:
        return [case.ref for case in CaseStore(engine).person_cases("web", person.sender)]
    finally:
        engine.dispose()


def test_conversations_and_handoffs_across_a_postgres_restart(faults: Rig, postgres: str) -> None:
    """While PostgreSQL is down the conversations go on (their state is in Rasa's tracker store) and a handoff is
    told clearly that no case could be registered and whom to call; once it is back, asking again opens exactly
    one case. After a restart nobody noticed (no message in between), the next handoff opens its case at once:
    the services' pooled connections from before the restart must not fail it."""
    gateway = faults.gateway("gw-postgres", faults.rasa_a, database_url=faults.cases_url)
    p1, p2 = WebPerson(session_id("p1")), WebPerson(session_id("p2"))
    asks_during, asks_after_quiet_restart = WebPerson(session_id("p-during")), WebPerson(session_id("p-quiet"))
    with running(gateway):
        expected = reference(gateway.url, WAGES[:6])
        for person, steps in ((p1, 2), (p2, 3)):
            for turn, answer in zip(WAGES[:steps], expected[:steps], strict=True):
                assert person.say(gateway.url, turn) == answer
        asks_during.say(gateway.url, WAGES[0])
        asks_after_quiet_restart.say(gateway.url, WAGES[0])

        with postgres_down(postgres):
            assert p1.say(gateway.url, WAGES[2]) == expected[2]
            assert p2.say(gateway.url, WAGES[3]) == expected[3]
            failed = asks_during.say(gateway.url, HANDOFF)
            assert HANDOFF_FAILED in failed and SERVICE_DOWN not in failed, failed
            assert not REF.search("\n".join(failed))
        assert cases_of(faults.cases_url, asks_during) == []

        assert p1.say(gateway.url, WAGES[3]) == expected[3]
        assert p2.say(gateway.url, WAGES[4]) == expected[4]
        registered = "\n".join(asks_during.say(gateway.url, HANDOFF))
        assert cases_of(faults.cases_url, asks_during) == REF.findall(registered), registered

        restart_postgres(postgres)  # nobody writes meanwhile: the connections the services pooled are gone
        time.sleep(0.3)
        logs = {log: log.stat().st_size for log in (faults.actions.log, gateway.log)}
        first = "\n".join(asks_after_quiet_restart.say(gateway.url, HANDOFF))
        assert HANDOFF_FAILED not in first, "the first handoff after a restart could not be registered"
        assert cases_of(faults.cases_url, asks_after_quiet_restart) == REF.findall(first), first
        assert p1.say(gateway.url, WAGES[4]) == expected[4]
        time.sleep(1.5)  # the gateway's retry loop reads the kept messages, every second
        for log, offset in logs.items():  # nothing failed on a connection from before the restart
            with open(log, "rb") as handle:
                handle.seek(offset)
                assert b"OperationalError" not in handle.read(), f"a stale pooled connection failed; see {log}"
        health = httpx.get(f"{gateway.url}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["database"] is True, health.text
    for person in (p1, p2, asks_during, asks_after_quiet_restart):
        assert_in_tracker_once(faults.rasa_a.url, person, person.sent)


type Outcome = bool | Exception


def race(calls: list[Callable[[], bool]]) -> list[Outcome]:
    """The calls in threads released together; each one's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], bool]) -> Outcome:
        barrier.wait()
        try:
            return call()
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def on_duty_lawyers(store: CaseStore) -> list[LawyerRecord]:
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    lawyers = [store.add_lawyer(name=f"racer {tag} {n}", topics=["wages"]) for n in range(RACERS)]
    for lawyer in lawyers:
        store.add_shift(lawyer.id, now - timedelta(hours=1), now + timedelta(hours=8))
    return lawyers


def new_case(store: CaseStore) -> CaseRecord:
    return store.create_case(
        channel="web",
        channel_key=f"web:{session_id('race')}",
        lang="zh",
        topic="wages",
        facts={"amount": 8000},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="欠了八千",
    )


def claims(store: CaseStore, case_id: int, lawyers: list[LawyerRecord]) -> list[Callable[[], bool]]:
    def claim(lawyer_id: int) -> Callable[[], bool]:
        return lambda: store.claim(case_id, lawyer_id, datetime.now(UTC))

    return [claim(lawyer.id) for lawyer in lawyers]


def claimed_events(url: str, case_id: int) -> list[str]:
    engine = engine_for(url, pool_size=1)
    try:
        return [event.actor for event in CaseStore(engine).events(case_id) if event.kind == "claimed"]
    finally:
        engine.dispose()


def waiting_for_locks(conninfo: str, database: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (database,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_claims_racing_while_postgres_restarts_claim_the_case_once(faults: Rig, postgres: str) -> None:
    """Twenty lawyers press Accept on a case at once, their claims in the middle of their transactions (waiting
    for the case's row) when PostgreSQL restarts; meanwhile other cases are raced for, twenty claims each, as fast
    as they come. None of the interrupted claims wins; pressed again after the restart, on a gateway whose pool
    was idle across it, exactly one wins and the others are told it is taken; every case is claimed once."""
    url = faults.cases_url
    engines: list[Engine] = []

    def store(pool_size: int = RACERS + 5) -> CaseStore:
        engines.append(engine_for(url, pool_size=pool_size))
        return CaseStore(engines[-1])

    racing, desk, rounds_store = store(), store(), store()
    try:
        lawyers = on_duty_lawyers(racing)
        case = new_case(racing)
        race([lambda: desk.get_case(case.id) is not None for _ in range(RACERS)])  # the desk's pool, open and idle

        # Other cases raced for, round after round, while PostgreSQL restarts.
        stop, rounds = threading.Event(), list[tuple[int, list[Outcome]]]()

        def keep_racing() -> None:
            while not stop.is_set():
                try:
                    raced = new_case(rounds_store)
                except Exception:
                    time.sleep(0.05)
                    continue
                rounds.append((raced.id, race(claims(rounds_store, raced.id, lawyers))))

        conninfo = database_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        database = database_url(url).database or ""
        with ThreadPoolExecutor(2) as pool, closing(psycopg.connect(conninfo)) as holder:  # closed, not committed
            holder.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case.id,))  # the row, held
            interrupted: Future[list[Outcome]] = pool.submit(race, claims(racing, case.id, lawyers))
            deadline = time.monotonic() + 30
            while waiting_for_locks(conninfo, database) < RACERS:
                assert time.monotonic() < deadline, "the claims did not reach the database"
                time.sleep(0.05)
            background = pool.submit(keep_racing)
            time.sleep(0.5)
            restart_postgres(postgres)
            time.sleep(0.5)
            stop.set()
            background.result()
            outcomes = interrupted.result()
        assert all(isinstance(outcome, DBAPIError) for outcome in outcomes), outcomes
        assert claimed_events(url, case.id) == []

        again = race(claims(desk, case.id, lawyers))
        errors = [outcome for outcome in again if isinstance(outcome, Exception)]
        assert not errors, f"{len(errors)} of {RACERS} claims failed after the restart: {errors[0]!r}"
        assert again.count(True) == 1 and again.count(False) == RACERS - 1, again
        winner = lawyers[again.index(True)]
        assert claimed_events(url, case.id) == [f"lawyer:{winner.id}"]
        after = store()  # a process started after the restart
        assert race(claims(after, case.id, lawyers)).count(True) == 0  # the losers once more: taken

        assert rounds, "no case was raced for during the restart"
        for case_id, results in rounds:
            assert results.count(True) <= 1, (case_id, results)
            before = claimed_events(url, case_id)
            assert len(before) <= 1, (case_id, before)
            retried = race(claims(after, case_id, lawyers))
            assert retried.count(True) == (0 if before else 1), (case_id, before, retried)
            assert len(claimed_events(url, case_id)) == 1, case_id
    finally:
        for engine in engines:
            engine.dispose()
