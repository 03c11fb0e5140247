"""The case store's tables (SQLAlchemy 2, typed). The schema itself is made by the Alembic migrations in
`migrations/versions/`; a test compares the two, so a change here needs a migration.

Privacy: a person is known only by a pseudonymous channel key (never a phone number or name); what they wrote
lives in `cases.transcript_excerpt` and `case_messages.text` and nowhere else (not in logs, not in the outbox).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Final
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CHANNELS: Final = ("telegram", "web", "12355")
WEB_CHANNELS: Final = ("web", "12355")  # their persons cannot be written to first: they read an inbox
LANGS: Final = ("zh", "en")
TOPICS: Final = ("wages", "injury", "minors", "other")
MINORS_TOPIC: Final = "minors"  # Minors Protection Law Art. 104: only minors-qualified lawyers see these cases
STATUSES: Final = ("queued", "offered", "claimed", "closed")
OPEN_STATUSES: Final = ("queued", "offered")  # not yet taken by a lawyer
OUTCOMES: Final = ("advice", "application", "referred", "no_answer")
DIRECTIONS: Final = ("person_to_lawyer", "lawyer_to_person")
# withdrawn: the person of a case a lawyer had erased their data (the lawyer is told; offered lawyers get "taken").
OUTBOX_KINDS: Final = ("offer", "taken", "escalated", "person_notice", "withdrawn")
INBOX_SENDERS: Final = ("lawyer", "hotline")
# The office's clock (Guangzhou): the year in a case's ref and the times the roster shows.
OFFICE_TZ: Final = ZoneInfo("Asia/Shanghai")

# Named constraints, so later migrations can refer to them on both databases.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that a text column holds one of `values` (the same text in models and migrations)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as UTC. PostgreSQL keeps it as timestamptz; SQLite has no time zones,
    so it gets naive UTC text (which still sorts and compares as time). Naive datetimes are refused: a
    roster time without its zone is a shift at the wrong hour."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the case store needs a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Person(Base):
    """Someone who wrote to the hotline, known only by the channel's pseudonymous key."""

    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("channel", "channel_key"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_key: Mapped[str] = mapped_column(String(128))  # salted hash or the channel's opaque id
    lang: Mapped[str] = mapped_column(String(8))
    consent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Where the gateway can write back to them: the Telegram chat id as text (not a phone number, not a name).
    # Only the sender and the relay read it; it is never logged and never shown to a lawyer. NULL for the web
    # chat, which cannot be written to first.
    reply_address: Mapped[str | None] = mapped_column(String(64))


class Lawyer(Base):
    __tablename__ = "lawyers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    telegram_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    languages: Mapped[str] = mapped_column(String(64))  # comma-separated, e.g. "zh,en"
    topics: Mapped[str] = mapped_column(String(200))  # comma-separated, e.g. "wages,injury,other"
    minors_qualified: Mapped[bool] = mapped_column(Boolean)
    supervisor: Mapped[bool] = mapped_column(Boolean)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class DutyShift(Base):
    """A lawyer is on duty from starts_at (inclusive) to ends_at (exclusive)."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        UniqueConstraint("lawyer_id", "starts_at", "ends_at"),  # importing a roster twice adds nothing
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index(None, "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lawyer_id: Mapped[int] = mapped_column(ForeignKey("lawyers.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(in_list("status", STATUSES), name="status"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(f"close_outcome IS NULL OR {in_list('close_outcome', OUTCOMES)}", name="close_outcome"),
        Index(None, "status"),
        Index(None, "person_id"),  # every Telegram message asks whether its person's case is with a lawyer
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # GZLA-<year>-<id>: derived from the id in the transaction that inserts the row, so never NULL once committed.
    ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    topic: Mapped[str] = mapped_column(String(16))
    facts: Mapped[dict[str, Any]]
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    urgent: Mapped[bool] = mapped_column(Boolean)
    deadline: Mapped[date | None] = mapped_column(Date)
    lang: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    consent: Mapped[bool] = mapped_column(Boolean)
    transcript_excerpt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    assigned_lawyer_id: Mapped[int | None] = mapped_column(ForeignKey("lawyers.id"))
    created_at: Mapped[datetime]
    offered_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_outcome: Mapped[str | None] = mapped_column(String(16))
    amount_recovered: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the offer last went one level wider: the clock for the next escalation.
    escalated_at: Mapped[datetime | None]


class CaseOffer(Base):
    """Which lawyers a case has been offered to, and at which escalation level: who may claim it knowingly,
    who gets a 'taken' notice, and whom a wider escalation need not offer it to again."""

    __tablename__ = "case_offers"
    __table_args__ = (UniqueConstraint("case_id", "lawyer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    lawyer_id: Mapped[int] = mapped_column(ForeignKey("lawyers.id"))
    level: Mapped[int] = mapped_column(Integer)
    offered_at: Mapped[datetime]
    # The lawyer's copy of the offer (the Telegram message id), once sent: a resend after a crash is skipped,
    # and 'taken' edits this message instead of sending another.
    message_ref: Mapped[str | None] = mapped_column(String(32))


class Consultation(Base):
    """One inquiry the hotline handled, handed off or not: the office's yearly figures count these by topic and
    channel. Known by the conversation's pseudonymous key (once per conversation and topic), nothing else."""

    __tablename__ = "consultations"
    __table_args__ = (
        UniqueConstraint("conversation_key", "topic"),
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(in_list("topic", TOPICS), name="topic"),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_key: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime]


class CaseEvent(Base):
    """The audit trail. `detail` holds ids and codes, never what the person wrote."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(32))  # 'system', 'person', 'lawyer:<id>'
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]


class CaseMessage(Base):
    """What passed between the person and the lawyer: the text lives here, never in logs."""

    __tablename__ = "case_messages"
    __table_args__ = (CheckConstraint(in_list("direction", DIRECTIONS), name="direction"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    direction: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)


class OutboxItem(Base):
    """A notification to send, written in the same transaction as the change it announces; a sender delivers
    it later and marks it sent. The payload carries the case's ref and codes, not the person's words."""

    __tablename__ = "outbox_items"
    __table_args__ = (Index(None, "sent_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(32))  # 'lawyer:<id>' or 'person' (the case's person)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # A gateway delivering it holds it until then: with several gateways, each item goes out once.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class InboxMessage(Base):
    """A message waiting for a web-chat person, who cannot be written to first: their page fetches what came
    after the last id it saw. What a lawyer wrote to them, notices about their case ('a lawyer has joined'),
    and the answers to messages kept while the dialogue service was down."""

    __tablename__ = "person_inbox"
    __table_args__ = (
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        CheckConstraint(in_list("sender", INBOX_SENDERS), name="sender"),
        Index(None, "channel", "channel_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_key: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # When the person's page first fetched it: the retention purge deletes what was fetched long enough ago.
    fetched_at: Mapped[datetime | None]


class KeptMessage(Base):
    """A person's message that reached the gateway while the dialogue service (Rasa, the action server) did not
    answer: kept here and answered, in order, when the service is back. `message_id` is also in the metadata
    sent to Rasa, so a message Rasa did take before it timed out is not taken twice."""

    __tablename__ = "kept_messages"
    __table_args__ = (
        CheckConstraint(in_list("channel", CHANNELS), name="channel"),
        Index(None, "answered_at", "id"),
        Index(None, "conversation_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_key: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    # What the gateway sends Rasa with the text (language, consent, the Telegram reply address): never logged.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    # A gateway answering it holds it until then, so that two gateways never send it to Rasa both.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
