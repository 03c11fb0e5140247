"""Driving the real Telegram application of the gateway (tests/desk/harness.py's Desk) against the fake Bot API,
with the real Rasa of the stack or the fake's stand-in, and reading Rasa's tracker of a conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from bot.rasa_client import RasaClient
from bot.telegram import build_telegram
from hotline.cases.store import CaseStore
from tests.desk.fake_telegram import TOKEN, FakeTelegram, Sent
from tests.desk.harness import Desk

DUTY = 9301  # the stack's duty lawyer (Telegram user id)
# The tests wait for the real Rasa longer than the gateway does (4 s): a slow answer must not turn into the
# gateway's own fallback answer and a flaky test.
RASA_TIMEOUT = 30.0


@asynccontextmanager
async def telegram(store: CaseStore | None, rasa_url: str | None = None, **kwargs: Any) -> AsyncIterator[Desk]:
    """The gateway's Telegram application (persons and the desk), polling the fake Bot API; Rasa at `rasa_url`,
    else the fake's stand-in that echoes `bot: <text>`."""
    fake = await FakeTelegram().start()
    rasa = RasaClient(rasa_url or fake.url, timeout=RASA_TIMEOUT)
    gateway = build_telegram(TOKEN, rasa, base_url=fake.bot_url, store=store, **kwargs)
    try:
        await gateway.start(send=False)  # the tests tick the outbox sender themselves
        yield Desk(fake, gateway, store)  # type: ignore[arg-type]  # Desk's store is only read by the desk tests
    finally:
        await gateway.stop()
        await rasa.aclose()
        await fake.stop()


async def turn(d: Desk, update: dict[str, Any], chat: int) -> list[Sent]:
    """Send one update and return what the bot sent to `chat` in answer (sendMessage only)."""
    before = len(d.fake.to(chat, "sendMessage"))
    await d.send(update)
    return d.fake.to(chat, "sendMessage")[before:]


def tracker_events(rasa_url: str, conversation: str) -> list[dict[str, Any]]:
    """Every event Rasa holds for the conversation (all sessions, before and after restarts)."""
    response = httpx.get(
        f"{rasa_url}/conversations/{quote(conversation, safe=':')}/tracker",  # Rasa does not decode %3A
        params={"include_events": "ALL"},
        timeout=30.0,
    )
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def user_events(rasa_url: str, conversation: str) -> list[dict[str, Any]]:
    return [event for event in tracker_events(rasa_url, conversation) if event.get("event") == "user"]
