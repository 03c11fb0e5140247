"""An eligibility assessment in words: the result, the reasons with their articles, what to prepare, where to
apply, that the office decides within 7 days (LAL Art. 43), the hotlines; in the person's language."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from hotline import messages
from hotline.eligibility import Assessment
from hotline.entities import DISTRICTS
from hotline.text import Lang

_SEP = {"zh": "；", "en": "; "}
_EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def format_date(iso: str, lang: Lang) -> str:
    day = date.fromisoformat(iso)
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"


def place_name(district: Any, lang: Lang) -> str:
    """A Guangzhou district as the person reads it (番禺区 / Panyu District); the city when unknown."""
    if isinstance(district, str) and district:
        if lang == "zh":
            return district
        latin = next((k for k, v in DISTRICTS.items() if v == district and k.isascii()), None)
        if latin:
            return f"{latin.capitalize()} District"
    return messages.text("places.unknown", lang)


def _params(raw: dict[str, str], lang: Lang) -> dict[str, str]:
    params = dict(raw)
    for key in ("deadline", "since"):
        if key in params:
            params[key] = format_date(params[key], lang)
    if "scope" in params:
        params["scope"] = cite(params["scope"], lang)
    return params


_LAL = re.compile(r"LAL Art\. (\d+)(?:\((\d+)\))?")


def cite(article: str, lang: Lang) -> str:
    """`LAL Art. 31(7)` as the person reads it: 《法律援助法》第31条第7项 / Legal Aid Law Art. 31(7)."""
    match = _LAL.fullmatch(article)
    if not match:
        return article
    if lang == "zh":
        return f"《法律援助法》第{match[1]}条" + (f"第{match[2]}项" if match[2] else "")
    return article.replace("LAL", "Legal Aid Law")


def reason_text(code: str, params: dict[str, str], lang: Lang) -> str:
    """One reason (a code under `reasons:` in messages.yml and the values it takes) in words; also what the lawyer
    desk shows for a case's stored eligibility result (Assessment.as_json)."""
    return messages.text(f"reasons.{code}", lang, **_params(params, lang))


def render(assessment: Assessment, facts: dict[str, Any], lang: Lang) -> str:
    bullet = "• "
    lines = [messages.text(f"results.{assessment.result}", lang), messages.text("outcome_reasons", lang)]
    for reason in assessment.reasons:
        lines.append(bullet + reason_text(reason.code, dict(reason.params), lang))
    lines.append(messages.text("outcome_prepare", lang))
    lines += [bullet + messages.text(f"prepare.{item}", lang) for item in assessment.prepare]
    lines.append(messages.text("outcome_where", lang))
    lines.append(messages.text(f"where.{assessment.where}", lang, place=place_name(facts.get("district"), lang)))
    lines.append(messages.text("outcome_decision", lang))
    numbers = messages.hotlines()
    listed = [f"{numbers[key]['number']} {numbers[key]['what'][lang]}" for key in assessment.hotlines]
    lines.append(messages.text("outcome_hotlines", lang) + _SEP[lang].join(listed))
    return "\n".join(lines)
