"""Bad input for the answer parsers (hotline/answers.py), the entity values (hotline/entities.py) and the text
normalisation (hotline/text.py), with hypothesis: any Unicode (control characters, right-to-left marks, emoji,
markup, SQL-looking strings, 10 000 characters) is read without an exception, into the documented types; money
is a positive finite amount; a date without a year is never in the future; what the parsers promise to read
(`12000元`, `一万二千元`, `一万二`, `三个月`, `番禺`, `yes`/`不是`) reads back to the value it says.

Reproducible in CI: derandomized, no example database.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import cn2an
import opencc
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from hotline import answers, entities
from hotline.answers import UNKNOWN, match_option, parse_answer, parse_yesno
from hotline.entities import (
    DISTRICTS,
    EMPLOYER_TYPES,
    parse_age,
    parse_date,
    parse_district,
    parse_duration,
    parse_employer_type,
    parse_money,
    parse_number,
)
from hotline.flow_schema import Step, load_flows
from hotline.text import detect_lang, normalise

FLOWS = load_flows()
COLLECT_STEPS = [step for flow in FLOWS.values() for step in flow.steps.values() if step.kind == "collect"]
EXTRA_STEPS = [Step("how_long", "collect", type="duration"), Step("story", "collect", type="text")]
ALL_STEPS = COLLECT_STEPS + EXTRA_STEPS
CHOICE_STEPS = [step for step in COLLECT_STEPS if step.type == "choice"]

MANY = settings(max_examples=200, deadline=None, database=None, derandomize=True)
FEW = settings(max_examples=40, deadline=None, database=None, derandomize=True)
LONG = settings(max_examples=8, deadline=None, database=None, derandomize=True)

# What bad input is made of: control and format characters, right-to-left overrides, emoji (with joiners), markup,
# SQL, numbers in every script and size, and the words the parsers look for, so that they meet each other.
SPECIAL = [
    "\x00",
    "\x07",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u00ad",
    "\u200b",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u2028",
    "\ufeff",
    "\ufffd",
    "\t",
    "\r\n",
    "😀",
    "👨\u200d👩\u200d👧",
    "🇨🇳",
    "e\u0301",
    "ﷺ",
    "﷽",
    "مرحبا",
    "שלום",
    "<b>",
    "</a>",
    '<a href="tg://user?id=1">',
    "*bold*",
    "[x](tg://user?id=1)",
    "'; DROP TABLE cases; --",
    '" OR 1=1 --',
    "{text}",
    "%s",
    "nan",
    "inf",
    "-Infinity",
    "1e999",
    "-",
    ".",
    ",",
    "１２",
    "١٢",
    "元",
    "块",
    "万",
    "千",
    "k",
    "个月",
    "前",
    "天",
    "周",
    "年",
    "月",
    "日",
    "号",
    "去年",
    "今年",
    "上个月",
    "ago",
    "last ",
    "months",
    "一",
    "二",
    "两",
    "十",
    "百",
    "零",
    "半",
    "几",
    "番禺",
    "從化",
    "panyu",
    "不",
    "是",
    "没有",
    "yes",
    "no",
    "不知道",
    "工地",
]
pieces = st.one_of(
    st.text(max_size=6),
    st.sampled_from(SPECIAL),
    st.integers(-(10**15), 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
mixed = st.lists(pieces, max_size=25).map("".join)
texts = st.one_of(st.text(max_size=300), mixed)
# Up to 10 000 characters: a random piece repeated (hypothesis draws short texts far more cheaply than long ones).
long_texts = st.builds(
    lambda piece, size: (piece * (size // len(piece) + 1))[:size], mixed.filter(bool), st.integers(4000, 10_000)
)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))

# Characters normalise promises to remove: C0/C1 controls (tab and newline become spaces), zero-width characters,
# directional marks, embeddings, overrides and isolates, the byte-order mark.
REMOVED = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
ISO = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")
ISO_DURATION = re.compile(r"P(?P<n>\d+)(?P<unit>[YMWD])")
UNIT_DAYS = {"Y": 365.25, "M": 30.44, "W": 7.0, "D": 1.0}


def as_date(iso: str) -> date:
    assert ISO.fullmatch(iso), iso
    return date.fromisoformat(iso if len(iso) == 10 else iso + "-01")


def not_after(iso: str, today: date) -> bool:
    """A day is not after today; a month (`2026-12`) is not after today's month."""
    return iso <= today.isoformat()[: len(iso)]


