"""The case store's side of a person, on SQLite and PostgreSQL: consent and language, and erasure (one
transaction: the person, the personal content of their cases, their messages with the lawyer; anonymous case
rows, an 'erased' event and the consultations stay, so the office's figures stay right)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from hotline.cases import store as store_module
from hotline.cases.models import Consultation, Person
from hotline.cases.report import build
from hotline.cases.store import CaseStore
from tests.cases.conftest import SHIFT, T0, AddLawyer, NewCase

KEY = "tg:0123456789abcdef0123"


def test_consent_and_language(store: CaseStore, new_case: NewCase) -> None:
    assert store.person("telegram", KEY) is None and store.consent_of("telegram", KEY) is None
    assert not store.set_person_lang("telegram", KEY, "en")  # unknown: nothing stored before consent
    record = store.record_consent("telegram", KEY, "en", T0)
    assert (record.channel_key, record.lang, record.consent_at, record.consented) == (KEY, "en", T0, True)
    store.record_consent("telegram", KEY, "en", T0 + timedelta(hours=1))  # agreeing again keeps the first time
    assert store.consent_of("telegram", KEY) == T0
    assert store.set_person_lang("telegram", KEY, "zh")
    person = store.person("telegram", KEY)
    assert person is not None and person.lang == "zh"
    # A case for the same person later (its handoff not marked as consented) does not wipe the consent.
    case = new_case(channel_key=KEY, consent=False, at=T0 + timedelta(hours=2))
    assert case.person_id == record.id and store.consent_of("telegram", KEY) == T0
    assert store.consent_of("web", KEY) is None  # another channel, another person


def test_erase_person(store: CaseStore, engine: Engine, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    li = add_lawyer("Li")
    store.record_consent("telegram", KEY, "zh", T0)
    waiting = new_case(channel_key=KEY, reply_address="5550001")  # offered to Li
    taken = new_case(channel_key=KEY, reply_address="5550001", topic="injury")
    at = T0 + timedelta(minutes=5)
    assert store.claim(taken.id, li.id, at)
    store.add_message(taken.id, "person_to_lawyer", "我有工资条", at)
    store.add_message(taken.id, "lawyer_to_person", "请拍照保存", at)
    done = new_case(channel_key=KEY, reply_address="5550001")
    assert store.claim(done.id, li.id, at) and store.close(done.id, li.id, "advice", None, at)
    store.record_consultation(channel="telegram", conversation_key=KEY, topic="wages", lang="zh", at=T0)
    store.record_consultation(channel="telegram", conversation_key=KEY, topic="injury", lang="zh", at=T0)
    other = new_case(channel_key="tg:someone-else")

    erasure = store.erase_person("telegram", KEY, T0 + timedelta(hours=1))
    assert erasure.found and erasure.cases == (waiting.ref, taken.ref, done.ref)
    assert erasure.withdrawn == ((taken.ref, li.id),)

    assert store.person("telegram", KEY) is None and store.person_cases("telegram", KEY) == []
    for original in (waiting, taken, done):
        case = store.get_case(original.id)
        assert case is not None
        assert (case.facts, case.eligibility, case.deadline, case.transcript_excerpt) == ({}, None, None, "")
        assert (case.status, case.topic, case.channel, case.ref) == ("closed", original.topic, "telegram", original.ref)
        assert store.events(case.id)[-1].kind == "erased"
        assert store.events(case.id)[-1].actor == "person"
        assert store.reply_address(case.id) is None
    closed = store.get_case(done.id)
    assert closed is not None and closed.close_outcome == "advice" and closed.closed_at == at  # its outcome stays
    withdrawn = store.get_case(taken.id)
    assert withdrawn is not None and withdrawn.close_outcome is None
    assert store.messages(taken.id) == []
    assert store.events(taken.id)[-1].detail == {"was": "claimed"}
    # The lawyers offered the waiting case get 'taken', marked withdrawn (their copies change); the lawyer who had
    # the taken case gets 'withdrawn', written by the erasure itself; nothing waits for the person.
    pending = store.pending_outbox()
    assert ("taken", f"lawyer:{li.id}", True) in {
        (item.kind, item.recipient, item.payload.get("withdrawn")) for item in pending if item.case_id == waiting.id
    }
    assert [(item.kind, item.recipient, item.payload) for item in pending if item.kind == "withdrawn"] == [
        ("withdrawn", f"lawyer:{li.id}", {"ref": taken.ref})
    ]
    assert not [item for item in pending if item.recipient == "person" and item.case_id in (waiting.id, taken.id)]
    # Nothing links the remaining rows to the chat any more.
    with engine.connect() as connection:
        keys = list(connection.execute(select(Person.channel_key, Person.consent_at, Person.reply_address)))
        consultations = list(connection.execute(select(Consultation.conversation_key, Consultation.topic)))
    assert KEY not in [key for key, _, _ in keys] and all(key.startswith(("erased-", "tg:")) for key, _, _ in keys)
    assert [(consent, address) for key, consent, address in keys if key.startswith("erased-")] == [(None, None)]
    assert len(consultations) == 2 and all(key.startswith("erased-") for key, _ in consultations)
    # The office's figures: the same cases and consultations, the erased ones counted as withdrawn.
    cases = store.cases_created_between(SHIFT[0], SHIFT[1])
    assert len(cases) == 4
    report = build(cases, T0.date(), T0.date(), store.consultations_between(SHIFT[0], SHIFT[1]))
    assert report.outcomes["withdrawn"] == 2 and report.outcomes["advice"] == 1
    assert report.consultations == {("wages", "telegram"): 1, ("injury", "telegram"): 1}
    assert store.get_case(other.id) == other  # someone else's case is untouched

    again = store.erase_person("telegram", KEY, T0 + timedelta(hours=2))
    assert not again.found and again.cases == ()
    store.record_consent("telegram", KEY, "zh", T0 + timedelta(hours=3))  # they come back: a new person
    assert store.person_cases("telegram", KEY) == []


def test_erase_a_person_without_cases_removes_the_row(store: CaseStore, engine: Engine) -> None:
    store.record_consent("telegram", KEY, "en", T0)
    erasure = store.erase_person("telegram", KEY, T0)
    assert erasure.found and erasure.cases == () and erasure.withdrawn == ()
    with engine.connect() as connection:
        assert list(connection.execute(select(Person.id))) == []


def test_the_withdrawal_notice_is_written_in_the_erasure_s_transaction(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice to the lawyer is an outbox item of the erasure's own transaction: an erasure that fails writes
    no notice (and erases nothing), one that commits has its notice, which survives any crash after it."""
    li = add_lawyer("Li")
    taken = new_case(channel_key=KEY, reply_address="5550001")
    assert store.claim(taken.id, li.id, T0)
    before = {item.id for item in store.pending_outbox()}

    def crash(*_: object) -> tuple[int, int]:
        raise RuntimeError("the gateway dies mid-erasure")

    with monkeypatch.context() as patch:
        patch.setattr(store_module, "_erase_by_key", crash)  # the last write of the erasure's transaction
        with pytest.raises(RuntimeError):
            store.erase_person("telegram", KEY, T0 + timedelta(hours=1))
    assert {item.id for item in store.pending_outbox()} == before  # no notice without the erasure
    still = store.get_case(taken.id)
    assert still is not None and still.status == "claimed" and still.transcript_excerpt  # nothing erased either

    erasure = store.erase_person("telegram", KEY, T0 + timedelta(hours=1))
    assert erasure.withdrawn == ((taken.ref, li.id),)
    [notice] = [item for item in store.pending_outbox() if item.id not in before]
    assert (notice.kind, notice.recipient, notice.case_id, notice.payload) == (
        "withdrawn",
        f"lawyer:{li.id}",
        taken.id,
        {"ref": taken.ref},
    )
    assert store.erase_person("telegram", KEY, T0 + timedelta(hours=2)).withdrawn == ()  # again: no second notice
    assert [item.id for item in store.pending_outbox() if item.kind == "withdrawn"] == [notice.id]
