"""The legal-aid eligibility rules the guided flows apply: plain functions of the facts a flow collected.

Each rule returns an Assessment whose reasons cite their articles (texts in hotline/data/messages.yml under
`reasons`, so a lawyer reviews them beside the code). Sources: shared/domain/legal-rules.md; thresholds are data
(hotline/data/hardship_standards.yml). The bot screens and informs; the office decides (Legal Aid Law Art. 43).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

Facts = Mapping[str, Any]
Result = Literal[
    "exempt",  # in scope, no means check (LAL Art. 42)
    "no_means_test",  # no economic condition at all (LAL Art. 32)
    "mandatory_defence",  # appointed defence, free (LAL Art. 25)
    "likely_eligible",
    "likely_not",
    "cannot_tell",  # a person decides
]

# LAL Art. 44(1): aid may be given first when fewer than 7 days remain to a limitation period or deadline.
URGENT_DAYS = 7
STANDARDS_FILE = Path(__file__).resolve().parent / "data" / "hardship_standards.yml"


@dataclass(frozen=True)
class Reason:
    code: str  # key under `reasons:` in messages.yml
    article: str  # what it rests on, e.g. "LAL Art. 42(3)"
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    flow: str
    result: Result
    scope: str | None  # the article that puts the matter within legal aid, when known
    reasons: tuple[Reason, ...]
    urgent: bool = False
    deadline: date | None = None  # the last day to act (arbitration or injury recognition), when one applies
    prepare: tuple[str, ...] = ()  # keys under `prepare:` in messages.yml
    where: str = "apply_general"  # key under `where:`
    hotlines: tuple[str, ...] = ("legal_service",)
    minors_lawyer: bool = False  # route only to lawyers qualified for minors (MPL Art. 104)

    def as_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "result": self.result,
            "scope": self.scope,
            "reasons": [{"code": r.code, "article": r.article, **dict(r.params)} for r in self.reasons],
            "urgent": self.urgent,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "minors_lawyer": self.minors_lawyer,
        }


# --- dates -------------------------------------------------------------------------------------------------


def fact_date(value: Any) -> date | None:
    """A collected date (`2025-10-03`, or `2025-10` when the person gave only a month).

    A month without a day counts from its first day: the earlier start gives the earlier deadline, so the
    person is never told they have more time than they may have.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value if len(value) > 7 else f"{value}-01")
    except ValueError:
        return None


def one_year_after(start: date) -> date:
    """The last day of a one-year period starting on `start`: the same date a year later (28 Feb for 29 Feb)."""
    year = start.year + 1
    return date(year, start.month, min(start.day, calendar.monthrange(year, start.month)[1]))


def _deadline_reasons(deadline: date, today: date, code: str, article: str) -> tuple[list[Reason], bool]:
    days_left = (deadline - today).days
    params = {"deadline": deadline.isoformat(), "days": str(max(days_left, 0))}
    if days_left < 0:
        return [Reason(f"{code}_passed", article, params)], True
    reasons = [Reason(code, article, params)]
    if days_left < URGENT_DAYS:
        reasons.append(Reason("urgent_deadline", "LAL Art. 44(1)", params))
        return reasons, True
    return reasons, False


# --- the hardship standard ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HardshipStandard:
    effective_from: date
    monthly_threshold_yuan: float
    basis: str
    source: str
    confidence: str
    verified: bool


@lru_cache(maxsize=1)
def _standards() -> tuple[float, tuple[HardshipStandard, ...]]:
    data = yaml.safe_load(STANDARDS_FILE.read_text("utf-8"))
    rows = tuple(
        HardshipStandard(
            effective_from=row["effective_from"],
            monthly_threshold_yuan=float(row["monthly_threshold_yuan"]),
            basis=str(row["basis"]),
            source=str(row["source"]),
            confidence=str(row["confidence"]),
            verified=bool(row["verified"]),
        )
        for row in data["standards"]
    )
    return float(data["uncertainty_band"]), tuple(sorted(rows, key=lambda r: r.effective_from))


