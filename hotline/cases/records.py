"""Read-only views of the case store's rows, handed out by CaseStore: plain frozen dataclasses, so nothing
outside the store holds a session or lazily loads from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hotline.cases.models import Case, CaseEvent, CaseMessage, DutyShift, Lawyer, OutboxItem


class CaseError(ValueError):
    """Input the case store refuses (unknown topic, naive time, duplicate Telegram id, ...): a readable reason."""


def split_list(value: str) -> tuple[str, ...]:
    """'zh, en' -> ('zh', 'en'): the comma-separated lists of a lawyer's languages and topics."""
    return tuple(item for item in (part.strip() for part in value.split(",")) if item)


@dataclass(frozen=True)
class CaseRecord:
    id: int
    ref: str
    person_id: int
    topic: str
    status: str
    urgent: bool
    deadline: date | None
    lang: str
    channel: str
    consent: bool
    facts: dict[str, Any]
    eligibility: dict[str, Any] | None
    transcript_excerpt: str
    assigned_lawyer_id: int | None
    escalation_level: int
    created_at: datetime
    offered_at: datetime | None
    claimed_at: datetime | None
    first_response_at: datetime | None
    closed_at: datetime | None
    close_outcome: str | None
    amount_recovered: Decimal | None

    @classmethod
    def of(cls, case: Case) -> CaseRecord:
        assert case.ref is not None, "a case's ref is set in the transaction that inserts it"
        return cls(
            id=case.id,
            ref=case.ref,
            person_id=case.person_id,
            topic=case.topic,
            status=case.status,
            urgent=case.urgent,
            deadline=case.deadline,
            lang=case.lang,
            channel=case.channel,
            consent=case.consent,
            facts=case.facts,
            eligibility=case.eligibility,
            transcript_excerpt=case.transcript_excerpt,
            assigned_lawyer_id=case.assigned_lawyer_id,
            escalation_level=case.escalation_level,
            created_at=case.created_at,
            offered_at=case.offered_at,
            claimed_at=case.claimed_at,
            first_response_at=case.first_response_at,
            closed_at=case.closed_at,
            close_outcome=case.close_outcome,
            amount_recovered=case.amount_recovered,
        )

    def as_json(self) -> dict[str, Any]:
        """For `hotline cases list --json`: everything but the person's own words and internal ids."""

        def iso(value: date | datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "ref": self.ref,
            "topic": self.topic,
            "status": self.status,
            "urgent": self.urgent,
            "eligibility": self.eligibility,
            "lang": self.lang,
            "channel": self.channel,
            "created_at": iso(self.created_at),
            "facts": self.facts,
            "deadline": iso(self.deadline),
            "consent": self.consent,
            "assigned_lawyer_id": self.assigned_lawyer_id,
            "escalation_level": self.escalation_level,
            "offered_at": iso(self.offered_at),
            "claimed_at": iso(self.claimed_at),
            "first_response_at": iso(self.first_response_at),
            "closed_at": iso(self.closed_at),
            "close_outcome": self.close_outcome,
            "amount_recovered": str(self.amount_recovered) if self.amount_recovered is not None else None,
        }


@dataclass(frozen=True)
class LawyerRecord:
    id: int
    name: str
    telegram_user_id: str | None
    languages: tuple[str, ...]
    topics: tuple[str, ...]
    minors_qualified: bool
    supervisor: bool
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, lawyer: Lawyer) -> LawyerRecord:
        return cls(
            id=lawyer.id,
            name=lawyer.name,
            telegram_user_id=lawyer.telegram_user_id,
            languages=split_list(lawyer.languages),
            topics=split_list(lawyer.topics),
            minors_qualified=lawyer.minors_qualified,
            supervisor=lawyer.supervisor,
            active=lawyer.active,
            created_at=lawyer.created_at,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "telegram_user_id": self.telegram_user_id,
            "languages": list(self.languages),
            "topics": list(self.topics),
            "minors_qualified": self.minors_qualified,
            "supervisor": self.supervisor,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ShiftRecord:
    id: int
    lawyer_id: int
    lawyer_name: str
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, shift: DutyShift, lawyer_name: str) -> ShiftRecord:
        return cls(shift.id, shift.lawyer_id, lawyer_name, shift.starts_at, shift.ends_at)


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    case_id: int
    case_ref: str
    kind: str
    recipient: str  # 'lawyer:<id>' or 'person' (the case's person)
    payload: dict[str, Any]
    created_at: datetime
    attempts: int

    @classmethod
    def of(cls, item: OutboxItem, case_ref: str) -> OutboxRecord:
        return cls(
            item.id, item.case_id, case_ref, item.kind, item.recipient, item.payload, item.created_at, item.attempts
        )


@dataclass(frozen=True)
class EventRecord:
    id: int
    case_id: int
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: CaseEvent) -> EventRecord:
        return cls(event.id, event.case_id, event.at, event.actor, event.kind, event.detail)


@dataclass(frozen=True)
class MessageRecord:
    id: int
    case_id: int
    at: datetime
    direction: str
    text: str

    @classmethod
    def of(cls, message: CaseMessage) -> MessageRecord:
        return cls(message.id, message.case_id, message.at, message.direction, message.text)


@dataclass(frozen=True)
class EscalationRecord:
    """One case that went one level wider: the new level and the lawyers newly offered it."""

    case_id: int
    ref: str
    level: int
    lawyer_ids: tuple[int, ...]


@dataclass(frozen=True)
class RosterImport:
    added: int
    already_present: int


@dataclass(frozen=True)
class PersonRecord:
    """What the gateway needs of a person: whether and when they agreed to the privacy notice, and the language
    they chose (or last used). Never a name or a number."""

    id: int
    channel: str
    channel_key: str
    lang: str
    consent_at: datetime | None

    @property
    def consented(self) -> bool:
        return self.consent_at is not None


@dataclass(frozen=True)
class Erasure:
    """What `CaseStore.erase_person` did: whether the person was known, the refs of the cases whose personal
    content it erased, and the cases a lawyer had open (their lawyer is told the person withdrew, by the outbox
    item the erasure wrote)."""

    found: bool
    cases: tuple[str, ...] = ()
    withdrawn: tuple[tuple[str, int], ...] = ()  # (ref, lawyer id)
