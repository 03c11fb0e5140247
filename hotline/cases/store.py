"""CaseStore: the cases handed off to duty lawyers. Every method is one transaction.

Two guarantees the lawyer desk relies on:
- **Notifications are never lost nor duplicated by a crash.** A change and the notifications it causes (offers,
  'taken', escalations, notices to the person) are written in the same transaction, as rows of `outbox_items`.
  A sender reads `pending_outbox`, delivers, and calls `mark_sent`; after a crash it finds the same rows again.
- **A case is claimed once.** `claim` is a single conditional UPDATE (`... WHERE status IN ('queued',
  'offered')`); the database serialises concurrent updates of one row, so exactly one caller sees a row count
  of 1. PostgreSQL re-checks the condition after the winner commits; SQLite takes the write lock at BEGIN.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, Result, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.cases.db import session_factory
from hotline.cases.models import (
    CHANNELS,
    DIRECTIONS,
    LANGS,
    OFFICE_TZ,
    OPEN_STATUSES,
    OUTCOMES,
    STATUSES,
    TOPICS,
    WEB_CHANNELS,
    Case,
    CaseEvent,
    CaseMessage,
    CaseOffer,
    Consultation,
    DutyShift,
    InboxMessage,
    KeptMessage,
    Lawyer,
    OutboxItem,
    Person,
)
from hotline.cases.records import (
    CaseError,
    CaseRecord,
    Erasure,
    EscalationRecord,
    EventRecord,
    LawyerRecord,
    MessageRecord,
    OutboxRecord,
    PersonRecord,
    RosterImport,
    ShiftRecord,
)
from hotline.cases.roster import RosterError, read_roster
from hotline.cases.routing import (
    eligible_lawyers,
    may_see,
    may_see_clause,
    next_shift_start,
    offered_lawyer_ids,
    supervisors,
    visible_on_duty,
)

__all__ = ["CaseError", "CaseStore", "RosterError", "eligible_lawyers"]

# How long a sender may take to deliver an outbox item before another sender may try it.
OUTBOX_LEASE = timedelta(seconds=15)
# The prefix of the random keys an erased person's leftovers get (the person row, counted consultations).
ERASED_KEY_PREFIX = "erased-"
# How many of the eligible lawyers (least loaded first) get the first offer; escalation widens it.
DEFAULT_OFFER_WIDTH = 3
# The last escalation level: 1 = everyone on duty who may see the case, 2 = the supervisors.
MAX_ESCALATION = 2
# A mainland mobile number: the channel key must be a pseudonym, never this.
_PHONE = re.compile(r"^(\+?86)?1[3-9]\d{9}$")
# A Telegram chat id (private chats are positive, groups negative). Not checked against _PHONE: it is Telegram's
# number for the chat, and an 11-digit id must not be refused for looking like a phone number.
_TELEGRAM_CHAT = re.compile(r"-?\d{1,20}")


def _aware(at: datetime, name: str = "at") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise CaseError(f"{name} {at.isoformat()} has no time zone")
    return at.astimezone(UTC)


def _one_of(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise CaseError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value


def _list_of(values: Iterable[str], allowed: Sequence[str], what: str) -> str:
    """The stored form of a lawyer's languages or topics: checked, without repeats, comma-separated."""
    items = [value.strip() for value in values if value.strip()]
    if not items:
        raise CaseError(f"give at least one {what}: {', '.join(allowed)}")
    for item in items:
        _one_of(item, allowed, what)
    return ",".join(dict.fromkeys(items))


