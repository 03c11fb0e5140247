"""What a duty lawyer sees on Telegram is plain text: no message is sent with a parse_mode (HTML or Markdown), so
a person's `<b>`, `<a href=...>`, `*bold*`, `[x](tg://user?id=1)` or `'; DROP TABLE cases; --` reaches the lawyer
exactly as typed, neither interpreted nor mangled by escaping. With hypothesis: the case packet (facts, transcript
excerpt, reasons) and a person's forwarded message carry the person's words verbatim, never exceed Telegram's
4096 characters, and keep the case's ref at the top; the one-line summaries carry no words of the person.

If a path ever switches to HTML or MarkdownV2, the static check below fails first: that path must then escape the
person's words (html.escape / telegram.helpers.escape_markdown) and get a property of its own here.
"""

from __future__ import annotations

import ast
import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

from hypothesis import example, given, settings
from hypothesis import strategies as st
from telegram import Bot

from bot import packet
from bot.relay import Relay
from hotline import messages
from hotline.cases.records import CaseRecord, LawyerRecord
from hotline.cases.store import CaseStore
from hotline.eligibility import assess_injury, assess_wages

BOT_DIR = Path(packet.__file__).resolve().parent
CHECK = settings(max_examples=150, deadline=None, database=None, derandomize=True)

INJECTIONS = [
    "<b>bold</b>",
    '<a href="https://evil.example/">click</a>',
    "<script>alert(1)</script>",
    "&lt;b&gt; &amp;",
    "*bold* _italic_ `code` ~strike~ ||spoiler||",
    "[x](tg://user?id=1)",
    "[call me](https://t.me/+8613812345678)",
    "'; DROP TABLE cases; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM case_messages;--",
    "{ref} {text} {0} {__class__}",
    "%s %d %(ref)s",
    "\\n \\u0000",
    "\u202eevil\u202c",
    "😀👨\u200d👩\u200d👧🇨🇳",
    "@admin /close GZLA-2026-000001 #tag",
    "老板<b>欠</b>我*三个月*工资",
]
person_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(min_size=1, max_size=400),
    st.lists(st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=20)), min_size=1, max_size=12).map("".join),
)
fact_values = st.one_of(
    person_text, st.booleans(), st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False)
)
facts = st.dictionaries(st.sampled_from(["amount", "district", "workplace", "story", "employer", "how"]), fact_values)

FACTS = {"how": "commute", "injured_on": "2026-10-20", "insured": False}
ASSESSMENTS = [
    None,
    assess_injury(FACTS, date(2026, 11, 2)).as_json(),
    assess_wages({"employed": True, "amount": 12000.0, "ended_on": "2026-09"}, date(2026, 11, 2)).as_json(),
]
CASE = CaseRecord(
    id=7,
    ref="GZLA-2026-000007",
    person_id=1,
    topic="injury",
    status="offered",
    urgent=True,
    deadline=date(2027, 10, 20),
    lang="en",
    channel="telegram",
    consent=True,
    facts=FACTS,
    eligibility=ASSESSMENTS[1],
    transcript_excerpt="I was hit by a car on the way to work",
    assigned_lawyer_id=3,
    escalation_level=0,
    created_at=datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
    offered_at=None,
    claimed_at=None,
    first_response_at=None,
    closed_at=None,
    close_outcome=None,
    amount_recovered=None,
)
LAWYER = LawyerRecord(
    id=3,
    name="Duty Lawyer",
    telegram_user_id="5550001",
    languages=("zh", "en"),
    topics=("wages", "injury"),
    minors_qualified=False,
    supervisor=False,
    active=True,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


@st.composite
def cases(draw: st.DrawFn, transcript: st.SearchStrategy[str] = person_text) -> CaseRecord:
    return replace(
        CASE,
        topic=draw(st.sampled_from(["wages", "injury", "minors", "other"])),
        lang=draw(st.sampled_from(["zh", "en"])),
        channel=draw(st.sampled_from(["telegram", "web", "12355"])),
        urgent=draw(st.booleans()),
        consent=draw(st.booleans()),
        deadline=draw(st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2035, 12, 31)))),
        facts=draw(facts),
        eligibility=draw(st.sampled_from(ASSESSMENTS)),
        transcript_excerpt=draw(transcript),
    )


# --- no parse_mode anywhere ------------------------------------------------------------------------------------------