def standard_on(day: date) -> HardshipStandard:
    """The Guangzhou hardship standard in force on `day` (the latest row that started on or before it)."""
    rows = [r for r in _standards()[1] if r.effective_from <= day]
    if not rows:
        raise LookupError(f"{STANDARDS_FILE.name}: no hardship standard in force on {day}")
    return rows[-1]


# --- matter-specific findings (shared by the topic rules and the means test) ------------------------------------


def wages_findings(facts: Facts, today: date) -> tuple[list[Reason], bool, date | None]:
    """Limitation and who pays, for an unpaid-wages claim."""
    reasons: list[Reason] = []
    urgent = False
    deadline: date | None = None
    if facts.get("still_employed") is True:
        # LDMAL Art. 27 ¶4: no limitation for wage arrears while the employment lasts.
        reasons.append(Reason("wages_no_limit_while_employed", "LDMAL Art. 27"))
    elif (ended := fact_date(facts.get("ended_on"))) is not None:
        # LDMAL Art. 27 ¶4: once the employment ends, arbitration within one year of the day it ended.
        deadline = one_year_after(ended)
        found, urgent = _deadline_reasons(deadline, today, "wages_limitation", "LDMAL Art. 27")
        reasons += found
    if facts.get("workplace") == "construction_site":
        code = "wages_subcontractor" if facts.get("subcontracted") else "wages_construction"
        reasons.append(Reason(code, "Wage Payment Regulations Arts. 29, 30, 36"))
    if (amount := facts.get("amount")) is not None:
        reasons.append(Reason("wages_amount", "Labour Law Art. 50", {"amount": f"{float(amount):,.0f}"}))
    return reasons, urgent, deadline


def injury_findings(facts: Facts, today: date) -> tuple[list[Reason], bool, date | None]:
    """Whether it is likely a work injury, and the worker's own deadline for recognition."""
    reasons: list[Reason] = []
    urgent = False
    deadline: date | None = None
    how = facts.get("how")
    if how == "at_work":
        reasons.append(Reason("injury_at_work", "WIIR Art. 14(1)"))
    elif how == "commute":
        if facts.get("commute_at_fault") is True:
            reasons.append(Reason("injury_commute_at_fault", "WIIR Art. 14(6)"))
        else:
            reasons.append(Reason("injury_commute", "WIIR Art. 14(6)"))
    elif how == "disease":
        reasons.append(Reason("injury_disease", "WIIR Art. 14(4)"))
    elif how == "work_trip":
        reasons.append(Reason("injury_work_trip", "WIIR Art. 14(5)"))
    elif how is not None:
        reasons.append(Reason("injury_unclear", "WIIR Arts. 14, 15, 16"))
    start = fact_date(facts.get("injured_on"))
    if facts.get("employer_applied") == "yes":
        reasons.append(Reason("injury_employer_applied", "WIIR Art. 17"))
    elif start is not None:
        # WIIR Art. 17 ¶2: if the employer did not apply within 30 days, the worker applies within one year.
        deadline = one_year_after(start)
        found, urgent = _deadline_reasons(deadline, today, "injury_deadline", "WIIR Art. 17")
        reasons += found
    if facts.get("insured") is False:
        reasons.append(Reason("injury_uninsured", "WIIR Art. 62"))
    return reasons, urgent, deadline


# --- the rules the flows call ---------------------------------------------------------------------------------


def assess_wages(facts: Facts, today: date) -> Assessment:
    """Unpaid wages of a migrant worker: in scope (LAL Art. 31(5)), exempt from the means check (Art. 42(3))."""
    reasons, urgent, deadline = wages_findings(facts, today)
    reasons.insert(0, Reason("exempt_migrant_wages", "LAL Art. 42(3); Wage Payment Regulations Art. 45"))
    return Assessment(
        flow="wages",
        result="exempt",
        scope="LAL Art. 31(5)",
        reasons=tuple(reasons),
        urgent=urgent,
        deadline=deadline,
        prepare=("migrant_proof", "wages_evidence", "id_card"),
        where="apply_labour",
        hotlines=("labour", "legal_service"),
    )


