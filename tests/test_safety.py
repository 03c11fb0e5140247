"""The deterministic safety layer on the team's own safety list (tests/data/safety_cases.yml)."""

from pathlib import Path

import pytest
import yaml

from hotline.safety import check, is_urgent
from hotline.text import normalise

CASES = yaml.safe_load((Path(__file__).parent / "data" / "safety_cases.yml").read_text("utf-8"))
URGENT = [(lang, text) for lang in ("zh", "en") for text in CASES["urgent"][lang]]
CALM = [(lang, text) for lang in ("zh", "en") for text in CASES["not_urgent"][lang]]


def test_the_list_is_substantial() -> None:
    assert len(CASES["urgent"]["zh"]) >= 60 and len(CASES["urgent"]["en"]) >= 50
    assert len(CASES["not_urgent"]["zh"]) >= 40 and len(CASES["not_urgent"]["en"]) >= 30


@pytest.mark.parametrize(("lang", "text"), URGENT)
def test_every_urgent_message_is_flagged_by_the_rules(lang: str, text: str) -> None:
    assert is_urgent(normalise(text)), f"not flagged ({lang}): {text}"


@pytest.mark.parametrize(("lang", "text"), CALM)
def test_near_misses_are_not_flagged(lang: str, text: str) -> None:
    assert check(normalise(text)) == [], f"false flag ({lang}): {text}"


def test_traditional_and_cantonese_are_normalised_before_the_rules() -> None:
    assert is_urgent(normalise("繼父性侵我"))
    assert is_urgent(normalise("我唔想生存落去"))
