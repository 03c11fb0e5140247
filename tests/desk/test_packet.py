"""The desk's texts without a bot: the packet in the case's language (an English case's reasons also in Chinese),
codes kept beside the words, never longer than Telegram takes; the notices for the person."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from bot import packet
from hotline import messages
from hotline.cases.records import CaseRecord
from hotline.eligibility import assess_injury
from hotline.outcome import reason_text

FACTS = {"how": "commute", "injured_on": "2026-10-20", "insured": False}
ASSESSMENT = assess_injury(FACTS, date(2026, 11, 2)).as_json()
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
    eligibility=ASSESSMENT,
    transcript_excerpt="I was hit by a car on the way to work",
    assigned_lawyer_id=None,
    escalation_level=0,
    created_at=datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
    offered_at=None,
    claimed_at=None,
    first_response_at=None,
    closed_at=None,
    close_outcome=None,
    amount_recovered=None,
)


def test_an_english_packet_has_the_reasons_in_english_and_in_chinese() -> None:
    text = packet.offer_packet(CASE, level=1)
    assert text.startswith("‼️ New case GZLA-2026-000007 (not taken yet, now offered more widely: level 1)")
    for line in (
        "Topic: Work injury (injury)",
        "Urgency: URGENT",
        "Deadline: 20 October 2027",
        "Consent to pass on: yes",
    ):
        assert line in text
    for reason in ASSESSMENT["reasons"]:
        params = {k: str(v) for k, v in reason.items() if k not in ("code", "article")}
        for lang in ("en", "zh"):
            assert reason_text(reason["code"], params, lang) in text
        assert f"[{reason['code']} · {reason['article']}]" in text
    assert "理由（中文）：" in text and text.endswith("I was hit by a car on the way to work")


def test_a_chinese_packet_has_no_english_and_an_unassessed_case_says_so() -> None:
    text = packet.offer_packet(replace(CASE, lang="zh", eligibility=None, facts={}, transcript_excerpt=""))
    assert "初步评估: 未评估" in text and "Reasons" not in text and "理由（中文）" not in text


def test_an_unknown_reason_code_is_shown_as_its_code() -> None:
    odd = {"result": "exempt", "reasons": [{"code": "retired_rule", "article": "LAL Art. 99"}]}
    assert "• retired_rule [retired_rule · LAL Art. 99]" in packet.offer_packet(replace(CASE, eligibility=odd))


def test_a_long_packet_is_cut_to_what_telegram_takes() -> None:
    text = packet.offer_packet(replace(CASE, transcript_excerpt="很长" * 3000))
    assert len(text) == packet.MAX_MESSAGE and text.endswith("…") and "GZLA-2026-000007" in text


def test_callback_data_and_buttons() -> None:
    assert packet.callback(packet.CLAIM, 123456789) == "claim:123456789"
    markup = packet.offer_buttons(5, "zh")
    assert [(b.text, b.callback_data) for b in markup.inline_keyboard[0]] == [
        ("接手", "claim:5"),
        ("拒绝", "decline:5"),
    ]


def test_person_notices_in_the_case_language() -> None:
    expect = datetime(2026, 11, 3, 1, 0, tzinfo=UTC).isoformat()  # 09:00 in Guangzhou
    queued = packet.person_notice(CASE, {"notice": "queued", "on_duty": False, "expect": expect})
    assert queued is not None and "from 3 November 2026 09:00 (Guangzhou time)" in queued
    zh = replace(CASE, lang="zh")
    assert packet.person_notice(zh, {"notice": "closed"}) == messages.text("person_notice.closed", "zh", ref=CASE.ref)
    assert packet.person_notice(zh, {"notice": "queued", "on_duty": True, "expect": None}) == messages.text(
        "person_notice.queued", "zh", ref=CASE.ref, when="很快"
    )
    assert packet.person_notice(zh, {"notice": "something new"}) is None
