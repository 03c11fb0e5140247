"""Who may see a case and whom it is offered to. Small, read-only queries inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from hotline.cases.models import MINORS_TOPIC, Case, CaseOffer, DutyShift, Lawyer
from hotline.cases.records import split_list


def may_see(lawyer: Lawyer, case: Case) -> bool:
    """An active lawyer; for a minors' case only one qualified for minors' cases (Minors Protection Law
    Art. 104). Applies at every escalation level and to claims and closings alike."""
    return lawyer.active and (case.topic != MINORS_TOPIC or lawyer.minors_qualified)


def may_see_clause(lawyer_id: int) -> ColumnElement[bool]:
    """may_see as SQL, correlated to the `cases` row of the enclosing statement (for the claim's UPDATE)."""
    return exists().where(
        Lawyer.id == lawyer_id,
        Lawyer.active,
        or_(Case.topic != MINORS_TOPIC, Lawyer.minors_qualified),
    )


def on_duty_by_load(session: Session, at: datetime) -> list[Lawyer]:
    """Active lawyers on a shift covering `at`, least loaded first (claimed, not closed cases), then by id."""
    load = (
        select(Case.assigned_lawyer_id.label("lawyer_id"), func.count().label("n"))
        .where(Case.status == "claimed")
        .group_by(Case.assigned_lawyer_id)
        .subquery()
    )
    on_duty = exists().where(DutyShift.lawyer_id == Lawyer.id, DutyShift.starts_at <= at, DutyShift.ends_at > at)
    query = (
        select(Lawyer)
        .outerjoin(load, load.c.lawyer_id == Lawyer.id)
        .where(Lawyer.active, on_duty)
        .order_by(func.coalesce(load.c.n, 0), Lawyer.id)
    )
    return list(session.scalars(query))


def eligible_lawyers(session: Session, case: Case, at: datetime) -> list[Lawyer]:
    """The first offer: on duty at `at`, the case's topic and language among theirs, allowed to see it;
    least loaded first, then by id. Empty when no one fits: the case then waits in the queue."""
    return [
        lawyer
        for lawyer in on_duty_by_load(session, at)
        if may_see(lawyer, case)
        and case.topic in split_list(lawyer.topics)
        and case.lang in split_list(lawyer.languages)
    ]


def visible_on_duty(session: Session, case: Case, at: datetime) -> list[Lawyer]:
    """Escalation level 1: everyone on duty who may see the case, whatever their topics and languages."""
    return [lawyer for lawyer in on_duty_by_load(session, at) if may_see(lawyer, case)]


def supervisors(session: Session, case: Case) -> list[Lawyer]:
    """Escalation level 2: the supervisors who may see the case, on duty or not (they answer for the queue)."""
    query = select(Lawyer).where(Lawyer.active, Lawyer.supervisor).order_by(Lawyer.id)
    return [lawyer for lawyer in session.scalars(query) if may_see(lawyer, case)]


def offered_lawyer_ids(session: Session, case_id: int) -> list[int]:
    return list(session.scalars(select(CaseOffer.lawyer_id).where(CaseOffer.case_id == case_id).order_by(CaseOffer.id)))


def next_shift_start(session: Session, case: Case, after: datetime) -> datetime | None:
    """When the person may expect a lawyer: the earliest shift starting after `after` of a lawyer who would be
    offered the case (its topic and language, allowed to see it), else of anyone allowed to see it (escalation
    reaches them). None when the roster has nothing ahead."""
    query = (
        select(DutyShift.starts_at, Lawyer)
        .join(Lawyer, Lawyer.id == DutyShift.lawyer_id)
        .where(Lawyer.active, DutyShift.starts_at > after)
        .order_by(DutyShift.starts_at, DutyShift.id)
    )
    fallback: datetime | None = None
    for starts_at, lawyer in session.execute(query).tuples():
        if not may_see(lawyer, case):
            continue
        if case.topic in split_list(lawyer.topics) and case.lang in split_list(lawyer.languages):
            return starts_at
        fallback = fallback or starts_at
    return fallback
