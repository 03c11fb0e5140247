"""Whom a case is offered to, on SQLite and PostgreSQL: topic, language, duty time, least load, the minors'
rule (Minors Protection Law Art. 104) at every level, and escalation to everyone on duty, then the supervisors."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from hotline.cases.db import session_factory
from hotline.cases.models import Case
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore, eligible_lawyers
from tests.cases.conftest import SHIFT, T0, AddLawyer, NewCase

MINUTES_10 = timedelta(minutes=10)


def offered(store: CaseStore, case_id: int) -> set[int]:
    return set(store.offered_to(case_id))


def outbox_recipients(store: CaseStore, case_id: int, kind: str) -> set[str]:
    return {item.recipient for item in store.pending_outbox(1000) if item.case_id == case_id and item.kind == kind}


def test_offered_by_topic_and_language(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wages_zh = add_lawyer("wages zh", topics=["wages"], languages=["zh"])
    injury_zh = add_lawyer("injury zh", topics=["injury"], languages=["zh"])
    wages_en = add_lawyer("wages en", topics=["wages", "injury"], languages=["en"])
    both = add_lawyer("both", topics=["wages", "injury"], languages=["zh", "en"])
    assert offered(store, new_case(topic="wages", lang="zh").id) == {wages_zh.id, both.id}
    assert offered(store, new_case(topic="injury", lang="zh").id) == {injury_zh.id, both.id}
    assert offered(store, new_case(topic="wages", lang="en").id) == {wages_en.id, both.id}
    assert offered(store, new_case(topic="other", lang="en").id) == set()


def test_offered_only_to_lawyers_on_duty_then(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    day = add_lawyer("day")
    add_lawyer("off", on_duty=False)
    starts, ends = SHIFT
    assert offered(store, new_case(at=starts).id) == {day.id}  # a shift includes its start
    assert offered(store, new_case(at=ends - timedelta(seconds=1)).id) == {day.id}
    assert offered(store, new_case(at=ends).id) == set()  # ... and not its end
    assert offered(store, new_case(at=starts - timedelta(seconds=1)).id) == set()


def test_removed_lawyers_get_no_offers(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    gone = add_lawyer("gone")
    stays = add_lawyer("stays")
    store.remove_lawyer(gone.id)
    assert offered(store, new_case().id) == {stays.id}


def test_no_one_fits_the_case_waits_in_the_queue_without_offers(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    add_lawyer("injury only", topics=["injury"])
    case = new_case(topic="wages")
    assert (case.status, case.offered_at) == ("queued", None)
    assert store.pending_outbox() == []
    assert store.events(case.id)[0].detail == {"offered_to": []}


def test_least_loaded_first_then_by_id(
    store: CaseStore, engine: Engine, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    busy, free, some = add_lawyer("busy"), add_lawyer("free"), add_lawyer("some")
    for _ in range(2):
        assert store.claim(new_case().id, busy.id, T0)
    assert store.claim(new_case().id, some.id, T0)
    done = new_case()  # a closed case is no load
    assert store.claim(done.id, free.id, T0)
    assert store.close(done.id, free.id, "advice", None, T0)
    case = new_case()
    with session_factory(engine).begin() as session:
        ranked = eligible_lawyers(session, session.get_one(Case, case.id), T0)
        assert [lawyer.id for lawyer in ranked] == [free.id, some.id, busy.id]
    narrow = CaseStore(engine, offer_width=1)
    assert narrow.offered_to(web_case(narrow).id) == [free.id]
    tie = CaseStore(engine, offer_width=2)
    assert store.claim(new_case().id, free.id, T0)  # now free and some carry one each: the lower id first
    assert tie.offered_to(web_case(tie).id) == [free.id, some.id]


def web_case(store: CaseStore) -> CaseRecord:
    """A wages case from the web chat at T0, through a store other than the fixture's (another offer width)."""
    return store.create_case(
        channel="web",
        channel_key="web-7c1e",
        lang="zh",
        topic="wages",
        facts={},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="",
        at=T0,
    )


