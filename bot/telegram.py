"""Telegram channel (python-telegram-bot 22): private text chats go through the same Rasa dialogue, except while a
duty lawyer has the person's case: then their messages go to the lawyer (bot/relay.py) and the bot's dialogue
waits until the lawyer closes or hands back the case. The duty lawyers' desk (bot/desk.py) and the outbox sender
(bot/outbox.py) run in the same application; `build_telegram` wires all of them, in one place.

The pause: every private text first meets `on_paused_text` (handler group -1). It asks the case store for a
claimed case of this person (channel 'telegram', the pseudonymous conversation id); if there is one, the text is
stored in the case and forwarded, and ApplicationHandlerStop keeps it from Rasa. A closed or released case is
no longer 'claimed', so the next message reaches Rasa again: nothing to undo. Lawyers' own texts are taken even
earlier (group -2) and never reach Rasa. Before all of them (group -3) an update seen already is dropped.

A person's own side (consent before anything is kept, /start /help /lang /restart /lawyer /delete, the answers to
what is not text, the slow-down) is bot/persons.py; every text on its way to Rasa passes `Persons.to_dialogue`.
Polling in development, a webhook on the gateway's aiohttp app in production (bot/telegram_webhook.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ChatType
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import packet
from bot.concurrency import PerChatUpdateProcessor, RecentUpdates
from bot.desk import CLAIM_PATTERN, DECLINE_PATTERN, REF, Callback, Desk
from bot.dialogue_service import DialogueService
from bot.outbox import OutboxSender, utc_now
from bot.persons import BUTTONS, COMMANDS, Persons, conversation_id, set_commands
from bot.rasa_client import BotMessage, RasaClient
from bot.ratelimit import RateLimiter
from bot.relay import Relay
from bot.telegram_webhook import Webhook
from hotline import messages
from hotline.cases.mailbox import Inbox
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore
from hotline.rasa_tracker import TrackerEraser
from hotline.text import Lang

log = logging.getLogger(__name__)

# Telegram updates processed at once (different chats; one chat's in order, see bot/concurrency.py).
CONCURRENT_UPDATES = 64
STATUS_CASES = 5  # /status lists the person's latest cases
# The updates the gateway asks Telegram for, polling or webhook alike (the handlers below take nothing else).
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]


def _lang(update: Update) -> Lang | None:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "zh" if code.startswith("zh") else ("en" if code else None)


def markup(message: BotMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["title"], callback_data=_callback_data(b["payload"]))] for b in message.buttons]
    )


def _callback_data(payload: str) -> str:
    """Telegram takes at most 64 bytes of callback data: cut on a character boundary, never mid-character.
    (Flow option labels, which are also their payloads, stay under that; tests/test_flow_schema.py checks it.)"""
    return payload.encode("utf-8")[:64].decode("utf-8", errors="ignore")


class TelegramChannel:
    def __init__(
        self,
        rasa: RasaClient,
        store: CaseStore | None = None,
        relay: Relay | None = None,
        *,
        eraser: TrackerEraser | None = None,
        limiter: RateLimiter | None = None,
        kick: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
        dialogue: DialogueService | None = None,
    ) -> None:
        self.rasa = rasa
        # Shared with the web chat and the retry loop in the gateway (one lock per conversation, kept messages).
        self.dialogue = dialogue or DialogueService(rasa, None)
        self.store = store
        self.relay = relay
        self.persons = Persons(store, rasa, self._answer, eraser=eraser, limiter=limiter, kick=kick, clock=clock)
        self.recent = RecentUpdates()

    async def _answer(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, extra: dict[str, Any] | None = None
    ) -> None:
        """Send a text to the dialogue and show its replies. `extra`: metadata from bot/persons.py (consent, the
        chosen language)."""
        chat = update.effective_chat
        if chat is None:
            return
        sender = conversation_id(chat.id)
        await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
        # reply_address: the chat id, for the case store only (the lawyer desk writes back there); never logged.
        metadata = {"channel": "telegram", "tg_lang": _lang(update), "reply_address": str(chat.id), **(extra or {})}
        # Rasa down or slow: the fallback now, the message kept and answered later (bot/dialogue_service.py).
        replies = await self.dialogue.answer("telegram", sender, text, metadata, _lang(update))
        for reply in replies:
            await context.bot.send_message(chat.id, reply.text, reply_markup=markup(reply))

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update first: one seen already (Telegram resent it) is dropped here."""
        if not self.recent.first_time(update.update_id):
            log.info("update %s seen already; dropped", update.update_id)
            raise ApplicationHandlerStop

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message and update.effective_message.text:
            await self.persons.to_dialogue(update, context, update.effective_message.text)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        if query.data:
            await self.persons.to_dialogue(update, context, query.data)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.persons.on_non_text(update, context)

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message:
            await update.effective_message.reply_text(messages.text("group_chat", _lang(update) or "zh"))

    # --- while a lawyer has the case ---------------------------------------------------------------------------

    async def _paused_case(self, update: Update) -> CaseRecord | None:
        """The person's case a lawyer has now, if any. If the database fails the bot answers as usual: a person
        must never be left without an answer because the desk's store is down."""
        chat = update.effective_chat
        if self.store is None or chat is None:
            return None
        try:
            return await asyncio.to_thread(self.store.active_case_of_person, "telegram", conversation_id(chat.id))
        except SQLAlchemyError:
            log.exception("conversation=%s: cannot ask the case store; the bot answers", conversation_id(chat.id))
            return None

    async def on_paused_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text or self.relay is None or _is_command(message.text, *COMMANDS):
            return  # the person's own commands (/status, /delete, ...) work while a lawyer has the case
        case = await self._paused_case(update)
        if case is None:
            return
        await self.relay.from_person(context.bot, case, message.text)
        raise ApplicationHandlerStop  # not to Rasa: the lawyer answers now

    async def on_paused_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An old button of the bot pressed while a lawyer has the case: a reminder, not a dialogue step."""
        query = update.callback_query
        if query is None:
            return
        case = await self._paused_case(update)
        if case is None:
            return
        await query.answer(messages.text("lawyer_has_case", packet.lang_of(case.lang), ref=case.ref), show_alert=True)
        raise ApplicationHandlerStop

    async def on_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/status [ref]: where the person's own cases stand (queued, a lawyer has it, closed)."""
        chat = update.effective_chat
        if chat is None or self.store is None:
            return
        cases = await asyncio.to_thread(self.store.person_cases, "telegram", conversation_id(chat.id))
        lang = _lang(update) or (packet.lang_of(cases[0].lang) if cases else "zh")
        wanted = REF.search(" ".join(context.args or []))
        if wanted:
            ref = wanted[0].upper()
            cases = [case for case in cases if case.ref == ref]
            lines = [packet.status_line(case, lang) for case in cases] or [
                messages.text("status.unknown", lang, ref=ref)
            ]
        else:
            lines = [packet.status_line(case, lang) for case in cases[:STATUS_CASES]] or [
                messages.text("status.none", lang)
            ]
        await context.bot.send_message(chat.id, "\n".join(lines))

    def register(self, application: Application, desk: Desk | None = None) -> None:  # type: ignore[type-arg]
        """Every handler of the gateway, in one place. Groups run in order and a handler that deals with an update
        raises ApplicationHandlerStop: -3 an update seen already, -2 a lawyer's plain text, -1 a person whose case
        a lawyer has, 0 the rest (within a group the first matching handler wins)."""
        private = filters.ChatType.PRIVATE
        persons = self.persons
        application.add_handler(TypeHandler(Update, self.on_update), -3)
        if desk is not None:
            application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, desk.on_lawyer_text), -2)
            application.add_handler(MessageHandler(private & filters.TEXT, self.on_paused_text), -1)
            # Old dialogue buttons pause; the desk's buttons and the person's own (consent, language, erase) do not.
            not_desk = re.compile(rf"^(?!{packet.CLAIM}:|{packet.DECLINE}:|consent:|lang:|delete:)")
            application.add_handler(CallbackQueryHandler(self.on_paused_button, pattern=not_desk), -1)
        application.add_handler(MessageHandler(~private & filters.ChatType.GROUPS, self.on_group))

        def person(callback: Callback) -> Callback:
            """A person's command; a registered lawyer gets the desk's help instead."""
            if desk is None:
                return callback

            async def routed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
                await desk.on_start(update, context, callback)

            return routed

        for name, command in (
            ("start", persons.cmd_start),
            ("help", persons.cmd_help),
            ("lang", persons.cmd_lang),
            ("restart", persons.cmd_restart),
            ("lawyer", persons.cmd_lawyer),
            ("delete", persons.cmd_delete),
        ):
            application.add_handler(CommandHandler(name, person(command), filters=private))
        application.add_handler(CallbackQueryHandler(persons.on_button, pattern=BUTTONS))
        if desk is not None:
            for name, callback in desk.commands().items():
                application.add_handler(CommandHandler(name, callback, filters=private))
            application.add_handler(CommandHandler("status", self.on_status, filters=private))
            application.add_handler(CallbackQueryHandler(desk.lawyers_only(desk.on_claim), pattern=CLAIM_PATTERN))
            application.add_handler(CallbackQueryHandler(desk.lawyers_only(desk.on_decline), pattern=DECLINE_PATTERN))
        application.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(MessageHandler(private & ~filters.TEXT, self.on_other))


