"""The texts of the lawyer desk, built from the case store's records and hotline.messages: the case packet a
lawyer is offered, the one-line summaries of /queue and /mycases, and the notices the person gets.

Pure functions (no Telegram calls), so the wording is tested without a bot. A lawyer reads the desk in their
first language; the packet is in the case's language, and an English case's reasons come in Chinese as well.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from hotline import messages
from hotline.cases.models import OFFICE_TZ
from hotline.cases.records import CaseRecord, LawyerRecord
from hotline.outcome import format_date, reason_text
from hotline.text import Lang

# Telegram refuses longer messages; a packet that would exceed it loses the end of its transcript excerpt.
MAX_MESSAGE = 4096
CLAIM: Final = "claim"
DECLINE: Final = "decline"


def lang_of(value: str) -> Lang:
    return "en" if value == "en" else "zh"


def lawyer_lang(lawyer: LawyerRecord) -> Lang:
    return lang_of(lawyer.languages[0] if lawyer.languages else "zh")


def local_time(at: datetime, lang: Lang) -> str:
    """An instant on the office's clock (Guangzhou), as the reader writes dates."""
    local = at.astimezone(OFFICE_TZ)
    return f"{format_date(local.date().isoformat(), lang)} {local:%H:%M}"


def fit(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def callback(action: str, case_id: int) -> str:
    """Callback data of the offer's buttons: `claim:<case id>` (Telegram allows 64 bytes; this is far less)."""
    data = f"{action}:{case_id}"
    assert len(data.encode()) <= 64
    return data


def offer_buttons(case_id: int, lang: Lang) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    messages.text("desk.buttons.accept", lang), callback_data=callback(CLAIM, case_id)
                ),
                InlineKeyboardButton(
                    messages.text("desk.buttons.decline", lang), callback_data=callback(DECLINE, case_id)
                ),
            ]
        ]
    )


def _reasons(eligibility: dict[str, Any], lang: Lang) -> list[str]:
    lines = []
    for reason in eligibility.get("reasons") or []:
        code, article = str(reason.get("code")), str(reason.get("article") or "")
        params = {k: str(v) for k, v in reason.items() if k not in ("code", "article")}
        try:
            words = reason_text(code, params, lang)
        except messages.CatalogueError:  # a code the catalogue no longer has: the code itself still tells
            words = code
        lines.append(f"• {words} [{code} · {article}]")
    return lines


def _eligibility(case: CaseRecord, lang: Lang) -> list[str]:
    label = messages.text("packet.eligibility", lang)
    eligibility = case.eligibility
    if not eligibility:
        return [f"{label}: {messages.text('packet.not_assessed', lang)}"]
    result = str(eligibility.get("result"))
    lines = [f"{label}: {result}"]
    if messages.has(f"results.{result}"):
        lines.append(messages.text(f"results.{result}", lang))
    if eligibility.get("scope"):
        lines.append(f"{messages.text('packet.scope', lang)}: {eligibility['scope']}")
    lines.append(messages.text("packet.reasons", lang) + ":")
    lines += _reasons(eligibility, lang)
    if lang == "en":  # the duty lawyers read Chinese: the same reasons in the office's language
        lines.append(messages.text("packet.reasons_zh", "zh") + "：")
        lines += _reasons(eligibility, "zh")
    return lines


def _facts(facts: dict[str, Any]) -> list[str]:
    return [f"• {key}: {json.dumps(value, ensure_ascii=False)}" for key, value in facts.items()]


def offer_packet(case: CaseRecord, level: int = 0) -> str:
    """What a lawyer needs to decide and to start without asking again, in the case's language."""
    lang = lang_of(case.lang)

    def t(key: str, **params: str) -> str:
        return messages.text(f"packet.{key}", lang, **params)

    title = t("new", ref=case.ref) + (" " + t("escalated", level=str(level)) if level else "")
    urgency = t("urgent") if case.urgent else t("normal")
    deadline = format_date(case.deadline.isoformat(), lang) if case.deadline else t("none")
    lines = [
        ("‼️ " if case.urgent else "") + title,
        f"{t('topic')}: {messages.label('topic_buttons', case.topic, lang)} ({case.topic})",
        f"{t('urgency')}: {urgency}",
        f"{t('deadline')}: {deadline}",
        f"{t('language')}: {t('langs.' + case.lang)}",
        f"{t('channel')}: {t('channels.' + case.channel)}",
        f"{t('consent')}: {t('yes') if case.consent else t('no')}",
        *_eligibility(case, lang),
    ]
    if case.facts:
        lines += [t("facts") + ":", *_facts(case.facts)]
    head = "\n".join(lines)
    excerpt = case.transcript_excerpt.strip()
    if not excerpt:
        return fit(head)
    # The excerpt is what gives way when the packet is too long: the head is what the lawyer decides on.
    return fit(head + "\n" + t("transcript") + ":\n" + excerpt)


def case_line(case: CaseRecord, lang: Lang) -> str:
    """One case in /queue or /mycases: ref, topic, language, urgency and deadline (no facts, no words)."""
    parts = [
        case.ref,
        messages.label("topic_buttons", case.topic, lang),
        messages.text(f"packet.langs.{case.lang}", lang),
    ]
    if case.urgent:
        parts.append(messages.text("desk.urgent", lang))
    if case.deadline:
        parts.append(messages.text("desk.deadline", lang, deadline=format_date(case.deadline.isoformat(), lang)))
    return " · ".join(parts)


def person_notice(case: CaseRecord, payload: dict[str, Any]) -> str | None:
    """The notice for the person in their case's language; None for a notice this gateway does not know."""
    lang = lang_of(case.lang)
    notice = str(payload.get("notice"))
    if notice == "queued":
        expect = payload.get("expect")
        if payload.get("on_duty"):
            when = messages.text("person_notice.when_soon", lang)
        elif isinstance(expect, str) and expect:
            when = messages.text(
                "person_notice.when_shift", lang, when=local_time(datetime.fromisoformat(expect), lang)
            )
        else:
            when = messages.text("person_notice.next_working_day", lang)
        return messages.text("person_notice.queued", lang, ref=case.ref, when=when)
    if notice in ("claimed", "released", "closed"):
        return messages.text(f"person_notice.{notice}", lang, ref=case.ref)
    return None


def status_line(case: CaseRecord, lang: Lang) -> str:
    state = "queued" if case.status in ("queued", "offered") else case.status
    return messages.text(f"status.{state}", lang, ref=case.ref)
