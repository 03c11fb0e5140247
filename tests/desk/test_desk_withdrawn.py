"""A person who erases their data (Telegram's /delete, the web page's DELETE /api/chat/{session}): the lawyers who
knew of their cases are told through the outbox, not by a message sent beside it, so a gateway that dies after the
erasure and before the message leaves still tells them, once, when a sender runs again. Through the real
application and the fake Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot import packet
from bot.dialogue_service import DialogueService
from bot.outbox import utc_now
from bot.rasa_client import RasaClient
from bot.ratelimit import RateLimiter
from bot.relay import Relay
from bot.telegram import conversation_id
from bot.web import create_app
from bot.web_desk import WebDesk
from hotline import messages
from hotline.cases.mailbox import Inbox
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore
from hotline.text import Lang
from tests.desk.harness import CHEN, PERSON, WANG, add_desk_lawyers, desk

SESSION = "withdraw-0123456789"


def a_case(store: CaseStore, topic: str, *, channel: str = "telegram", key: str | None = None) -> CaseRecord:
    return store.create_case(
        channel=channel,
        channel_key=key or conversation_id(PERSON),
        reply_address=str(PERSON) if channel == "telegram" else None,
        lang="zh",
        topic=topic,
        facts={"amount": 5000},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="老板不给钱",
    )


def withdrawn(ref: str, lang: Lang = "zh") -> str:
    return messages.text("telegram.lawyer_withdrawn", lang, ref=ref)


async def test_a_crash_after_delete_still_tells_the_lawyer_once(store: CaseStore) -> None:
    lawyers = add_desk_lawyers(store)
    taken = a_case(store, "wages")  # offered to Wang, who takes it
    waiting = a_case(store, "injury")  # offered to Wang and Chen, taken by no one
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        await d.send(fake.press(WANG, f"claim:{taken.id}", on=d.offer_to(WANG, taken.ref)))
        await d.tick()
        await d.send(fake.text(PERSON, "/delete"))
        confirm = fake.to(PERSON, "sendMessage")[-1]
        assert confirm.text == messages.text("telegram.delete_confirm", "zh")
        await d.send(fake.press(PERSON, "delete:yes", on=confirm))
        assert fake.texts(PERSON)[-1] == messages.text("telegram.deleted", "zh")
        # Nothing goes to the lawyer beside the outbox: the notice waits there for the sender (not running here).
        assert withdrawn(taken.ref) not in fake.texts(WANG)
        offers = {chat: d.offer_to(chat, waiting.ref) for chat in (WANG, CHEN)}
    # The gateway is gone (as if killed between the erasure and the send); another one starts on the same store.
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        assert fake.texts(WANG) == [withdrawn(taken.ref)]  # in the lawyer's language, once
        # The lawyers offered the waiting case: their copies now say it was withdrawn (edited, no new message).
        for chat, offer in offers.items():
            lang = packet.lawyer_lang(lawyers[chat])
            [edit] = fake.to(chat, "editMessageText")
            assert (edit.message_id, edit.text) == (offer.message_id, withdrawn(waiting.ref, lang))
        assert fake.texts(CHEN) == []
        await d.tick()  # marked sent: nothing twice
        assert len(fake.to(WANG)) == 2 and len(fake.to(CHEN)) == 1
    assert [item for item in store.pending_outbox() if item.case_id in (taken.id, waiting.id)] == []


async def test_the_web_page_s_erasure_wakes_the_sender_and_the_lawyer_is_told_once(store: CaseStore) -> None:
    add_desk_lawyers(store)
    case = a_case(store, "wages", channel="web", key=f"web:{SESSION}")
    kicks: list[int] = []
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        await d.send(fake.press(WANG, f"claim:{case.id}", on=d.offer_to(WANG, case.ref)))
        await d.tick()
        web_desk = WebDesk(
            store,
            Relay(store, utc_now, Inbox(store.engine)),
            d.gateway.application.bot,
            kick=lambda: kicks.append(1),
        )
        dialogue = DialogueService(RasaClient(fake.url), None)
        app = create_app(
            dialogue, "http://127.0.0.1:9/health", limiter=RateLimiter(100, 100), engine=store.engine, desk=web_desk
        )
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        try:
            response = await client.delete(f"/api/chat/{SESSION}")
            assert response.status == 200 and await response.json() == {"session": SESSION, "erased": True}
        finally:
            await client.close()
            await dialogue.rasa.aclose()
        assert kicks == [1]  # the sender is woken at once, not left to its next interval
        assert withdrawn(case.ref) not in fake.texts(WANG)
        await d.tick()
        await d.tick()
        assert fake.texts(WANG).count(withdrawn(case.ref)) == 1
    erased = store.get_case(case.id)
    assert erased is not None and erased.status == "closed" and erased.transcript_excerpt == ""
