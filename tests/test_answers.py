"""Free-text answers to flow questions are understood; buttons are only a shortcut."""

from datetime import date

import pytest

from hotline.answers import UNKNOWN, match_option, parse_answer, parse_yesno
from hotline.flow_schema import load_flows

TODAY = date(2026, 12, 1)
FLOWS = load_flows()


def step(flow: str, step_id: str):  # type: ignore[no-untyped-def]
    return FLOWS[flow].steps[step_id]


@pytest.mark.parametrize(
    "text",
    [
        "是的",
        "对",
        "嗯",
        "有",
        "yes",
        "yep",
        "Yeah",
        "係",
        "是啊，还在干",
        "sure",
        "有微信聊天记录",
        "还在干",
        "买了",
        "I have some texts",
    ],
)
def test_yes(text: str) -> None:
    assert parse_yesno(text) is True


@pytest.mark.parametrize(
    "text", ["不是", "没有", "没有啊", "no", "nope", "唔係", "冇", "not yet", "no it was not my fault", "不是我的错"]
)
def test_no(text: str) -> None:
    assert parse_yesno(text) is False


@pytest.mark.parametrize("text", ["不知道", "不清楚", "I don't know", "not sure", "唔知"])
def test_dont_know_is_an_answer(text: str) -> None:
    assert parse_yesno(text) is UNKNOWN


def test_the_model_decides_a_longer_yes_or_no() -> None:
    assert parse_yesno("老板说下个月再说", "deny") is False
    assert parse_yesno("老板说下个月再说") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("大概一万二", 12000), ("15000", 15000), ("8千块", 8000), ("1.5万", 15000), ("about 3k", 3000), ("没有收入", 0)],
)
def test_money(text: str, value: float) -> None:
    assert parse_answer(step("means_test", "income"), text, "zh", today=TODAY) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("去年十月", "2025-10"),
        ("three months ago", "2026-09-01"),
        ("11个月27天前", "2025-12-05"),
        ("2025-12-05", "2025-12-05"),
        ("上个月15号", "2026-11-15"),
    ],
)
def test_dates_relative_to_today(text: str, value: str) -> None:
    assert parse_answer(step("wages", "ended_on"), text, "zh", today=TODAY) == value


def test_a_future_date_is_not_an_answer_about_the_past() -> None:
    assert parse_answer(step("wages", "ended_on"), "2027-01-01", "zh", today=TODAY) is None


@pytest.mark.parametrize(("text", "value"), [("3", 3), ("三口人", 3), ("我们家5个人", 5), ("three", 3)])
def test_numbers(text: str, value: int) -> None:
    assert parse_answer(step("means_test", "household"), text, "zh", today=TODAY) == value


def test_numbers_outside_the_range_are_asked_again() -> None:
    assert parse_answer(step("means_test", "household"), "0", "zh", today=TODAY) is None
    assert parse_answer(step("minors", "age"), "150", "zh", today=TODAY) is None


@pytest.mark.parametrize(("text", "value"), [("番禺", "番禺区"), ("在白云区那边", "白云区"), ("Panyu", "番禺区")])
def test_districts(text: str, value: str) -> None:
    assert parse_answer(step("wages", "district"), text, "zh", today=TODAY) == value


def test_choices_by_label_number_or_own_words() -> None:
    workplace = step("wages", "workplace")
    assert match_option(workplace.options, "工厂", "zh") == "factory"
    assert match_option(workplace.options, "Factory", "en") == "factory"
    assert match_option(workplace.options, "1", "zh") == "construction_site"
    assert match_option(workplace.options, "我在电子厂上班", "zh") == "factory"
    assert match_option(workplace.options, "i deliver food for meituan", "en") == "platform"
    assert match_option(workplace.options, "随便", "zh") is None


def test_employer_applied_negations() -> None:
    applied = step("injury", "employer_applied")
    assert match_option(applied.options, "they did not apply", "en") == "no"
    assert match_option(applied.options, "没有申请", "zh") == "no"
    assert match_option(applied.options, "they did", "en") == "yes"
    assert match_option(applied.options, "申请了", "zh") == "yes"
    assert match_option(applied.options, "不清楚", "zh") == "unknown"
