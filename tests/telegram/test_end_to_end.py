"""The Telegram channel end to end, over the real stack (Rasa with the trained model, the action server, the case
store the action server writes; the gateway process for the web chat): the real python-telegram-bot application
against the fake Bot API. /start → consent → 老板拖欠工资 → the wages flow → the outcome → the lawyer offered and
accepted → the duty lawyer's packet; the same conversation through POST /api/chat gives the same dialogue."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest

from bot.persons import conversation_id
from hotline import messages
from hotline.cases.records import LawyerRecord
from hotline.cases.store import CaseStore
from tests.conftest import Stack
from tests.desk.fake_telegram import Sent
from tests.telegram.harness import telegram, turn, user_events

pytestmark = pytest.mark.rasa

PERSON = 7_100_001
REF = re.compile(r"GZLA-\d{4}-\d{6,}")
MAX_TURNS = 14
# The person's answers to the wages flow (flows/wages.yml), by a piece of each question: a button's title (pressed
# when the question offers it, typed otherwise).
ANSWERS = {
    "干活的吗": "是",
    "进城务工人员": "是",
    "哪种地方干活": "工厂",
    "哪个区": "番禺",
    "多少钱": "15000",
    "还在那里干吗": "是",
    "有没有证据": "是",
}
OUTCOME = "【初步结果】"

Turn = list[tuple[str, list[tuple[str, str]]]]  # the bot's messages in answer to one message: text, buttons


def shown(replies: list[Sent]) -> Turn:
    return [(reply.text, reply.buttons) for reply in replies]


def next_step(replies: list[Sent], outcome_seen: bool) -> tuple[str, str]:
    """What the person does next: ("press", callback data) or ("type", text)."""
    lawyer = messages.label("buttons", "lawyer", "zh")
    if outcome_seen:
        for title, data in replies[-1].buttons:
            if title == lawyer:
                return "press", data
        raise AssertionError(f"no lawyer offered after the outcome: {shown(replies)}")
    question = replies[-1]
    for piece, answer in ANSWERS.items():
        if piece in question.text:
            for title, data in question.buttons:
                if title == answer:
                    return "press", data
            return "type", answer
    raise AssertionError(f"an unexpected question: {question.text!r}")


def web_turn(stack: Stack, session: str, text: str) -> Turn:
    """One message through the web chat API, as the page sends it (waiting out the web chat's rate limit)."""
    body = {"session": session, "text": text, "lang": "zh", "consent": True}
    for _ in range(10):
        response = httpx.post(f"{stack.gateway_url}/api/chat", json=body, timeout=60.0)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers["Retry-After"]))
    assert response.status_code == 200, response.text
    replies: list[dict[str, Any]] = response.json()["messages"]
    return [(m["text"], [(b["title"], b["payload"]) for b in m["buttons"]]) for m in replies]


def without_refs(turns: list[Turn]) -> list[Turn]:
    return [[(REF.sub("GZLA-…", text), buttons) for text, buttons in replies] for replies in turns]


async def test_wages_on_telegram_to_the_duty_lawyer_and_the_same_dialogue_on_the_web(
    stack: Stack, stack_store: CaseStore, duty_lawyer: LawyerRecord
) -> None:
    async with telegram(stack_store, stack.rasa_url) as d:
        fake = d.fake
        [notice] = await turn(d, fake.text(PERSON, "/start"), PERSON)
        assert notice.text == messages.text("telegram.notice", "zh")
        [agreed] = await turn(d, fake.press(PERSON, "consent:yes", on=notice), PERSON)
        assert agreed.text == messages.text("telegram.agreed", "zh")
        assert fake.calls["sendChatAction"] == 0  # nothing went to the dialogue yet

        sent: list[str] = []  # what the person sent the dialogue: typed texts and pressed buttons' data
        turns: list[Turn] = []
        step, outcome_seen = ("type", "老板拖欠工资"), False
        for _ in range(MAX_TURNS):
            kind, value = step
            last = fake.to(PERSON, "sendMessage")[-1]
            update = fake.text(PERSON, value) if kind == "type" else fake.press(PERSON, value, on=last)
            replies = await turn(d, update, PERSON)
            assert replies, f"no answer to {value!r}"
            sent.append(value)
            turns.append(shown(replies))
            if any(REF.search(reply.text) for reply in replies):
                break
            outcome_seen = outcome_seen or any(OUTCOME in reply.text for reply in replies)
            step = next_step(replies, outcome_seen)
        else:
            raise AssertionError(f"no handoff after {MAX_TURNS} turns: {turns}")
        assert fake.calls["sendChatAction"] == len(sent)  # "typing…" while the bot thinks, every time

        assert "您是给这个老板或单位干活的吗" in turns[0][-1][0]  # the wages flow's first question
        assert sent[-1] == "/request_human" and OUTCOME in "".join(text for text, _ in turns[-2])
        final = [text for text, _ in turns[-1]]
        assert final[0] == messages.text("request_human", "zh")
        [ref] = REF.findall(final[-1])
        assert final[-1] == messages.text("handoff_created", "zh", ref=ref)

        case = stack_store.get_case_by_ref(ref)
        assert case is not None and (case.topic, case.channel, case.lang) == ("wages", "telegram", "zh")
        assert case.consent  # the metadata said so, and the action server wrote it into the case
        assert case.facts["amount"] == 15000 and case.facts["workplace"] == "factory"
        assert case.eligibility is not None and case.eligibility["result"] == "exempt"
        assert "番禺" in case.transcript_excerpt and "15000" in case.transcript_excerpt  # the person's own words
        assert stack_store.reply_address(case.id) == str(PERSON)
        assert [e["metadata"]["consent"] for e in user_events(stack.rasa_url, conversation_id(PERSON))] == [True] * len(
            sent
        )

        await d.tick()  # the outbox sender: the offers go out
        offered = stack_store.offered_to(case.id)
        assert offered, "no lawyer on duty was offered the case"
        for lawyer_id in offered:
            lawyer = stack_store.get_lawyer(lawyer_id)
            assert lawyer is not None and lawyer.telegram_user_id is not None
            packet = d.offer_to(int(lawyer.telegram_user_id), case.ref)
            assert "番禺" in packet.text or "Panyu" in packet.text or "panyu" in packet.text
            assert [data for _, data in packet.buttons] == [f"claim:{case.id}", f"decline:{case.id}"]
        if duty_lawyer.id in offered:  # the one lawyer this package adds (other packages may add more)
            d.offer_to(int(str(duty_lawyer.telegram_user_id)), case.ref)

    # The same person on the web chat: the same texts and buttons, turn by turn (the case number aside).
    session = f"tg-e2e-{uuid.uuid4().hex[:8]}"
    web = [web_turn(stack, session, text) for text in sent]
    assert without_refs(web) == without_refs(turns)
