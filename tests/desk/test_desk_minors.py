"""A minors' case reaches only lawyers qualified for minors' cases (Minors Protection Law Art. 104), through the
real desk on SQLite and PostgreSQL: the unqualified lawyer's chat receives nothing about it, at any escalation
level, and a forged Accept (or Decline, /close, /release, /to) from them is refused. Anyone who is not a
registered lawyer is refused politely and sees nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from bot.outbox import utc_now
from bot.telegram import conversation_id
from hotline import messages
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore
from tests.desk.harness import BOSS, CHEN, PERSON, WANG, add_desk_lawyers, desk


def later(by: timedelta) -> datetime:
    return utc_now() + by


def minors_case(store: CaseStore) -> CaseRecord:
    return store.create_case(
        channel="telegram",
        channel_key=conversation_id(PERSON),
        reply_address=str(PERSON),
        lang="zh",
        topic="minors",
        facts={"matter": "violence", "age": 14},
        eligibility=None,
        urgent=True,
        deadline=None,
        consent=True,
        transcript_excerpt="我爸爸打我",
    )


async def test_a_minors_case_never_reaches_an_unqualified_lawyer(store: CaseStore) -> None:
    lawyers = add_desk_lawyers(store)
    case = minors_case(store)
    assert store.offered_to(case.id) == [lawyers[CHEN].id]
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        offer = d.offer_to(CHEN, case.ref)
        assert "我爸爸打我" in offer.text and "未成年人" in offer.text
        # Nobody takes it: level 1 (everyone on duty who may see it), then level 2 (the supervisors).
        assert d.gateway.sender is not None
        for minutes in (11, 22, 33):
            d.gateway.sender.clock = partial(later, timedelta(minutes=minutes))
            await d.tick()
        after = store.get_case(case.id)
        assert after is not None and after.escalation_level == 2 and after.status == "offered"
        assert store.offered_to(case.id) == [lawyers[CHEN].id]  # no one else may see it
        assert fake.to(WANG) == [] and fake.to(BOSS) == []
        assert len(fake.to(CHEN, "sendMessage")) == 1

        # Forged presses and commands by the unqualified lawyer: refused, and nothing of the case shown.
        await d.send(fake.press(WANG, f"claim:{case.id}"), fake.press(WANG, f"decline:{case.id}"))
        refused = messages.text("desk.not_available", "zh")
        assert [(s.method, s.text, s.show_alert) for s in fake.to(WANG)] == [("answerCallbackQuery", refused, True)] * 2
        for command in (f"/close {case.ref} advice", f"/release {case.ref}", f"/to {case.ref} 你好", "/queue"):
            await d.send(fake.text(WANG, command))
        shown = [s.text for s in fake.to(WANG)]
        assert shown[2:] == [
            messages.text("desk.unknown_case", "zh"),
            messages.text("desk.unknown_case", "zh"),
            messages.text("desk.not_your_case", "zh"),
            messages.text("desk.queue_empty", "zh"),
        ]
        assert not any(case.ref in text or "打我" in text for text in shown)
        still = store.get_case(case.id)
        assert still is not None and still.status == "offered" and still.assigned_lawyer_id is None
        assert [e.kind for e in store.events(case.id)] == ["created", "escalated", "escalated"]

        # Someone who is not a lawyer at all gets a polite refusal and nothing else.
        stranger = 5559999
        await d.send(fake.press(stranger, f"claim:{case.id}"), fake.text(stranger, "/queue"))
        not_lawyer = messages.text("desk.not_lawyer", "zh")
        assert sorted((s.method, s.text) for s in fake.to(stranger)) == [
            ("answerCallbackQuery", not_lawyer),
            ("sendMessage", not_lawyer),
        ]

        # The qualified lawyer takes it; the others were never told of it, so there is nothing to withdraw.
        await d.send(fake.press(CHEN, f"claim:{case.id}", on=offer))
        await d.tick()
        taken = store.get_case(case.id)
        assert taken is not None and taken.assigned_lawyer_id == lawyers[CHEN].id
        assert [s.text for s in fake.to(WANG)] == shown and fake.to(BOSS) == []  # nothing new: no 'taken'
        assert fake.texts(PERSON) == [messages.text("person_notice.claimed", "zh", ref=case.ref)]


async def test_a_removed_lawyer_is_refused_at_once(store: CaseStore) -> None:
    lawyers = add_desk_lawyers(store)
    store.remove_lawyer(lawyers[WANG].id)
    async with desk(store) as d:
        await d.send(d.fake.text(WANG, "/mycases"))
        assert d.fake.texts(WANG) == [messages.text("desk.not_lawyer", "zh")]
