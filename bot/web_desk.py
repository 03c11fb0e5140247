"""A web-chat person whose case a duty lawyer has: their messages go to that lawyer (stored in the case, then
forwarded on the lawyer's Telegram desk) instead of to the bot's dialogue, as on Telegram (bot/telegram.py's
pause). The lawyer's answers come back through the person's inbox (bot/relay.py), which their page fetches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot

from bot.relay import Relay
from hotline.cases.store import CaseStore

log = logging.getLogger(__name__)


class WebDesk:
    def __init__(self, store: CaseStore, relay: Relay, bot: Bot, kick: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.relay = relay
        self.bot = bot
        self.kick = kick  # wakes the outbox sender: an erasure's notices to the lawyers go out at once

    async def relay_to_lawyer(self, channel: str, conversation: str, text: str) -> bool:
        """True if a lawyer has this person's case and the message went to the case (and on to the lawyer);
        False if the bot's dialogue should answer. A failing database means the bot answers: a person is never
        left without an answer because the desk's store is down."""
        try:
            case = await asyncio.to_thread(self.store.active_case_of_person, channel, conversation)
        except SQLAlchemyError:
            log.exception("conversation=%s: cannot ask the case store; the bot answers", conversation)
            return False
        if case is None:
            return False
        await self.relay.from_person(self.bot, case, text)
        return True