def assess_injury(facts: Facts, today: date) -> Assessment:
    """Work injury of a migrant worker: in scope (LAL Art. 31(7)), exempt from the means check (Art. 42(3))."""
    reasons, urgent, deadline = injury_findings(facts, today)
    result: Result = "exempt"
    if facts.get("how") == "commute" and facts.get("commute_at_fault") is True:
        result = "cannot_tell"  # probably not a work injury; a lawyer looks at the other claims
    reasons.insert(0, Reason("exempt_migrant_injury", "LAL Art. 42(3)"))
    return Assessment(
        flow="injury",
        result=result,
        scope="LAL Art. 31(7)",
        reasons=tuple(reasons),
        urgent=urgent,
        deadline=deadline,
        prepare=("migrant_proof", "injury_evidence", "id_card"),
        where="apply_injury",
        hotlines=("labour", "legal_service"),
    )


MINOR_MATTERS = ("violence", "support", "suspect", "school", "child_labour", "guardianship", "other")


def _minors(
    result: Result,
    scope: str | None,
    reasons: tuple[Reason, ...],
    prepare: tuple[str, ...],
    where: str,
    urgent: bool = False,
) -> Assessment:
    lawyer = Reason("minors_lawyer", "MPL Art. 104")
    return Assessment(
        flow="minors",
        result=result,
        scope=scope,
        reasons=(*reasons, lawyer),
        urgent=urgent,
        prepare=prepare,
        where=where,
        hotlines=("police", "youth", "government"),
        minors_lawyer=True,
    )


def assess_minors(facts: Facts, today: date) -> Assessment:
    """A young person's matter. Always for a lawyer qualified for minors (MPL Art. 104)."""
    matter = facts.get("minor_matter", "other")
    no_livelihood = Reason("exempt_minor_no_livelihood", "LAL Art. 42(1)")
    who_applies = Reason("minors_who_applies", "LAL Art. 40")
    match matter:
        case "violence":
            reasons = (
                Reason("minors_safety_first", "MPL Art. 11"),
                Reason("no_means_test_violence", "LAL Art. 32(4)"),
                Reason("minors_protection_order", "MPL Art. 108; Anti-Domestic Violence Law Art. 23"),
                who_applies,
            )
            return _minors(
                "no_means_test", "LAL Art. 32(4)", reasons, ("minors_violence_evidence",), "apply_minors", True
            )
        case "suspect":
            defence = Reason("minors_appointed_defence", "LAL Arts. 25(1), 36; Criminal Procedure Law Art. 278")
            return _minors(
                "mandatory_defence", "LAL Art. 25(1)", (defence,), ("minors_suspect_info",), "apply_defence", True
            )
        case "support":
            right = Reason("minors_support_right", "Civil Code Arts. 1067, 1085")
            prepare = ("support_evidence", "minor_documents")
            return _minors("exempt", "LAL Art. 31(4)", (right, no_livelihood, who_applies), prepare, "apply_general")
        case "child_labour":
            labour = Reason("minors_child_labour", "MPL Art. 61; Labour Law Art. 15; WIIR Art. 66")
            prepare = ("wages_evidence", "minor_documents")
            return _minors("exempt", "LAL Art. 31(5)", (labour, no_livelihood), prepare, "apply_labour")
        case "guardianship":
            revoked = Reason("minors_guardianship", "MPL Art. 108")
            unverified = Reason("guardianship_order220_unverified", "Guangzhou Order No. 220 (2026), unverified")
            return _minors("cannot_tell", None, (revoked, unverified), ("minor_documents",), "apply_general")
        case "school":
            school = Reason("minors_school", "MPL Arts. 11, 40")
            return _minors("cannot_tell", None, (school, no_livelihood), ("minor_documents",), "apply_general")
    other = Reason("minors_other", "MPL Art. 11")
    return _minors("cannot_tell", None, (other, no_livelihood), ("minor_documents",), "apply_general")


