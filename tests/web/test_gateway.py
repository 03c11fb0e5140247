"""The gateway's promises to web-chat persons, on the real stack (Rasa with the trained model, the action server,
the case store): the rate limit slows down without losing, consent reaches the case, the inbox endpoint, Rasa's
tracker finds a message Rasa already took, and the whole loop with a duty lawyer on the Telegram desk."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.dialogue_service import DialogueService
from bot.outbox import utc_now
from bot.rasa_client import RasaClient
from bot.ratelimit import RateLimiter
from bot.relay import Relay
from bot.telegram import build_telegram
from bot.web import create_app
from bot.web_desk import WebDesk
from hotline.cases.db import engine_for
from hotline.cases.mailbox import Inbox, KeptMessages
from hotline.cases.store import CaseStore
from tests.conftest import Stack, extra_gateway, post_chat
from tests.desk.fake_telegram import TOKEN, FakeTelegram
from tests.desk.harness import WANG, Desk, add_desk_lawyers

pytestmark = pytest.mark.rasa

REF = re.compile(r"GZLA-\d{4}-\d{6}")


def session() -> str:
    return "g-" + uuid.uuid4().hex[:16]


def test_a_person_sending_too_fast_is_slowed_down_not_dropped(stack: Stack) -> None:
    with extra_gateway(stack.settings, "gateway-limited", RATE_LIMIT_BURST="3", RATE_LIMIT_PER_MINUTE="6") as url:
        me, other = session(), session()
        statuses = [post_chat(url, {"session": me, "text": "你好"}).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = post_chat(url, {"session": me, "text": "老板欠我工资"})
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert 1 <= wait <= 10
        error = refused.json()["error"]
        assert f"{wait} 秒" in error and f"wait {wait} seconds" in error and "不会丢" in error
        assert post_chat(url, {"session": other, "text": "你好"}).status_code == 200  # per person, not for all
        time.sleep(wait)
        again = post_chat(url, {"session": me, "text": "老板欠我工资"})  # sent again after the wait: answered
        assert again.status_code == 200 and "干活" in " ".join(m["text"] for m in again.json()["messages"])


def test_consent_from_the_page_reaches_the_case(stack: Stack) -> None:
    store = CaseStore(engine_for(stack.settings.effective_database_url))
    for consent in (True, False):
        me = session()
        body: dict[str, Any] = {"session": me, "text": "/request_human", "channel": "12355"}
        if consent:
            body["consent"] = True
        reply = post_chat(stack.gateway_url, body)
        assert reply.status_code == 200, reply.text
        [case] = store.person_cases("12355", f"12355:{me}")
        assert case.consent is consent and case.channel == "12355"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/api/chat/bad%20session/updates", "'session'"),
        ("/api/chat/ok/updates?channel=sms", "'channel'"),
        ("/api/chat/ok/updates?after=x", "'after'"),
        ("/api/chat/ok/updates?after=-1", "'after'"),
    ],
)
def test_bad_inbox_requests_get_a_readable_400(stack: Stack, path: str, problem: str) -> None:
    response = httpx.get(stack.gateway_url + path, timeout=10)
    assert response.status_code == 400 and problem in response.json()["error"]


def test_an_empty_inbox_keeps_the_cursor(stack: Stack) -> None:
    response = httpx.get(f"{stack.gateway_url}/api/chat/{session()}/updates?after=7", timeout=10)
    assert response.status_code == 200 and response.json()["messages"] == [] and response.json()["after"] == 7


async def test_rasa_s_tracker_finds_a_message_it_already_took(stack: Stack) -> None:
    """What keeps a message that timed out at our end (but reached Rasa) from being taken twice."""
    rasa = RasaClient(stack.rasa_url)
    try:
        sender = "web:" + session()
        answers = await rasa.send(sender, "老板欠我三个月工资", {"channel": "web", "message_id": "m-1"})
        assert answers and await rasa.answers_to(sender, "m-1") == answers
        assert await rasa.answers_to(sender, "m-2") is None
    finally:
        await rasa.aclose()


@dataclass
class WebPerson:
    client: TestClient[Any, Any]
    session: str
    after: int = 0

    async def say(self, text: str) -> dict[str, Any]:
        response = await self.client.post("/api/chat", json={"session": self.session, "text": text, "consent": True})
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def updates(self) -> list[dict[str, Any]]:
        response = await self.client.get(f"/api/chat/{self.session}/updates", params={"after": str(self.after)})
        assert response.status == 200
        body = await response.json()
        self.after = body["after"]
        messages: list[dict[str, Any]] = body["messages"]
        return messages


@asynccontextmanager
async def web_and_desk(stack: Stack) -> AsyncIterator[tuple[Desk, TestClient[Any, Any]]]:
    """The gateway's two sides in this process, over the stack's Rasa and case store: the Telegram desk against the
    fake Bot API, and the web chat API with the desk wired in (as bot/__main__.py does)."""
    engine = engine_for(stack.settings.effective_database_url)
    store, inbox = CaseStore(engine), Inbox(engine)
    fake = await FakeTelegram().start()
    gateway = build_telegram(TOKEN, RasaClient(stack.rasa_url), base_url=fake.bot_url, store=store, inbox=inbox)
    await gateway.start(send=False)
    dialogue = DialogueService(RasaClient(stack.rasa_url), KeptMessages(engine))
    desk = WebDesk(store, Relay(store, utc_now, inbox), gateway.application.bot)
    app = create_app(
        dialogue, stack.settings.action_health_url, limiter=RateLimiter(1000, 1000), engine=engine, desk=desk
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Desk(fake, gateway, store), client
    finally:
        await client.close()
        await gateway.stop()
        await fake.stop()
        engine.dispose()


async def test_a_web_person_and_the_duty_lawyer_talk_through_the_gateway(stack: Stack) -> None:
    """Issue 4's last piece: the web chat can be written to. Handoff → offer → accept → 'a lawyer has joined' in
    the person's inbox → both directions → close → the bot answers the person again."""
    async with web_and_desk(stack) as (desk, client):
        add_desk_lawyers(desk.store)
        person = WebPerson(client, session())
        await person.say("老板欠我三个月工资")
        handed = await person.say("/request_human")
        refs = REF.findall(" ".join(m["text"] for m in handed["messages"]))
        assert refs, handed
        ref = refs[0]
        await desk.tick()
        offer = desk.offer_to(WANG, ref)
        [claim] = [data for _, data in offer.buttons if data.startswith("claim:")]
        await desk.send(desk.fake.press(WANG, claim, on=offer))
        await desk.tick()
        joined = await person.updates()
        assert any(ref in m["text"] and "律师已接手" in m["text"] and m["from"] == "hotline" for m in joined), joined

        relayed = await person.say("我有工资条和微信记录")
        assert relayed["relayed"] is True and relayed["messages"] == []
        assert any("我有工资条和微信记录" in text and ref in text for text in desk.fake.texts(WANG))

        await desk.send(desk.fake.text(WANG, f"/to {ref} 请把工资条拍照带来"))
        from_lawyer = await person.updates()
        assert [(m["from"], m["text"]) for m in from_lawyer] == [("lawyer", "请把工资条拍照带来")]
        assert await person.updates() == []  # the cursor moved on: nothing twice

        await desk.send(desk.fake.text(WANG, f"/close {ref} advice"))
        await desk.tick()
        closed = await person.updates()
        assert any(ref in m["text"] for m in closed), (closed, desk.fake.texts(WANG)[-2:])
        back = await person.say("谢谢")
        assert back["relayed"] is False and back["messages"]  # the bot answers again


