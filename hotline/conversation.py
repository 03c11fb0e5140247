"""The state of one conversation: language, topic, the flow and step it is in, the facts collected so far, and
what a plain "yes" would accept. Kept by Rasa in one slot (`conversation`, tracker store), so a person who
leaves continues where they stopped; it holds facts, never the person's own words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from hotline.text import Lang

# Facts about the person rather than one inquiry: kept when a new inquiry starts after an outcome.
PERSON_FACTS = frozenset({"migrant", "district", "household", "income", "assets", "hardship", "age", "writer"})


@dataclass(frozen=True)
class State:
    lang: Lang | None = None
    topic: str | None = None
    urgent: bool = False
    flow: str | None = None
    step: str | None = None  # the collect step whose answer we wait for
    failures: int = 0  # answers not understood in a row at this step
    answered: tuple[str, ...] = ()  # "flow/step" in the order answered (to go back one question)
    facts: dict[str, Any] = field(default_factory=dict)
    offer: str | None = None  # what a "yes" accepts now: "lawyer", "check:<topic>", "continue"
    outcome: dict[str, Any] | None = None  # the last assessment (Assessment.as_json)
    handoff: str | None = None  # "requested" or "urgent" once the person is to be passed to a lawyer
    case_ref: str | None = None  # the case opened for the handoff (GZLA-2026-000123)

    def evolve(self, **changes: Any) -> State:
        return replace(self, **changes)

    def to_slot(self) -> dict[str, Any]:
        data = asdict(self)
        data["answered"] = list(self.answered)
        return data

    @classmethod
    def from_slot(cls, data: Any) -> State:
        """The state stored in the slot; a missing or damaged value starts afresh rather than failing."""
        if not isinstance(data, dict):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            state = cls(**known)
        except TypeError:
            return cls()
        lang = state.lang if state.lang in ("zh", "en") else None
        return state.evolve(
            lang=lang,
            answered=tuple(state.answered or ()),
            facts=dict(state.facts or {}),
            failures=int(state.failures or 0),
        )