def is_amount(value: object) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value >= 0


# --- hotline/text.py --------------------------------------------------------------------------------------------


def check_normalised(text: str) -> None:
    once = normalise(text)
    assert isinstance(once, str)
    assert normalise(once) == once, "normalise is idempotent"
    assert not REMOVED.search(once), f"control or directional characters left: {once!r}"
    assert not any(unicodedata.category(ch) == "Cc" for ch in once)
    assert once == once.strip() and "  " not in once and "\n" not in once


@MANY
@given(texts)
@example("\u202egnp.exe\u202c")
@example("\x00\x01\x1f\x7f\x9f")
@example("臺灣\u200b話\ufeff")
def test_normalise_is_idempotent_and_removes_control_characters(text: str) -> None:
    check_normalised(text)


@LONG
@given(long_texts)
def test_normalise_of_very_long_texts(text: str) -> None:
    check_normalised(text)


@MANY
@given(texts, st.sampled_from(["zh", "en"]))
def test_detect_lang_is_zh_or_en_and_keeps_the_default_without_words(text: str, default: Any) -> None:
    lang = detect_lang(text, default)
    assert lang in ("zh", "en")
    if not re.search(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[A-Za-z]{2,}", text):
        assert lang == default


# --- hotline/entities.py: anything in, the documented type out ---------------------------------------------------


@MANY
@given(texts)
@example("nan")
@example("inf")
@example("-Infinity")
@example("1e999")
@example("9" * 400)
def test_parse_number_is_none_or_a_finite_number(text: str) -> None:
    value = parse_number(text)
    assert value is None or (isinstance(value, float) and math.isfinite(value))


@MANY
@given(texts)
@example("9" * 400 + "元")
@example("-500元")
def test_parse_money_is_none_or_a_positive_finite_amount(text: str) -> None:
    value = parse_money(text)
    assert value is None or (is_amount(value) and value == round(value, 2))


@MANY
@given(texts)
def test_parse_duration_is_none_or_an_iso_duration(text: str) -> None:
    value = parse_duration(text)
    assert value is None or ISO_DURATION.fullmatch(value), value


@MANY
@given(texts, days)
@example("1000000个月前", date(2026, 12, 1))
@example("999999天前", date(2026, 12, 1))
@example("10000 years ago", date(2026, 12, 1))
@example("9" * 400 + "个月前", date(2026, 12, 1))
def test_parse_date_is_none_or_a_real_iso_date(text: str, today: date) -> None:
    value = parse_date(text, today)
    if value is not None:
        as_date(value)


@MANY
@given(texts)
def test_small_entities_are_none_or_known_values(text: str) -> None:
    assert parse_district(text) in {None, *DISTRICTS.values()}
    assert parse_employer_type(text) in {None, *EMPLOYER_TYPES.values()}
    age = parse_age(text)
    assert age is None or (isinstance(age, int) and 0 < age < 120)


PARSERS: list[Callable[[str], object]] = [
    normalise,
    detect_lang,
    parse_number,
    parse_money,
    parse_duration,
    parse_date,
    parse_district,
    parse_age,
    parse_employer_type,
    parse_yesno,
]


@LONG
@given(long_texts)
def test_every_parser_reads_a_very_long_text_without_an_exception(text: str) -> None:
    for parser in PARSERS:
        parser(text)


# --- hotline/answers.py: every question of every flow ------------------------------------------------------------


def check_answer(step: Step, value: object, today: date) -> None:
    match step.type:
        case "yesno":
            assert value is True or value is False or value is UNKNOWN or value is None
        case "choice":
            assert value is None or value in {option.value for option in step.options}
        case "money":
            assert value is None or is_amount(value)
        case "number":
            assert value is None or type(value) is int
            if isinstance(value, int):
                assert step.minimum is None or value >= step.minimum
                assert step.maximum is None or value <= step.maximum
        case "date":
            assert value is None or (isinstance(value, str) and not_after(value, today) and as_date(value))
        case "duration":
            assert value is None or (isinstance(value, str) and ISO_DURATION.fullmatch(value))
        case "district":
            assert value is None or value in DISTRICTS.values()
        case "text":
            assert value is None or (isinstance(value, str) and value and value == value.strip())
        case other:
            pytest.fail(f"a step type the test does not know: {other}")


@MANY
@given(
    st.sampled_from(ALL_STEPS),
    texts,
    st.sampled_from(["zh", "en"]),
    st.sampled_from([None, "affirm", "deny", "inform", "nlu_fallback"]),
    days,
)
@example(next(s for s in ALL_STEPS if s.type == "number"), "9" * 400, "zh", None, date(2026, 12, 1))
@example(CHOICE_STEPS[0], "nan", "en", None, date(2026, 12, 1))
@example(CHOICE_STEPS[0], "inf", "en", None, date(2026, 12, 1))
@example(CHOICE_STEPS[0], "1e999", "en", None, date(2026, 12, 1))
@example(next(s for s in ALL_STEPS if s.type == "date"), "1000000个月前", "zh", None, date(2026, 12, 1))
def test_every_flow_answer_is_understood_or_none_never_an_exception(
    step: Step, text: str, lang: str, intent: str | None, today: date
) -> None:
    check_answer(step, parse_answer(step, text, lang, intent, today), today)


@LONG
@given(st.sampled_from(ALL_STEPS), long_texts)
def test_every_flow_answer_of_10000_characters(step: Step, text: str) -> None:
    today = date(2026, 12, 1)
    check_answer(step, parse_answer(step, text, "zh", None, today), today)


@MANY
@given(st.sampled_from(CHOICE_STEPS), st.one_of(texts, st.floats().map(str), st.integers().map(str)))
def test_a_choice_is_one_of_the_options_or_none(step: Step, text: str) -> None:
    for patterns_only in (False, True):
        value = match_option(step.options, text, "zh", patterns_only)
        assert value is None or value in {option.value for option in step.options}


# --- what the parsers promise to read -----------------------------------------------------------------------------

amounts = st.integers(1, 10**7)


@MANY
@given(amounts, st.sampled_from(["{n}元", "{n}块", "{n} 元", "{n:,}元", "{n} yuan", "¥{n}", "大概{n}块钱", "{n}"]))
def test_an_amount_in_digits_reads_back(n: int, shape: str) -> None:
    assert parse_money(shape.format(n=n)) == n


@MANY
@given(amounts, st.sampled_from(["元", "块", "块钱", ""]))
def test_an_amount_in_chinese_numerals_reads_back(n: int, unit: str) -> None:
    spelled = cn2an.an2cn(n)
    if not unit:
        assume(any(ch in spelled for ch in "十百千万"))  # a bare 三 is no amount (一共, 两个), documented
    assert parse_money(spelled + unit) == n


digit = st.integers(1, 9)


@FEW
@given(digit, digit, st.sampled_from(["", "元", "块"]))
def test_colloquial_amounts_read_back(a: int, b: int, unit: str) -> None:
    """`一万二` is 12000 and `三千五` is 3500 (the module docstrings' own examples), `两万` is 20000."""
    cn = cn2an.an2cn
    assert parse_money(f"{cn(a)}万{cn(b)}{unit}") == a * 10_000 + b * 1_000
    assert parse_money(f"{cn(a)}千{cn(b)}{unit}") == a * 1_000 + b * 100
    assert parse_money(f"两万{cn(b)}{unit}") == 20_000 + b * 1_000


@FEW
@given(st.integers(1, 99), digit, st.sampled_from(["", "元", "块"]))
@example(1, 2, "")  # 1万2 → 10000.0 today
def test_colloquial_amounts_typed_with_digits_read_back(a: int, b: int, unit: str) -> None:
    """`1万2` is 12000 as `一万二` is, `3千5` is 3500 as `三千五` is: how amounts are typed in a chat."""
    assert parse_money(f"{a}万{b}{unit}") == a * 10_000 + b * 1_000
    assert parse_money(f"{a}万{b}千{unit}") == a * 10_000 + b * 1_000
    if a < 10:
        assert parse_money(f"{a}千{b}{unit}") == a * 1_000 + b * 100


@MANY
@given(st.decimals(min_value=Decimal("0.1"), max_value=Decimal("999.9"), places=1), st.sampled_from(["万", "w"]))
def test_ten_thousands_with_a_decimal_read_back(amount: Decimal, unit: str) -> None:
    assert parse_money(f"{amount}{unit}") == float(amount * 10_000)


@MANY
@given(st.integers(1, 9999), st.sampled_from(["k", "K", "千", "千块"]))
def test_thousands_read_back(n: int, unit: str) -> None:
    assert parse_money(f"{n}{unit}") == n * 1_000


@FEW
@given(st.sampled_from([s for s in COLLECT_STEPS if s.type == "number"]), st.integers(0, 40))
def test_a_number_answer_reads_back_within_its_bounds(step: Step, n: int) -> None:
    inside = (step.minimum is None or n >= step.minimum) and (step.maximum is None or n <= step.maximum)
    for text in (str(n), f"{n}个", f"大概{n}"):
        assert parse_answer(step, text, "zh") == (n if inside else None)


# --- yes and no ----------------------------------------------------------------------------------------------------

# The words of answers._YES and answers._NO, as a person types them.
YES_WORDS = [
    "是",
    "是的",
    "是啊",
    "对",
    "对的",
    "对啊",
    "嗯",
    "嗯嗯",
    "恩",
    "好",
    "好的",
    "有",
    "有的",
    "有啊",
    "係",
    "系",
    "系啊",
    "係呀",
    "啱",
    "冇错",
    "没错",
    "可以",
    "行",
    "当然",
    "yes",
    "yeah",
    "yep",
    "yup",
    "y",
    "sure",
    "right",
    "correct",
    "ok",
    "okay",
    "true",
    "did",
    "of course",
    "i did",
    "i do",
    "i am",
    "i was",
    "it was",
    "it is",
]
NO_WORDS = [
    "不是",
    "不对",
    "不是的",
    "没有",
    "没",
    "冇",
    "唔係",
    "唔系",
    "唔是",
    "唔使",
    "不用",
    "不要",
    "不",
    "否",
    "没呢",
    "还没",
    "未",
    "未有",
    "无",
    "no",
    "nope",
    "nah",
    "never",
    "n",
    "didn't",
    "didnt",
    "don't",
    "dont",
    "haven't",
    "hasn't",
    "wasn't",
    "isn't",
    "not really",
    "not yet",
    "did not",
    "do not",
    "no way",
]
SEPARATORS = [" ", ",", "，", "。", ".", "!", "！", "~", "啊", "呀", "了", "的"]


def casings(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize(), word.title()])


