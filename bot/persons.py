"""The Telegram person's side beyond the dialogue: consent before anything is kept, the person's commands (/start,
/help, /lang, /restart, /lawyer, /delete), the answers to what is not text, and slowing down a person who writes
too fast. bot/telegram.py registers the handlers; the texts are in hotline/data/messages_telegram.yml.

Consent. Rasa's tracker keeps every message it is sent, so until a person has agreed to the privacy notice
(stored as `people.consent_at`, key: the pseudonymous conversation id) their messages do not go to Rasa: they
get the notice with its buttons again. One exception, on the ground of vital interests: a message the
deterministic safety rules flag (hotline.safety) goes to Rasa at once, so the emergency answer (110) and the
urgent handoff never wait for a click. Lawyers registered in the store never need consent. Every message of a
consenting person carries `consent: true` in its metadata (the handoff records it in the case) and their
language, `lang`: the one they read the notice in and agreed to, or chose with /lang since. Without a case store
consent cannot be recorded, so there is no gate (the dialogue works as before) and a /lang choice lives in the
process's memory.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import packet
from bot.outbox import utc_now
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.ratelimit import RateLimiter
from hotline import messages, safety
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore
from hotline.dialogue import topic_buttons
from hotline.pseudonym import pseudonym
from hotline.rasa_tracker import TrackerEraser
from hotline.text import Lang, normalise

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
# TelegramChannel._answer: sends a text to the dialogue (Rasa) with these metadata and shows the replies.
Dialogue = Callable[[Update, Context, str, dict[str, Any]], Awaitable[None]]

CHANNEL: Final = "telegram"
# What the gateway sends the dialogue for a command. Rasa reads a message starting with "/" as that intent.
RESTART: Final = "/restart"  # Rasa's built-in intent: action_restart, a Restarted event (every slot reset)
LAWYER: Final = "/request_human"  # the dialogue's "I want a lawyer": the handoff, a case
GREET: Final = "/greet"  # the dialogue's welcome (or, inside a flow, where we stopped)
# The commands of a person, in Telegram's menu in this order.
COMMANDS: Final = ("start", "help", "lang", "restart", "lawyer", "status", "delete")
# The callback data of this module's buttons (never a dialogue payload: those are "/intent" or an option label).
BUTTONS: Final = re.compile(r"^(?:consent:(?:yes|no)|lang:(?:zh|en)|delete:(?:yes|no))$")
_CHOSEN = "lang"  # context.chat_data: a /lang choice of someone the store does not know (yet)
_SLOWED_MAX = 10_000  # people remembered as being slowed down (the notice once per stretch)


def conversation_id(chat_id: int) -> str:
    """A pseudonymous id for Rasa, the case store and the logs: the Telegram chat id never leaves the gateway."""
    return "tg:" + pseudonym("telegram", str(chat_id))


def telegram_lang(update: Update) -> Lang:
    """The person's Telegram language: zh* is Chinese, any other English; none given, Chinese (the hotline's
    first language)."""
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "en" if code and not code.lower().startswith("zh") else "zh"


@dataclass(frozen=True)
class Who:
    """What the gateway knows of a person for one update."""

    key: str  # the conversation id
    lang: Lang  # for the gateway's own texts
    consent: bool | None  # None: no case store, no gate
    chosen: Lang | None  # sent to the dialogue as metadata 'lang'

    def metadata(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"lang": self.chosen} if self.chosen else {}
        if self.consent:
            extra["consent"] = True
        return extra


def _chat_data(context: Context) -> dict[Any, Any]:
    return context.chat_data if context.chat_data is not None else {}


def _button(key: str, lang: Lang, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(messages.text(f"telegram.buttons.{key}", lang), callback_data=data)


def _notice_buttons(lang: Lang) -> InlineKeyboardMarkup:
    other: Lang = "en" if lang == "zh" else "zh"
    return InlineKeyboardMarkup(
        [
            [_button("agree", lang, "consent:yes"), _button("decline", lang, "consent:no")],
            [_button(other, lang, f"lang:{other}")],
        ]
    )


def _kind(message: Message) -> str | None:
    """Which answer a message that is not text gets (None: the general one)."""
    if message.voice or message.audio or message.video_note:
        return "voice"
    if message.photo or message.video or message.document or message.animation:
        return "photo"
    if message.sticker:
        return "sticker"
    if message.location or message.venue:
        return "location"
    if message.contact:
        return "contact"
    return None


async def set_commands(bot: Bot) -> None:
    """The person's commands in Telegram's menu: Chinese for Chinese Telegram, English for everyone else."""
    menus: tuple[tuple[Lang, str | None], ...] = (("en", None), ("zh", "zh"))
    for lang, code in menus:
        commands = [BotCommand(name, messages.text(f"telegram.menu.{name}", lang)) for name in COMMANDS]
        try:
            await bot.set_my_commands(commands, language_code=code)
        except TelegramError as error:  # the menu is a convenience; the commands work without it
            log.warning("setting the command menu (%s) failed: %s", lang, type(error).__name__)


class Persons:
    def __init__(
        self,
        store: CaseStore | None,
        rasa: RasaClient,
        dialogue: Dialogue,
        *,
        eraser: TrackerEraser | None = None,
        limiter: RateLimiter | None = None,
        kick: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rasa = rasa
        self.dialogue = dialogue
        self.eraser = eraser
        self.limiter = limiter
        self.kick = kick  # wakes the outbox sender (the lawyers' notices after an erasure)
        self.clock = clock
        self._slowed: set[str] = set()

    # --- who is writing ------------------------------------------------------------------------------------------

    async def who(self, update: Update, context: Context) -> Who | None:
        """The person behind the update; None (logged) if the case store cannot be asked."""
        chat = update.effective_chat
        assert chat is not None
        key = conversation_id(chat.id)
        remembered = _chat_data(context).get(_CHOSEN)
        if self.store is None:
            return Who(key, remembered or telegram_lang(update), None, remembered)
        try:
            person = await asyncio.to_thread(self.store.person, CHANNEL, key)
        except SQLAlchemyError:
            log.exception("conversation=%s: cannot ask the case store", key)
            return None
        if person is not None and person.consented:
            lang = packet.lang_of(person.lang)
            return Who(key, lang, True, lang)
        # Not agreed yet. A person row without consent comes from an urgent handoff: its language is what they wrote.
        known = packet.lang_of(person.lang) if person is not None else None
        return Who(key, remembered or known or telegram_lang(update), False, None)

    async def _is_lawyer(self, update: Update) -> bool:
        user = update.effective_user
        if self.store is None or user is None:
            return False
        try:
            return await asyncio.to_thread(self.store.lawyer_by_telegram, str(user.id)) is not None
        except SQLAlchemyError:
            return False

    async def paused_case(self, update: Update) -> CaseRecord | None:
        """The person's case a lawyer has now, if any (the store failing counts as none)."""
        chat = update.effective_chat
        if self.store is None or chat is None:
            return None
        try:
            return await asyncio.to_thread(self.store.active_case_of_person, CHANNEL, conversation_id(chat.id))
        except SQLAlchemyError:
            log.exception("conversation=%s: cannot ask the case store", conversation_id(chat.id))
            return None

    # --- saying things -------------------------------------------------------------------------------------------

    @staticmethod
    async def _say(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        if update.effective_chat is not None:
            await update.get_bot().send_message(update.effective_chat.id, packet.fit(text), reply_markup=markup)

    async def _store_down(self, update: Update, context: Context) -> None:
        await self._say(update, messages.text("telegram.store_down", _chat_data(context).get(_CHOSEN) or "zh"))

    async def _notice(self, update: Update, lang: Lang, *, first: bool = False) -> None:
        text = messages.text("telegram.notice", lang)
        if first:
            text = messages.text("telegram.consent_first", lang) + "\n\n" + text
        await self._say(update, text, _notice_buttons(lang))

    @staticmethod
    async def _drop_buttons(update: Update) -> None:
        """Take the buttons off the message that was pressed, so that a choice is not made twice."""
        query = update.callback_query
        if query is None or query.message is None:
            return
        try:
            await query.edit_message_reply_markup(reply_markup=None)
        except TelegramError as error:  # too old to edit, or already without buttons: nothing lost
            log.info("could not remove the buttons: %s", type(error).__name__)

    # --- the way to the dialogue -------------------------------------------------------------------------------

    async def to_dialogue(self, update: Update, context: Context, text: str) -> None:
        """A person's text or button on its way to the dialogue: the consent gate, the pace, then Rasa."""
        who = await self.who(update, context)
        if who is None:
            await self._store_down(update, context)
            return
        if who.consent is False and not await self._skips_consent(update, text):
            log.info("conversation=%s: no consent yet; the notice again", who.key)
            await self._notice(update, who.lang, first=True)
            return
        await self._pace(update, who)
        await self.dialogue(update, context, text, who.metadata())

    async def _skips_consent(self, update: Update, text: str) -> bool:
        if safety.is_urgent(normalise(text)):
            return True  # vital interests: the emergency answer and the urgent handoff never wait (docs/telegram.md)
        return await self._is_lawyer(update)

    async def _pace(self, update: Update, who: Who) -> None:
        """Slow a person down who writes faster than the limit: wait for their turn (this chat only: one chat's
        updates are handled in order anyway), saying so once per stretch. Never dropped."""
        if self.limiter is None:
            return
        wait = self.limiter.reserve(who.key)
        if wait <= 0:
            self._slowed.discard(who.key)
            return
        if await self._is_lawyer(update):
            return
        if who.key not in self._slowed:
            if len(self._slowed) >= _SLOWED_MAX:
                self._slowed.clear()
            self._slowed.add(who.key)
            log.info("conversation=%s: slowed down for %.1f s", who.key, wait)
            await self._say(update, messages.text("telegram.slow_down", who.lang))
        await asyncio.sleep(wait)

    # --- commands ------------------------------------------------------------------------------------------------

    async def cmd_start(self, update: Update, context: Context) -> None:
        """/start: the greeting and the privacy notice to someone who has not agreed; the dialogue's welcome (or
        where they stopped) to someone who has."""
        who = await self.who(update, context)
        if who is None:
            await self._store_down(update, context)
        elif who.consent is False:
            await self._notice(update, who.lang)
        elif (case := await self.paused_case(update)) is not None:  # the lawyer answers them, not the bot
            await self._say(update, messages.text("lawyer_has_case", who.lang, ref=case.ref))
        else:
            await self.to_dialogue(update, context, GREET)

    async def cmd_help(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        await self._say(update, messages.text("telegram.help", who.lang if who else telegram_lang(update)))

    async def cmd_lang(self, update: Update, context: Context) -> None:
        buttons = InlineKeyboardMarkup([[_button("zh", "zh", "lang:zh"), _button("en", "en", "lang:en")]])
        who = await self.who(update, context)
        await self._say(update, messages.text("telegram.lang_choose", who.lang if who else "zh"), buttons)

    async def cmd_restart(self, update: Update, context: Context) -> None:
        """/restart: Rasa's own restart (every slot, our conversation state among them, is reset), then the
        dialogue's "let's start again" with the topics."""
        who = await self.who(update, context)
        if who is None:
            await self._store_down(update, context)
            return
        if who.consent is False:
            await self._notice(update, who.lang, first=True)
            return
        if (case := await self.paused_case(update)) is not None:
            await self._say(update, messages.text("lawyer_has_case", who.lang, ref=case.ref))
            return
        chat = update.effective_chat
        assert chat is not None
        metadata = {"channel": CHANNEL, "reply_address": str(chat.id), **who.metadata()}
        try:
            await self.rasa.send(who.key, RESTART, metadata)
        except RasaUnavailable:
            log.warning("rasa unavailable for conversation=%s (restart)", who.key)
            await self._say(update, messages.text("telegram.restart_failed", who.lang))
            return
        log.info("conversation=%s restarted", who.key)
        topics = InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.title, callback_data=b.payload)] for b in topic_buttons(who.lang)]
        )
        await self._say(update, messages.text("restart", who.lang), topics)

    async def cmd_lawyer(self, update: Update, context: Context) -> None:
        """/lawyer: what a person's "I want a lawyer" is to the dialogue (a handoff: a case, offered to the lawyers
        on duty). Before consent, the notice: a case keeps what they said."""
        case = await self.paused_case(update)
        if case is not None:
            await self._say(update, messages.text("lawyer_has_case", packet.lang_of(case.lang), ref=case.ref))
            return
        await self.to_dialogue(update, context, LAWYER)

    async def cmd_delete(self, update: Update, context: Context) -> None:
        who = await self.who(update, context)
        lang = who.lang if who else telegram_lang(update)
        buttons = InlineKeyboardMarkup([[_button("delete", lang, "delete:yes"), _button("keep", lang, "delete:no")]])
        await self._say(update, messages.text("telegram.delete_confirm", lang), buttons)

    # --- the buttons of this module ------------------------------------------------------------------------------

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        action, _, value = query.data.partition(":")
        who = await self.who(update, context)
        if who is None:
            await self._store_down(update, context)
            return
        await self._drop_buttons(update)
        if action == "consent":
            await self._consent(update, context, who, value == "yes")
        elif action == "lang":
            await self._choose_lang(update, context, who, "en" if value == "en" else "zh")
        elif action == "delete":
            await self._delete(update, context, who, value == "yes")

    async def _consent(self, update: Update, context: Context, who: Who, agreed: bool) -> None:
        if not agreed:
            if who.consent:  # agreed before: "no thanks" now means they want out, which is /delete
                await self.cmd_delete(update, context)
                return
            log.info("conversation=%s declined the privacy notice", who.key)
            await self._say(update, messages.text("telegram.declined", who.lang))
            return
        if self.store is not None and not who.consent:
            try:
                await asyncio.to_thread(self.store.record_consent, CHANNEL, who.key, who.lang, self.clock())
            except SQLAlchemyError:
                log.exception("conversation=%s: consent not recorded", who.key)
                await self._store_down(update, context)
                return
            _chat_data(context).pop(_CHOSEN, None)
            log.info("conversation=%s agreed to the privacy notice", who.key)
        await self._say(update, messages.text("telegram.agreed", who.lang))

    async def _choose_lang(self, update: Update, context: Context, who: Who, lang: Lang) -> None:
        stored = False
        if self.store is not None and who.consent:
            try:
                stored = await asyncio.to_thread(self.store.set_person_lang, CHANNEL, who.key, lang)
            except SQLAlchemyError:
                log.exception("conversation=%s: language not stored", who.key)
                await self._store_down(update, context)
                return
        if not stored:  # no consent yet (nothing kept before it), or no store: this process remembers it
            _chat_data(context)[_CHOSEN] = lang
        await self._say(update, messages.text("telegram.lang_set", lang))
        if who.consent is False:
            await self._notice(update, lang)

    async def _delete(self, update: Update, context: Context, who: Who, confirmed: bool) -> None:
        """Erase the person: the case store (one transaction, with the notices to the lawyers who knew of their
        cases), then the Rasa conversation. Either failing: they are told to try again, which is safe (each part
        erases what is left)."""
        if not confirmed:
            await self._say(update, messages.text("telegram.delete_cancelled", who.lang))
            return
        cases = 0
        try:
            if self.store is not None:
                erasure = await asyncio.to_thread(self.store.erase_person, CHANNEL, who.key, self.clock())
                cases = len(erasure.cases)
                log.info("conversation=%s erased from the case store (%s cases)", who.key, cases)
            if self.eraser is not None:
                await asyncio.to_thread(self.eraser.erase, who.key)
        except SQLAlchemyError:
            log.exception("conversation=%s: erasure not finished", who.key)
            await self._say(update, messages.text("telegram.delete_failed", who.lang))
            return
        _chat_data(context).clear()
        self._slowed.discard(who.key)
        if cases:  # the erasure wrote the lawyers' notices (withdrawn, taken) into the outbox: send them now
            self.kick()
        await self._say(update, messages.text("telegram.deleted", who.lang))

    # --- what is not text ----------------------------------------------------------------------------------------

    async def on_non_text(self, update: Update, context: Context) -> None:
        """Voice, photos, stickers, files, locations, contacts, ...: what the bot can take (text) and how to type
        instead. Nothing of it is kept. A person whose case a lawyer has hears that evidence goes another way."""
        message = update.effective_message
        if message is None:
            return
        who = await self.who(update, context)
        lang = who.lang if who else telegram_lang(update)
        kind = _kind(message)
        if kind == "photo" and (case := await self.paused_case(update)) is not None:
            await self._say(update, messages.text("telegram.non_text.evidence_to_lawyer", lang, ref=case.ref))
            return
        await self._say(update, messages.text(f"telegram.non_text.{kind}" if kind else "non_text", lang))
