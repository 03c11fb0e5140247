"""`hotline report` on SQLite and PostgreSQL: what is counted (and said to be counted), response times as median
and p90, outcomes, amounts for wage and injury cases, minors' cases, the period on the office's clock; the HTML page
is self-contained."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hotline.cases import report
from hotline.cases.store import CaseStore
from tests.cases.conftest import T0, AddLawyer, NewCase
from tests.conftest import hotline_command

DAY = T0.date()  # Monday 2 November 2026 on the office's clock


def test_the_figures_of_a_period(store: CaseStore, add_lawyer: AddLawyer, new_case: NewCase) -> None:
    wang = add_lawyer("Wang", topics=["wages", "injury", "minors", "other"], minors_qualified=True)
    minutes = [5, 10, 20, 40, 90]
    cases = []
    for n, wait in enumerate(minutes):
        case = new_case(channel_key=f"tg:{n % 3}", at=T0 + timedelta(minutes=n))
        assert store.claim(case.id, wang.id, case.created_at + timedelta(minutes=1))
        store.record_first_response(case.id, case.created_at + timedelta(minutes=wait))
        cases.append(case)
    injury = new_case(topic="injury", channel="web", channel_key="web:a", urgent=True)
    minors = new_case(topic="minors", channel="12355", channel_key="12355:b", urgent=True)
    new_case(topic="other")  # left open
    assert store.claim(injury.id, wang.id, T0) and store.claim(minors.id, wang.id, T0)
    done = T0 + timedelta(days=1)
    assert store.close(cases[0].id, wang.id, "advice", Decimal(12000), done)
    assert store.close(cases[1].id, wang.id, "application", Decimal("3000.50"), done)
    assert store.close(injury.id, wang.id, "referred", Decimal(50000), done)
    assert store.close(minors.id, wang.id, "advice", None, done)
    new_case(at=T0 - timedelta(hours=11))  # 23:00 the day before in Guangzhou: outside the period
    new_case(at=T0 + timedelta(hours=13, minutes=59))  # 23:59 the same day: inside

    figures = report.build(store.cases_created_between(*report.period(DAY, DAY)), DAY, DAY)
    assert figures.handed_off == 9 and figures.urgent == 2
    assert figures.cases == {"wages": 6, "injury": 1, "minors": 1, "other": 1}
    # Distinct people: the wages cases came from three Telegram people (plus the fixture's own keys).
    assert figures.consultations[("wages", "telegram")] == 4
    assert figures.consultations[("injury", "web")] == figures.consultations[("minors", "12355")] == 1
    assert figures.median == timedelta(minutes=20) and figures.p90 == timedelta(minutes=90)
    assert figures.outcomes == {"advice": 2, "application": 1, "referred": 1, "with a lawyer": 3, "open": 2}
    assert figures.amounts["wages"] == report.Amounts(2, Decimal("15000.50"))
    assert figures.amounts["injury"] == report.Amounts(1, Decimal(50000))
    assert figures.minors == {"cases": 1, "urgent": 1, "with a lawyer": 0, "closed": 1}

    text = report.to_text(figures)
    assert text.startswith("Hotline report 2026-11-02 to 2026-11-02 (Asia/Shanghai days)\nCounted: consultations are")
    for line in (
        "Cases handed off: 9 (urgent: 2)",
        "(from the handoff; 5 cases answered): median 20 min, p90 1 h 30 min",
        "  wages         15,000.50 yuan in 2 cases",
        "  injury        50,000.00 yuan in 1 cases",
        "Minors' cases: 1 (urgent 1, with a lawyer 0, closed 1)",
    ):
        assert line in text, line

    page = report.to_html(figures)
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 4
    assert "<script" not in page and "src=" not in page and "href=" not in page and "@import" not in page


def test_an_empty_period_says_so(store: CaseStore) -> None:
    figures = report.build(store.cases_created_between(*report.period(DAY, DAY)), DAY, DAY)
    text = report.to_text(figures)
    assert "People handed off: 0" in text and "median -, p90 -" in text
    assert "Outcomes:\n  none" in text
    assert "<p class=none>none</p>" in report.to_html(figures)


def test_medians_percentiles_and_durations() -> None:
    values = tuple(timedelta(minutes=m) for m in (1, 2, 3, 4))
    assert report.median(values) == timedelta(minutes=2, seconds=30)
    assert report.percentile(values, 90) == timedelta(minutes=4)
    assert report.percentile((timedelta(minutes=7),), 90) == timedelta(minutes=7)
    assert report.median(()) is None and report.percentile((), 90) is None
    assert [report.duration(timedelta(minutes=m)) for m in (0, 59, 61, 60 * 49)] == [
        "0 min",
        "59 min",
        "1 h 01 min",
        "2 d 1 h",
    ]
    start, end = report.period(date(2026, 11, 2), date(2026, 11, 3))
    assert (start.isoformat(), end.isoformat()) == ("2026-11-02T00:00:00+08:00", "2026-11-04T00:00:00+08:00")


def test_the_command_refuses_bad_days_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOTLINE_VAR": str(tmp_path)}
    for args, message in (
        (["--from", "2026-11-05", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-05"),
        (["--from", "yesterday", "--to", "2026-11-01"], "give days as YYYY-MM-DD"),
    ):
        result = subprocess.run(
            [*hotline_command(), "report", *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert result.returncode == 1 and result.stderr.strip() == result.stderr.strip().splitlines()[0]
        assert message in result.stderr


def test_consultations_are_counted_once_per_conversation_and_topic(store: CaseStore) -> None:
    at = datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert store.record_consultation(channel="web", conversation_key="web:a", topic="wages", lang="zh", at=at)
    assert not store.record_consultation(channel="web", conversation_key="web:a", topic="wages", lang="zh", at=at)
    assert store.record_consultation(channel="web", conversation_key="web:a", topic="injury", lang="zh", at=at)
    assert store.record_consultation(channel="telegram", conversation_key="t:b", topic="wages", lang="en", at=at)
    counted = store.consultations_between(at - timedelta(days=1), at + timedelta(days=1))
    assert counted == Counter({("wages", "web"): 1, ("injury", "web"): 1, ("wages", "telegram"): 1})
    assert store.consultations_between(at + timedelta(hours=1), at + timedelta(days=1)) == Counter()
