"""Entity values: the spans Rasa's RegexEntityExtractor finds (patterns in nlu_data/entities.yml) turned into
values our code can reason with: money in yuan, durations as ISO 8601 (`P3M`), dates as ISO (`2025-10` or
`2025-10-03`, relative to today), ages in years, Guangzhou districts by their official name, employer types
as codes. A span that cannot be read is dropped, never guessed.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import cn2an
import dateparser

from hotline.text import normalise

_CN_DIGITS = "零〇一二两三四五六七八九十百千万"
_EN_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a few": 3,
    "several": 3,
}

DISTRICTS: Mapping[str, str] = {
    "越秀": "越秀区",
    "海珠": "海珠区",
    "荔湾": "荔湾区",
    "天河": "天河区",
    "白云": "白云区",
    "黄埔": "黄埔区",
    "番禺": "番禺区",
    "花都": "花都区",
    "南沙": "南沙区",
    "从化": "从化区",
    "增城": "增城区",
    "yuexiu": "越秀区",
    "haizhu": "海珠区",
    "liwan": "荔湾区",
    "tianhe": "天河区",
    "baiyun": "白云区",
    "huangpu": "黄埔区",
    "panyu": "番禺区",
    "huadu": "花都区",
    "nansha": "南沙区",
    "conghua": "从化区",
    "zengcheng": "增城区",
}

EMPLOYER_TYPES: Mapping[str, str] = {
    "建筑工地": "construction_site",
    "工地": "construction_site",
    "建筑公司": "construction_site",
    "包工头": "construction_site",
    "装修": "construction_site",
    "construction site": "construction_site",
    "building site": "construction_site",
    "construction": "construction_site",
    "工厂": "factory",
    "厂里": "factory",
    "电子厂": "factory",
    "制衣厂": "factory",
    "鞋厂": "factory",
    "factory": "factory",
    "外卖": "platform",
    "快递": "platform",
    "网约车": "platform",
    "滴滴": "platform",
    "美团": "platform",
    "饿了么": "platform",
    "跑腿": "platform",
    "平台": "platform",
    "delivery platform": "platform",
    "delivery app": "platform",
    "food delivery": "platform",
    "courier": "platform",
    "ride-hailing": "platform",
    "rideshare": "platform",
}


def parse_number(text: str) -> float | None:
    """Arabic or Chinese numerals, including colloquial `一万二` (12000) and `三千五` (3500)."""
    text = text.replace(",", "").strip()
    if not text:
        return None
    try:
        value = float(text)
        return value if math.isfinite(value) else None  # "nan", "inf", 400 nines: no number a person means
    except ValueError:
        pass
    if text in _EN_NUMBERS:
        return float(_EN_NUMBERS[text])
    if text == "半":
        return 0.5
    # 九千九百九十九万九千九百九十九 has 15 characters; cn2an takes quadratic time on a run of thousands.
    if len(text) > 24 or not all(ch in _CN_DIGITS for ch in text):
        return None
    try:
        return float(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError, IndexError, TypeError, OverflowError):  # OverflowError: 一一一… beyond a float
        return None


_MONEY = re.compile(rf"(?P<num>\d[\d,]*(?:\.\d+)?|[{_CN_DIGITS}]+)\s*(?P<mult>万|千|k|w)?(?![a-z])", re.IGNORECASE)


def _plausible_amount(match: re.Match[str], text: str) -> bool:
    num = match["num"]
    if num[0].isdigit() or match["mult"]:
        return True
    return any(ch in num for ch in "十百千万") or text[match.end() :].lstrip().startswith(("元", "块", "蚊"))


def parse_money(span: str) -> float | None:
    """`1.2万` → 12000, `一万二` → 12000, `12000元` → 12000, `8千块` → 8000, `$2,400` → 2400."""
    text = normalise(span).lower()
    # Prefer Arabic digits, then the longest Chinese numeral; a lone 一/两 (一共, 两个) is not an amount
    # unless a unit follows.
    candidates = [m for m in _MONEY.finditer(text) if _plausible_amount(m, text)]
    if not candidates:
        return None
    match = max(candidates, key=lambda m: (m["num"][0].isdigit(), len(m.group(0))))
    number = parse_number(match["num"])
    if number is None:
        return None
    multiplier = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000}.get((match["mult"] or "").lower(), 1)
    value = number * multiplier
    # Colloquial digits after the unit: 1万2 = 12000, 3千5 = 3500, 1万2千 = 12000; not 1万2个月 (a duration).
    if match["mult"] in ("万", "千") and (tail := _MONEY_TAIL.match(text, match.end())):
        step = {"千": 1_000, "百": 100}.get(tail["unit"] or "", multiplier // 10)
        if step < multiplier:
            value += (parse_number(tail["digit"]) or 0) * step
    return round(value, 2) if value > 0 else None


_MONEY_TAIL = re.compile(
    r"(?P<digit>[1-9一二两三四五六七八九])(?P<unit>千|百)?(?![\d.,一二两三四五六七八九十百千万个月天年周号人岁次])"
)


_DURATION = re.compile(
    # Bounded repetitions: a long run of digits is searched in linear time, not retried from each of its digits.
    rf"(?P<num>\d{{1,9}}(?:\.\d{{1,9}})?|[{_CN_DIGITS}几半]{{1,12}}|a couple of|a few|several|half a|an|a|one|two|"
    r"three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*个?\s*多?\s*(?P<unit>月|年|天|日|周|星期|礼拜|"
    r"days?|weeks?|months?|years?)",
    re.IGNORECASE,
)
_AND_A_HALF = re.compile(rf"(?P<num>\d{{1,9}}|[{_CN_DIGITS}]{{1,12}})\s*(?P<unit>个半月|年半)")
_UNIT_CODES = {"月": "M", "年": "Y", "天": "D", "日": "D", "周": "W", "星期": "W", "礼拜": "W"}


def parse_duration(span: str) -> str | None:
    """`三个月` → `P3M`, `半年` → `P6M`, `two weeks` → `P2W`, `半个月` → `P15D`."""
    text = normalise(span).lower()
    if text.startswith("半年") or text.startswith("大半年"):
        return "P6M"
    if text.startswith("半个月"):
        return "P15D"
    if half := _AND_A_HALF.search(text):  # 三个半月, 一年半: the 半 belongs to the number before it
        whole = parse_number(half["num"])
        if whole is not None and whole == int(whole) and whole > 0:
            return f"P{int(whole) * 30 + 15}D" if half["unit"] == "个半月" else f"P{int(whole) * 12 + 6}M"
    match = _DURATION.search(text)
    if not match:
        return None
    raw_num = match["num"]
    number = 0.5 if raw_num == "half a" else (3.0 if raw_num == "几" else parse_number(raw_num))
    if number is None or number <= 0:
        return None
    unit = match["unit"]
    code = _UNIT_CODES.get(unit) or unit[0].upper()
    if number != int(number):  # half a year is six months, half a month fifteen days, half a week three days
        return {"Y": f"P{int(number * 12)}M", "M": f"P{int(number * 30)}D", "W": f"P{int(number * 7)}D"}.get(
            code, f"P{int(number)}D"
        )
    return f"P{int(number)}{code}"


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


_ZH_AGO = re.compile(
    rf"(?P<num>\d{{1,9}}|[{_CN_DIGITS}几半]{{1,12}}|a couple of|a few|several|an|a|one|two|three|four|five|six|seven|"
    r"eight|nine|ten|eleven|twelve)\s*个?\s*多?\s*(?P<unit>月|年|天|星期|礼拜|周|days?|weeks?|months?|years?)\s*"
    r"(?:前|以前|之前|ago)"
)
_N = rf"\d{{1,9}}|[{_CN_DIGITS}]{{1,12}}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a|an"
_COMPOUND_AGO = re.compile(
    rf"(?:(?P<years>{_N})\s*(?:年|years?)\s*(?:and\s*)?)?(?:(?P<months>{_N})\s*个?\s*(?:月|months?)\s*(?:and\s*|零)?)"
    rf"(?:(?P<days>{_N})\s*(?:天|日|days?))?\s*(?:前|以前|之前|ago)"
)
_EN_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_EN_LAST_MONTH = re.compile(r"\b(?:last|this|early|late|mid)\s*-?\s*(?P<month>" + "|".join(_EN_MONTHS) + r")\b")
_ZH_FULL = re.compile(
    r"(?:(?P<year>\d{4})\s*年\s*)?(?P<month>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月份?(?:\s*(?P<day>\d{1,2}|[一二三四五六七八九十]{1,3})\s*(?:日|号))?"
)
_ZH_RELATIVE_YEAR = {"今年": 0, "去年": 1, "前年": 2}
_ISO = re.compile(r"(?P<year>\d{4})[-/.](?P<month>\d{1,2})(?:[-/.](?P<day>\d{1,2}))?")


def _ymd(year: int, month: int, day: int | None) -> str | None:
    try:
        return date(year, month, day).isoformat() if day else date(year, month, 1).isoformat()[:7]
    except ValueError:
        return None


def parse_date(span: str, today: date | None = None) -> str | None:
    """A date relative to today: `去年十月` → `2025-10`, `11个月前` → a day, `three months ago`, `March 3rd`."""
    try:
        return _parse_date(span, today or date.today())
    except (ValueError, OverflowError):  # `1000000个月前`, `99999999天前`: before the year 1, no date
        return None


def _parse_date(span: str, today: date) -> str | None:
    text = normalise(span).lower()
    simple = {"今天": 0, "昨天": 1, "前天": 2, "大前天": 3, "yesterday": 1, "the day before yesterday": 2}
    if text in simple:
        return date.fromordinal(today.toordinal() - simple[text]).isoformat()
    if iso := _ISO.fullmatch(text):
        return _ymd(int(iso["year"]), int(iso["month"]), int(iso["day"]) if iso["day"] else None)
    if compound := _COMPOUND_AGO.search(text):  # 11个月27天前, 1年2个月前, 3 months and 5 days ago
        numbers = [parse_number(compound[k] or "0") for k in ("years", "months", "days")]
        if any(n is None for n in numbers):
            return None
        years, months, days = (int(n or 0) for n in numbers)
        months += years * 12
        return date.fromordinal(_shift_months(today, months).toordinal() - days).isoformat()
    if ago := _ZH_AGO.search(text):
        number = 3.0 if ago["num"] == "几" else parse_number(ago["num"])
        if number is None:
            return None
        unit = {"y": "年", "m": "月", "d": "天", "w": "周"}.get(ago["unit"][0], ago["unit"])
        if unit == "年":
            return _shift_months(today, int(number * 12)).isoformat()
        if unit == "月":
            return _shift_months(today, int(number)).isoformat() if number >= 1 else None
        days = int(number * (1 if unit == "天" else 7))
        return date.fromordinal(today.toordinal() - days).isoformat()
    if text.startswith(("上个月", "上月")):
        last = _shift_months(today, 1)
        day_match = re.search(r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s*(?:日|号)", text)
        day = parse_number(day_match.group(1)) if day_match else None
        return _ymd(last.year, last.month, int(day) if day else None)
    year = today.year
    for word, back in _ZH_RELATIVE_YEAR.items():
        if text.startswith(word):
            year = today.year - back
    if full := _ZH_FULL.search(text):
        month = parse_number(full["month"])
        day = parse_number(full["day"]) if full["day"] else None
        if full["year"]:
            year = int(full["year"])
        elif (
            not any(text.startswith(w) for w in _ZH_RELATIVE_YEAR)
            and month
            and ((int(month), int(day or 0)) > (today.month, today.day))
        ):
            year = today.year - 1  # a month (and day) without a year, later than today, is last year's
        if month:
            return _ymd(year, int(month), int(day) if day else None)
    if named := _EN_LAST_MONTH.search(text):
        month = _EN_MONTHS.index(named["month"]) + 1
        # "last October" is the most recent October before this month; "this March" the one this year
        back = 1 if (text.startswith("last") and month >= today.month) or month > today.month else 0
        return _ymd(today.year - back, month, None)
    if re.search(r"[a-z]", text):
        settings: dict[str, Any] = {
            "RELATIVE_BASE": _as_datetime(today),
            "PREFER_DATES_FROM": "past",
            "PREFER_DAY_OF_MONTH": "first",
        }
        parsed = dateparser.parse(re.sub(r"\b(early|late|mid)\s*-?\s*", "", text), languages=["en"], settings=settings)
        if parsed:
            has_day = bool(
                re.search(
                    r"(?<!\d)\d{1,2}(?:st|nd|rd|th)?\b(?!\s*(?:days?|weeks?|months?|years?))|ago|yesterday",
                    text,
                )
            )
            found: str = parsed.date().isoformat()
            return found if has_day else found[:7]
    return None


def _as_datetime(day: date) -> Any:
    from datetime import datetime

    return datetime(day.year, day.month, day.day, 12, 0)


_AGE = re.compile(r"(\d{1,2}|[一二三四五六七八九十]{1,3})")


def parse_age(span: str) -> int | None:
    match = _AGE.search(normalise(span))
    if not match:
        return None
    number = parse_number(match.group(1))
    return int(number) if number is not None and 0 < number < 120 else None


def parse_district(span: str) -> str | None:
    text = normalise(span).lower()
    return next((name for key, name in DISTRICTS.items() if key in text), None)


def parse_employer_type(span: str) -> str | None:
    text = normalise(span).lower()
    return EMPLOYER_TYPES.get(text) or next((code for key, code in EMPLOYER_TYPES.items() if key in text), None)


def entity_value(entity: str, span: str, today: date | None = None) -> Any:
    """The normalised value of one extracted span, or None when it cannot be read."""
    match entity:
        case "money":
            return parse_money(span)
        case "duration":
            return parse_duration(span)
        case "date":
            return parse_date(span, today)
        case "age":
            return parse_age(span)
        case "district":
            return parse_district(span)
        case "employer_type":
            return parse_employer_type(span)
    return span


def normalise_entities(raw: Iterable[Mapping[str, Any]], today: date | None = None) -> list[dict[str, Any]]:
    """Rasa's entities (`{"entity", "value", "start", "end"}`) → `[{"entity", "value"}]`, deduplicated."""
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in sorted(raw, key=lambda e: int(e.get("start", 0))):
        name = str(item.get("entity", ""))
        value = entity_value(name, str(item.get("value", "")), today)
        key = (name, repr(value))
        if value is None or key in seen:
            continue
        seen.add(key)
        result.append({"entity": name, "value": value})
    return result