def _json(value: object, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        raise CaseError(f"{what} must be JSON (strings, numbers, lists, objects): {error}") from error


def _is_yuan(amount: Decimal) -> bool:
    """A non-negative amount the NUMERIC(14, 2) column keeps exactly (no silent rounding of fen)."""
    exponent = amount.as_tuple().exponent
    return amount.is_finite() and amount >= 0 and isinstance(exponent, int) and exponent >= -2 and amount < 10**12


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (Session.execute is typed for SELECTs; an UPDATE gives a CursorResult)."""
    assert isinstance(result, CursorResult)
    return result.rowcount


def _lawyer(lawyer_id: int) -> str:
    return f"lawyer:{lawyer_id}"


def _event(session: Session, case: Case, at: datetime, actor: str, kind: str, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case.id, at=at, actor=actor, kind=kind, detail=detail))


def _notify(session: Session, case: Case, at: datetime, kind: str, recipient: str, **payload: Any) -> None:
    # The ref and codes only: the sender fetches what it shows, and the person's words stay in their tables.
    session.add(
        OutboxItem(
            case_id=case.id,
            kind=kind,
            recipient=recipient,
            payload={"ref": case.ref, **payload},
            created_at=at,
            attempts=0,
        )
    )


def _notify_person(session: Session, case: Case, at: datetime, notice: str, **payload: Any) -> None:
    """A notice for the case's person when they can be reached: on Telegram (a reply address), or in the web
    chat's inbox, which their page fetches. An item no one can deliver would only wait in the outbox."""
    person = session.get_one(Person, case.person_id)
    if person.reply_address is not None or person.channel in WEB_CHANNELS:
        _notify(session, case, at, "person_notice", "person", notice=notice, **payload)


def _offer(session: Session, case: Case, lawyers: Sequence[Lawyer], at: datetime, level: int, kind: str) -> list[int]:
    """Offer the case to `lawyers` not offered it yet: an offer row and an outbox item each."""
    already = set(offered_lawyer_ids(session, case.id))
    new = [lawyer for lawyer in lawyers if lawyer.id not in already and may_see(lawyer, case)]
    for lawyer in new:
        session.add(CaseOffer(case_id=case.id, lawyer_id=lawyer.id, level=level, offered_at=at))
        _notify(
            session,
            case,
            at,
            kind,
            _lawyer(lawyer.id),
            topic=case.topic,
            lang=case.lang,
            urgent=case.urgent,
            deadline=case.deadline.isoformat() if case.deadline else None,
            level=level,
        )
    if new and case.status == "queued":
        case.status = "offered"
        case.offered_at = case.offered_at or at
    return [lawyer.id for lawyer in new]


def _person_key(channel: str, channel_key: str) -> str:
    _one_of(channel, CHANNELS, "channel")
    channel_key = channel_key.strip()
    if not channel_key:
        raise CaseError("channel_key is empty")
    if _PHONE.match(re.sub(r"[\s-]", "", channel_key)):
        raise CaseError("channel_key looks like a phone number: give the channel's pseudonymous key")
    return channel_key


def _person_record(person: Person) -> PersonRecord:
    return PersonRecord(person.id, person.channel, person.channel_key, person.lang, person.consent_at)


def _erase_case(session: Session, case: Case, at: datetime, actor: str = "person", kind: str = "erased") -> None:
    """One case of an erased person: its personal content goes, the anonymous row and its audit trail stay. The
    lawyers who knew of it are told in the same transaction, through the outbox: those offered an open case get
    'taken' marked as a withdrawal (their copy of the offer is changed to say so), the lawyer who had it claimed
    gets 'withdrawn' (a message of its own). A retention purge (actor 'system', kind 'purged') only ever gets
    closed cases, so it tells no one."""
    was = case.status
    if was in OPEN_STATUSES:  # withdraw the offers: the lawyers' copies say it is gone
        for lawyer_id in offered_lawyer_ids(session, case.id):
            _notify(session, case, at, "taken", _lawyer(lawyer_id), withdrawn=True)
    elif was == "claimed" and case.assigned_lawyer_id is not None:
        _notify(session, case, at, "withdrawn", _lawyer(case.assigned_lawyer_id))
    if was != "closed":
        case.status = "closed"
        case.closed_at = at  # no outcome: the person withdrew (hotline report counts these as 'withdrawn')
    case.facts = {}
    case.eligibility = None
    case.deadline = None
    case.transcript_excerpt = ""
    session.execute(delete(CaseMessage).where(CaseMessage.case_id == case.id))
    # Notices for the person can no longer reach anyone (their reply address goes); they are done.
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.case_id == case.id, OutboxItem.recipient == "person", OutboxItem.sent_at.is_(None))
        .values(sent_at=at)
        .execution_options(synchronize_session=False)
    )
    _event(session, case, at, actor, kind, was=was)


def _forget_person(session: Session, person: Person, *, keep_row: bool) -> None:
    """An erased person: the row goes, or, while cases point at it, stays with a random key, no consent and no
    reply address, so that nothing links it to the channel any more."""
    if keep_row:
        person.channel_key = f"{ERASED_KEY_PREFIX}{uuid.uuid4().hex}"
        person.consent_at = None
        person.reply_address = None
    else:
        session.delete(person)


def _erase_by_key(session: Session, channel: str | None, channel_key: str) -> tuple[int, int]:
    """The person's rows in the tables known by their channel key (the conversation id), beside the cases. Every
    table that keeps something by that key gets its line here (the retention purge uses it too, with channel None:
    the keys carry their channel, 'tg:', 'web:', '12355:'). How many inbox and kept messages went."""
    # Consultations are the office's figures: kept, but under a random key each (one per conversation and topic).
    consultations = session.scalars(select(Consultation).where(Consultation.conversation_key == channel_key)).all()
    for consultation in consultations:
        consultation.conversation_key = f"{ERASED_KEY_PREFIX}{uuid.uuid4().hex}"
    # What waited for a web person, and messages kept while the dialogue was down (hotline/cases/mailbox.py).
    inbox = delete(InboxMessage).where(InboxMessage.channel_key == channel_key)
    if channel is not None:
        inbox = inbox.where(InboxMessage.channel == channel)
    inbox_count = _rowcount(session.execute(inbox))
    kept_count = _rowcount(session.execute(delete(KeptMessage).where(KeptMessage.conversation_key == channel_key)))
    return inbox_count, kept_count


