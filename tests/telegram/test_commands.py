"""The person's commands and the consent gate against the real stack: Rasa's tracker shows what reached the
dialogue, the case store what the action server and /delete did."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from bot.persons import conversation_id
from hotline import messages
from hotline.cases.models import Consultation
from hotline.cases.records import LawyerRecord
from hotline.cases.store import CaseStore
from hotline.dialogue import topic_buttons
from hotline.rasa_tracker import TrackerEraser
from tests.conftest import Stack
from tests.desk.fake_telegram import FakeTelegram
from tests.desk.harness import Desk
from tests.telegram.harness import DUTY, telegram, tracker_events, turn, user_events

pytestmark = pytest.mark.rasa


def tracker(stack: Stack) -> TrackerEraser:
    return TrackerEraser(stack.settings.rasa_tracker_url)


async def agree(d: Desk, person: int, language_code: str = "zh-hans") -> None:
    [notice] = await turn(d, d.fake.text(person, "/start", language_code=language_code), person)
    await d.send(d.fake.press(person, "consent:yes", on=notice, language_code=language_code))


def case_refs(fake: FakeTelegram, person: int) -> list[str]:
    return [text.split()[0] for text in fake.texts(person) if text.startswith("GZLA-")]


async def test_nothing_reaches_rasa_before_consent_but_an_emergency_does(stack: Stack, stack_store: CaseStore) -> None:
    person = 7_100_101
    key = conversation_id(person)
    async with telegram(stack_store, stack.rasa_url) as d:
        fake = d.fake
        [notice] = await turn(d, fake.text(person, "老板欠我三个月工资，我叫王小明，电话13800138000"), person)
        assert notice.text.startswith(messages.text("telegram.consent_first", "zh"))
        assert user_events(stack.rasa_url, key) == []  # Rasa never saw it: nothing of it is stored there

        replies = await turn(d, fake.text(person, "我想自杀"), person)
        assert replies[0].text == messages.text("emergency", "zh") and "110" in replies[0].text
        [event] = user_events(stack.rasa_url, key)
        assert event["text"] == "我想自杀" and "consent" not in event["metadata"]  # vital interests, no consent
        cases = stack_store.person_cases("telegram", key)
        assert [(case.urgent, case.consent) for case in cases] == [(True, False)]  # the urgent handoff, at once

        [again] = await turn(d, fake.text(person, "我现在安全了"), person)  # not urgent: the notice again
        assert again.text.startswith(messages.text("telegram.consent_first", "zh"))
        assert len(user_events(stack.rasa_url, key)) == 1


async def test_the_chosen_language_and_the_consent_go_with_every_message(stack: Stack, stack_store: CaseStore) -> None:
    person = 7_100_102
    key = conversation_id(person)
    async with telegram(stack_store, stack.rasa_url) as d:
        fake = d.fake
        await agree(d, person)
        [choose] = await turn(d, fake.text(person, "/lang"), person)
        await d.send(fake.press(person, "lang:en", on=choose))
        replies = await turn(d, fake.text(person, "老板欠我三个月工资"), person)  # Chinese words, English chosen
        assert "Were you working for this boss or company?" in replies[-1].text
        [event] = user_events(stack.rasa_url, key)
        assert event["metadata"]["lang"] == "en" and event["metadata"]["consent"] is True
        person_row = stack_store.person("telegram", key)
        assert person_row is not None and person_row.lang == "en"


async def test_restart_resets_the_conversation(stack: Stack, stack_store: CaseStore) -> None:
    person = 7_100_103
    key = conversation_id(person)
    async with telegram(stack_store, stack.rasa_url) as d:
        fake = d.fake
        await agree(d, person)
        replies = await turn(d, fake.text(person, "老板拖欠工资"), person)
        assert "您是给这个老板或单位干活的吗" in replies[-1].text
        state = httpx.get(f"{stack.rasa_url}/conversations/{quote(key, safe=':')}/tracker", timeout=30).json()
        assert state["slots"]["conversation"]["flow"] == "wages"

        [restarted] = await turn(d, fake.text(person, "/restart"), person)
        assert restarted.text == messages.text("restart", "zh")
        assert restarted.buttons == [(b.title, b.payload) for b in topic_buttons("zh")]
        state = httpx.get(f"{stack.rasa_url}/conversations/{quote(key, safe=':')}/tracker", timeout=30).json()
        assert state["slots"]["conversation"] is None  # Rasa's restart: every slot reset
        assert "restart" in [event["event"] for event in tracker_events(stack.rasa_url, key)]

        replies = await turn(d, fake.text(person, "是"), person)  # the flow's "yes" means nothing any more
        assert not any("进城务工人员" in reply.text for reply in replies)
        assert replies[-1].text == messages.text("affirm_no_context", "zh")


async def test_lawyer_asks_the_dialogue_for_the_duty_lawyer(
    stack: Stack, stack_store: CaseStore, duty_lawyer: LawyerRecord
) -> None:
    person = 7_100_104
    key = conversation_id(person)
    async with telegram(stack_store, stack.rasa_url) as d:
        fake = d.fake
        [notice] = await turn(d, fake.text(person, "/lawyer"), person)  # not before consent: a case keeps words
        assert notice.text.startswith(messages.text("telegram.consent_first", "zh"))
        assert stack_store.person_cases("telegram", key) == []
        await agree(d, person)
        replies = await turn(d, fake.text(person, "/lawyer"), person)
        assert replies[0].text == messages.text("request_human", "zh")
        [case] = stack_store.person_cases("telegram", key)
        assert replies[-1].text == messages.text("handoff_created", "zh", ref=case.ref)
        assert case.consent and case.status in ("queued", "offered")
        assert user_events(stack.rasa_url, key)[-1]["text"] == "/request_human"


async def test_delete_erases_the_person_their_cases_and_the_rasa_conversation(
    stack: Stack, stack_store: CaseStore, duty_lawyer: LawyerRecord
) -> None:
    person = 7_100_105
    key = conversation_id(person)
    async with telegram(stack_store, stack.rasa_url, tracker=tracker(stack)) as d:
        fake = d.fake
        await agree(d, person)
        await d.send(fake.text(person, "老板拖欠工资，欠了我15000"))
        await d.send(fake.text(person, "/lawyer"))
        [case] = stack_store.person_cases("telegram", key)
        await d.send(fake.press(DUTY, f"claim:{case.id}"))  # the duty lawyer takes it (from the queue)
        await d.send(fake.text(person, "我有工资条"))  # relayed to the lawyer and kept in the case
        assert [m.text for m in stack_store.messages(case.id)] == ["我有工资条"]
        assert len(user_events(stack.rasa_url, key)) == 2
        with stack_store.engine.connect() as connection:
            counted = select(func.count()).where(Consultation.conversation_key == key)
            assert connection.execute(counted).scalar_one() == 1

        [confirm] = await turn(d, fake.text(person, "/delete"), person)  # while the lawyer has the case
        assert confirm.text == messages.text("telegram.delete_confirm", "zh")
        [kept] = await turn(d, fake.press(person, "delete:no", on=confirm), person)
        assert kept.text == messages.text("telegram.delete_cancelled", "zh")
        assert stack_store.person("telegram", key) is not None

        [confirm] = await turn(d, fake.text(person, "/delete"), person)
        [done] = await turn(d, fake.press(person, "delete:yes", on=confirm), person)
        assert done.text == messages.text("telegram.deleted", "zh")
        withdrawn = messages.text("telegram.lawyer_withdrawn", "zh", ref=case.ref)
        assert withdrawn not in fake.texts(DUTY)  # not sent beside the erasure: it is in the outbox
        await d.tick()  # the outbox sender (the harness ticks it by hand) delivers the erasure's notice
        assert fake.texts(DUTY)[-1] == withdrawn
        await d.tick()
        assert fake.texts(DUTY).count(withdrawn) == 1

        assert stack_store.person("telegram", key) is None and stack_store.person_cases("telegram", key) == []
        erased = stack_store.get_case(case.id)
        assert erased is not None and erased.status == "closed" and erased.close_outcome is None
        assert (erased.facts, erased.eligibility, erased.transcript_excerpt) == ({}, None, "")
        assert stack_store.messages(case.id) == [] and stack_store.events(case.id)[-1].kind == "erased"
        assert case.id not in [mine.id for mine in stack_store.cases_of_lawyer(duty_lawyer.id)]
        with stack_store.engine.connect() as connection:
            assert connection.execute(counted).scalar_one() == 0  # still counted, under a random key
        assert user_events(stack.rasa_url, key) == []  # Rasa's conversation is gone, not just restarted
        assert "我有工资条" not in str(tracker_events(stack.rasa_url, key))

        [notice] = await turn(d, fake.text(person, "老板拖欠工资"), person)  # a stranger again: consent first
        assert notice.text.startswith(messages.text("telegram.consent_first", "zh"))
        assert user_events(stack.rasa_url, key) == []


def test_rasa_over_http_cannot_erase_a_conversation(stack: Stack) -> None:
    """Why /delete deletes the rows itself (hotline/rasa_tracker.py): Rasa's SQL tracker store only appends, so
    replacing the events with none over HTTP leaves them all in place."""
    sender = "tg:put-events-canary"
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "你好"}, timeout=60
    )
    assert response.status_code == 200
    put = httpx.put(f"{stack.rasa_url}/conversations/{sender}/tracker/events", json=[], timeout=30)
    assert put.status_code == 200
    assert [event["text"] for event in user_events(stack.rasa_url, sender)] == ["你好"]  # still there
    assert tracker(stack).erase(sender) > 0
    assert user_events(stack.rasa_url, sender) == []
