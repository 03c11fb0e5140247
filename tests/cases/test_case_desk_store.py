"""What the lawyer desk asks of the case store, on SQLite and PostgreSQL: the person's reply address, notices for
the person (queued with the next shift, released, closed), the offer's message id, declining, and the views of a
lawyer (queue, own cases) and of a person (active case, /status)."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from hotline.cases.models import Person
from hotline.cases.store import CaseError, CaseStore
from tests.cases.conftest import SHIFT, T0, AddLawyer, NewCase

CHAT = "700200300"


def person_notices(store: CaseStore, case_id: int) -> list[dict[str, object]]:
    return [
        item.payload for item in store.pending_outbox(1000) if item.case_id == case_id and item.recipient == "person"
    ]


def test_the_reply_address_is_kept_for_the_person_and_never_for_other_channels(
    store: CaseStore, engine: Engine, new_case: NewCase
) -> None:
    case = new_case(channel_key="tg:abc", reply_address=CHAT)
    assert store.reply_address(case.id) == CHAT
    again = new_case(channel_key="tg:abc")  # a later case without one keeps the address
    assert store.reply_address(again.id) == CHAT
    assert store.reply_address(new_case(channel="web", channel_key="web:s1").id) is None
    with engine.connect() as connection:
        assert connection.execute(select(Person.reply_address).where(Person.channel == "web")).scalar_one() is None
    for bad in ({"channel": "web", "reply_address": CHAT}, {"reply_address": "@someone"}, {"reply_address": "1 2"}):
        with pytest.raises(CaseError, match="reply_address"):
            new_case(**bad)


def test_an_11_digit_chat_id_is_not_mistaken_for_a_phone_number(store: CaseStore, new_case: NewCase) -> None:
    case = new_case(reply_address="13812345678")  # Telegram's number for the chat, not a phone
    assert store.reply_address(case.id) == "13812345678"


def test_a_case_no_one_is_on_duty_for_tells_the_person_when_to_expect_a_lawyer(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    night = add_lawyer("night", on_duty=False)
    injury_only = add_lawyer("injury only", on_duty=False, topics=["injury"])
    tomorrow = T0 + timedelta(hours=23)
    store.add_shift(injury_only.id, T0 + timedelta(hours=20), T0 + timedelta(hours=22))  # earlier, other topic
    store.add_shift(night.id, tomorrow, tomorrow + timedelta(hours=8))
    case = new_case(reply_address=CHAT)
    assert case.status == "queued"
    assert person_notices(store, case.id) == [
        {"ref": case.ref, "notice": "queued", "on_duty": False, "expect": tomorrow.astimezone(UTC).isoformat()}
    ]
    # Nobody who may see it ahead: "the next working day" (None).
    minors = new_case(reply_address=CHAT, topic="minors")  # no one qualified for minors' cases on the roster
    assert person_notices(store, minors.id) == [
        {"ref": minors.ref, "notice": "queued", "on_duty": False, "expect": None}
    ]
    # Someone on duty who may see it, though not for this language: escalation reaches them in minutes.
    store.add_shift(injury_only.id, *SHIFT)
    english = new_case(reply_address=CHAT, topic="injury", lang="en")
    assert person_notices(store, english.id) == [
        {"ref": english.ref, "notice": "queued", "on_duty": True, "expect": None}
    ]


def test_no_notice_when_offered_and_web_persons_are_told_through_their_inbox(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    queued_web = new_case(channel="web", channel_key="web:s1")  # nobody on duty: queued, told when to expect
    assert [payload["notice"] for payload in person_notices(store, queued_web.id)] == ["queued"]
    add_lawyer("Wang")
    offered = new_case(reply_address=CHAT)
    assert offered.status == "offered" and person_notices(store, offered.id) == []


def test_release_and_close_tell_the_person(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang, li = add_lawyer("Wang"), add_lawyer("Li")
    case = new_case(reply_address=CHAT)
    assert store.claim(case.id, wang.id, T0)
    assert store.release(case.id, wang.id, T0 + timedelta(minutes=5))
    assert store.claim(case.id, li.id, T0 + timedelta(minutes=6))
    assert store.close(case.id, li.id, "advice", Decimal(12000), T0 + timedelta(hours=1))
    assert [payload["notice"] for payload in person_notices(store, case.id)] == [
        "claimed",
        "released",
        "claimed",
        "closed",
    ]


def test_the_offer_message_is_remembered_per_lawyer(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang, li = add_lawyer("Wang"), add_lawyer("Li")
    case = new_case()
    assert store.offer_message(case.id, wang.id) is None
    assert store.record_offer_message(case.id, wang.id, "42")
    assert store.offer_message(case.id, wang.id) == "42" and store.offer_message(case.id, li.id) is None
    outsider = add_lawyer("late")
    assert not store.record_offer_message(case.id, outsider.id, "43")  # never offered it


def test_decline_is_noted_once_and_only_by_a_lawyer_who_may_see_an_open_case(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang = add_lawyer("Wang", topics=["wages", "minors"])
    qualified = add_lawyer("Chen", topics=["minors"], minors_qualified=True)
    case = new_case()
    assert store.decline(case.id, wang.id, T0)
    assert not store.decline(case.id, wang.id, T0)  # noted once
    minors = new_case(topic="minors")
    assert not store.decline(minors.id, wang.id, T0)  # may not see it
    assert store.claim(minors.id, qualified.id, T0)
    assert not store.decline(minors.id, qualified.id, T0)  # no longer open
    assert [(e.kind, e.actor) for e in store.events(case.id)] == [
        ("created", "system"),
        ("declined", f"lawyer:{wang.id}"),
    ]
    assert [e.kind for e in store.events(minors.id)] == ["created", "claimed"]


def test_what_a_lawyer_sees(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang = add_lawyer("Wang", telegram_user_id="9001")
    chen = add_lawyer("Chen", telegram_user_id="9002", topics=["minors"], minors_qualified=True)
    calm = new_case()
    minors = new_case(topic="minors", at=T0 + timedelta(minutes=1))
    urgent = new_case(urgent=True, at=T0 + timedelta(minutes=2))
    assert [c.ref for c in store.open_cases_for(wang.id)] == [urgent.ref, calm.ref]  # urgent first, no minors
    assert [c.ref for c in store.open_cases_for(chen.id)] == [urgent.ref, calm.ref, minors.ref]
    assert store.visible_case(minors.id, wang.id) is None
    assert store.visible_case(minors.id, chen.id) == store.get_case(minors.id)
    assert store.visible_case(9999, chen.id) is None and store.visible_case(calm.id, 9999) is None
    assert store.claim(calm.id, wang.id, T0) and store.claim(urgent.id, wang.id, T0 + timedelta(minutes=3))
    assert [c.ref for c in store.cases_of_lawyer(wang.id)] == [calm.ref, urgent.ref]
    assert store.open_cases_for(wang.id) == []
    assert store.get_case_by_ref(calm.ref.lower()) == store.get_case(calm.id)
    assert store.get_case_by_ref("GZLA-2026-999999") is None
    assert store.lawyer_by_telegram("9001") == store.get_lawyer(wang.id)
    assert store.lawyer_by_telegram("1234") is None
    assert store.remove_lawyer(wang.id)
    assert store.lawyer_by_telegram("9001") is None  # removed: the desk refuses them


def test_what_a_person_sees(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang = add_lawyer("Wang")
    first = new_case(channel_key="tg:me")
    second = new_case(channel_key="tg:me", at=T0 + timedelta(hours=1))
    new_case(channel_key="tg:someone-else")
    assert [c.ref for c in store.person_cases("telegram", "tg:me")] == [second.ref, first.ref]
    assert store.person_cases("web", "tg:me") == []
    assert store.active_case_of_person("telegram", "tg:me") is None
    assert store.claim(first.id, wang.id, T0 + timedelta(hours=2))
    active = store.active_case_of_person("telegram", "tg:me")
    assert active is not None and active.ref == first.ref
    assert store.close(first.id, wang.id, "advice", None, T0 + timedelta(hours=3))
    assert store.active_case_of_person("telegram", "tg:me") is None  # closed: the bot answers again


def test_cases_created_between_counts_from_start_to_before_end(store: CaseStore, new_case: NewCase) -> None:
    starts, ends = SHIFT
    inside = new_case(at=starts)
    new_case(at=ends)
    assert [c.ref for c in store.cases_created_between(starts, ends)] == [inside.ref]


def test_one_sender_at_a_time_holds_an_outbox_item(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    """Several gateways each run a sender: an item is delivered by the one that claimed it."""
    add_lawyer("Wang")
    new_case(reply_address=CHAT)
    [item] = store.pending_outbox()
    assert store.claim_outbox_item(item.id, T0) is True
    assert store.claim_outbox_item(item.id, T0 + timedelta(seconds=1)) is False  # the other gateway skips it
    store.mark_failed(item.id)  # a failed delivery lets go at once
    assert store.claim_outbox_item(item.id, T0 + timedelta(seconds=2)) is True
    assert store.claim_outbox_item(item.id, T0 + timedelta(minutes=5)) is True  # a dead sender's lease ran out
    assert store.mark_sent(item.id, T0 + timedelta(minutes=5))
    assert store.claim_outbox_item(item.id, T0 + timedelta(hours=1)) is False


def test_a_removed_lawyer_s_cases_go_back_to_the_queue(
    store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase
) -> None:
    wang, li = add_lawyer("Wang"), add_lawyer("Li")
    case = new_case(reply_address=CHAT, channel_key="tg-removed-lawyer")
    assert store.claim(case.id, wang.id, T0)
    assert store.remove_lawyer(wang.id, T0 + timedelta(hours=1))
    back = store.get_case(case.id)
    assert back is not None and back.status == "offered" and back.assigned_lawyer_id is None
    assert store.offered_to(case.id) == [li.id]  # offered afresh, never to the removed lawyer
    assert store.active_case_of_person("telegram", "tg-removed-lawyer") is None  # the bot answers again
    assert [payload["notice"] for payload in person_notices(store, case.id)][-1] == "released"
    assert store.visible_case(case.id, wang.id) is None
