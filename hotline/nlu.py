"""Classification of one message: Rasa's NLU (over HTTP) plus the deterministic safety rules and entity values.

The topic comes from the model's topic intents; the urgent flag is raised by the rules OR by the model's
`emergency` intent, so safety never rests on the model alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

import httpx

from hotline import safety
from hotline.entities import normalise_entities
from hotline.text import Lang, detect_lang, normalise

Topic = Literal["wages", "injury", "minors", "other", "none"]

TOPIC_INTENTS: dict[str, Topic] = {
    "inquiry_wages": "wages",
    "inquiry_injury": "injury",
    "inquiry_minors": "minors",
    "inquiry_other": "other",
}
EMERGENCY_INTENT = "emergency"
# The model's emergency intent alone raises the flag only when it is this sure; the rules raise it always.
EMERGENCY_CONFIDENCE = 0.6
# Intents that say nothing about a topic: a long message classified as one of them is still a legal
# inquiry on a legal-aid hotline, so it takes the best topic intent the model ranked.
_WEAK_INTENTS = {"out_of_scope", "inform", "help", "ask_why", "nlu_fallback", EMERGENCY_INTENT}
_LONG_ZH_CHARS = 30
_LONG_EN_WORDS = 12
_MIN_TOPIC_CONFIDENCE = 0.05


@dataclass(frozen=True)
class Classification:
    text: str
    intent: str
    confidence: float
    topic: Topic
    urgent: bool
    lang: Lang
    entities: list[dict[str, Any]] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _is_long(text: str, lang: Lang) -> bool:
    return len(text) >= _LONG_ZH_CHARS if lang == "zh" else len(text.split()) >= _LONG_EN_WORDS


def topic_of(parse: dict[str, Any], text: str, lang: Lang, flags: list[safety.SafetyFlag]) -> Topic:
    """The topic a parse result points to (see the module docstring for the rule)."""
    ranking: list[dict[str, Any]] = parse.get("intent_ranking") or []
    top = (parse.get("intent") or {}).get("name", "")
    if top == "nlu_fallback" and ranking:
        top = next((r["name"] for r in ranking if r["name"] != "nlu_fallback"), top)
    if top in TOPIC_INTENTS:
        return TOPIC_INTENTS[top]
    if top in _WEAK_INTENTS and (top == EMERGENCY_INTENT or _is_long(text, lang)):
        for item in ranking:
            if item["name"] in TOPIC_INTENTS and float(item.get("confidence", 0)) >= _MIN_TOPIC_CONFIDENCE:
                return TOPIC_INTENTS[item["name"]]
    if top == EMERGENCY_INTENT or flags:
        # Danger with a child or a parent in it is a minors' matter; other violence is an "other" legal matter
        # (Legal Aid Law Art. 32(4)); self-harm alone is no legal topic.
        if safety.involves_minor(text):
            return "minors"
        if any(f.danger is not safety.Danger.SELF_HARM for f in flags):
            return "other"
    return "none"


def combine(original: str, parse: dict[str, Any], today: date | None = None) -> Classification:
    """Merge a Rasa parse result with the rule layer into one classification."""
    text = normalise(original)
    lang = detect_lang(text)
    intent = parse.get("intent") or {}
    name = str(intent.get("name") or "nlu_fallback")
    confidence = float(intent.get("confidence") or 0.0)
    if name == "nlu_fallback":
        ranking = parse.get("intent_ranking") or []
        best = next((r for r in ranking if r["name"] != "nlu_fallback"), None)
        if best:
            name, confidence = str(best["name"]), float(best["confidence"])
    flags = safety.check(text)
    model_urgent = name == EMERGENCY_INTENT and confidence >= EMERGENCY_CONFIDENCE
    return Classification(
        text=original,
        intent=name,
        confidence=round(confidence, 4),
        topic=topic_of(parse, text, lang, flags),
        urgent=bool(flags) or model_urgent,
        lang=lang,
        entities=normalise_entities(parse.get("entities") or [], today),
        dangers=[f.danger.value for f in flags] + (["model_emergency"] if model_urgent else []),
    )


class RasaNLU:
    """Client for a running Rasa server's `/model/parse` endpoint."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def parse(self, text: str) -> dict[str, Any]:
        response = await self._client.post("/model/parse", json={"text": normalise(text)})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def classify(self, text: str, today: date | None = None) -> Classification:
        return combine(text, await self.parse(text), today)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> RasaNLU:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
