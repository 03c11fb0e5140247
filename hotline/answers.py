"""Understanding a free-text answer to a flow's question: `大概一万二` → 12000, `去年十月` → 2025-10,
`嗯`/`yep` → yes, `番禺` → 番禺区, a choice by its label, its number or its own words. Buttons are a shortcut,
never the only way. None means "not understood": the flow asks again with a hint.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hotline.entities import parse_date, parse_district, parse_duration, parse_money, parse_number
from hotline.flow_schema import Option, Step
from hotline.text import normalise

# Negative forms first: 不是 contains 是, 没有 contains 有, "not really" contains "really".
_NO = re.compile(
    r"^(?:不是|不对|不是的|没有|没|冇|唔係|唔系|唔是|唔使|不用|不要|不|否|没呢|还没|未|未有|无|"
    r"no|nope|nah|not really|not yet|never|n|didn'?t|did not|don'?t|do not|haven'?t|hasn'?t|wasn'?t|isn'?t|no way)"
    r"(?:[\s,，。.!！~啊呀哦喔嘛咯啦了的诶]|$)",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^(?:是|是的|是啊|对|对的|对啊|嗯|嗯嗯|恩|好|好的|有|有的|有啊|係|系|系啊|係呀|啱|冇错|没错|可以|行|当然|"
    r"yes|yeah|yep|yup|y|sure|right|correct|ok|okay|of course|i did|i do|i am|i was|it was|it is|did|true)"
    r"(?:[\s,，。.!！~啊呀哦喔嘛咯啦了的诶]|$)",
    re.IGNORECASE,
)
# Chinese answers a yes/no question by echoing its verb: 有聊天记录 / 买了 / 还在干 (yes), 没买 / 不在了 (no).
_ECHO_NO = re.compile(r"^(?:没有?|冇|未|无|唔|不)(?!知道|清楚|确定|记得|晓得|懂|错)")
_ECHO_YES = re.compile(
    r"^(?:有(?!没有|点|些时候)|还在|在(?:的|干|做|上班)|买了|交了|签了|申请了|报了|缴了|给了|办了|"
    r"i have|we have|i still|still|i'?ve got|we'?ve got|they have|he has|she has)"
)
# "Not my fault" answers "were you mainly at fault?": no.
_NOT_AT_FAULT = re.compile(r"not my fault|wasn'?t my fault|不是我的(错|责任)|不怪我|对方(全|主要)?责|他(全|主要)?责")
_DONT_KNOW = re.compile(
    r"^(?:不知道|不清楚|不确定|唔知|不晓得|不懂|不记得|i don'?t know|not sure|no idea|dunno|unsure)"
)


# Phone keyboards type ’ for ': `didn’t`, `I don’t know`.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class _Unknown:
    """An answer that says "I don't know": understood, and recorded as unknown."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def parse_yesno(text: str, intent: str | None = None) -> Any:
    """True, False, UNKNOWN ("不知道"), or None when the text is no yes/no answer."""
    clean = normalise(text).strip().lower().translate(_APOSTROPHES)
    if _DONT_KNOW.match(clean):
        return UNKNOWN
    if _NO.match(clean) or _NOT_AT_FAULT.search(clean):
        return False
    if _YES.match(clean):
        return True
    if _ECHO_NO.match(clean):
        return False
    if _ECHO_YES.match(clean):
        return True
    # The model's reading of a longer sentence ("yes he did", "没有啊老板说没时间")
    if intent == "deny":
        return False
    if intent == "affirm":
        return True
    return None


def match_option(options: tuple[Option, ...], text: str, lang: str, patterns_only: bool = False) -> str | None:
    """The option a text names: its label (either language), its number in the list, or one of its patterns.

    `patterns_only` is for facts found in a message that answered something else: only an option's own words
    count there, not a bare number."""
    clean = normalise(text).strip().lower()
    stripped = clean.strip("。.!！ ")
    for option in () if patterns_only else options:
        if stripped in {label.lower() for label in option.label.values()} or stripped == option.value:
            return option.value
    number = None if patterns_only else parse_number(stripped)
    if number is not None and number == int(number) and 1 <= number <= len(options):
        return options[int(number) - 1].value
    hits = [o.value for o in options if any(p.search(clean) for p in o.patterns.get(lang, ()))]  # type: ignore[call-overload]
    if not hits:  # a code-mixed answer may match the other language's words
        hits = [o.value for o in options if any(p.search(clean) for ps in o.patterns.values() for p in ps)]
    return hits[0] if hits else None  # several: the first in the flow's order


_NOTHING = re.compile(r"^\s*(?:0|零|没有收入|没收入|无收入|没有|冇收入|no income|nothing|none|zero)\s*(?:元|块)?\s*$")
_NUMBER = re.compile(
    r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b"
)


def parse_answer(step: Step, text: str, lang: str, intent: str | None = None, today: date | None = None) -> Any:
    """The value of an answer to `step`, or None when it cannot be understood."""
    match step.type:
        case "yesno":
            return parse_yesno(text, intent)
        case "choice":
            return match_option(step.options, text, lang)
        case "money":
            if _NOTHING.search(normalise(text).lower()):
                return 0.0
            return parse_money(text)
        case "number":
            found = _NUMBER.search(normalise(text).lower())
            value = parse_number(found.group(0)) if found else None
            if value is None or value != int(value):
                return None
            if (step.minimum is not None and value < step.minimum) or (
                step.maximum is not None and value > step.maximum
            ):
                return None
            return int(value)
        case "date":
            day = parse_date(text, today)
            if day is None or day > (today or date.today()).isoformat():
                return None  # a date in the future is not when something already happened
            return day
        case "duration":
            return parse_duration(text)
        case "district":
            return parse_district(text)
        case "text":
            clean = text.strip()
            return clean or None
    return None