def test_erase_my_data_from_the_page(stack: Stack) -> None:
    """DELETE /api/chat/{session}: the case store's personal content, the inbox and Rasa's tracker go; the case
    stays as an anonymous row for the office's counts."""
    store = CaseStore(engine_for(stack.settings.effective_database_url))
    me = session()
    conversation = f"12355:{me}"
    for text in ("我14岁，爸爸经常打我", "/request_human"):
        assert post_chat(
            stack.gateway_url, {"session": me, "text": text, "channel": "12355", "consent": True}
        ).is_success
    [case] = store.person_cases("12355", conversation)
    assert case.facts and case.transcript_excerpt
    tracker = f"{stack.rasa_url}/conversations/{conversation}/tracker"
    assert any(e["event"] == "user" for e in httpx.get(tracker, timeout=10).json()["events"])

    erased = httpx.delete(f"{stack.gateway_url}/api/chat/{me}", params={"channel": "12355"}, timeout=30)
    assert erased.status_code == 200 and erased.json() == {"session": me, "erased": True}
    assert store.person_cases("12355", conversation) == []
    anonymous = store.get_case(case.id)
    assert anonymous is not None and anonymous.facts == {} and anonymous.transcript_excerpt == ""
    assert not any(e["event"] == "user" for e in httpx.get(tracker, timeout=10).json()["events"])
    again = httpx.delete(f"{stack.gateway_url}/api/chat/{me}", params={"channel": "12355"}, timeout=30)
    assert again.status_code == 200  # nothing left: still fine
    bad = httpx.delete(f"{stack.gateway_url}/api/chat/no%20way", timeout=10)
    assert bad.status_code == 400 and "'session'" in bad.json()["error"]
