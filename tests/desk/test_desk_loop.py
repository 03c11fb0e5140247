"""The whole loop on SQLite and PostgreSQL, through the real gateway application and the fake Bot API: a person's
message carries their reply address to Rasa; the action server (its real ActionReply) opens a wages case with the
eligibility of hotline.eligibility.assess_wages; the on-duty lawyer gets the packet with Accept; accepts; the
person and the lawyer talk through the bot; /close with an amount; the real `hotline report` counts it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import make_url

from actions import actions
from bot.telegram import conversation_id
from hotline import messages
from hotline.cases.models import OFFICE_TZ
from hotline.cases.store import CaseStore
from hotline.conversation import State
from hotline.eligibility import assess_wages
from hotline.outcome import reason_text
from tests.desk.harness import PERSON, WANG, add_desk_lawyers, desk

FACTS: dict[str, Any] = {
    "migrant": True,
    "workplace": "construction_site",
    "still_employed": False,
    "amount": 12000,
}
FIRST_WORDS = "老板欠我三个月工资一万二"


async def hand_off(store: CaseStore, rasa_request: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """What Rasa's action server does with the person's "I want a lawyer": ActionReply with the tracker Rasa would
    send (the metadata the gateway put on the message, the conversation slot after the wages flow). The ref."""
    today = datetime.now(OFFICE_TZ).date()
    facts = {**FACTS, "ended_on": (today - timedelta(days=60)).isoformat()}
    state = State(lang="zh", topic="wages", flow=None, facts=facts, outcome=assess_wages(facts, today).as_json())
    latest = {
        "text": "帮我转律师",
        "intent": {"name": "request_human", "confidence": 0.97},
        "intent_ranking": [],
        "entities": [],
        "metadata": rasa_request["metadata"],
    }
    events = [{"event": "user", "text": rasa_request["message"]}, {"event": "user", "text": latest["text"]}]
    tracker = Tracker(rasa_request["sender"], {"conversation": state.to_slot()}, latest, events, False, None, {}, None)
    monkeypatch.setattr(actions, "_store", store)
    dispatcher = CollectingDispatcher()
    await actions.ActionReply().run(dispatcher, tracker, {})
    [case] = store.person_cases("telegram", rasa_request["sender"])
    assert any(case.ref in str(message.get("text")) for message in dispatcher.messages)
    return case.ref


def report(db_url: str, tmp_path: Path, day: date) -> tuple[str, str]:
    """`hotline report` as the office runs it: the installed command, DATABASE_URL in the environment."""
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql")  # as an administrator writes it; psycopg 3 is implied
    page = tmp_path / "report.html"
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url.render_as_string(hide_password=False)}
    command = [str(Path(sys.executable).parent / "hotline"), "report", "--from", day.isoformat()]
    result = subprocess.run(
        [*command, "--to", day.isoformat(), "--html", str(page)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, page.read_text("utf-8")


async def test_the_whole_loop_from_handoff_to_report(
    store: CaseStore, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lawyers = add_desk_lawyers(store)
    store.record_consent("telegram", conversation_id(PERSON), "zh", datetime.now(OFFICE_TZ))  # /start, agreed
    async with desk(store) as d:
        fake = d.fake
        # 1. The person writes; the gateway passes their chat id to Rasa as the reply address.
        await d.send(fake.text(PERSON, FIRST_WORDS))
        [first] = fake.rasa_requests
        assert first["sender"] == conversation_id(PERSON) and str(PERSON) not in first["sender"]
        assert len(first["metadata"].pop("message_id")) == 32  # for the tracker lookup of kept messages
        assert first["metadata"] == {
            "channel": "telegram",
            "tg_lang": "zh",
            "reply_address": str(PERSON),
            "consent": True,
            "lang": "zh",
        }
        assert fake.texts(PERSON) == [f"bot: {FIRST_WORDS}"]

        # 2. The handoff becomes a case with the person's address; the outbox offers it to the lawyer on duty.
        ref = await hand_off(store, first, monkeypatch)
        case = store.get_case_by_ref(ref)
        assert case is not None and case.topic == "wages" and case.eligibility is not None
        assert store.reply_address(case.id) == str(PERSON)
        assert store.offered_to(case.id) == [lawyers[WANG].id]  # Chen does not take wages; Boss is off duty
        await d.tick()
        offer = d.offer_to(WANG, ref)
        assert offer.buttons == [("接手", f"claim:{case.id}"), ("拒绝", f"decline:{case.id}")]
        for expected in (
            ref,
            "欠薪",
            "exempt",
            reason_text("exempt_migrant_wages", {}, "zh"),
            "[exempt_migrant_wages · LAL Art. 42(3); Wage Payment Regulations Art. 45]",
            "wages_limitation",
            "wages_construction",
            "• amount: 12000",
            FIRST_WORDS,
            "Telegram",
        ):
            assert expected in offer.text, expected
        assert str(PERSON) not in offer.text  # the lawyer never sees the person's Telegram identity
        await d.tick()
        assert len(fake.to(WANG, "sendMessage")) == 1  # sent once, not again on the next tick

        # 3. Accept: the lawyer has the case, the person is told a lawyer joined (no identity either way).
        await d.send(fake.press(WANG, f"claim:{case.id}", on=offer))
        claimed = store.get_case(case.id)
        assert claimed is not None and (claimed.status, claimed.assigned_lawyer_id) == ("claimed", lawyers[WANG].id)
        assert fake.texts(WANG)[-1] == messages.text("desk.accepted", "zh", ref=ref)
        assert [s.message_id for s in fake.to(WANG, "editMessageReplyMarkup")] == [offer.message_id]
        await d.tick()
        assert fake.texts(PERSON)[-1] == messages.text("person_notice.claimed", "zh", ref=ref)

        # 4. The dialogue is paused: the person's words go to the lawyer, not to Rasa, and back.
        await d.send(fake.text(PERSON, "我还有工友的聊天记录"))
        assert len(fake.rasa_requests) == 1
        assert fake.texts(WANG)[-1] == f"【{ref} 当事人】我还有工友的聊天记录"
        await d.send(fake.text(WANG, "好的，请把聊天记录截图保存好。"))
        assert fake.texts(PERSON)[-1] == "律师：好的，请把聊天记录截图保存好。"
        assert "Wang" not in fake.texts(PERSON)[-1]
        answered = store.get_case(case.id)
        assert answered is not None and answered.first_response_at is not None
        await d.send(fake.text(PERSON, "/status"))
        assert fake.texts(PERSON)[-1] == messages.text("status.claimed", "zh", ref=ref)
        assert len(fake.rasa_requests) == 1

        # 5. /close with the amount recovered: the person is told, and the bot answers them again.
        await d.send(fake.text(WANG, f"/close {ref} advice 12000"))
        assert fake.texts(WANG)[-1] == messages.text("desk.closed", "zh", ref=ref)
        await d.tick()
        assert fake.texts(PERSON)[-1] == messages.text("person_notice.closed", "zh", ref=ref)
        await d.send(fake.text(PERSON, "谢谢律师"))
        assert [request["message"] for request in fake.rasa_requests] == [FIRST_WORDS, "谢谢律师"]
        assert fake.texts(PERSON)[-1] == "bot: 谢谢律师"
        await d.send(fake.text(WANG, "还在吗？"))  # the case is closed: nothing goes to the person
        assert fake.texts(WANG)[-1] == messages.text("desk.no_active_case", "zh")
        assert fake.texts(PERSON)[-1] == "bot: 谢谢律师"

    closed = store.get_case(case.id)
    assert closed is not None
    assert (closed.status, closed.close_outcome, closed.amount_recovered) == ("closed", "advice", Decimal(12000))
    assert [(m.direction, m.text) for m in store.messages(case.id)] == [
        ("person_to_lawyer", "我还有工友的聊天记录"),
        ("lawyer_to_person", "好的，请把聊天记录截图保存好。"),
    ]
    kinds = [event.kind for event in store.events(case.id)]
    assert kinds == ["created", "claimed", "message", "message", "first_response", "closed"]
    assert store.pending_outbox() == []

    # 6. The office's report counts the case and the amount.
    text, page = report(db_url, tmp_path, datetime.now(OFFICE_TZ).date())
    assert "Counted: consultations are the inquiries" in text
    assert "People handed off: 1" in text
    assert "Cases handed off: 1 (urgent: 0)" in text
    assert "advice             1" in text
    assert "12,000.00 yuan in 1 cases" in text
    assert "Minors' cases: 0" in text
    assert "<svg" in page and "12,000.00 yuan" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page  # nothing fetched


async def test_the_sender_and_the_desk_are_quiet_without_cases(store: CaseStore) -> None:
    add_desk_lawyers(store)
    async with desk(store) as d:
        assert await d.tick() == 0
        await d.send(d.fake.text(WANG, "/queue"))
        assert d.fake.texts(WANG) == [messages.text("desk.queue_empty", "zh")]
        await d.send(d.fake.text(WANG, "/mycases"))
        assert d.fake.texts(WANG)[-1] == messages.text("desk.mycases_empty", "zh")
        await d.send(d.fake.text(WANG, "/shifts"))
        shifts = d.fake.texts(WANG)[-1]
        assert shifts.startswith(messages.text("desk.shifts_title", "zh")) and shifts.count("–") == 1
