"""CaseStore on SQLite and PostgreSQL: creating cases, the outbox, claiming, releasing, closing, messages,
lawyers and the roster."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from hotline.cases import store as store_module
from hotline.cases.db import engine_for
from hotline.cases.models import Case, CaseEvent, OutboxItem, Person
from hotline.cases.store import CaseError, CaseStore, RosterError
from tests.cases.conftest import T0, AddLawyer, NewCase


def count(engine: Engine, model: type[Any]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def kinds_to(store: CaseStore, recipient: str) -> list[str]:
    return [item.kind for item in store.pending_outbox(1000) if item.recipient == recipient]


# --- creating a case ---------------------------------------------------------------------------------------


def test_a_new_case_is_stored_with_its_ref_event_and_offers(
    store: CaseStore, engine: Engine, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang = add_lawyer("Wang")
    case = new_case()
    assert case.ref == f"GZLA-2026-{case.id:06d}"
    assert (case.status, case.topic, case.lang, case.channel, case.urgent) == (
        "offered",
        "wages",
        "zh",
        "telegram",
        False,
    )
    assert case.facts == {"amount_owed": 15000, "months_unpaid": 3, "employer": "工地"}
    assert case.eligibility == {"result": "exempt", "reasons": ["LAL Art. 42(3)"]}
    assert case.deadline == date(2026, 12, 1)
    assert case.created_at == T0 and case.created_at.tzinfo is not None
    assert case.offered_at == T0
    assert store.get_case(case.id) == case
    [event] = store.events(case.id)
    assert (event.kind, event.actor, event.detail) == ("created", "system", {"offered_to": [wang.id]})
    [offer] = store.pending_outbox()
    assert (offer.kind, offer.recipient, offer.case_ref) == ("offer", f"lawyer:{wang.id}", case.ref)
    # The payload names the case; what the person wrote stays in the cases table.
    assert offer.payload == {
        "ref": case.ref,
        "topic": "wages",
        "lang": "zh",
        "urgent": False,
        "deadline": "2026-12-01",
        "level": 0,
    }
    assert count(engine, Person) == 1


def test_the_ref_counts_the_year_on_the_office_clock(new_case: NewCase) -> None:
    # 17:00 UTC on New Year's Eve is already 01:00 on 1 January in Guangzhou.
    case = new_case(at=datetime(2026, 12, 31, 17, 0, tzinfo=UTC))
    assert case.ref.startswith("GZLA-2027-")


def test_refs_are_distinct_and_follow_the_ids(new_case: NewCase) -> None:
    refs = [new_case().ref for _ in range(3)]
    assert len(set(refs)) == 3 and refs == sorted(refs)


def test_a_person_is_found_again_by_channel_and_key(store: CaseStore, engine: Engine, new_case: NewCase) -> None:
    first = new_case(channel_key="tg-abc", consent=False)
    second = new_case(channel_key="tg-abc", lang="en", at=T0 + timedelta(hours=1))
    other_channel = new_case(channel="web", channel_key="tg-abc")
    assert first.person_id == second.person_id != other_channel.person_id
    with engine.connect() as connection:
        lang, consent_at = connection.execute(
            select(Person.lang, Person.consent_at).where(Person.id == first.person_id)
        ).one()
    assert lang == "en"  # the language they last wrote in
    assert consent_at is not None  # consent given with the second case


def test_eligibility_may_be_missing_and_is_then_sql_null(store: CaseStore, engine: Engine, new_case: NewCase) -> None:
    case = new_case(eligibility=None, deadline=None, facts={})
    assert store.get_case(case.id) == case
    assert case.eligibility is None and case.deadline is None and case.facts == {}
    with engine.connect() as connection:
        nulls = connection.execute(select(func.count()).select_from(Case).where(Case.eligibility.is_(None)))
        assert nulls.scalar_one() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"topic": "divorce"}, "topic 'divorce'"),
        ({"lang": "fr"}, "lang 'fr'"),
        ({"channel": "sms"}, "channel 'sms'"),
        ({"channel_key": "13812345678"}, "phone number"),
        ({"channel_key": "+86 138-1234-5678"}, "phone number"),
        ({"channel_key": "  "}, "empty"),
        ({"at": datetime(2026, 11, 2, 10, 0)}, "time zone"),
        ({"facts": {"when": date(2026, 1, 1)}}, "facts must be JSON"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    engine: Engine, new_case: NewCase, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(CaseError, match=message):
        new_case(**overrides)
    assert count(engine, Case) == count(engine, Person) == 0


def test_a_failure_while_offering_leaves_nothing_behind(
    engine: Engine, add_lawyer: AddLawyer, new_case: NewCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case, the person, the event and the outbox are one transaction: all or nothing."""
    add_lawyer("Wang")
    real_offer = store_module._offer

    def offer_then_crash(*args: Any, **kwargs: Any) -> list[int]:
        real_offer(*args, **kwargs)
        raise RuntimeError("the process died here")

    monkeypatch.setattr(store_module, "_offer", offer_then_crash)
    with pytest.raises(RuntimeError):
        new_case()
    for model in (Person, Case, CaseEvent, OutboxItem):
        assert count(engine, model) == 0, model


