"""The retention purge: what the hotline keeps about people, kept no longer than RETENTION_DAYS (docs/security.md,
"What is kept, for how long"). `hotline purge` runs it, and the gateway runs it at start and then once a day.

For anything older than the limit (`before` = now − days) it erases
1. the personal content of cases closed before it: the same anonymisation as a person's /delete (facts,
   eligibility result, deadline, transcript excerpt, the messages with the lawyer), with an audit event 'purged';
   the anonymous row stays for the office's figures;
2. the messages kept while the dialogue was down that were answered before it, and the inbox messages a web
   person's page fetched before it (the page keeps its own copy);
3. every idle conversation: a conversation key (`tg:…`, `web:…`, `12355:…`, the same in Rasa's tracker store and
   in the case store) with no open case (queued, offered or claimed) and nothing newer than the limit anywhere,
   neither in Rasa's tracker store nor in the case store (the person's record and consent, their cases, the
   messages with the lawyer, inbox, kept messages, counted consultations). Its person record goes (or, when cases
   point at it, stays with a random key, no consent and no reply address, as after /delete), so do its inbox and
   kept messages; its consultations stay counted under random keys; its events go from Rasa's tracker store.

Nothing here tells anyone: an open case is never touched, so no lawyer loses a case to the purge. Each step is one
transaction, and each re-checks under a row lock what it erases, so several gateways purging at once erase
everything once. A dry run does the same steps in one transaction and rolls it back, so its counts are the ones a
real run would give (the tracker store's part is counted, not done). Logs say counts and case ids, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, case, delete, exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from hotline.cases.db import DatabaseError, session_factory, shown
from hotline.cases.models import (
    Case,
    CaseEvent,
    CaseMessage,
    Consultation,
    InboxMessage,
    KeptMessage,
    Person,
)
from hotline.cases.records import CaseError
from hotline.cases.store import ERASED_KEY_PREFIX, _erase_by_key, _erase_case, _forget_person, _rowcount
from hotline.rasa_tracker import TrackedConversation, TrackerEraser

log = logging.getLogger(__name__)

# Audit events after which a case's personal content is gone already.
CONTENT_GONE = ("erased", "purged")


@dataclass(frozen=True)
class PurgeCounts:
    cases: int = 0  # closed cases whose personal content was erased
    conversations: int = 0  # idle conversations erased
    persons: int = 0  # person records among them (removed, or left anonymous under their cases)
    tracker_events: int = 0  # events deleted from Rasa's tracker store
    kept_messages: int = 0  # messages kept while the dialogue was down, deleted
    inbox_messages: int = 0  # web inbox messages deleted

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def cutoff(days: int, now: datetime | None = None) -> datetime:
    """The instant before which things are purged."""
    if days < 1:
        raise CaseError(f"a retention period of {days} days: give at least 1")
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise CaseError("a naive time: the purge needs a time zone")
    return now.astimezone(UTC) - timedelta(days=days)


def purge(
    engine: Engine,
    tracker: TrackerEraser | None,
    days: int,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PurgeCounts:
    """Erase what is older than `days` (module docstring); the counts. `tracker` is Rasa's tracker store (None:
    only the case store's activity counts, and no conversation is erased there). Blocking: a worker thread."""
    at = now or datetime.now(UTC)
    before = cutoff(days, at)
    # The tracker store first: if it cannot be read, nothing has changed yet.
    try:
        tracked = tracker.conversations() if tracker is not None else {}
    except SQLAlchemyError as error:
        raise _tracker_error(tracker, "cannot read", error) from error
    with _steps(engine, dry_run) as step:
        with step() as session:
            case_ids = _purge_closed_cases(session, before, at)
        with step() as session:
            kept = _rowcount(session.execute(delete(KeptMessage).where(KeptMessage.answered_at < before)))
            inbox = _rowcount(session.execute(delete(InboxMessage).where(InboxMessage.fetched_at < before)))
        with step() as session:
            idle, erased, more_ids = _purge_idle_conversations(session, tracked, before, at)
    case_ids += more_ids
    counts = PurgeCounts(cases=len(case_ids), kept_messages=kept, inbox_messages=inbox) + erased
    if dry_run:
        events = sum(tracked[key].events for key in idle if key in tracked)
        return counts + PurgeCounts(tracker_events=events)
    events = 0
    try:
        for key in idle:
            if tracker is not None and key in tracked:
                events += tracker.erase_if_idle(key, before)
    except SQLAlchemyError as error:  # the case store's part is done; the next purge finds these still idle
        raise _tracker_error(tracker, "the case store is purged, but cannot erase from", error) from error
    counts += PurgeCounts(tracker_events=events)
    log.info("retention purge (%s days): %s", days, ", ".join(f"{k}={v}" for k, v in counts.as_dict().items()))
    if case_ids:
        log.info("retention purge: the personal content of cases %s erased", ", ".join(map(str, sorted(case_ids))))
    return counts