def _is_command(text: str, *names: str) -> bool:
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    return first.split("@", 1)[0].lower() in {f"/{name}" for name in names}


@dataclass
class TelegramGateway:
    """The Telegram side of the gateway: the application (person channel and lawyer desk) and, when there is a
    case store, the outbox sender running beside it."""

    application: Application  # type: ignore[type-arg]
    sender: OutboxSender | None = None
    webhook: Webhook | None = None  # None: polling
    _sending: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def mode(self) -> str:
        return "polling" if self.webhook is None else "webhook"

    async def start(self, *, send: bool = True) -> None:
        """Connect, set the command menu, start polling or tell Telegram the webhook (whose route the gateway's
        aiohttp app serves, bot/telegram_webhook.py), and (unless `send` is False, for tests that tick by hand)
        the sender loop."""
        await self.application.initialize()
        await set_commands(self.application.bot)
        await self.application.start()
        if self.webhook is None:
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        else:
            await self.application.bot.set_webhook(
                self.webhook.url, secret_token=self.webhook.secret, allowed_updates=ALLOWED_UPDATES
            )
        if self.sender is not None and send:
            self._sending = asyncio.create_task(self.sender.run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._sending is not None:
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending
        assert self.application.updater is not None
        if self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()


def build_telegram(
    token: str,
    rasa: RasaClient,
    *,
    base_url: str | None = None,
    store: CaseStore | None = None,
    escalate_after: timedelta = timedelta(minutes=10),
    send_interval: float = 5.0,
    clock: Callable[[], datetime] = utc_now,
    inbox: Inbox | None = None,
    rate_limit: RateLimiter | None = None,
    tracker: TrackerEraser | None = None,
    webhook: Webhook | None = None,
    dialogue: DialogueService | None = None,
) -> TelegramGateway:
    """The application with every handler registered, and the outbox sender when there is a case store (without
    one, Telegram persons still get the bot's dialogue, without consent records; there is no desk). `rate_limit`
    slows down persons who write too fast; `tracker` is Rasa's tracker store, where /delete erases the
    conversation; `webhook` switches from polling to the webhook; `dialogue` keeps messages while Rasa is down
    (the gateway's shared one; without it, the fallback answer only)."""
    builder = Application.builder().token(token).concurrent_updates(PerChatUpdateProcessor(CONCURRENT_UPDATES))
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()
    if store is None:
        TelegramChannel(rasa, eraser=tracker, limiter=rate_limit, clock=clock, dialogue=dialogue).register(application)
        return TelegramGateway(application, webhook=webhook)
    sender = OutboxSender(
        application.bot, store, escalate_after=escalate_after, interval=send_interval, clock=clock, inbox=inbox
    )
    relay = Relay(store, clock, inbox)
    channel = TelegramChannel(
        rasa, store, relay, eraser=tracker, limiter=rate_limit, kick=sender.kick, clock=clock, dialogue=dialogue
    )
    channel.register(application, Desk(store, relay, kick=sender.kick))
    return TelegramGateway(application, sender, webhook)


__all__ = ["ChatType", "TelegramChannel", "TelegramGateway", "build_telegram", "conversation_id"]
