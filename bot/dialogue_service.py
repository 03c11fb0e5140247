"""The bot's dialogue as the channels see it: Rasa, with nothing lost while Rasa (or the action server behind it)
is down or slow.

A person's message goes to Rasa with a fresh `message_id` in its metadata. If Rasa does not answer in time, the
person gets the fallback at once (the safety rules still run; hotline numbers), and the message is kept in the
database (`kept_messages`). Kept messages are answered oldest first, by the gateway's retry loop as soon as Rasa
answers again (the answers go to Telegram, or to the web person's inbox, by `deliver`), or before the person's
next message, whichever comes first: one conversation's messages keep their order (a lock per conversation).

A message that timed out at our end may still have reached Rasa. Before sending a kept message again, the
conversation's tracker is searched for its `message_id`: if Rasa took it, the bot's answers to it are taken from
the tracker instead, so the dialogue never sees a message twice. (Remaining gap: a message Rasa is still
processing when the tracker is read, i.e. more than the retry interval after it arrived, could be taken twice.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.outbox import utc_now
from bot.rasa_client import BotMessage, RasaClient, RasaUnanswered, RasaUnavailable, fallback_messages
from hotline.cases.mailbox import KeptMessages, KeptRecord
from hotline.text import Lang

log = logging.getLogger(__name__)

# Where the answers to a kept message go once it is answered (Telegram chat, web inbox).
Deliver = Callable[[KeptRecord, list[BotMessage]], Awaitable[None]]


class ConversationLocks:
    """One asyncio lock per conversation, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


class DialogueService:
    def __init__(self, rasa: RasaClient, kept: KeptMessages | None, clock: Callable[[], datetime] = utc_now) -> None:
        self.rasa = rasa
        self.kept = kept
        self.clock = clock
        self.locks = ConversationLocks()

    async def answer(
        self, channel: str, conversation: str, text: str, metadata: dict[str, Any], lang: Lang | None
    ) -> list[BotMessage]:
        """The bot's answers to a person's message: first to any of their messages kept earlier, then to this
        one. If Rasa does not answer, the fallback (and the message is kept for later)."""
        async with self.locks.hold(conversation):
            answers: list[BotMessage] = []
            if self.kept is not None:
                try:
                    pending = await asyncio.to_thread(self.kept.pending, conversation)
                except SQLAlchemyError:  # the case store is down: nothing kept can be read; the dialogue answers
                    log.exception("conversation=%s: cannot read its kept messages", conversation)
                    pending = []
                for earlier in pending:
                    try:
                        answers += await self._replay(earlier) or []
                    except RasaUnavailable:
                        kept = await self._keep(channel, conversation, text, metadata, uuid.uuid4().hex)
                        return fallback_messages(text, lang, kept=kept)
            message_id = uuid.uuid4().hex
            try:
                answers += await self._send(conversation, text, {**metadata, "message_id": message_id})
            except RasaUnavailable as error:
                log.warning("conversation=%s: dialogue unavailable (%s); message kept", conversation, error)
                kept = await self._keep(channel, conversation, text, metadata, message_id)
                return answers + fallback_messages(text, lang, kept=kept)
            return answers

    async def _send(self, conversation: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        """Rasa's answers to a person's message. action_reply always says something: nothing at all means it did
        not run (the action server is down), and the message, taken by Rasa, is to be answered later."""
        answers = await self.rasa.send(conversation, text, metadata)
        if not answers:
            raise RasaUnanswered("no answer from the action server")
        return answers

    async def _keep(self, channel: str, conversation: str, text: str, meta: dict[str, Any], message_id: str) -> bool:
        """Keep the message for later; False if it cannot be kept (no database, or the database is down too):
        then the person is asked to send it again rather than told it is saved."""
        if self.kept is None:
            log.warning("conversation=%s: no database to keep the message in", conversation)
            return False
        try:
            await asyncio.to_thread(
                self.kept.keep,
                message_id=message_id,
                channel=channel,
                conversation_key=conversation,
                text=text,
                meta=meta,
                at=self.clock(),
            )
        except SQLAlchemyError:
            log.exception("conversation=%s: the message could not be kept", conversation)
            return False
        return True

    async def _replay(self, kept: KeptRecord) -> list[BotMessage] | None:
        """Answer one kept message (the tracker's answers if Rasa took it already) and mark it answered. None if
        another gateway is answering it right now (it delivers the answers)."""
        assert self.kept is not None
        if not await asyncio.to_thread(self.kept.claim, kept.id, self.clock()):
            return None
        try:
            try:
                answers = await self.rasa.answers_to(kept.conversation_key, kept.message_id)
            except RasaUnanswered:  # Rasa took it while the action server was down: run the action on it again
                answers = await self.rasa.answer_again(kept.conversation_key)
        except RasaUnavailable:
            await asyncio.to_thread(self.kept.failed, kept.id)
            raise
        if answers is None:
            try:
                answers = await self._send(
                    kept.conversation_key, kept.text, {**kept.meta, "message_id": kept.message_id}
                )
            except RasaUnavailable:
                await asyncio.to_thread(self.kept.failed, kept.id)
                raise
        await asyncio.to_thread(self.kept.answered, kept.id, self.clock())
        log.info("conversation=%s: kept message %s answered", kept.conversation_key, kept.id)
        return answers

    async def retry_kept(self, deliver: Deliver) -> int:
        """One pass of the retry loop: answer every kept message, oldest first, and deliver the answers; stops at
        the first one Rasa still does not answer. How many were answered."""
        if self.kept is None or not await self.rasa.ready():
            return 0
        done = 0
        for kept in await asyncio.to_thread(self.kept.pending):
            async with self.locks.hold(kept.conversation_key):
                # The person's next message may have answered it meanwhile (under this lock).
                still = await asyncio.to_thread(self.kept.pending, kept.conversation_key)
                if not any(other.id == kept.id for other in still):
                    continue
                try:
                    answers = await self._replay(kept)
                except RasaUnavailable:
                    return done
                if answers is None:
                    continue
                try:
                    await deliver(kept, answers)
                except Exception:  # answered in the dialogue; the person can still see it with their next message
                    log.exception("conversation=%s: delivering the answer to kept message %s failed", *kept_ids(kept))
                done += 1
        return done

    async def run_retries(self, deliver: Deliver, interval: float) -> None:
        """Until cancelled: every `interval` seconds, answer what was kept."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.retry_kept(deliver)
            except Exception:
                log.exception("retrying kept messages failed; they stay kept")


def kept_ids(kept: KeptRecord) -> tuple[str, int]:
    """A kept message in a log line: its conversation and its id, never its text."""
    return kept.conversation_key, kept.id