@MANY
@given(st.sampled_from(YES_WORDS).flatmap(casings), st.sampled_from(["", *SEPARATORS]), texts)
def test_a_yes_word_is_never_read_as_no(word: str, separator: str, tail: str) -> None:
    assert parse_yesno(word) is True
    assert parse_yesno(word + separator) is True
    assume(not answers._NOT_AT_FAULT.search(normalise(word + separator + tail).lower()))  # "yes, not my fault"
    if separator:
        assert parse_yesno(word + separator + tail) is not False


@MANY
@given(st.sampled_from(NO_WORDS).flatmap(casings), st.sampled_from(["", *SEPARATORS]), texts)
def test_a_no_word_is_never_read_as_yes(word: str, separator: str, tail: str) -> None:
    assert parse_yesno(word) is False
    assert parse_yesno(word + separator) is False
    if separator:
        assert parse_yesno(word + separator + tail) is not True


@FEW
@given(st.sampled_from([w for w in NO_WORDS if "'" in w]), st.sampled_from(["’", "‘", "ʼ", "＇"]))
def test_a_no_word_typed_with_a_phone_keyboards_apostrophe_is_still_no(word: str, apostrophe: str) -> None:
    """iOS and many Android keyboards type ’ (U+2019) for ': `didn’t`, `don’t` and `i don’t know`."""
    assert parse_yesno(word.replace("'", apostrophe)) is False
    assert parse_yesno(f"I don{apostrophe}t know") is UNKNOWN