# --- the outbox ----------------------------------------------------------------------------------------------


def test_offers_survive_a_crash_and_are_returned_once_until_sent(
    db_url: str, store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang, li = add_lawyer("Wang"), add_lawyer("Li")
    case = new_case()
    # The process that created the case dies before sending; a new one starts on the same database.
    engine = engine_for(db_url)
    try:
        restarted = CaseStore(engine)
        pending = restarted.pending_outbox()
        assert sorted(item.recipient for item in pending) == [f"lawyer:{wang.id}", f"lawyer:{li.id}"]
        assert len({item.id for item in pending}) == 2
        assert all(item.kind == "offer" and item.case_id == case.id and item.attempts == 0 for item in pending)
        assert restarted.pending_outbox() == pending  # nothing is lost while unsent
        first, second = pending
        assert restarted.mark_sent(first.id, T0)
        assert restarted.pending_outbox() == [second]
        assert not restarted.mark_sent(first.id, T0)  # already sent: never again
        assert restarted.mark_sent(second.id, T0)
        assert restarted.pending_outbox() == []
    finally:
        engine.dispose()
    assert store.pending_outbox() == []  # and not after another restart either


def test_outbox_urgent_cases_first_then_in_order_written_and_limit(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    add_lawyer("Wang")
    calm = new_case()
    urgent = new_case(urgent=True, at=T0 + timedelta(minutes=1))
    assert [item.case_ref for item in store.pending_outbox()] == [urgent.ref, calm.ref]
    assert len(store.pending_outbox(limit=1)) == 1


def test_a_failed_delivery_is_counted_and_stays_pending(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    add_lawyer("Wang")
    new_case()
    [item] = store.pending_outbox()
    store.mark_failed(item.id)
    store.mark_failed(item.id)
    [again] = store.pending_outbox()
    assert again.id == item.id and again.attempts == 2


# --- claim, release, close -----------------------------------------------------------------------------------


def test_claim_takes_the_case_and_tells_the_others(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang, li, zhao = add_lawyer("Wang"), add_lawyer("Li"), add_lawyer("Zhao")
    case = new_case()
    for item in store.pending_outbox():
        store.mark_sent(item.id, T0)
    at = T0 + timedelta(minutes=3)
    assert store.claim(case.id, li.id, at)
    assert not store.claim(case.id, wang.id, at)  # taken
    assert not store.claim(case.id, li.id, at)  # even by the winner: claimed once
    claimed = store.get_case(case.id)
    assert claimed is not None
    assert (claimed.status, claimed.assigned_lawyer_id, claimed.claimed_at) == ("claimed", li.id, at)
    pending = {(item.kind, item.recipient) for item in store.pending_outbox()}
    assert pending == {("taken", f"lawyer:{wang.id}"), ("taken", f"lawyer:{zhao.id}"), ("person_notice", "person")}
    assert [(e.kind, e.actor) for e in store.events(case.id)] == [("created", "system"), ("claimed", f"lawyer:{li.id}")]


def test_unknown_or_inactive_lawyers_cannot_claim(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang = add_lawyer("Wang")
    gone = add_lawyer("Gone")
    case = new_case()
    assert store.remove_lawyer(gone.id)
    assert not store.claim(case.id, gone.id, T0)
    assert not store.claim(case.id, 9999, T0)
    assert not store.claim(9999, wang.id, T0)
    after = store.get_case(case.id)
    assert after is not None and after.status == "offered" and after.assigned_lawyer_id is None


def test_a_queued_case_can_be_claimed_from_the_queue(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    off_duty = add_lawyer("Night owl", on_duty=False)
    case = new_case()
    assert case.status == "queued"
    assert store.claim(case.id, off_duty.id, T0)


def test_release_offers_the_case_afresh_to_the_others(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang, li = add_lawyer("Wang"), add_lawyer("Li")
    case = new_case()
    assert store.claim(case.id, wang.id, T0)
    for item in store.pending_outbox():
        store.mark_sent(item.id, T0)
    later = T0 + timedelta(hours=1)
    assert not store.release(case.id, li.id, later)  # not theirs
    assert store.release(case.id, wang.id, later)
    released = store.get_case(case.id)
    assert released is not None
    assert (released.status, released.assigned_lawyer_id, released.claimed_at) == ("offered", None, None)
    assert (released.offered_at, released.escalation_level) == (later, 0)
    assert store.offered_to(case.id) == [li.id]
    assert [(item.kind, item.recipient) for item in store.pending_outbox()] == [("offer", f"lawyer:{li.id}")]
    assert not store.release(case.id, wang.id, later)  # once
    assert store.claim(case.id, li.id, later)


def test_close_by_the_assigned_lawyer_keeps_outcome_and_amount(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang, li = add_lawyer("Wang"), add_lawyer("Li")
    case = new_case()
    assert store.claim(case.id, wang.id, T0)
    done = T0 + timedelta(days=3)
    assert not store.close(case.id, li.id, "advice", None, done)  # not theirs, not a supervisor
    assert store.close(case.id, wang.id, "application", Decimal("12000.50"), done)
    closed = store.get_case(case.id)
    assert closed is not None
    assert (closed.status, closed.close_outcome, closed.closed_at) == ("closed", "application", done)
    assert closed.amount_recovered == Decimal("12000.50")
    assert not store.close(case.id, wang.id, "advice", None, done)  # closed already
    assert store.events(case.id)[-1].detail == {"outcome": "application", "amount_recovered": "12000.50"}


def test_a_supervisor_may_close_any_open_case_and_the_offers_are_withdrawn(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang = add_lawyer("Wang")
    boss = add_lawyer("Boss", supervisor=True, on_duty=False)
    case = new_case()
    for item in store.pending_outbox():
        store.mark_sent(item.id, T0)
    assert store.close(case.id, boss.id, "no_answer", None, T0 + timedelta(days=1))
    assert [(item.kind, item.recipient) for item in store.pending_outbox()] == [("taken", f"lawyer:{wang.id}")]
    assert not store.claim(case.id, wang.id, T0 + timedelta(days=1))


@pytest.mark.parametrize(
    ("outcome", "amount"),
    [("won", None), ("advice", Decimal(-1)), ("advice", Decimal("NaN")), ("advice", Decimal("10.005"))],
)
def test_close_refuses_unknown_outcomes_and_amounts(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase, outcome: str, amount: Decimal | None
) -> None:
    wang = add_lawyer("Wang")
    case = new_case()
    assert store.claim(case.id, wang.id, T0)
    with pytest.raises(CaseError):
        store.close(case.id, wang.id, outcome, amount, T0)


# --- messages ----------------------------------------------------------------------------------------------------


def test_messages_live_in_the_database_and_the_event_only_says_one_was_sent(
    store: CaseStore, engine: Engine, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang = add_lawyer("Wang")
    case = new_case()
    with pytest.raises(CaseError, match="no lawyer"):
        store.add_message(case.id, "lawyer_to_person", "您好", T0)
    question = store.add_message(case.id, "person_to_lawyer", "我还能要回工资吗？", T0 + timedelta(minutes=1))
    assert store.claim(case.id, wang.id, T0 + timedelta(minutes=2))
    answer = store.add_message(case.id, "lawyer_to_person", "可以，先准备欠条。", T0 + timedelta(minutes=5))
    assert [(m.id, m.direction, m.text) for m in store.messages(case.id)] == [
        (question, "person_to_lawyer", "我还能要回工资吗？"),
        (answer, "lawyer_to_person", "可以，先准备欠条。"),
    ]
    message_events = [e for e in store.events(case.id) if e.kind == "message"]
    assert [e.actor for e in message_events] == ["person", f"lawyer:{wang.id}"]
    assert all("欠" not in str(e.detail) and "工资" not in str(e.detail) for e in message_events)
    with engine.connect() as connection:
        payloads = connection.execute(text("SELECT payload FROM outbox_items")).scalars().all()
    assert all("工资" not in str(payload) for payload in payloads)
    with pytest.raises(CaseError):
        store.add_message(case.id, "sideways", "x", T0)
    with pytest.raises(CaseError):
        store.add_message(9999, "person_to_lawyer", "x", T0)


def test_the_first_response_is_recorded_once(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang = add_lawyer("Wang")
    case = new_case()
    assert store.claim(case.id, wang.id, T0)
    first = T0 + timedelta(minutes=7)
    assert store.record_first_response(case.id, first)
    assert not store.record_first_response(case.id, first + timedelta(hours=1))
    after = store.get_case(case.id)
    assert after is not None and after.first_response_at == first


# --- listing -------------------------------------------------------------------------------------------------------


def test_list_cases_urgent_first_then_oldest_and_by_status(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang = add_lawyer("Wang")
    old = new_case(at=T0)
    newer = new_case(at=T0 + timedelta(minutes=5))
    urgent = new_case(urgent=True, at=T0 + timedelta(minutes=10))
    assert [c.ref for c in store.list_cases()] == [urgent.ref, old.ref, newer.ref]
    assert store.claim(newer.id, wang.id, T0 + timedelta(minutes=20))
    assert [c.ref for c in store.list_cases("claimed")] == [newer.ref]
    assert [c.ref for c in store.list_cases("offered")] == [urgent.ref, old.ref]
    with pytest.raises(CaseError):
        store.list_cases("lost")


# --- lawyers and the roster --------------------------------------------------------------------------------------


def test_lawyers_are_added_listed_and_removed(store: CaseStore) -> None:
    li = store.add_lawyer(
        name="Li Na",
        telegram_user_id="700100",
        languages=["zh", "en"],
        topics=["minors", "wages"],
        minors_qualified=True,
    )
    boss = store.add_lawyer(name="Boss", topics=["other"], supervisor=True)
    assert (li.languages, li.topics, li.minors_qualified, li.supervisor, li.active) == (
        ("zh", "en"),
        ("minors", "wages"),
        True,
        False,
        True,
    )
    assert store.list_lawyers() == [li, boss]
    assert store.remove_lawyer(li.id)
    assert not store.remove_lawyer(li.id)
    assert not store.remove_lawyer(9999)
    assert [lawyer.active for lawyer in store.list_lawyers()] == [False, True]
    assert store.list_lawyers(include_inactive=False) == [boss]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": " ", "topics": ["wages"]}, "name"),
        ({"name": "X", "topics": ["wage"]}, "topic 'wage'"),
        ({"name": "X", "topics": []}, "at least one"),
        ({"name": "X", "topics": ["wages"], "languages": ["fr"]}, "language 'fr'"),
        ({"name": "X", "topics": ["wages"], "telegram_user_id": "@li"}, "not a number"),
        ({"name": "X", "topics": ["wages"], "telegram_user_id": "700100"}, "already lawyer 1"),
    ],
)
def test_bad_lawyers_are_refused(store: CaseStore, kwargs: dict[str, Any], message: str) -> None:
    store.add_lawyer(name="Li Na", telegram_user_id="700100", topics=["wages"])
    with pytest.raises(CaseError, match=message):
        store.add_lawyer(**kwargs)
    assert len(store.list_lawyers()) == 1


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def test_a_roster_is_imported_all_at_once_and_not_twice(store: CaseStore, tmp_path: Path) -> None:
    li = store.add_lawyer(name="Li Na", telegram_user_id="700100", topics=["wages"])
    zhou = store.add_lawyer(name="Zhou", topics=["injury"])
    roster = write(
        tmp_path / "roster.csv",
        "\ufefftelegram_user_id,name,starts_at,ends_at,notes\n"  # a spreadsheet's byte-order mark
        "700100,,2026-11-02T09:00+08:00,2026-11-02T17:00+08:00,\n"
        "\n"
        ",Zhou,2026-11-02T17:00+08:00,2026-11-03T01:00:00+08:00,night\n"
        "700100,Ignored Name,2026-11-03T01:00:00Z,2026-11-03T09:00:00Z,\n",
    )
    result = store.import_roster_csv(roster)
    assert (result.added, result.already_present) == (3, 0)
    shifts = store.shifts()
    assert [(s.lawyer_id, s.starts_at) for s in shifts] == [
        (li.id, datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
        (zhou.id, datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
        (li.id, datetime(2026, 11, 3, 1, 0, tzinfo=UTC)),
    ]
    assert shifts[1].lawyer_name == "Zhou" and shifts[1].ends_at == datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    assert [s.lawyer_id for s in store.shifts(zhou.id)] == [zhou.id]
    assert len(store.shifts(ending_after=datetime(2026, 11, 2, 17, 0, tzinfo=UTC))) == 1
    again = store.import_roster_csv(roster)
    assert (again.added, again.already_present) == (0, 3)
    assert len(store.shifts()) == 3


def test_a_bad_roster_names_file_and_line_and_imports_nothing(store: CaseStore, tmp_path: Path) -> None:
    store.add_lawyer(name="Li Na", telegram_user_id="700100", topics=["wages"])
    store.add_lawyer(name="Chen", topics=["wages"])
    store.add_lawyer(name="Chen", topics=["injury"])
    roster = write(
        tmp_path / "week45.csv",
        "telegram_user_id,name,starts_at,ends_at\n"
        "700100,,2026-11-02T09:00+08:00,2026-11-02T17:00+08:00\n"  # fine
        "700100,,2026-11-03T09:00,2026-11-03T17:00+08:00\n"  # 3: no time zone
        "999,,2026-11-04T09:00+08:00,2026-11-04T17:00+08:00\n"  # 4: no such lawyer
        ",Chen,2026-11-05T09:00+08:00,2026-11-05T17:00+08:00\n"  # 5: two of them
        "700100,,2026-11-06T17:00+08:00,2026-11-06T09:00+08:00\n"  # 6: ends before it starts
        ",,2026-11-07T09:00+08:00,soon\n",  # 7: nobody, and no time
    )
    with pytest.raises(RosterError) as raised:
        store.import_roster_csv(roster)
    problems = raised.value.problems
    assert [problem.split(": ")[0] for problem in problems] == [
        f"{roster}:3",
        f"{roster}:4",
        f"{roster}:5",
        f"{roster}:6",
        f"{roster}:7",
        f"{roster}:7",
    ]
    assert "no time zone" in problems[0] and "telegram_user_id 999" in problems[1] and "2 active" in problems[2]
    assert "not after" in problems[3] and "no telegram_user_id and no name" in problems[4]
    assert store.shifts() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("who,starts_at,ends_at\nLi,2026-11-02T09:00+08:00,2026-11-02T17:00+08:00\n", ":1: the header lacks"),
        ("name,starts_at\nLi,2026-11-02T09:00+08:00\n", "ends_at"),
        ("", "the header lacks"),
    ],
)
def test_a_roster_without_the_needed_columns_is_refused(
    store: CaseStore, tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(RosterError, match=message):
        store.import_roster_csv(write(tmp_path / "r.csv", content))


def test_a_missing_roster_file_is_named(store: CaseStore, tmp_path: Path) -> None:
    with pytest.raises(RosterError, match=r"nothere\.csv: cannot read"):
        store.import_roster_csv(tmp_path / "nothere.csv")


def test_times_come_back_aware_in_utc(store: CaseStore, add_lawyer: AddLawyer) -> None:
    lawyer = add_lawyer("Wang")
    [shift] = store.shifts(lawyer.id)
    assert shift.starts_at.tzinfo is UTC and shift.starts_at == T0 - timedelta(hours=1)
    with pytest.raises(CaseError, match="time zone"):
        store.add_shift(lawyer.id, datetime(2026, 11, 2, 9), datetime(2026, 11, 2, 17))
