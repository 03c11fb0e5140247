"""`hotline report`: the office's figures for a period, from the case store alone.

What is counted, and said in the output: consultations are the inquiries the hotline handled in the period,
handed off or not (one per conversation and topic, recorded by the action server when an inquiry starts); cases
are those created in the period (days on the office's clock, both ends included).
Times to the first lawyer response run from the handoff (the case's creation) to the lawyer's first message.

Text for the terminal; `to_html` is one self-contained page (inline CSS and SVG bars, no script, nothing
fetched), which the office can mail or print.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from hotline.cases.models import CHANNELS, OFFICE_TZ, OUTCOMES, TOPICS
from hotline.cases.records import CaseRecord

AMOUNT_TOPICS = ("wages", "injury")
# How the cases of the period stand now; 'withdrawn': closed without an outcome because the person had their data
# erased (CaseStore.erase_person).
OUTCOME_KEYS = (*OUTCOMES, "withdrawn", "with a lawyer", "open")
COUNTED = (
    "Counted: consultations are the inquiries the hotline handled in the period, handed off or not (one per "
    "conversation and topic); cases are those created in the period and handed to the lawyers."
)


@dataclass(frozen=True)
class Amounts:
    cases: int
    total: Decimal


@dataclass(frozen=True)
class Report:
    start: date
    end: date  # included
    consultations: Counter[tuple[str, str]]  # (topic, channel) -> inquiries
    people: int
    cases: Counter[str]  # topic -> cases handed off
    urgent: int
    first_responses: tuple[timedelta, ...]
    outcomes: Counter[str]  # close outcome, or 'open' / 'with a lawyer' for cases not closed
    amounts: dict[str, Amounts]
    minors: Counter[str]  # 'cases', 'urgent', 'with a lawyer', 'closed'

    @property
    def handed_off(self) -> int:
        return sum(self.cases.values())

    @property
    def median(self) -> timedelta | None:
        return median(self.first_responses)

    @property
    def p90(self) -> timedelta | None:
        return percentile(self.first_responses, 90)


def median(values: tuple[timedelta, ...]) -> timedelta | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: tuple[timedelta, ...], p: int) -> timedelta | None:
    """The nearest-rank percentile (a value that occurred, never an interpolation)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def period(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) on the office's clock."""
    return (
        datetime.combine(start, time(), tzinfo=OFFICE_TZ),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=OFFICE_TZ),
    )


def build(
    cases: list[CaseRecord], start: date, end: date, consultations: Counter[tuple[str, str]] | None = None
) -> Report:
    """The figures; `consultations` from the store's consultations table (without it, from the cases alone)."""
    people: dict[tuple[str, str], set[int]] = {}
    outcomes: Counter[str] = Counter()
    amounts: dict[str, list[Decimal]] = {topic: [] for topic in AMOUNT_TOPICS}
    minors: Counter[str] = Counter()
    for case in cases:
        people.setdefault((case.topic, case.channel), set()).add(case.person_id)
        if case.status == "closed":
            outcomes[case.close_outcome or "withdrawn"] += 1
        else:
            outcomes["with a lawyer" if case.status == "claimed" else "open"] += 1
        if case.topic in amounts and case.amount_recovered is not None:
            amounts[case.topic].append(case.amount_recovered)
        if case.topic == "minors":
            minors["cases"] += 1
            minors["urgent"] += case.urgent
            minors["with a lawyer"] += case.status == "claimed"
            minors["closed"] += case.status == "closed"
    return Report(
        start=start,
        end=end,
        consultations=consultations
        if consultations is not None
        else Counter({key: len(ids) for key, ids in people.items()}),
        people=len({case.person_id for case in cases}),
        cases=Counter(case.topic for case in cases),
        urgent=sum(case.urgent for case in cases),
        first_responses=tuple(
            case.first_response_at - case.created_at for case in cases if case.first_response_at is not None
        ),
        outcomes=outcomes,
        amounts={topic: Amounts(len(values), sum(values, Decimal(0))) for topic, values in amounts.items()},
        minors=minors,
    )


def duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = max(int(value.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def yuan(amount: Decimal) -> str:
    return f"{amount:,.2f} yuan"


def to_text(report: Report) -> str:
    lines = [f"Hotline report {report.start.isoformat()} to {report.end.isoformat()} (Asia/Shanghai days)", COUNTED, ""]
    lines.append(f"Consultations: {sum(report.consultations.values())}")
    channels = [channel for channel in CHANNELS if any(report.consultations[(t, channel)] for t in TOPICS)]
    if channels:
        lines.append("  " + "topic".ljust(8) + "".join(channel.rjust(10) for channel in channels))
        for topic in TOPICS:
            row = [report.consultations[(topic, channel)] for channel in channels]
            if any(row):
                lines.append("  " + topic.ljust(8) + "".join(str(n).rjust(10) for n in row))
    lines += ["", f"People handed off: {report.people}"]
    lines += [f"Cases handed off: {report.handed_off} (urgent: {report.urgent})"]
    lines += [f"  {topic:<8}{report.cases[topic]:>6}" for topic in TOPICS if report.cases[topic]]
    lines += [
        "",
        f"Time to first lawyer response (from the handoff; {len(report.first_responses)} cases answered): "
        f"median {duration(report.median)}, p90 {duration(report.p90)}",
        "",
        "Outcomes:",
    ]
    lines += [f"  {key:<14}{report.outcomes[key]:>6}" for key in OUTCOME_KEYS if report.outcomes[key]]
    if not report.outcomes:
        lines.append("  none")
    lines += ["", "Amounts recovered:"]
    for topic in AMOUNT_TOPICS:
        amounts = report.amounts[topic]
        lines.append(f"  {topic:<8}{yuan(amounts.total):>20} in {amounts.cases} cases")
    minors = report.minors
    lines += [
        "",
        f"Minors' cases: {minors['cases']} (urgent {minors['urgent']}, with a lawyer {minors['with a lawyer']}, "
        f"closed {minors['closed']})",
    ]
    return "\n".join(lines)


def _bars(rows: list[tuple[str, float, str]]) -> str:
    """Horizontal bars as inline SVG: (label, value, value as shown)."""
    if not rows:
        return "<p class=none>none</p>"
    top = max(value for _, value, _ in rows) or 1
    height, label_width, bar_width = 24, 150, 320
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 160}" '
        f'height="{height * len(rows)}" role="img">'
    ]
    for index, (label, value, shown) in enumerate(rows):
        y = index * height
        width = round(bar_width * value / top) if value > 0 else 0
        parts.append(f'<text x="0" y="{y + 16}">{html.escape(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{width}" height="16" fill="#3b6ea5"></rect>')
        parts.append(f'<text x="{label_width + width + 6}" y="{y + 16}">{html.escape(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: Report) -> str:
    title = f"Hotline report {report.start.isoformat()} to {report.end.isoformat()}"
    consultations = [
        (f"{topic} · {channel}", float(n), str(n))
        for topic in TOPICS
        for channel in CHANNELS
        if (n := report.consultations[(topic, channel)])
    ]
    cases = [(topic, float(report.cases[topic]), str(report.cases[topic])) for topic in TOPICS if report.cases[topic]]
    outcomes = [
        (key, float(report.outcomes[key]), str(report.outcomes[key])) for key in OUTCOME_KEYS if report.outcomes[key]
    ]
    amounts = [
        (
            f"{topic} ({report.amounts[topic].cases} cases)",
            float(report.amounts[topic].total),
            yuan(report.amounts[topic].total),
        )
        for topic in AMOUNT_TOPICS
    ]
    minors = report.minors
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 52em; color: #222; }}
h1 {{ font-size: 1.4em; }} h2 {{ font-size: 1.1em; margin-top: 1.6em; }}
svg text {{ font-size: 13px; font-family: sans-serif; }} .note {{ color: #555; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Days on the office's clock (Asia/Shanghai), both included. {html.escape(COUNTED)}</p>
<h2>Consultations by topic and channel: {report.people} people</h2>
{_bars(consultations)}
<h2>Cases handed off: {report.handed_off} (urgent: {report.urgent})</h2>
{_bars(cases)}
<h2>Time to first lawyer response</h2>
<p>From the handoff to the lawyer's first message, {len(report.first_responses)} cases answered:
median {html.escape(duration(report.median))}, p90 {html.escape(duration(report.p90))}.</p>
<h2>Outcomes</h2>
{_bars(outcomes)}
<h2>Amounts recovered (wage and injury cases)</h2>
{_bars(amounts)}
<h2>Minors' cases: {minors["cases"]}</h2>
<p>Urgent {minors["urgent"]}, with a lawyer {minors["with a lawyer"]}, closed {minors["closed"]}.</p>
</body></html>
"""
