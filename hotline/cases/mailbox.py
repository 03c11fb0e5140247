"""Two small stores beside the cases, for the channels: the web chat's inbox (what a lawyer or the hotline sends a
web-chat person, fetched by their page), and the messages kept while the dialogue service was down. Every method
is one transaction; the texts live in these tables only, never in logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, or_, select, update

from hotline.cases.db import session_factory
from hotline.cases.models import CHANNELS, INBOX_SENDERS, WEB_CHANNELS, Case, InboxMessage, KeptMessage, Person
from hotline.cases.records import CaseError

# How long a gateway may take to answer a kept message before another may try (Rasa's answer takes seconds).
DEFAULT_LEASE = timedelta(seconds=60)
# At most this many inbox messages per fetch: a page that was closed for a long time gets the rest next time.
FETCH_LIMIT = 50


@dataclass(frozen=True)
class InboxItem:
    id: int
    sender: str
    text: str
    buttons: list[dict[str, str]]
    created_at: datetime


@dataclass(frozen=True)
class KeptRecord:
    id: int
    message_id: str
    channel: str
    conversation_key: str
    text: str
    meta: dict[str, Any]
    received_at: datetime
    attempts: int


def _check(channel: str, at: datetime) -> None:
    if channel not in CHANNELS:
        raise CaseError(f"unknown channel {channel!r}")
    if at.tzinfo is None:
        raise CaseError("a naive time: the store needs a time zone")


class Inbox:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    def put(
        self,
        channel: str,
        channel_key: str,
        sender: str,
        text: str,
        at: datetime,
        buttons: list[dict[str, str]] | None = None,
    ) -> int:
        _check(channel, at)
        if sender not in INBOX_SENDERS:
            raise CaseError(f"unknown inbox sender {sender!r}")
        with self._sessions.begin() as session:
            item = InboxMessage(
                channel=channel, channel_key=channel_key, sender=sender, text=text, buttons=buttons or [], created_at=at
            )
            session.add(item)
            session.flush()
            return item.id

    def since(
        self, channel: str, channel_key: str, after: int, limit: int = FETCH_LIMIT, at: datetime | None = None
    ) -> list[InboxItem]:
        """The person's messages with an id above `after`, oldest first. The first time a message is handed out it
        is marked fetched (`at`, default now): the retention purge deletes it once that is long enough ago (the
        page keeps its own copy). A page that did not get the answer asks again and gets the same messages."""
        query = (
            select(InboxMessage)
            .where(InboxMessage.channel == channel, InboxMessage.channel_key == channel_key, InboxMessage.id > after)
            .order_by(InboxMessage.id)
            .limit(limit)
        )
        with self._sessions.begin() as session:
            rows = list(session.scalars(query))
            new = [row.id for row in rows if row.fetched_at is None]
            if new:  # a write only when something is handed out for the first time, not on every poll
                session.execute(
                    update(InboxMessage)
                    .where(InboxMessage.id.in_(new), InboxMessage.fetched_at.is_(None))
                    .values(fetched_at=at or datetime.now(UTC))
                    .execution_options(synchronize_session=False)
                )
            return [InboxItem(row.id, row.sender, row.text, list(row.buttons), row.created_at) for row in rows]

    def person_of_case(self, case_id: int) -> tuple[str, str] | None:
        """The channel and pseudonymous key of a case's person: where their inbox messages go."""
        query = (
            select(Person.channel, Person.channel_key).join(Case, Case.person_id == Person.id).where(Case.id == case_id)
        )
        with self._sessions.begin() as session:
            row = session.execute(query).one_or_none()
            return (row[0], row[1]) if row else None

    def put_for_case(self, case_id: int, sender: str, text: str, at: datetime) -> bool:
        """Put a message in the inbox of a case's person if they are a web-chat person; False otherwise."""
        person = self.person_of_case(case_id)
        if person is None or person[0] not in WEB_CHANNELS:
            return False
        self.put(person[0], person[1], sender, text, at)
        return True

    def erase(self, channel: str, channel_key: str) -> int:
        """Forget everything waiting for this person (their erasure request); how many messages went."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(InboxMessage).where(InboxMessage.channel == channel, InboxMessage.channel_key == channel_key)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class KeptMessages:
    def __init__(self, engine: Engine) -> None:
        self._sessions = session_factory(engine)

    def keep(
        self, *, message_id: str, channel: str, conversation_key: str, text: str, meta: dict[str, Any], at: datetime
    ) -> int:
        _check(channel, at)
        with self._sessions.begin() as session:
            kept = KeptMessage(
                message_id=message_id,
                channel=channel,
                conversation_key=conversation_key,
                text=text,
                meta=meta,
                received_at=at,
            )
            session.add(kept)
            session.flush()
            return kept.id

    def pending(self, conversation_key: str | None = None, limit: int = 200) -> list[KeptRecord]:
        """Unanswered messages, oldest first (one conversation's, or everyone's)."""
        query = select(KeptMessage).where(KeptMessage.answered_at.is_(None))
        if conversation_key is not None:
            query = query.where(KeptMessage.conversation_key == conversation_key)
        with self._sessions.begin() as session:
            return [
                KeptRecord(
                    row.id,
                    row.message_id,
                    row.channel,
                    row.conversation_key,
                    row.text,
                    dict(row.meta),
                    row.received_at,
                    row.attempts,
                )
                for row in session.scalars(query.order_by(KeptMessage.id).limit(limit))
            ]

    def claim(self, kept_id: int, now: datetime, lease: timedelta = DEFAULT_LEASE) -> bool:
        """Hold an unanswered message for `lease` while this gateway answers it; False if it is answered or
        another gateway holds it (a single conditional UPDATE: exactly one of several gateways wins)."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(KeptMessage)
                .where(
                    KeptMessage.id == kept_id,
                    KeptMessage.answered_at.is_(None),
                    or_(KeptMessage.claimed_until.is_(None), KeptMessage.claimed_until < now),
                )
                .values(claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def answered(self, kept_id: int, at: datetime) -> bool:
        """Mark it answered; False if it already was (another gateway got there first)."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(KeptMessage)
                .where(KeptMessage.id == kept_id, KeptMessage.answered_at.is_(None))
                .values(answered_at=at)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def failed(self, kept_id: int) -> None:
        """Rasa still did not answer: count the attempt and let go of it."""
        with self._sessions.begin() as session:
            session.execute(
                update(KeptMessage)
                .where(KeptMessage.id == kept_id)
                .values(attempts=KeptMessage.attempts + 1, claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    def erase(self, conversation_key: str) -> int:
        """Forget this conversation's kept messages (their erasure request)."""
        with self._sessions.begin() as session:
            result = session.execute(delete(KeptMessage).where(KeptMessage.conversation_key == conversation_key))
            return int(result.rowcount)  # type: ignore[attr-defined]
