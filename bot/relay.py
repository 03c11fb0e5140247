"""Messages between a Telegram person and the lawyer who has their case. Every message is stored in the case
(`case_messages`) before it is forwarded, so the record is complete even when Telegram fails; neither side sees
the other's Telegram identity (the lawyer reads the case's ref, the person reads "Lawyer:"). The text is never
logged: the logs say which case and which direction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from telegram import Bot
from telegram.error import TelegramError

from bot import packet
from hotline import messages
from hotline.cases.mailbox import Inbox
from hotline.cases.records import CaseRecord, LawyerRecord
from hotline.cases.store import CaseStore

log = logging.getLogger(__name__)


class Relay:
    def __init__(self, store: CaseStore, clock: Callable[[], datetime], inbox: Inbox | None = None) -> None:
        self.store = store
        self.clock = clock
        self.inbox = inbox  # where a web-chat person's page fetches the lawyer's messages

    async def from_person(self, bot: Bot, case: CaseRecord, text: str) -> bool:
        """Store the person's message and forward it to the case's lawyer; False if it did not reach them."""
        await asyncio.to_thread(self.store.add_message, case.id, "person_to_lawyer", text, self.clock())
        lawyer_id = case.assigned_lawyer_id
        lawyer = await asyncio.to_thread(self.store.get_lawyer, lawyer_id) if lawyer_id is not None else None
        if lawyer is None or not lawyer.active or not lawyer.telegram_user_id:  # a removed lawyer gets nothing
            log.warning("case=%s: the person wrote; the lawyer has no desk to forward it to", case.ref)
            return False
        forwarded = messages.text("desk.from_person", packet.lawyer_lang(lawyer), ref=case.ref, text=text)
        try:
            await bot.send_message(int(lawyer.telegram_user_id), packet.fit(forwarded))
        except TelegramError as error:
            log.warning("case=%s: forwarding to lawyer %s failed: %s", case.ref, lawyer.id, type(error).__name__)
            return False
        log.info("case=%s relayed person_to_lawyer", case.ref)
        return True

    async def from_lawyer(self, bot: Bot, lawyer: LawyerRecord, case: CaseRecord, text: str) -> bool:
        """Store the lawyer's message, count their first response, and send it to the person (Telegram, or the
        web-chat person's inbox); False if the person cannot be reached."""
        now = self.clock()
        await asyncio.to_thread(self.store.add_message, case.id, "lawyer_to_person", text, now)
        await asyncio.to_thread(self.store.record_first_response, case.id, now)
        address = await asyncio.to_thread(self.store.reply_address, case.id)
        if address is None:
            if self.inbox is not None and await asyncio.to_thread(
                self.inbox.put_for_case, case.id, "lawyer", text, now
            ):
                log.info("case=%s relayed lawyer_to_person to the web inbox (lawyer %s)", case.ref, lawyer.id)
                return True
            return False
        try:
            await bot.send_message(
                int(address), packet.fit(messages.text("from_lawyer", packet.lang_of(case.lang), text=text))
            )
        except TelegramError as error:
            log.warning("case=%s: sending to the person failed: %s", case.ref, type(error).__name__)
            return False
        log.info("case=%s relayed lawyer_to_person (lawyer %s)", case.ref, lawyer.id)
        return True