def _tracker_error(tracker: TrackerEraser | None, what: str, error: SQLAlchemyError) -> DatabaseError:
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    where = shown(tracker.database_url) if tracker is not None else "?"
    return DatabaseError(f"{what} Rasa's tracker store at {where} (RASA_TRACKER_URL): {reason}")


@contextmanager
def _steps(engine: Engine, dry_run: bool) -> Iterator[_Step]:
    sessions = session_factory(engine)
    if not dry_run:
        yield _Step(sessions, None)
        return
    session = sessions()
    try:
        session.begin()
        yield _Step(sessions, session)
    finally:
        session.rollback()  # a dry run changes nothing
        session.close()


class _Step:
    """A step's transaction: its own, committed at the end; in a dry run, the one shared transaction."""

    def __init__(self, sessions: sessionmaker[Session], shared: Session | None) -> None:
        self._sessions = sessions
        self._shared = shared

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        if self._shared is not None:
            yield self._shared
            self._shared.flush()
            return
        with self._sessions.begin() as session:
            yield session


def _content_gone(session: Session, case_id: int) -> bool:
    query = select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(CONTENT_GONE)).limit(1)
    return session.scalars(query).first() is not None


def _purge_case(session: Session, case_id: int, before: datetime, at: datetime) -> bool:
    """Erase one closed case's personal content, unless someone did meanwhile. The row lock makes a second purge
    wait for the first; the check after it is a statement of its own, so it sees what the first committed."""
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None or case.status != "closed" or case.closed_at is None or case.closed_at >= before:
        return False
    if _content_gone(session, case_id):
        return False
    _erase_case(session, case, at, actor="system", kind="purged")
    return True


def _purge_closed_cases(session: Session, before: datetime, at: datetime) -> list[int]:
    """The ids of the cases closed before the limit whose personal content went now."""
    gone = exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(CONTENT_GONE))
    due = select(Case.id).where(Case.status == "closed", Case.closed_at < before, ~gone).order_by(Case.id)
    return [case_id for case_id in session.scalars(due).all() if _purge_case(session, case_id, before, at)]


@dataclass
class _Activity:
    last: datetime | None = None
    open_case: bool = False

    def saw(self, *instants: datetime | None) -> None:
        for instant in instants:
            if instant is not None and (self.last is None or instant > self.last):
                self.last = instant


def _keyed(query: Select[Any], column: InstrumentedAttribute[str], keys: Collection[str] | None) -> Select[Any]:
    """Only these conversation keys, or (None) every key but an erased person's leftovers."""
    if keys is not None:
        return query.where(column.in_(keys))
    return query.where(~column.startswith(ERASED_KEY_PREFIX))


