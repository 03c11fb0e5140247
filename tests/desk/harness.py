"""The real gateway application (python-telegram-bot, handlers, desk, outbox sender) against the fake Bot API, over
a real case store; lawyers on duty now (the desk runs on the real clock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.rasa_client import RasaClient
from bot.telegram import TelegramGateway, build_telegram
from hotline.cases.records import LawyerRecord
from hotline.cases.store import CaseStore
from tests.desk.fake_telegram import TOKEN, FakeTelegram, Sent

# Telegram user ids of the accounts in the tests (a private chat's id is its user's id).
WANG = 9101  # wages, injury, other (and minors among his topics, but not qualified for minors' cases)
CHEN = 9102  # qualified for minors' cases; minors and injury; Chinese and English
BOSS = 9103  # supervisor, every topic, not qualified for minors' cases, not on duty
PERSON = 5550001


def on_duty(store: CaseStore, lawyer: LawyerRecord) -> None:
    now = datetime.now(UTC)
    store.add_shift(lawyer.id, now - timedelta(hours=1), now + timedelta(hours=8))


def add_desk_lawyers(store: CaseStore) -> dict[int, LawyerRecord]:
    wang = store.add_lawyer(name="Wang", telegram_user_id=str(WANG), topics=["wages", "injury", "other", "minors"])
    chen = store.add_lawyer(
        name="Chen",
        telegram_user_id=str(CHEN),
        topics=["minors", "injury"],
        languages=["zh", "en"],
        minors_qualified=True,
    )
    boss = store.add_lawyer(
        name="Boss", telegram_user_id=str(BOSS), topics=["wages", "injury", "minors", "other"], supervisor=True
    )
    on_duty(store, wang)
    on_duty(store, chen)
    return {WANG: wang, CHEN: chen, BOSS: boss}


@dataclass
class Desk:
    fake: FakeTelegram
    gateway: TelegramGateway
    store: CaseStore

    async def tick(self) -> int:
        assert self.gateway.sender is not None
        return await self.gateway.sender.tick()

    async def send(self, *updates: dict[str, Any]) -> None:
        """Push updates and wait until the application has taken them and finished handling them."""
        ids = self.fake.push(*updates)
        application = self.gateway.application
        deadline = time.monotonic() + 20
        quiet = 0
        while quiet < 3:  # idle on three looks in a row: no handler left running
            if time.monotonic() > deadline:
                raise AssertionError("the application did not finish handling the updates")
            await asyncio.sleep(0.02)
            idle = (
                self.fake.acknowledged(ids[-1])
                and application.update_queue.empty()
                and application.update_processor.current_concurrent_updates == 0
            )
            quiet = quiet + 1 if idle else 0

    def offer_to(self, chat_id: int, ref: str) -> Sent:
        [offer] = [s for s in self.fake.to(chat_id, "sendMessage") if ref in s.text and s.buttons]
        return offer


@asynccontextmanager
async def desk(store: CaseStore, **kwargs: Any) -> AsyncIterator[Desk]:
    fake = await FakeTelegram().start()
    rasa = RasaClient(fake.url)
    gateway = build_telegram(TOKEN, rasa, base_url=fake.bot_url, store=store, **kwargs)
    try:
        await gateway.start(send=False)  # the tests tick the sender themselves
        yield Desk(fake, gateway, store)
    finally:
        await gateway.stop()
        await rasa.aclose()
        await fake.stop()
