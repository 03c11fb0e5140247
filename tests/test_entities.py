from datetime import date

import pytest

from hotline.entities import (
    normalise_entities,
    parse_age,
    parse_date,
    parse_district,
    parse_duration,
    parse_employer_type,
    parse_money,
)

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("span", "yuan"),
    [
        ("1.2万", 12000),
        ("一万二", 12000),
        ("12000元", 12000),
        ("8千块", 8000),
        ("八千多", 8000),
        ("三千五", 3500),
        ("15000", 15000),
        ("$2,400", 2400),
        ("8k", 8000),
        ("12000 yuan", 12000),
        ("两万", 20000),
        ("１２０００元", 12000),
    ],
)
def test_money_in_any_form_is_yuan(span: str, yuan: float) -> None:
    assert parse_money(span) == yuan


@pytest.mark.parametrize(
    ("span", "iso"),
    [
        ("三个月", "P3M"),
        ("半年", "P6M"),
        ("两年多", "P2Y"),
        ("two months", "P2M"),
        ("3 weeks", "P3W"),
        ("十天", "P10D"),
    ],
)
def test_durations_are_iso_8601(span: str, iso: str) -> None:
    assert parse_duration(span) == iso


@pytest.mark.parametrize(
    ("span", "iso"),
    [
        ("去年十月", "2025-10"),
        ("上个月15号", "2026-10-15"),
        ("2025年3月1日", "2025-03-01"),
        ("11个月前", "2025-12-28"),
        ("昨天", "2026-11-27"),
        ("three months ago", "2026-08-28"),
        ("2 weeks ago", "2026-11-14"),
        ("March 3rd", "2026-03-03"),
        ("May 2025", "2025-05"),
        ("十二月", "2025-12"),  # a month later than this one, without a year, was last year
    ],
)
def test_dates_are_relative_to_today(span: str, iso: str) -> None:
    assert parse_date(span, TODAY) == iso


def test_month_arithmetic_clamps_to_month_end() -> None:
    assert parse_date("1个月前", date(2026, 3, 31)) == "2026-02-28"


def test_ages_districts_employer_types() -> None:
    assert parse_age("14岁") == 14
    assert parse_age("十四岁") == 14
    assert parse_age("I'm 16") == 16
    assert parse_district("番禺") == "番禺区"
    assert parse_district("Panyu") == "番禺区"
    assert parse_employer_type("工地") == "construction_site"
    assert parse_employer_type("delivery app") == "platform"


def test_unreadable_spans_are_dropped_not_guessed() -> None:
    raw = [
        {"entity": "money", "value": "很多钱", "start": 0},
        {"entity": "money", "value": "一万二", "start": 5},
        {"entity": "money", "value": "12000", "start": 9},  # the same value twice is reported once
    ]
    assert normalise_entities(raw, TODAY) == [{"entity": "money", "value": 12000}]
