"""Races on real databases: 20 lawyers claim one case at the same instant, 20 times over, on PostgreSQL and
SQLite; each thread runs on a connection of its own. Exactly one claim wins, every time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine, func, select

from hotline.cases.models import Case, CaseEvent, Person
from hotline.cases.store import CaseStore
from tests.cases.conftest import T0, AddLawyer, NewCase

RACERS = 20
ROUNDS = 20


def race[T](calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def claim_call(store: CaseStore, case_id: int, lawyer_id: int) -> Callable[[], bool]:
    return lambda: store.claim(case_id, lawyer_id, T0 + timedelta(minutes=1))


def test_exactly_one_of_20_concurrent_claims_wins_every_time(
    store: CaseStore, engine: Engine, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    lawyers = [add_lawyer(f"lawyer {n}") for n in range(RACERS)]
    for _ in range(ROUNDS):
        case = new_case()
        offered = store.offered_to(case.id)
        results = race([claim_call(store, case.id, lawyer.id) for lawyer in lawyers])
        assert results.count(True) == 1, results
        winner = lawyers[results.index(True)].id
        after = store.get_case(case.id)
        assert after is not None and (after.status, after.assigned_lawyer_id) == ("claimed", winner)
        assert [event.actor for event in store.events(case.id) if event.kind == "claimed"] == [f"lawyer:{winner}"]
        taken = [
            item.recipient for item in store.pending_outbox(10_000) if item.case_id == case.id and item.kind == "taken"
        ]
        assert sorted(taken) == sorted(f"lawyer:{lawyer}" for lawyer in offered if lawyer != winner)
    with engine.connect() as connection:
        claimed = connection.execute(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "claimed"))
        assert claimed.scalar_one() == ROUNDS


def test_a_racing_unqualified_lawyer_never_wins_a_minors_case(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    topics = ["minors", "wages"]
    qualified = [add_lawyer(f"qualified {n}", topics=topics, minors_qualified=True) for n in range(RACERS // 2)]
    unqualified = [add_lawyer(f"unqualified {n}", topics=topics) for n in range(RACERS // 2)]
    allowed = {lawyer.id for lawyer in qualified}
    for _ in range(ROUNDS // 4):
        case = new_case(topic="minors")
        assert set(store.offered_to(case.id)) <= allowed
        racers = [lawyer for pair in zip(unqualified, qualified, strict=True) for lawyer in pair]
        results = race([claim_call(store, case.id, lawyer.id) for lawyer in racers])
        assert results.count(True) == 1
        assert racers[results.index(True)].id in allowed


def test_concurrent_cases_of_one_new_person_share_the_person_and_get_distinct_refs(
    store: CaseStore, engine: Engine, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    add_lawyer("Wang")
    cases = race([lambda: new_case(channel_key="tg-same-person") for _ in range(RACERS)])
    assert len({case.ref for case in cases}) == RACERS
    assert len({case.person_id for case in cases}) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Person)).scalar_one() == 1
        assert connection.execute(select(func.count()).select_from(Case).where(Case.ref.is_(None))).scalar_one() == 0
    assert len(store.pending_outbox(1000)) == RACERS  # one offer each, none lost, none doubled


def test_two_schedulers_escalate_each_case_once(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    add_lawyer("boss", supervisor=True, on_duty=False)
    cases = [new_case() for _ in range(5)]
    later = T0 + timedelta(hours=1)
    runs = race([lambda: store.escalate_unclaimed(later, timedelta(minutes=10)) for _ in range(4)])
    escalated = sorted(record.ref for run in runs for record in run)
    assert escalated == sorted(case.ref for case in cases)
    assert {record.level for run in runs for record in run} == {1}
