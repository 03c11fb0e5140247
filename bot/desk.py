"""The duty lawyers' desk on Telegram: Accept / Decline on an offer, /queue, /mycases, /shifts, /close, /release,
/to, and the lawyer's plain messages relayed to the person of their case.

Only an active registered lawyer (their Telegram user id in the case store) gets anything here; anyone else
gets a polite refusal that names no case. The store decides every permission again (a forged `claim:<id>` for
a minors' case from an unqualified lawyer is refused by the claim's own UPDATE), so the desk never trusts a
button for more than the case id it carries.

Which case a lawyer's plain text goes to: their only active case; with several, the case of the message they
reply to (any message that shows its ref), or `/to <ref> <text>`. Otherwise it goes nowhere and they are told.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import packet
from bot.relay import Relay
from hotline import messages
from hotline.cases.models import OUTCOMES
from hotline.cases.records import CaseError, CaseRecord, LawyerRecord
from hotline.cases.store import CaseStore
from hotline.text import Lang

log = logging.getLogger(__name__)

REF = re.compile(r"\bGZLA-\d{4}-\d{6,}\b", re.IGNORECASE)
CLAIM_PATTERN = re.compile(rf"^{packet.CLAIM}:(\d+)$")
DECLINE_PATTERN = re.compile(rf"^{packet.DECLINE}:(\d+)$")
_TO = re.compile(r"^/to(?:@\S+)?\s+(\S+)\s+(.+)$", re.DOTALL)
AMOUNT_TOPICS = ("wages", "injury")  # the office reports amounts recovered for these
QUEUE_BUTTONS = 10  # Accept buttons under /queue (the first cases, urgent first)

Context = ContextTypes.DEFAULT_TYPE
LawyerCallback = Callable[[Update, Context, LawyerRecord], Awaitable[None]]
Callback = Callable[[Update, Context], Coroutine[Any, Any, None]]


def _hint(update: Update) -> Lang:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "en" if code and not code.startswith("zh") else "zh"


class Desk:
    def __init__(self, store: CaseStore, relay: Relay, kick: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.relay = relay
        self.kick = kick  # wakes the outbox sender: the person hears of a claim or a close at once

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.relay.clock

    # --- who is asking ---------------------------------------------------------------------------------------

    async def lawyer_of(self, update: Update) -> LawyerRecord | None:
        user = update.effective_user
        if user is None:
            return None
        return await asyncio.to_thread(self.store.lawyer_by_telegram, str(user.id))

    async def _refuse(self, update: Update) -> None:
        text = messages.text("desk.not_lawyer", _hint(update))
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.effective_chat is not None:
            await update.get_bot().send_message(update.effective_chat.id, text)

    def lawyers_only(self, handler: LawyerCallback) -> Callback:
        """A handler for registered, active lawyers; anyone else is refused and sees nothing of any case."""

        async def guarded(update: Update, context: Context) -> None:
            lawyer = await self.lawyer_of(update)
            if lawyer is None:
                log.info("desk: refused a non-lawyer")
                await self._refuse(update)
                return
            await handler(update, context, lawyer)

        return guarded

    @staticmethod
    async def _say(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message | None:
        if update.effective_chat is None:
            return None
        return await update.get_bot().send_message(update.effective_chat.id, packet.fit(text), reply_markup=markup)

    # --- Accept / Decline ------------------------------------------------------------------------------------

    async def _offer_copy(self, case_id: int, lawyer: LawyerRecord) -> int | None:
        """The message id of this lawyer's copy of the offer, if the sender sent them one. Edits go there, never
        to whatever message a button was on (a /queue list, or an invented one in a forged press)."""
        ref = await asyncio.to_thread(self.store.offer_message, case_id, lawyer.id)
        return int(ref) if ref else None

    async def on_claim(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        query, chat = update.callback_query, update.effective_chat
        match = CLAIM_PATTERN.match(query.data or "") if query else None
        if query is None or chat is None or match is None:
            return
        case_id, lang = int(match[1]), packet.lawyer_lang(lawyer)
        if await asyncio.to_thread(self.store.claim, case_id, lawyer.id, self.clock()):
            self.kick()
            case = await asyncio.to_thread(self.store.get_case, case_id)
            assert case is not None
            log.info("case=%s claimed by lawyer %s", case.ref, lawyer.id)
            await query.answer()
            offer = await self._offer_copy(case_id, lawyer)
            if offer is None:
                await self._say(update, packet.offer_packet(case))  # taken from /queue: the packet they never got
            else:
                await context.bot.edit_message_reply_markup(chat_id=chat.id, message_id=offer, reply_markup=None)
            text = messages.text("desk.accepted", lang, ref=case.ref)
            if await asyncio.to_thread(self.store.reply_address, case_id) is None:
                text += "\n" + messages.text("desk.no_reply_address", lang)
            await self._say(update, text)
            return
        case = await asyncio.to_thread(self.store.visible_case, case_id, lawyer.id)
        if case is None:  # a minors' case for an unqualified lawyer, or no such case: the same answer
            log.info("desk: lawyer %s refused a case they may not see", lawyer.id)
            await query.answer(messages.text("desk.not_available", lang), show_alert=True)
            return
        if case.assigned_lawyer_id == lawyer.id and case.status == "claimed":
            await query.answer(messages.text("desk.already_yours", lang, ref=case.ref))
            return
        taken = messages.text("desk.taken", lang, ref=case.ref)
        await query.answer(taken, show_alert=True)
        if (offer := await self._offer_copy(case_id, lawyer)) is not None:
            await context.bot.edit_message_text(taken, chat_id=chat.id, message_id=offer)

    async def on_decline(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        query, chat = update.callback_query, update.effective_chat
        match = DECLINE_PATTERN.match(query.data or "") if query else None
        if query is None or chat is None or match is None:
            return
        case_id, lang = int(match[1]), packet.lawyer_lang(lawyer)
        case = await asyncio.to_thread(self.store.visible_case, case_id, lawyer.id)
        if case is None:
            await query.answer(messages.text("desk.not_available", lang), show_alert=True)
            return
        if case.status not in ("queued", "offered"):
            text = messages.text("desk.taken", lang, ref=case.ref)
        else:
            await asyncio.to_thread(self.store.decline, case_id, lawyer.id, self.clock())
            log.info("case=%s declined by lawyer %s", case.ref, lawyer.id)
            text = messages.text("desk.declined", lang, ref=case.ref)
        await query.answer(text)
        if (offer := await self._offer_copy(case_id, lawyer)) is not None:
            await context.bot.edit_message_text(text, chat_id=chat.id, message_id=offer)

    # --- commands ----------------------------------------------------------------------------------------------

    async def cmd_help(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        await self._say(update, messages.text("desk.help", packet.lawyer_lang(lawyer)))

    async def cmd_queue(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        lang = packet.lawyer_lang(lawyer)
        cases = await asyncio.to_thread(self.store.open_cases_for, lawyer.id)
        if not cases:
            await self._say(update, messages.text("desk.queue_empty", lang))
            return
        lines = [messages.text("desk.queue_title", lang, count=str(len(cases)))]
        lines += [packet.case_line(case, lang) for case in cases]
        accept = messages.text("desk.buttons.accept", lang)
        buttons = [
            [InlineKeyboardButton(f"{accept} {case.ref}", callback_data=packet.callback(packet.CLAIM, case.id))]
            for case in cases[:QUEUE_BUTTONS]
        ]
        await self._say(update, "\n".join(lines), InlineKeyboardMarkup(buttons))

    async def cmd_mycases(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        lang = packet.lawyer_lang(lawyer)
        cases = await asyncio.to_thread(self.store.cases_of_lawyer, lawyer.id)
        if not cases:
            await self._say(update, messages.text("desk.mycases_empty", lang))
            return
        lines = [messages.text("desk.mycases_title", lang, count=str(len(cases)))]
        await self._say(update, "\n".join(lines + [packet.case_line(case, lang) for case in cases]))

    async def cmd_shifts(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        lang = packet.lawyer_lang(lawyer)
        shifts = await asyncio.to_thread(self.store.shifts, lawyer.id, ending_after=self.clock())
        if not shifts:
            await self._say(update, messages.text("desk.shifts_empty", lang))
            return
        lines = [messages.text("desk.shifts_title", lang)]
        lines += [f"{packet.local_time(s.starts_at, lang)} – {packet.local_time(s.ends_at, lang)}" for s in shifts]
        await self._say(update, "\n".join(lines))

    async def _visible(self, update: Update, lawyer: LawyerRecord, ref: str) -> CaseRecord | None:
        """The case with this ref if the lawyer may see it; otherwise they are told and None."""
        case = await asyncio.to_thread(self.store.get_case_by_ref, ref)
        if case is not None:
            case = await asyncio.to_thread(self.store.visible_case, case.id, lawyer.id)
        if case is None:
            await self._say(update, messages.text("desk.unknown_case", packet.lawyer_lang(lawyer)))
        return case

    async def cmd_close(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        lang = packet.lawyer_lang(lawyer)
        args = context.args or []
        if len(args) not in (2, 3) or args[1].lower() not in OUTCOMES:
            await self._say(update, messages.text("desk.close_usage", lang))
            return
        case = await self._visible(update, lawyer, args[0])
        if case is None:
            return
        amount: Decimal | None = None
        if len(args) == 3:
            if case.topic not in AMOUNT_TOPICS:
                await self._say(update, messages.text("desk.amount_not_allowed", lang, ref=case.ref))
                return
            try:
                amount = Decimal(args[2].replace(",", ""))
            except InvalidOperation:
                await self._say(update, messages.text("desk.bad_amount", lang, amount=args[2]))
                return
        try:
            closed = await asyncio.to_thread(
                self.store.close, case.id, lawyer.id, args[1].lower(), amount, self.clock()
            )
        except CaseError:  # an amount the store refuses (negative, fractions of a fen)
            await self._say(update, messages.text("desk.bad_amount", lang, amount=args[2]))
            return
        if not closed:
            await self._say(update, messages.text("desk.close_refused", lang, ref=case.ref))
            return
        self.kick()
        log.info("case=%s closed by lawyer %s (%s)", case.ref, lawyer.id, args[1].lower())
        await self._say(update, messages.text("desk.closed", lang, ref=case.ref))

    async def cmd_release(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        lang = packet.lawyer_lang(lawyer)
        args = context.args or []
        if len(args) != 1:
            await self._say(update, messages.text("desk.release_usage", lang))
            return
        case = await self._visible(update, lawyer, args[0])
        if case is None:
            return
        if not await asyncio.to_thread(self.store.release, case.id, lawyer.id, self.clock()):
            await self._say(update, messages.text("desk.release_refused", lang, ref=case.ref))
            return
        self.kick()
        log.info("case=%s released by lawyer %s", case.ref, lawyer.id)
        await self._say(update, messages.text("desk.released", lang, ref=case.ref))

    async def cmd_to(self, update: Update, context: Context, lawyer: LawyerRecord) -> None:
        message = update.effective_message
        match = _TO.match(message.text or "") if message else None
        if match is None:
            await self._say(update, messages.text("desk.to_usage", packet.lawyer_lang(lawyer)))
            return
        mine = await asyncio.to_thread(self.store.cases_of_lawyer, lawyer.id)
        await self._send_to(update, lawyer, mine, match[1], match[2])

    def commands(self) -> dict[str, Callback]:
        """The lawyer-only commands, for the wiring in bot/telegram.py."""
        return {
            "desk": self.lawyers_only(self.cmd_help),
            "queue": self.lawyers_only(self.cmd_queue),
            "mycases": self.lawyers_only(self.cmd_mycases),
            "shifts": self.lawyers_only(self.cmd_shifts),
            "close": self.lawyers_only(self.cmd_close),
            "release": self.lawyers_only(self.cmd_release),
            "to": self.lawyers_only(self.cmd_to),
        }

    # --- the lawyer writes --------------------------------------------------------------------------------------

    async def on_lawyer_text(self, update: Update, context: Context) -> None:
        """A plain message from a lawyer goes to the person of their case (never to the bot's dialogue); from
        anyone else it is not ours, and the person's handlers take it."""
        message = update.effective_message
        if message is None or not message.text:
            return
        lawyer = await self.lawyer_of(update)
        if lawyer is None:
            return
        mine = await asyncio.to_thread(self.store.cases_of_lawyer, lawyer.id)
        replied = message.reply_to_message
        found = REF.search((replied.text or replied.caption or "") if replied else "")
        if found:
            await self._send_to(update, lawyer, mine, found[0], message.text)
        elif len(mine) == 1:
            await self._deliver(update, lawyer, mine[0], message.text)
        else:
            lang = packet.lawyer_lang(lawyer)
            refs = ", ".join(case.ref for case in mine)
            await self._say(
                update,
                messages.text("desk.several_cases", lang, refs=refs)
                if mine
                else messages.text("desk.no_active_case", lang),
            )
        raise ApplicationHandlerStop  # a lawyer's message never reaches the person's handlers

    async def on_start(self, update: Update, context: Context, person: Callback) -> None:
        """/start and /help: the desk's help for a lawyer, the bot's own answer (`person`) for anyone else."""
        lawyer = await self.lawyer_of(update)
        if lawyer is None:
            await person(update, context)
        else:
            await self.cmd_help(update, context, lawyer)

    async def _send_to(self, update: Update, lawyer: LawyerRecord, mine: list[CaseRecord], ref: str, text: str) -> None:
        case = next((case for case in mine if case.ref == ref.upper()), None)
        if case is None:
            await self._say(update, messages.text("desk.not_your_case", packet.lawyer_lang(lawyer)))
            return
        await self._deliver(update, lawyer, case, text)

    async def _deliver(self, update: Update, lawyer: LawyerRecord, case: CaseRecord, text: str) -> None:
        if not await self.relay.from_lawyer(update.get_bot(), lawyer, case, text):
            await self._say(update, messages.text("desk.unreachable", packet.lawyer_lang(lawyer), ref=case.ref))
