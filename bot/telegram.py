"""Telegram channel (python-telegram-bot 22): private text chats go through the same Rasa dialogue."""

from __future__ import annotations

import hashlib
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ChatType
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.rasa_client import BotMessage, RasaClient, RasaUnavailable, fallback_messages
from hotline import messages
from hotline.text import Lang

log = logging.getLogger(__name__)


def conversation_id(chat_id: int) -> str:
    """A pseudonymous id for Rasa and the logs: the Telegram chat id never leaves the gateway."""
    return "tg:" + hashlib.sha256(f"telegram:{chat_id}".encode()).hexdigest()[:20]


def _lang(update: Update) -> Lang | None:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    return "zh" if code.startswith("zh") else ("en" if code else None)


def _markup(message: BotMessage) -> InlineKeyboardMarkup | None:
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
    def __init__(self, rasa: RasaClient) -> None:
        self.rasa = rasa

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        sender = conversation_id(chat.id)
        await context.bot.send_chat_action(chat.id, ChatAction.TYPING)
        try:
            replies = await self.rasa.send(sender, text, {"channel": "telegram", "tg_lang": _lang(update)})
        except RasaUnavailable:
            log.warning("rasa unavailable for conversation=%s", sender)
            replies = fallback_messages(text, _lang(update))
        for reply in replies:
            await context.bot.send_message(chat.id, reply.text, reply_markup=_markup(reply))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message and update.effective_message.text:
            await self._answer(update, context, update.effective_message.text)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        if query.data:
            await self._answer(update, context, query.data)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message:
            await update.effective_message.reply_text(messages.text("non_text", _lang(update) or "zh"))

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message:
            await update.effective_message.reply_text(messages.text("group_chat", _lang(update) or "zh"))

    def register(self, application: Application) -> None:  # type: ignore[type-arg]
        private = filters.ChatType.PRIVATE
        application.add_handler(MessageHandler(~private & filters.ChatType.GROUPS, self.on_group))
        application.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(MessageHandler(private & ~filters.TEXT, self.on_other))


def build_application(token: str, rasa: RasaClient, base_url: str | None = None) -> Application:  # type: ignore[type-arg]
    builder = Application.builder().token(token)
    if base_url:
        builder = builder.base_url(base_url)
    application = builder.build()
    TelegramChannel(rasa).register(application)
    return application


__all__ = ["ChatType", "TelegramChannel", "build_application", "conversation_id"]