def _activity(session: Session, keys: Collection[str] | None = None) -> dict[str, _Activity]:
    """Each conversation key's newest instant in the case store, and whether its person has an open case (one
    not closed). `keys`: only these (a re-check); None: every key the store holds."""
    found: dict[str, _Activity] = {}
    still_open = func.sum(case((Case.status != "closed", 1), else_=0))
    queries: list[tuple[Select[Any], InstrumentedAttribute[str]]] = [
        (select(Person.channel_key, Person.created_at, Person.consent_at), Person.channel_key),
        (
            select(
                Person.channel_key,
                func.max(Case.created_at),
                func.max(Case.claimed_at),
                func.max(Case.first_response_at),
                func.max(Case.closed_at),
            )
            .join(Person, Person.id == Case.person_id)
            .group_by(Person.channel_key),
            Person.channel_key,
        ),
        (
            select(Person.channel_key, func.max(CaseMessage.at))
            .join(Case, Case.id == CaseMessage.case_id)
            .join(Person, Person.id == Case.person_id)
            .group_by(Person.channel_key),
            Person.channel_key,
        ),
        (
            select(
                InboxMessage.channel_key, func.max(InboxMessage.created_at), func.max(InboxMessage.fetched_at)
            ).group_by(InboxMessage.channel_key),
            InboxMessage.channel_key,
        ),
        (
            select(
                KeptMessage.conversation_key, func.max(KeptMessage.received_at), func.max(KeptMessage.answered_at)
            ).group_by(KeptMessage.conversation_key),
            KeptMessage.conversation_key,
        ),
        (
            select(Consultation.conversation_key, func.max(Consultation.started_at)).group_by(
                Consultation.conversation_key
            ),
            Consultation.conversation_key,
        ),
    ]
    for query, column in queries:
        for key, *instants in session.execute(_keyed(query, column, keys)):
            found.setdefault(key, _Activity()).saw(*instants)
    opened = (
        select(Person.channel_key, still_open).join(Person, Person.id == Case.person_id).group_by(Person.channel_key)
    )
    for key, open_cases in session.execute(_keyed(opened, Person.channel_key, keys)):
        if open_cases:
            found.setdefault(key, _Activity()).open_case = True
    return found


def _idle(activity: _Activity | None, tracked: TrackedConversation | None, before: datetime) -> bool:
    """Nothing newer than `before` in either store, and no open case. A conversation known by nothing with a time
    (tracker events without timestamps) is not judged idle: it is kept."""
    if activity is not None and activity.open_case:
        return False
    instants = [
        instant for instant in (activity and activity.last, tracked and tracked.last) if isinstance(instant, datetime)
    ]
    return bool(instants) and max(instants) < before


def _purge_idle_conversations(
    session: Session, tracked: dict[str, TrackedConversation], before: datetime, at: datetime
) -> tuple[list[str], PurgeCounts, list[int]]:
    """The case store's part of erasing the idle conversations: which keys were idle (their tracker events go
    afterwards), what went here, and the ids of cases whose content went here (not in the cases step)."""
    activity = _activity(session)
    candidates = sorted(key for key in {*activity, *tracked} if not key.startswith(ERASED_KEY_PREFIX))
    idle: list[str] = []
    counts = PurgeCounts()
    case_ids: list[int] = []
    for key in candidates:
        if not _idle(activity.get(key), tracked.get(key), before):
            continue
        persons = session.scalars(select(Person).where(Person.channel_key == key).with_for_update()).all()
        # Under the lock, again: a message, a case or a purge by another gateway since the first look.
        if not _idle(_activity(session, [key]).get(key), tracked.get(key), before):
            continue
        idle.append(key)
        counts += PurgeCounts(conversations=1, persons=len(persons))
        for person in persons:
            cases = session.scalars(
                select(Case).where(Case.person_id == person.id).order_by(Case.id).with_for_update()
            ).all()
            for one in cases:  # all closed before the limit (else the key is not idle), nearly always purged above
                if not _content_gone(session, one.id):
                    _erase_case(session, one, at, actor="system", kind="purged")
                    case_ids.append(one.id)
            _forget_person(session, person, keep_row=bool(cases))
        session.flush()
        inbox, kept = _erase_by_key(session, None, key)
        counts += PurgeCounts(inbox_messages=inbox, kept_messages=kept)
    return idle, counts, case_ids