# The matter a means-tested inquiry is about → the scope article of LAL Art. 31 (None: not listed; a person decides).
MEANS_MATTERS: Mapping[str, str | None] = {
    "wages": "LAL Art. 31(5)",
    "injury": "LAL Art. 31(7)",
    "traffic": "LAL Art. 31(7)",
    "medical": "LAL Art. 31(7)",
    "support": "LAL Art. 31(4)",
    "social_insurance": "LAL Art. 31(2)",
    "state_compensation": "LAL Art. 31(1)",
    "domestic_violence": "LAL Art. 32(4)",
    "other": None,
}


def assess_means(facts: Facts, today: date) -> Assessment:
    """The means test for everything not exempt: scope (LAL Art. 31), then the Guangdong hardship rule."""
    matter = str(facts.get("matter", "other"))
    scope = MEANS_MATTERS.get(matter)
    reasons: list[Reason] = []
    urgent = False
    deadline: date | None = None
    if matter == "wages":
        reasons, urgent, deadline = wages_findings(facts, today)
    elif matter == "injury":
        reasons, urgent, deadline = injury_findings(facts, today)
    pledge = Reason("integrity_pledge", "LAL Arts. 41, 64")
    if matter == "domestic_violence":
        return Assessment(
            flow="means_test",
            result="no_means_test",
            scope=scope,
            reasons=(Reason("no_means_test_violence", "LAL Art. 32(4)"), *reasons),
            urgent=urgent,
            deadline=deadline,
            prepare=("violence_evidence", "id_card"),
        )
    if scope is None:
        reasons.insert(0, Reason("scope_unclear", "LAL Art. 31(9)"))
    else:
        reasons.insert(0, Reason("in_scope", scope, {"scope": scope}))
    band, _ = _standards()
    standard = standard_on(today)
    threshold = standard.monthly_threshold_yuan
    household = max(int(facts.get("household") or 1), 1)
    income = float(facts.get("income") or 0)
    per_capita = income / household
    params = {
        "per_capita": f"{per_capita:,.0f}",
        "threshold": f"{threshold:,.0f}",
        "household": str(household),
        "income": f"{income:,.0f}",
        "since": standard.effective_from.isoformat(),
    }
    basis = "Guangdong Order No. 268 Art. 3; LAL Art. 34"
    if not standard.verified:
        reasons.append(Reason("standard_unverified", "Guangzhou Order No. 220 (2026)", params))
    result: Result
    if facts.get("assets") is True:
        reasons.append(Reason("means_assets", basis, params))
        result = "likely_not"
    elif per_capita < threshold * (1 - band if not standard.verified else 1):
        reasons.append(Reason("means_below", basis, params))
        result = "likely_eligible"
    elif facts.get("hardship") is True and per_capita < 2 * threshold:
        # Art. 3(2): shock expenses above income, and income below 100% of the urban figure (twice the threshold)
        reasons.append(Reason("means_hardship", basis, params))
        result = "likely_eligible"
    elif not standard.verified and per_capita < threshold * (1 + band):
        reasons.append(Reason("means_near", basis, params))
        result = "cannot_tell"
    else:
        reasons.append(Reason("means_above", basis, params))
        reasons.append(Reason("elsewhere", "Measures on Litigation Fees Art. 44"))
        result = "likely_not"
    if scope is None and result == "likely_eligible":
        result = "cannot_tell"
    reasons.append(pledge)
    prepare = ("means_declaration", "id_card") + (("wages_evidence",) if matter == "wages" else ())
    return Assessment(
        flow="means_test",
        result=result,
        scope=scope,
        reasons=tuple(reasons),
        urgent=urgent,
        deadline=deadline,
        prepare=prepare,
    )


RULES: Mapping[str, Callable[[Facts, date], Assessment]] = {
    "assess_wages": assess_wages,
    "assess_injury": assess_injury,
    "assess_minors": assess_minors,
    "assess_means": assess_means,
}
