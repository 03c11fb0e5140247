"""Our own NLU cases through the real trained model served by a real `rasa run`."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.nlu import RasaNLU

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "data" / "nlu_regression.yml").read_text("utf-8"))


@pytest.mark.rasa
@pytest.mark.parametrize("case", CASES, ids=[c["text"][:24] for c in CASES])
async def test_topic_urgency_and_entities(rasa_server: str, case: dict[str, Any]) -> None:
    async with RasaNLU(rasa_server) as nlu:
        result = await nlu.classify(case["text"], today=date(2026, 11, 28))
    assert result.topic == case["topic"], f"{case['text']}: {result.intent} {result.confidence}"
    assert result.urgent == case["urgent"]
    for expected in case.get("entities", []):
        assert expected in result.entities, result.entities