def markup_uses(path: Path) -> list[str]:
    """Where a file asks Telegram to interpret text: a parse_mode argument or key, ParseMode, Defaults (which can
    set a parse_mode for every message), entities built by hand."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        where = f"{path.relative_to(BOT_DIR.parent)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.keyword) and node.arg in ("parse_mode", "entities", "caption_entities"):
            found.append(f"{where} {node.arg}=")
        elif isinstance(node, ast.Constant) and node.value in ("parse_mode", "HTML", "Markdown", "MarkdownV2"):
            found.append(f"{where} {node.value!r}")
        elif isinstance(node, ast.Name | ast.Attribute) and (
            getattr(node, "id", None) in ("ParseMode", "Defaults", "MessageEntity")
            or getattr(node, "attr", None) in ("ParseMode", "Defaults", "MessageEntity", "defaults")
        ):
            found.append(f"{where} {getattr(node, 'id', None) or getattr(node, 'attr', None)}")
    return found


def test_no_message_to_telegram_is_sent_with_a_parse_mode() -> None:
    sources = sorted(BOT_DIR.rglob("*.py"))
    assert sources, BOT_DIR
    assert [use for path in sources for use in markup_uses(path)] == []


# --- the case packet -------------------------------------------------------------------------------------------------


@CHECK
@given(cases())
@example(replace(CASE, transcript_excerpt="<b>x</b> [x](tg://user?id=1) '; DROP TABLE cases; --"))
def test_the_packet_shows_the_persons_words_verbatim(case: CaseRecord) -> None:
    text = packet.offer_packet(case, level=1)
    assert len(text) <= packet.MAX_MESSAGE
    assert text.startswith(
        ("‼️ " if case.urgent else "") + messages.text("packet.new", packet.lang_of(case.lang), ref=case.ref)
    )
    if len(text) < packet.MAX_MESSAGE:  # not cut: everything the person said is there, as they said it
        for key, value in case.facts.items():
            assert f"• {key}: {json.dumps(value, ensure_ascii=False)}" in text
        if case.transcript_excerpt.strip():
            assert text.endswith(case.transcript_excerpt.strip())


@CHECK
@given(st.sampled_from(INJECTIONS), st.sampled_from(["zh", "en"]))
def test_markup_and_sql_in_the_transcript_are_neither_interpreted_nor_escaped(injection: str, lang: str) -> None:
    excerpt = f"person: {injection}\nbot: 请问您在哪个区？\nperson: {injection}"
    text = packet.offer_packet(replace(CASE, lang=lang, transcript_excerpt=excerpt))
    assert text.endswith(excerpt.strip())
    if "&" not in injection:
        assert "&lt;" not in text and "&amp;" not in text and "&gt;" not in text
    assert "\\<" not in text and "\\*" not in text and "\\[" not in text  # no MarkdownV2 escaping either


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    cases(
        transcript=st.builds(
            lambda piece, size: (piece * (size // len(piece) + 1))[:size], person_text, st.integers(3000, 20_000)
        )
    ),
    st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=2000), max_size=6),
)
def test_a_huge_packet_is_cut_to_what_telegram_takes_and_keeps_its_head(case: CaseRecord, more: dict[str, str]) -> None:
    case = replace(case, facts={**case.facts, **more})
    text = packet.offer_packet(case)
    assert len(text) <= packet.MAX_MESSAGE
    assert case.ref in text.split("\n", 1)[0]


@CHECK
@given(cases(), st.sampled_from(["zh", "en"]))
def test_queue_lines_and_status_lines_carry_no_words_of_the_person(case: CaseRecord, lang: Any) -> None:
    marker = "SECRET-Zhang-13812345678"
    case = replace(case, transcript_excerpt=f"{case.transcript_excerpt} {marker}", facts={**case.facts, "x": marker})
    for line in (packet.case_line(case, lang), packet.status_line(case, lang)):
        assert marker not in line and case.transcript_excerpt not in line
        assert len(line) <= packet.MAX_MESSAGE


# --- a person's message forwarded to their lawyer ---------------------------------------------------------------------


@CHECK
@given(person_text, st.sampled_from(["zh", "en"]))
@example("{ref} {text} {0}", "zh")
def test_a_forwarded_message_keeps_the_persons_words_and_its_placeholders_are_not_filled(words: str, lang: Any) -> None:
    forwarded = messages.text("desk.from_person", lang, ref=CASE.ref, text=words)
    assert forwarded.count(CASE.ref) == 1 + words.count(CASE.ref)
    assert words in forwarded
    assert len(packet.fit(forwarded)) <= packet.MAX_MESSAGE


@dataclass
class FakeBot:
    sent: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        self.sent.append((chat_id, text, kwargs))


@dataclass
class FakeStore:
    stored: list[tuple[int, str, str]] = field(default_factory=list)

    def add_message(self, case_id: int, direction: str, text: str, at: datetime) -> None:
        self.stored.append((case_id, direction, text))

    def get_lawyer(self, lawyer_id: int) -> LawyerRecord | None:
        return LAWYER if lawyer_id == LAWYER.id else None


@CHECK
@given(st.one_of(person_text, st.text(min_size=4000, max_size=4200)))
@example("<b>hi</b> *there* [x](tg://user?id=1) '; DROP TABLE cases; --")
def test_the_relay_forwards_a_person_message_as_plain_text(words: str) -> None:
    bot, store = FakeBot(), FakeStore()
    relay = Relay(cast(CaseStore, store), clock=lambda: datetime(2026, 11, 2, tzinfo=UTC))
    assert asyncio.run(relay.from_person(cast(Bot, bot), CASE, words)) is True
    assert store.stored == [(CASE.id, "person_to_lawyer", words)]  # the record has every word, uncut
    [(chat_id, text, options)] = bot.sent
    assert chat_id == int(str(LAWYER.telegram_user_id))
    assert not {"parse_mode", "entities"} & set(options)
    assert len(text) <= packet.MAX_MESSAGE and CASE.ref in text
    if len(text) < packet.MAX_MESSAGE:
        assert words in text
