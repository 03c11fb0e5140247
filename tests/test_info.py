"""Information answers (hotline/data/info_answers.yml): the common questions get a short answer citing its
article; case stories, short answers and small talk get none. Questions in tests/data/info_questions.yml."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline import info, messages
from hotline.text import detect_lang, normalise

QUESTIONS: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "data" / "info_questions.yml").read_text("utf-8"))


def test_at_least_40_answers_in_both_languages_each_citing_an_article() -> None:
    answers = info.answers()
    assert len(answers) >= 40
    for answer in answers:
        zh, en = answer.text("zh"), answer.text("en")
        assert "第" in zh and "条" in zh, answer.id
        assert "Art." in en, answer.id
        assert "{" not in zh + en, answer.id
        assert answer.articles, answer.id
    for topic in ("wages", "injury", "minors"):
        assert sum(a.topic == topic for a in answers) >= 10, topic


@pytest.mark.parametrize(("question", "answer_id"), [(q["q"], q["id"]) for q in QUESTIONS["answers"]])
def test_question_gets_its_answer(question: str, answer_id: str) -> None:
    lang = detect_lang(normalise(question))
    assert answer_id in [a.id for a in info.match(question, lang)]


@pytest.mark.parametrize("message", QUESTIONS["none"])
def test_case_stories_and_short_answers_get_no_information_answer(message: str) -> None:
    assert info.match(message, detect_lang(normalise(message))) == []


def test_every_answer_is_tested() -> None:
    tested = {q["id"] for q in QUESTIONS["answers"]}
    assert {a.id for a in info.answers()} <= tested


def test_hotline_numbers_come_from_data() -> None:
    numbers = {str(entry["number"]) for entry in messages.hotlines().values()}
    assert any(n in a.text("zh") for a in info.answers() for n in numbers)