def test_a_minors_case_goes_only_to_minors_qualified_lawyers_at_every_level(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    all_topics = ["wages", "injury", "minors", "other"]
    qualified = add_lawyer("qualified", topics=all_topics, minors_qualified=True)
    unqualified = add_lawyer("unqualified", topics=all_topics)  # lists minors, lacks the qualification
    other_qualified = add_lawyer("qualified, other topics", topics=["wages"], minors_qualified=True)
    boss = add_lawyer("boss", topics=all_topics, supervisor=True, on_duty=False)
    minors_boss = add_lawyer("minors boss", topics=["other"], supervisor=True, minors_qualified=True, on_duty=False)
    wages = new_case(topic="wages")
    case = new_case(topic="minors", transcript_excerpt="爸爸经常打我")
    assert offered(store, case.id) == {qualified.id}
    assert offered(store, wages.id) == {qualified.id, unqualified.id, other_qualified.id}

    first = {e.ref: e for e in store.escalate_unclaimed(T0 + MINUTES_10, MINUTES_10)}
    assert (first[case.ref].level, set(first[case.ref].lawyer_ids)) == (1, {other_qualified.id})
    second = {e.ref: e for e in store.escalate_unclaimed(T0 + 2 * MINUTES_10, MINUTES_10)}
    assert (second[case.ref].level, set(second[case.ref].lawyer_ids)) == (2, {minors_boss.id})
    assert set(second[wages.ref].lawyer_ids) == {boss.id, minors_boss.id}

    recipients = {item.recipient for item in store.pending_outbox(1000) if item.case_id == case.id}
    assert f"lawyer:{unqualified.id}" not in recipients and f"lawyer:{boss.id}" not in recipients
    assert offered(store, case.id) == {qualified.id, other_qualified.id, minors_boss.id}
    # Neither can they claim it, nor close it.
    assert not store.claim(case.id, unqualified.id, T0 + MINUTES_10)
    assert not store.close(case.id, boss.id, "advice", None, T0 + MINUTES_10)
    assert store.claim(wages.id, unqualified.id, T0 + MINUTES_10)  # the rule is about the case, not the lawyer
    assert store.claim(case.id, qualified.id, T0 + MINUTES_10)
    taken = outbox_recipients(store, case.id, "taken")
    assert taken == {f"lawyer:{other_qualified.id}", f"lawyer:{minors_boss.id}"}


def test_escalation_to_everyone_on_duty_then_the_supervisors(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    narrow = CaseStore(store.engine, offer_width=1)
    first = add_lawyer("first")
    second = add_lawyer("second")
    english = add_lawyer("english only", languages=["en"], topics=["injury"])  # on duty, other topic and language
    add_lawyer("off duty", on_duty=False)
    boss = add_lawyer("boss", supervisor=True, on_duty=False)
    case = web_case(narrow)
    assert narrow.offered_to(case.id) == [first.id]

    assert store.escalate_unclaimed(T0 + timedelta(minutes=9), MINUTES_10) == []  # not yet
    [level1] = store.escalate_unclaimed(T0 + MINUTES_10, MINUTES_10)
    assert (level1.level, level1.lawyer_ids) == (1, (second.id, english.id))
    assert outbox_recipients(store, case.id, "escalated") == {f"lawyer:{second.id}", f"lawyer:{english.id}"}
    assert store.escalate_unclaimed(T0 + timedelta(minutes=19), MINUTES_10) == []  # the clock restarted
    [level2] = store.escalate_unclaimed(T0 + 2 * MINUTES_10, MINUTES_10)
    assert (level2.level, level2.lawyer_ids) == (2, (boss.id,))
    assert store.escalate_unclaimed(T0 + timedelta(hours=5), MINUTES_10) == []  # the last level
    after = store.get_case(case.id)
    assert after is not None and (after.status, after.escalation_level) == ("offered", 2)
    assert [e.detail for e in store.events(case.id) if e.kind == "escalated"] == [
        {"level": 1, "offered_to": [second.id, english.id]},
        {"level": 2, "offered_to": [boss.id]},
    ]


def test_claimed_and_closed_cases_are_not_escalated(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang = add_lawyer("Wang")
    claimed = new_case()
    assert store.claim(claimed.id, wang.id, T0)
    closed = new_case()
    boss = add_lawyer("boss", supervisor=True)
    assert store.close(closed.id, boss.id, "referred", None, T0)
    assert store.escalate_unclaimed(T0 + timedelta(days=1), MINUTES_10) == []


def test_a_queued_case_escalates_from_its_creation_and_reaches_the_supervisor(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    boss = add_lawyer("boss", supervisor=True, on_duty=False)
    case = new_case(at=T0 - timedelta(hours=12))  # at night: no one on duty
    assert case.status == "queued"
    [level1] = store.escalate_unclaimed(T0 - timedelta(hours=11), MINUTES_10)
    assert (level1.level, level1.lawyer_ids) == (1, ())  # still no one on duty
    still = store.get_case(case.id)
    assert still is not None and still.status == "queued"
    [level2] = store.escalate_unclaimed(T0 - timedelta(hours=10), MINUTES_10)
    assert level2.lawyer_ids == (boss.id,)
    offered_now = store.get_case(case.id)
    assert offered_now is not None and offered_now.status == "offered"


def test_urgent_cases_escalate_first_and_each_case_once(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    add_lawyer("boss", supervisor=True, on_duty=False)
    calm = new_case()
    urgent = new_case(urgent=True, at=T0 + timedelta(minutes=1))
    later = T0 + timedelta(hours=1)
    assert [e.ref for e in store.escalate_unclaimed(later, MINUTES_10)] == [urgent.ref, calm.ref]
    # A second scheduler with the same clock finds them escalated already.
    assert [e.level for e in store.escalate_unclaimed(later, MINUTES_10)] == []