# --- districts -----------------------------------------------------------------------------------------------------

_S2HK = opencc.OpenCC("s2hk")


@MANY
@given(st.sampled_from(sorted(DISTRICTS)), texts, texts, st.booleans())
def test_a_district_named_anywhere_is_found(key: str, before: str, after: str, traditional: bool) -> None:
    name = str(_S2HK.convert(key)) if traditional else key.upper() if key.isascii() else key
    assert parse_district(name) == DISTRICTS[key]
    found = parse_district(f"{before} {name} {after}")
    # Another district named around it may come first; it is one of those named, never an invented one.
    named = {v for k, v in DISTRICTS.items() if k in normalise(f"{before} {name} {after}").lower()}
    assert found in named and DISTRICTS[key] in named


# --- dates ---------------------------------------------------------------------------------------------------------

numbers_spelled = st.one_of(
    st.integers(0, 10**7).map(str), st.integers(1, 99).map(cn2an.an2cn), st.sampled_from(["几", "半", "两", "a", "two"])
)


@MANY
@given(
    numbers_spelled,
    st.sampled_from(
        [
            "个月前",
            "月前",
            "天前",
            "日前",
            "年前",
            "周前",
            "个星期前",
            "礼拜前",
            " days ago",
            " months ago",
            " years ago",
        ]
    ),
    days,
)
def test_so_long_ago_is_never_in_the_future_and_never_an_exception(number: str, unit: str, today: date) -> None:
    value = parse_date(number + unit, today)
    assert value is None or (not_after(value, today) and as_date(value))