class CaseStore:
    def __init__(self, engine: Engine, *, offer_width: int = DEFAULT_OFFER_WIDTH) -> None:
        if offer_width < 1:
            raise CaseError("offer_width must be at least 1")
        self.engine = engine
        self.offer_width = offer_width
        self._sessions = session_factory(engine)

    # --- cases ---------------------------------------------------------------------------------------------

    def create_case(
        self,
        *,
        channel: str,
        channel_key: str,
        lang: str,
        topic: str,
        facts: dict[str, Any],
        eligibility: dict[str, Any] | None,
        urgent: bool,
        deadline: date | None,
        consent: bool,
        transcript_excerpt: str,
        reply_address: str | None = None,
        at: datetime | None = None,
    ) -> CaseRecord:
        """The person (found again by channel and key), the case, its 'created' event and its offers to the
        least loaded eligible lawyers on duty, in one transaction. No one fits: the case waits, 'queued', and a
        person who can be written to gets a notice saying whether someone on duty may still take it (on_duty,
        through escalation) or else when the next duty shift starts (expect: None when the roster has nothing
        ahead). `reply_address` is the Telegram chat id (only for channel 'telegram')."""
        at = _aware(at or datetime.now(UTC))
        _one_of(channel, CHANNELS, "channel")
        _one_of(lang, LANGS, "lang")
        _one_of(topic, TOPICS, "topic")
        channel_key = channel_key.strip()
        if not channel_key:
            raise CaseError("channel_key is empty")
        if _PHONE.match(re.sub(r"[\s-]", "", channel_key)):
            raise CaseError("channel_key looks like a phone number: give the channel's pseudonymous key")
        _json(facts, "facts")
        _json(eligibility, "eligibility")
        if reply_address is not None:
            reply_address = reply_address.strip()
            if channel != "telegram" or not _TELEGRAM_CHAT.fullmatch(reply_address):
                raise CaseError("reply_address must be a Telegram chat id, on the telegram channel only")
        with self._sessions.begin() as session:
            person = self._person(session, channel, channel_key, lang, consent, at, reply_address)
            case = Case(
                person_id=person.id,
                topic=topic,
                facts=facts,
                eligibility=eligibility,
                urgent=urgent,
                deadline=deadline,
                lang=lang,
                channel=channel,
                consent=consent,
                transcript_excerpt=transcript_excerpt,
                status="queued",
                created_at=at,
                escalation_level=0,
            )
            session.add(case)
            session.flush()  # the id, unique on both databases under concurrency, makes the ref
            case.ref = f"GZLA-{at.astimezone(OFFICE_TZ).year}-{case.id:06d}"
            offered = _offer(session, case, eligible_lawyers(session, case, at)[: self.offer_width], at, 0, "offer")
            _event(session, case, at, "system", "created", offered_to=offered)
            if not offered:
                # Someone on duty who may see it gets it when it escalates (in minutes); otherwise the next shift.
                on_duty = bool(visible_on_duty(session, case, at))
                expect = None if on_duty else next_shift_start(session, case, at)
                _notify_person(
                    session, case, at, "queued", on_duty=on_duty, expect=expect.isoformat() if expect else None
                )
            session.flush()
            return CaseRecord.of(case)

    def _person(
        self,
        session: Session,
        channel: str,
        channel_key: str,
        lang: str,
        consent: bool,
        at: datetime,
        reply_address: str | None = None,
    ) -> Person:
        query = select(Person).where(Person.channel == channel, Person.channel_key == channel_key)
        person = session.scalars(query).one_or_none()
        if person is None:
            try:
                # A savepoint: if the same person's second message created them meanwhile, use theirs.
                with session.begin_nested():
                    person = Person(channel=channel, channel_key=channel_key, lang=lang, created_at=at)
                    session.add(person)
            except IntegrityError:
                person = session.scalars(query).one()
        person.lang = lang
        if consent and person.consent_at is None:
            person.consent_at = at
        if reply_address is not None:
            person.reply_address = reply_address
        return person

    def get_case(self, case_id: int) -> CaseRecord | None:
        with self._sessions.begin() as session:
            case = session.get(Case, case_id)
            return CaseRecord.of(case) if case else None

    def list_cases(self, status: str | None = None) -> list[CaseRecord]:
        """The queue as lawyers see it: urgent cases first, then the oldest first."""
        query = select(Case).order_by(Case.urgent.desc(), Case.created_at, Case.id)
        if status is not None:
            query = query.where(Case.status == _one_of(status, STATUSES, "status"))
        with self._sessions.begin() as session:
            return [CaseRecord.of(case) for case in session.scalars(query)]

    def cases_created_between(self, start: datetime, end: datetime) -> list[CaseRecord]:
        """The cases created in [start, end), oldest first (for `hotline report`)."""
        query = (
            select(Case)
            .where(Case.created_at >= _aware(start, "start"), Case.created_at < _aware(end, "end"))
            .order_by(Case.created_at, Case.id)
        )
        with self._sessions.begin() as session:
            return [CaseRecord.of(case) for case in session.scalars(query)]

    def record_consultation(self, *, channel: str, conversation_key: str, topic: str, lang: str, at: datetime) -> bool:
        """Count one inquiry (once per conversation and topic, so a return or a repeated question is not counted
        again). False when it was already counted."""
        _one_of(channel, CHANNELS, "channel")
        _one_of(topic, TOPICS, "topic")
        _one_of(lang, LANGS, "lang")
        if not conversation_key.strip():
            raise CaseError("conversation_key is empty")
        with self._sessions.begin() as session:
            known = session.scalar(
                select(Consultation.id).where(
                    Consultation.conversation_key == conversation_key, Consultation.topic == topic
                )
            )
            if known is not None:
                return False
            session.add(
                Consultation(
                    conversation_key=conversation_key,
                    channel=channel,
                    topic=topic,
                    lang=lang,
                    started_at=_aware(at, "at"),
                )
            )
            try:
                session.flush()
            except IntegrityError:  # counted at the same moment by another process: once is enough
                return False
        return True

    def consultations_between(self, start: datetime, end: datetime) -> Counter[tuple[str, str]]:
        """Inquiries started in [start, end), by (topic, channel)."""
        query = select(Consultation.topic, Consultation.channel).where(
            Consultation.started_at >= _aware(start, "start"), Consultation.started_at < _aware(end, "end")
        )
        with self._sessions.begin() as session:
            return Counter((topic, channel) for topic, channel in session.execute(query))

    def offered_to(self, case_id: int) -> list[int]:
        """The ids of the lawyers a case has been offered to, in the order offered."""
        with self._sessions.begin() as session:
            return offered_lawyer_ids(session, case_id)

    def events(self, case_id: int) -> list[EventRecord]:
        with self._sessions.begin() as session:
            query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            return [EventRecord.of(event) for event in session.scalars(query)]

    # --- a lawyer takes, gives back, closes ------------------------------------------------------------------

    def claim(self, case_id: int, lawyer_id: int, at: datetime) -> bool:
        """True for exactly one of any number of concurrent callers. False when the case is taken or closed,
        or when the lawyer may not see it (unknown, inactive, or a minors' case and not qualified). A lawyer who
        may see a case may also take it from the queue without an offer."""
        at = _aware(at)
        claim = (
            update(Case)
            .where(Case.id == case_id, Case.status.in_(OPEN_STATUSES), may_see_clause(lawyer_id))
            .values(status="claimed", assigned_lawyer_id=lawyer_id, claimed_at=at)
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            if _rowcount(session.execute(claim)) != 1:
                return False
            case = session.get_one(Case, case_id)
            for other in offered_lawyer_ids(session, case_id):
                if other != lawyer_id:
                    _notify(session, case, at, "taken", _lawyer(other))
            _notify(session, case, at, "person_notice", "person", notice="claimed")
            _event(session, case, at, _lawyer(lawyer_id), "claimed")
        return True

    def release(self, case_id: int, lawyer_id: int, at: datetime) -> bool:
        """The assigned lawyer gives the case back: it is offered afresh (not to them), from level 0."""
        at = _aware(at)
        release = (
            update(Case)
            .where(Case.id == case_id, Case.status == "claimed", Case.assigned_lawyer_id == lawyer_id)
            .values(
                status="queued",
                assigned_lawyer_id=None,
                claimed_at=None,
                offered_at=None,
                escalation_level=0,
                escalated_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            if _rowcount(session.execute(release)) != 1:
                return False
            case = session.get_one(Case, case_id)
            session.execute(delete(CaseOffer).where(CaseOffer.case_id == case_id))
            others = [lawyer for lawyer in eligible_lawyers(session, case, at) if lawyer.id != lawyer_id]
            offered = _offer(session, case, others[: self.offer_width], at, 0, "offer")
            _event(session, case, at, _lawyer(lawyer_id), "released", offered_to=offered)
            _notify_person(session, case, at, "released")
        return True

    def close(self, case_id: int, lawyer_id: int, outcome: str, amount_recovered: Decimal | None, at: datetime) -> bool:
        """The assigned lawyer closes their case; a supervisor (who may see it) may close any open case.
        False for anyone else, or when the case is closed already."""
        at = _aware(at)
        _one_of(outcome, OUTCOMES, "outcome")
        if amount_recovered is not None and not _is_yuan(amount_recovered):
            raise CaseError(f"amount_recovered {amount_recovered} is not an amount in yuan (at most 2 decimals)")
        with self._sessions.begin() as session:
            lawyer = session.get(Lawyer, lawyer_id)
            # Locked (PostgreSQL) so that the status read here is the one the update below changes.
            case = session.get(Case, case_id, with_for_update=True)
            if lawyer is None or case is None or not may_see(lawyer, case):
                return False
            own = and_(Case.status == "claimed", Case.assigned_lawyer_id == lawyer_id)
            allowed = Case.status != "closed" if lawyer.supervisor else own
            was_open = case.status in OPEN_STATUSES
            result = session.execute(
                update(Case)
                .where(Case.id == case_id, allowed)
                .values(status="closed", closed_at=at, close_outcome=outcome, amount_recovered=amount_recovered)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                return False
            if was_open:  # withdraw the offers still standing
                for other in offered_lawyer_ids(session, case_id):
                    _notify(session, case, at, "taken", _lawyer(other))
            amount = str(amount_recovered) if amount_recovered is not None else None
            _event(session, case, at, _lawyer(lawyer_id), "closed", outcome=outcome, amount_recovered=amount)
            _notify_person(session, case, at, "closed")
        return True

    def add_message(self, case_id: int, direction: str, text: str, at: datetime) -> int:
        """Store one message between the person and the lawyer; its id. The event records that it exists,
        not what it says."""
        at = _aware(at)
        _one_of(direction, DIRECTIONS, "direction")
        if not text.strip():
            raise CaseError("an empty message")
        with self._sessions.begin() as session:
            case = session.get(Case, case_id)
            if case is None:
                raise CaseError(f"no case {case_id}")
            if direction == "person_to_lawyer":
                actor = "person"
            elif case.assigned_lawyer_id is not None:
                actor = _lawyer(case.assigned_lawyer_id)
            else:
                raise CaseError(f"case {case.ref} has no lawyer who could write to the person")
            message = CaseMessage(case_id=case_id, at=at, direction=direction, text=text)
            session.add(message)
            session.flush()
            _event(session, case, at, actor, "message", direction=direction, message_id=message.id)
            return message.id

    def messages(self, case_id: int) -> list[MessageRecord]:
        with self._sessions.begin() as session:
            query = select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.at, CaseMessage.id)
            return [MessageRecord.of(message) for message in session.scalars(query)]

    def record_first_response(self, case_id: int, at: datetime) -> bool:
        """The lawyer's first answer to the person (the figure the office reports); later calls change nothing."""
        at = _aware(at)
        with self._sessions.begin() as session:
            result = session.execute(
                update(Case)
                .where(Case.id == case_id, Case.first_response_at.is_(None))
                .values(first_response_at=at)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                return False
            case = session.get_one(Case, case_id)
            actor = _lawyer(case.assigned_lawyer_id) if case.assigned_lawyer_id is not None else "system"
            _event(session, case, at, actor, "first_response")
        return True

    # --- the lawyer desk and the person's side -------------------------------------------------------------

    def get_case_by_ref(self, ref: str) -> CaseRecord | None:
        with self._sessions.begin() as session:
            case = session.scalars(select(Case).where(Case.ref == ref.strip().upper())).one_or_none()
            return CaseRecord.of(case) if case else None

    def get_lawyer(self, lawyer_id: int) -> LawyerRecord | None:
        with self._sessions.begin() as session:
            lawyer = session.get(Lawyer, lawyer_id)
            return LawyerRecord.of(lawyer) if lawyer else None

    def lawyer_by_telegram(self, telegram_user_id: str) -> LawyerRecord | None:
        """The active lawyer with this Telegram user id, or None (unknown or removed: the desk refuses them)."""
        query = select(Lawyer).where(Lawyer.telegram_user_id == telegram_user_id.strip(), Lawyer.active)
        with self._sessions.begin() as session:
            lawyer = session.scalars(query).one_or_none()
            return LawyerRecord.of(lawyer) if lawyer else None

    def visible_case(self, case_id: int, lawyer_id: int) -> CaseRecord | None:
        """The case if this lawyer may see it (active; minors' cases only when qualified), else None: the desk
        answers "not available" without saying whether the case exists."""
        with self._sessions.begin() as session:
            case, lawyer = session.get(Case, case_id), session.get(Lawyer, lawyer_id)
            if case is None or lawyer is None or not may_see(lawyer, case):
                return None
            return CaseRecord.of(case)

    def open_cases_for(self, lawyer_id: int) -> list[CaseRecord]:
        """The queue one lawyer may see: open cases (not yet taken), urgent first, then the oldest first."""
        query = (
            select(Case)
            .where(Case.status.in_(OPEN_STATUSES), may_see_clause(lawyer_id))
            .order_by(Case.urgent.desc(), Case.created_at, Case.id)
        )
        with self._sessions.begin() as session:
            return [CaseRecord.of(case) for case in session.scalars(query)]

    def cases_of_lawyer(self, lawyer_id: int) -> list[CaseRecord]:
        """The lawyer's active cases (claimed, not closed), the oldest claim first."""
        query = (
            select(Case)
            .where(Case.status == "claimed", Case.assigned_lawyer_id == lawyer_id)
            .order_by(Case.claimed_at, Case.id)
        )
        with self._sessions.begin() as session:
            return [CaseRecord.of(case) for case in session.scalars(query)]

    def person_cases(self, channel: str, channel_key: str) -> list[CaseRecord]:
        """A person's cases, the newest first (for /status: only their own)."""
        query = (
            select(Case)
            .join(Person, Person.id == Case.person_id)
            .where(Person.channel == channel, Person.channel_key == channel_key)
            .order_by(Case.created_at.desc(), Case.id.desc())
        )
        with self._sessions.begin() as session:
            return [CaseRecord.of(case) for case in session.scalars(query)]

    def active_case_of_person(self, channel: str, channel_key: str) -> CaseRecord | None:
        """The person's case a lawyer has now (claimed, not closed), the latest claimed if several: while there
        is one, the gateway relays the person's messages to that lawyer instead of the bot's dialogue."""
        query = (
            select(Case)
            .join(Person, Person.id == Case.person_id)
            .where(Person.channel == channel, Person.channel_key == channel_key, Case.status == "claimed")
            .order_by(Case.claimed_at.desc(), Case.id.desc())
            .limit(1)
        )
        with self._sessions.begin() as session:
            case = session.scalars(query).first()
            return CaseRecord.of(case) if case else None

    def reply_address(self, case_id: int) -> str | None:
        """Where the case's person can be written to (the Telegram chat id), or None. Never log it."""
        query = select(Person.reply_address).join(Case, Case.person_id == Person.id).where(Case.id == case_id)
        with self._sessions.begin() as session:
            return session.scalars(query).one_or_none()

    # --- the person: consent, language, erasure ---------------------------------------------------------------

    def person(self, channel: str, channel_key: str) -> PersonRecord | None:
        """The person known by this channel key, or None (never wrote, or erased)."""
        query = select(Person).where(Person.channel == channel, Person.channel_key == channel_key)
        with self._sessions.begin() as session:
            person = session.scalars(query).one_or_none()
            return _person_record(person) if person else None

    def consent_of(self, channel: str, channel_key: str) -> datetime | None:
        """When the person agreed to the privacy notice, or None (not asked yet, declined, or erased since)."""
        person = self.person(channel, channel_key)
        return person.consent_at if person else None

    def record_consent(self, channel: str, channel_key: str, lang: str, at: datetime) -> PersonRecord:
        """The person agreed to the privacy notice (shown in `lang`): the person row, created if needed, with the
        time of their first agreement (a later agreement does not move it) and that language."""
        at = _aware(at)
        channel_key = _person_key(channel, channel_key)
        _one_of(lang, LANGS, "lang")
        with self._sessions.begin() as session:
            person = self._person(session, channel, channel_key, lang, True, at)
            session.flush()
            return _person_record(person)

    def set_person_lang(self, channel: str, channel_key: str, lang: str) -> bool:
        """The language the person chose (/lang). False if the store does not know them (no consent yet)."""
        _one_of(lang, LANGS, "lang")
        with self._sessions.begin() as session:
            result = session.execute(
                update(Person)
                .where(Person.channel == channel, Person.channel_key == channel_key)
                .values(lang=lang)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def erase_person(self, channel: str, channel_key: str, at: datetime) -> Erasure:
        """Erase what the store holds about a person, in one transaction (the person asked: Telegram's /delete).

        Their cases stay as anonymous rows, so that the office's figures for the year stay right (a case was
        handed off, on this topic, on this channel, at this time), with an audit event 'erased'; everything
        personal in them goes: the facts, the eligibility result (computed from the facts), the deadline, the
        transcript excerpt and the messages between them and the lawyer. An open case is withdrawn (the lawyers
        offered it get 'taken', marked withdrawn); a case a lawyer has is closed without an outcome and that lawyer
        gets a 'withdrawn' outbox item, in this same transaction, so a crash after the erasure cannot leave them
        untold (`Erasure.withdrawn` lists them; the caller only wakes the sender). The person row goes; if cases
        still point at it, it stays with a random key, no reply address and no consent, so that nothing links it
        to the channel any more. Their counted consultations keep their topic, channel and time under a random
        key. The retention purge (hotline/cases/retention.py) erases idle persons the same way.

        Tables that hold a person's data by channel key are erased in `_erase_by_key` (extend it there)."""
        at = _aware(at)
        _one_of(channel, CHANNELS, "channel")
        query = select(Person).where(Person.channel == channel, Person.channel_key == channel_key)
        with self._sessions.begin() as session:
            person = session.scalars(query.with_for_update()).one_or_none()
            refs: list[str] = []
            withdrawn: list[tuple[str, int]] = []
            if person is not None:
                cases = session.scalars(
                    select(Case).where(Case.person_id == person.id).order_by(Case.id).with_for_update()
                ).all()
                for case in cases:
                    assert case.ref is not None
                    refs.append(case.ref)
                    if case.status == "claimed" and case.assigned_lawyer_id is not None:
                        withdrawn.append((case.ref, case.assigned_lawyer_id))
                    _erase_case(session, case, at)
                _forget_person(session, person, keep_row=bool(cases))
            _erase_by_key(session, channel, channel_key)
            return Erasure(person is not None, tuple(refs), tuple(withdrawn))

    def decline(self, case_id: int, lawyer_id: int, at: datetime) -> bool:
        """A lawyer declines an open case they may see: noted once as an event (the offer stays where it is;
        escalation widens it in time). False if they may not see it, it is no longer open, or already noted."""
        at = _aware(at)
        actor = _lawyer(lawyer_id)
        with self._sessions.begin() as session:
            case, lawyer = session.get(Case, case_id), session.get(Lawyer, lawyer_id)
            if case is None or lawyer is None or not may_see(lawyer, case) or case.status not in OPEN_STATUSES:
                return False
            noted = select(CaseEvent.id).where(
                CaseEvent.case_id == case_id, CaseEvent.actor == actor, CaseEvent.kind == "declined"
            )
            if session.scalars(noted).first() is not None:
                return False
            _event(session, case, at, actor, "declined")
        return True

    def record_offer_message(self, case_id: int, lawyer_id: int, message_ref: str) -> bool:
        """The offer reached the lawyer as this message: a sender restarted after a crash does not send it
        again, and 'taken' edits it. False if there is no such offer."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(CaseOffer)
                .where(CaseOffer.case_id == case_id, CaseOffer.lawyer_id == lawyer_id)
                .values(message_ref=message_ref)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def offer_message(self, case_id: int, lawyer_id: int) -> str | None:
        query = select(CaseOffer.message_ref).where(CaseOffer.case_id == case_id, CaseOffer.lawyer_id == lawyer_id)
        with self._sessions.begin() as session:
            return session.scalars(query).first()

    # --- escalation ----------------------------------------------------------------------------------------

    def escalate_unclaimed(self, now: datetime, after: timedelta) -> list[EscalationRecord]:
        """Open cases untouched for `after` (since offered, last escalated or, if never offered, created) go
        one level wider: level 1 offers them to everyone on duty who may see them, level 2 to the supervisors.
        Urgent cases first; one transaction per case, so two schedulers running at once escalate each once."""
        now = _aware(now, "now")
        clock = func.coalesce(Case.escalated_at, Case.offered_at, Case.created_at)
        due = (
            select(Case.id, Case.escalation_level)
            .where(Case.status.in_(OPEN_STATUSES), Case.escalation_level < MAX_ESCALATION, clock <= now - after)
            .order_by(Case.urgent.desc(), Case.id)
        )
        with self._sessions.begin() as session:
            candidates = list(session.execute(due).tuples())
        escalated: list[EscalationRecord] = []
        for case_id, level in candidates:
            record = self._escalate(case_id, level, now)
            if record is not None:
                escalated.append(record)
        return escalated

    def _escalate(self, case_id: int, level: int, now: datetime) -> EscalationRecord | None:
        step = (
            update(Case)
            .where(Case.id == case_id, Case.status.in_(OPEN_STATUSES), Case.escalation_level == level)
            .values(escalation_level=level + 1, escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        with self._sessions.begin() as session:
            if _rowcount(session.execute(step)) != 1:
                return None  # claimed, closed or escalated by someone else meanwhile
            case = session.get_one(Case, case_id)
            wider = visible_on_duty(session, case, now) if level + 1 == 1 else supervisors(session, case)
            offered = _offer(session, case, wider, now, level + 1, "escalated")
            _event(session, case, now, "system", "escalated", level=level + 1, offered_to=offered)
            assert case.ref is not None
            return EscalationRecord(case.id, case.ref, level + 1, tuple(offered))

    # --- outbox --------------------------------------------------------------------------------------------

    def pending_outbox(self, limit: int = 100) -> list[OutboxRecord]:
        """Notifications not yet marked sent, urgent cases' first, otherwise in the order written. Read-only:
        an item comes back on every call until mark_sent; a sender claims each (claim_outbox_item) before sending."""
        query = (
            select(OutboxItem, Case.ref)
            .join(Case, Case.id == OutboxItem.case_id)
            .where(OutboxItem.sent_at.is_(None))
            .order_by(Case.urgent.desc(), OutboxItem.id)
            .limit(limit)
        )
        with self._sessions.begin() as session:
            return [OutboxRecord.of(item, ref or "") for item, ref in session.execute(query).tuples()]

    def claim_outbox_item(self, item_id: int, now: datetime, lease: timedelta = OUTBOX_LEASE) -> bool:
        """Hold a pending item for `lease` while this sender delivers it; False if it is sent or another sender
        holds it. With several gateways each runs a sender; this conditional UPDATE lets one of them have it."""
        now = _aware(now)
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id == item_id,
                    OutboxItem.sent_at.is_(None),
                    or_(OutboxItem.claimed_until.is_(None), OutboxItem.claimed_until < now),
                )
                .values(claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def mark_sent(self, item_id: int, at: datetime) -> bool:
        """The item was delivered: it is never returned again. False if unknown or already marked."""
        at = _aware(at)
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.sent_at.is_(None))
                .values(sent_at=at, attempts=OutboxItem.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def mark_failed(self, item_id: int) -> None:
        """A delivery failed: counted in `attempts`; the item stays pending (and is let go of)."""
        with self._sessions.begin() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.sent_at.is_(None))
                .values(attempts=OutboxItem.attempts + 1, claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    # --- lawyers and the roster ----------------------------------------------------------------------------

    def add_lawyer(
        self,
        *,
        name: str,
        telegram_user_id: str | None = None,
        languages: Iterable[str] = ("zh",),
        topics: Iterable[str],
        minors_qualified: bool = False,
        supervisor: bool = False,
        at: datetime | None = None,
    ) -> LawyerRecord:
        at = _aware(at or datetime.now(UTC))
        name = name.strip()
        if not name:
            raise CaseError("a lawyer needs a name")
        telegram = (telegram_user_id or "").strip() or None
        if telegram is not None and not re.fullmatch(r"\d{1,20}", telegram):
            raise CaseError(f"telegram user id {telegram!r} is not a number (Telegram's numeric user id)")
        lawyer = Lawyer(
            name=name,
            telegram_user_id=telegram,
            languages=_list_of(languages, LANGS, "language"),
            topics=_list_of(topics, TOPICS, "topic"),
            minors_qualified=minors_qualified,
            supervisor=supervisor,
            active=True,
            created_at=at,
        )
        try:
            with self._sessions.begin() as session:
                if telegram is not None:
                    holder = session.scalars(select(Lawyer).where(Lawyer.telegram_user_id == telegram)).first()
                    if holder is not None:
                        raise CaseError(f"telegram user id {telegram} is already lawyer {holder.id} ({holder.name})")
                session.add(lawyer)
                session.flush()
                return LawyerRecord.of(lawyer)
        except IntegrityError as error:  # added by someone else between our check and our insert
            raise CaseError(f"telegram user id {telegram} is already registered") from error

    def list_lawyers(self, *, include_inactive: bool = True) -> list[LawyerRecord]:
        query = select(Lawyer).order_by(Lawyer.id)
        if not include_inactive:
            query = query.where(Lawyer.active)
        with self._sessions.begin() as session:
            return [LawyerRecord.of(lawyer) for lawyer in session.scalars(query)]

    def remove_lawyer(self, lawyer_id: int, at: datetime | None = None) -> bool:
        """Deactivate (the audit trail keeps referring to them): no more offers, claims or closings, and the cases
        they had go back to the duty queue, offered afresh, so no person is left talking to someone who no longer
        sees their case. False if there is no such active lawyer."""
        at = _aware(at) if at is not None else datetime.now(UTC)
        with self._sessions.begin() as session:
            result = session.execute(
                update(Lawyer)
                .where(Lawyer.id == lawyer_id, Lawyer.active)
                .values(active=False)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                return False
            claimed = session.scalars(
                select(Case.id).where(Case.assigned_lawyer_id == lawyer_id, Case.status == "claimed")
            ).all()
        for case_id in claimed:
            self.release(case_id, lawyer_id, at)
        return True

    def add_shift(self, lawyer_id: int, starts_at: datetime, ends_at: datetime) -> ShiftRecord:
        starts_at, ends_at = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
        if ends_at <= starts_at:
            raise CaseError("a shift must end after it starts")
        with self._sessions.begin() as session:
            lawyer = session.get(Lawyer, lawyer_id)
            if lawyer is None:
                raise CaseError(f"no lawyer {lawyer_id}")
            shift = DutyShift(lawyer_id=lawyer_id, starts_at=starts_at, ends_at=ends_at)
            session.add(shift)
            session.flush()
            return ShiftRecord.of(shift, lawyer.name)

    def import_roster_csv(self, path: Path) -> RosterImport:
        """Add the roster's shifts, all or none; a shift already present is not added twice. RosterError
        names each problem by file and line (unreadable times, unknown or inactive lawyers, ...)."""
        rows, problems = read_roster(path)
        with self._sessions.begin() as session:
            active = list(session.scalars(select(Lawyer).where(Lawyer.active)))
            by_telegram = {lawyer.telegram_user_id: lawyer for lawyer in active if lawyer.telegram_user_id}
            by_name: dict[str, list[Lawyer]] = {}
            for lawyer in active:
                by_name.setdefault(lawyer.name, []).append(lawyer)
            shifts: list[DutyShift] = []
            for row in rows:
                if row.telegram_user_id is not None:
                    found = [by_telegram[row.telegram_user_id]] if row.telegram_user_id in by_telegram else []
                    who = f"with telegram_user_id {row.telegram_user_id}"
                else:
                    found = by_name.get(row.name or "", [])
                    who = f"named {row.name!r}"
                if len(found) != 1:
                    many = f"{len(found)} active lawyers are" if found else "no active lawyer is"
                    problems.append((row.line, f"{path}:{row.line}: {many} {who}"))
                    continue
                shifts.append(DutyShift(lawyer_id=found[0].id, starts_at=row.starts_at, ends_at=row.ends_at))
            if problems:
                raise RosterError([problem for _, problem in sorted(problems, key=lambda problem: problem[0])])
            existing = {
                (shift.lawyer_id, shift.starts_at, shift.ends_at) for shift in session.scalars(select(DutyShift))
            }
            added = 0
            for shift in shifts:
                key = (shift.lawyer_id, shift.starts_at, shift.ends_at)
                if key not in existing:
                    existing.add(key)
                    session.add(shift)
                    added += 1
            return RosterImport(added=added, already_present=len(shifts) - added)

    def shifts(self, lawyer_id: int | None = None, *, ending_after: datetime | None = None) -> list[ShiftRecord]:
        query = select(DutyShift, Lawyer.name).join(Lawyer).order_by(DutyShift.starts_at, DutyShift.id)
        if lawyer_id is not None:
            query = query.where(DutyShift.lawyer_id == lawyer_id)
        if ending_after is not None:
            query = query.where(DutyShift.ends_at > _aware(ending_after, "ending_after"))
        with self._sessions.begin() as session:
            return [ShiftRecord.of(shift, name) for shift, name in session.execute(query).tuples()]
