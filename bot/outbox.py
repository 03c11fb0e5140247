"""The outbox sender: every few seconds it widens the offers nobody took (escalate_unclaimed), then delivers the
case store's pending notifications through the Telegram Bot API and marks each one sent: offers, 'taken' (edits of
the offers), escalations, notices to the person, and 'withdrawn' (the person of a lawyer's case erased their data).

Send, then mark: a crash between the two may deliver an item again, so the receiving side is idempotent where
that is cheap. An offer is sent only while the case is open and only if this lawyer's copy has not been sent
yet (the store keeps its message id), and 'taken' edits that copy instead of sending a new message.

The database is synchronous (SQLAlchemy); its calls run in worker threads so that the gateway's event loop
keeps serving Telegram and the web chat meanwhile. Logs name the outbox item and the case's ref only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import packet
from hotline import messages
from hotline.cases.mailbox import Inbox
from hotline.cases.models import OPEN_STATUSES
from hotline.cases.records import CaseRecord, OutboxRecord
from hotline.cases.store import CaseStore

log = logging.getLogger(__name__)

# After this many failed deliveries an item is given up (marked sent, with a warning): the lawyer still sees the
# case in /queue and the person with /status; one undeliverable item must not be retried for ever.
MAX_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        store: CaseStore,
        *,
        escalate_after: timedelta,
        interval: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        inbox: Inbox | None = None,
    ) -> None:
        self.bot = bot
        self.inbox = inbox  # notices for web-chat persons go to their inbox; their page fetches them
        self.store = store
        self.escalate_after = escalate_after
        self.interval = interval
        self.clock = clock
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Send now rather than at the next interval (the desk calls it after a claim, a close, a release)."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: wait for the interval (or a kick), then one tick. A failed tick is logged and the
        next one tries again; the items stay in the outbox."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("outbox tick failed; the items stay pending")

    async def tick(self) -> int:
        """Escalate what waited too long, then deliver the pending items; how many were marked sent."""
        now = self.clock()
        for escalation in await asyncio.to_thread(self.store.escalate_unclaimed, now, self.escalate_after):
            log.info("case=%s escalated to level %s", escalation.ref, escalation.level)
        done = 0
        for item in await asyncio.to_thread(self.store.pending_outbox):
            if not await asyncio.to_thread(self.store.claim_outbox_item, item.id, self.clock()):
                continue  # another gateway's sender is delivering it
            try:
                await self._deliver(item)
            except RetryAfter as error:  # Telegram asks us to slow down: the rest waits for the next tick
                log.warning("outbox item=%s: rate limited for %ss", item.id, error.retry_after)
                await asyncio.to_thread(self.store.mark_failed, item.id)
                break
            except (Forbidden, BadRequest) as error:  # blocked by the recipient, chat gone: not worth hammering
                await self._failed(item, type(error).__name__)
                continue
            except NetworkError as error:  # Telegram unreachable: everything else would fail the same way
                log.warning("outbox item=%s: %s; retrying next tick", item.id, type(error).__name__)
                await asyncio.to_thread(self.store.mark_failed, item.id)
                break
            except TelegramError as error:
                await self._failed(item, type(error).__name__)
                continue
            if await asyncio.to_thread(self.store.mark_sent, item.id, self.clock()):
                done += 1
        return done

    async def _failed(self, item: OutboxRecord, why: str) -> None:
        if item.attempts + 1 >= MAX_ATTEMPTS:
            log.warning(
                "outbox item=%s case=%s: %s, given up after %s attempts", item.id, item.case_ref, why, MAX_ATTEMPTS
            )
            await asyncio.to_thread(self.store.mark_sent, item.id, self.clock())
        else:
            log.warning("outbox item=%s case=%s: %s", item.id, item.case_ref, why)
            await asyncio.to_thread(self.store.mark_failed, item.id)

    async def _deliver(self, item: OutboxRecord) -> None:
        """Deliver one item, or decide it needs no delivery (returning normally either way marks it sent)."""
        case = await asyncio.to_thread(self.store.get_case, item.case_id)
        if case is None:
            return
        if item.recipient == "person":
            await self._to_person(item, case)
        elif item.recipient.startswith("lawyer:"):
            await self._to_lawyer(item, case, int(item.recipient.split(":", 1)[1]))
        else:
            log.warning("outbox item=%s: unknown recipient kind; skipped", item.id)

    async def _to_person(self, item: OutboxRecord, case: CaseRecord) -> None:
        address = await asyncio.to_thread(self.store.reply_address, case.id)
        text = packet.person_notice(case, item.payload)
        if address is None and text is not None and await self._to_inbox(case, text):
            log.info("case=%s web person notified (%s)", case.ref, item.payload.get("notice"))
            return
        if address is None or text is None:
            log.info("outbox item=%s case=%s: the person cannot be written to here; skipped", item.id, case.ref)
            return
        await self.bot.send_message(int(address), text)
        log.info("case=%s person notified (%s)", case.ref, item.payload.get("notice"))

    async def _to_inbox(self, case: CaseRecord, text: str) -> bool:
        """A web-chat person's notice goes to their inbox (their page fetches it); False for anyone else."""
        if self.inbox is None:
            return False
        return await asyncio.to_thread(self.inbox.put_for_case, case.id, "hotline", text, self.clock())

    async def _to_lawyer(self, item: OutboxRecord, case: CaseRecord, lawyer_id: int) -> None:
        lawyer = await asyncio.to_thread(self.store.get_lawyer, lawyer_id)
        if lawyer is None or not lawyer.active or not lawyer.telegram_user_id:
            log.info("outbox item=%s case=%s: lawyer %s has no desk; skipped", item.id, case.ref, lawyer_id)
            return
        chat = int(lawyer.telegram_user_id)
        sent = await asyncio.to_thread(self.store.offer_message, case.id, lawyer_id)
        if item.kind in ("offer", "escalated"):
            if sent is not None or case.status not in OPEN_STATUSES:
                return  # sent before a crash, or taken meanwhile: an offer now would only be refused
            if await asyncio.to_thread(self.store.visible_case, case.id, lawyer_id) is None:
                log.warning(
                    "outbox item=%s case=%s: lawyer %s may not see it; not offered", item.id, case.ref, lawyer_id
                )
                return  # the routing never does this; the desk checks again, for the minors' rule above all
            level = int(item.payload.get("level") or 0)
            message = await self.bot.send_message(
                chat,
                packet.offer_packet(case, level),
                reply_markup=packet.offer_buttons(case.id, packet.lang_of(case.lang)),
            )
            await asyncio.to_thread(self.store.record_offer_message, case.id, lawyer_id, str(message.message_id))
            log.info("case=%s offered to lawyer %s (level %s)", case.ref, lawyer_id, level)
        elif item.kind == "withdrawn":
            # The person of the case this lawyer had erased their data. Send, then mark: a crash in between may
            # tell them twice, never not at all (the item was written with the erasure).
            text = messages.text("telegram.lawyer_withdrawn", packet.lawyer_lang(lawyer), ref=case.ref)
            await self.bot.send_message(chat, text)
            log.info("case=%s: lawyer %s told the person withdrew", case.ref, lawyer_id)
        elif item.kind == "taken":
            if sent is None:
                return  # their offer never went out: nothing to withdraw
            # An offer withdrawn because its person erased their data says so; otherwise someone took it.
            key = "telegram.lawyer_withdrawn" if item.payload.get("withdrawn") else "desk.taken"
            text = messages.text(key, packet.lawyer_lang(lawyer), ref=case.ref)
            try:
                await self.bot.edit_message_text(text, chat_id=chat, message_id=int(sent))
            except BadRequest as error:
                if "not modified" not in str(error).lower():  # the desk already said so when they pressed
                    raise
        else:
            log.warning("outbox item=%s: unknown kind %s for a lawyer; skipped", item.id, item.kind)