@MANY
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), days)
def test_compound_ago_is_never_in_the_future_and_never_an_exception(y: int, m: int, d: int, today: date) -> None:
    for text in (f"{y}年{m}个月{d}天前", f"{m}个月{d}天前", f"{y} years and {m} months ago"):
        value = parse_date(text, today)
        assert value is None or (not_after(value, today) and as_date(value))


@MANY
@given(st.integers(1, 12), st.one_of(st.none(), st.integers(1, 31)), st.booleans(), st.sampled_from(["日", "号"]), days)
def test_a_month_and_day_without_a_year_is_never_in_the_future(
    month: int, day: int | None, chinese: bool, suffix: str, today: date
) -> None:
    """The contract of parse_date: a month (and day) without a year, later than today, is last year's."""

    def spell(n: int) -> str:
        return str(cn2an.an2cn(n)) if chinese else str(n)

    text = f"{spell(month)}月" + (f"{spell(day)}{suffix}" if day else "")
    value = parse_date(text, today)
    if value is None:  # only a day that no year has in that month (2月30日), or 2月29日 in a common year
        assert day is not None and day > 28
        return
    assert not_after(value, today)
    said = [f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "") for year in (today.year, today.year - 1)]
    assert value in said


@MANY
@given(st.sampled_from(entities._EN_MONTHS), st.sampled_from(["last", "this", "early", "late", "mid", "mid-"]), days)
def test_a_named_month_is_never_in_the_future(month: str, word: str, today: date) -> None:
    value = parse_date(f"{word} {month}", today)
    assert value is not None and not_after(value, today)
    assert as_date(value).month == entities._EN_MONTHS.index(month) + 1


@MANY
@given(texts, days)
def test_a_date_answer_is_never_in_the_future(text: str, today: date) -> None:
    for step in (s for s in COLLECT_STEPS if s.type == "date"):
        value = parse_answer(step, text, "zh", None, today)
        assert value is None or (not_after(value, today) and as_date(value))


# --- durations -----------------------------------------------------------------------------------------------------

DURATION_UNITS = {
    "天": 1.0,
    "日": 1.0,
    "周": 7.0,
    "个星期": 7.0,
    "个礼拜": 7.0,
    "个月": 30.44,
    "年": 365.25,
    " days": 1.0,
    " weeks": 7.0,
    " months": 30.44,
    " years": 365.25,
}


def duration_days(iso: str) -> float:
    match = ISO_DURATION.fullmatch(iso)
    assert match, iso
    return int(match["n"]) * UNIT_DAYS[match["unit"]]


@MANY
@given(st.integers(1, 10**6), st.sampled_from(sorted(DURATION_UNITS)), st.booleans())
def test_a_whole_duration_reads_back(n: int, unit: str, chinese: bool) -> None:
    spelled = str(cn2an.an2cn(n)) if chinese and n < 10**5 else str(n)
    value = parse_duration(spelled + unit)
    assert value is not None
    assert duration_days(value) == pytest.approx(n * DURATION_UNITS[unit])


@MANY
@given(
    st.one_of(
        st.decimals(min_value=Decimal("0.1"), max_value=Decimal("99.9"), places=1).map(str),
        st.sampled_from(["半", "0.5", "1.5", "2.5"]),
    ),
    st.sampled_from(sorted(DURATION_UNITS)),
)
@example("半", "天")  # half a day
@example("1.5", "天")
def test_a_fractional_duration_is_about_as_long_as_it_says(number: str, unit: str) -> None:
    """Rounded down to the next smaller unit (1.5年 → P18M, 1.5个月 → P45D), never longer than said."""
    value = parse_duration(number + unit)
    assert value is not None
    said = (0.5 if number == "半" else float(number)) * DURATION_UNITS[unit]
    got = duration_days(value)
    smaller_unit = {365.25: 30.44, 30.44: 1.0, 7.0: 1.0, 1.0: 1.0}[DURATION_UNITS[unit]]
    # A month counts 30 days in the parser, 30.44 here: 2% either way.
    assert said * 0.98 - smaller_unit <= got <= said * 1.02 + 0.01, f"{number}{unit} → {value}"


@FEW
@given(st.integers(1, 11), st.booleans())
@example(3, True)  # 三个半月 → P15D today
@example(1, True)  # 一年半 → P1Y today
def test_and_a_half_reads_as_one_half_more(n: int, chinese: bool) -> None:
    """`三个半月` is three and a half months, `一年半` a year and a half (as `1.5个月` is P45D, `1.5年` P18M)."""
    spelled = str(cn2an.an2cn(n)) if chinese else str(n)
    assert parse_duration(f"{spelled}个半月") == f"P{n * 30 + 15}D"
    assert parse_duration(f"{spelled}年半") == f"P{n * 12 + 6}M"


# --- no input takes long ---------------------------------------------------------------------------------------------

WORST_PIECES = ["1", "一", "1 ", "1,", "十", "1个"]


def fastest(parser: Callable[[str], object], text: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        parser(text)
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("piece", WORST_PIECES)
def test_a_4000_character_message_is_read_in_linear_time(parser: Callable[[str], object], piece: str) -> None:
    """The gateway lets 4000 characters through, and a flow answer is parsed whole in the action server's event
    loop; a regular expression that backtracks over a run of digits would hold every conversation up (it took
    1.5 s a call). Four times the text may take about four times as long, not sixteen; anything under 50 ms passes
    (timings that small are noise on a busy machine)."""
    quarter, whole = fastest(parser, piece * (1000 // len(piece))), fastest(parser, piece * (4000 // len(piece)))
    assert whole < 0.05 or whole < 8 * quarter, f"{whole:.3f} s for 4000 characters, {quarter:.3f} s for 1000"
