"""Information answers: short, cited answers to the common questions (hotline/data/info_answers.yml).

Matched by the patterns written beside each answer rather than by a trained model: the office reviews and edits
an answer and its patterns in one place, a change needs no retraining, and a question that matches nothing is
never answered by a guess (the bot says plainly where to ask instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from hotline import messages
from hotline.messages import LANGS, CatalogueError
from hotline.text import Lang, normalise

INFO_FILE = Path(__file__).resolve().parent / "data" / "info_answers.yml"
TOPICS = ("wages", "injury", "minors", "other")


@dataclass(frozen=True)
class InfoAnswer:
    id: str
    topic: str
    patterns: dict[Lang, tuple[re.Pattern[str], ...]]
    answer: dict[Lang, str]
    articles: tuple[str, ...]

    def text(self, lang: Lang) -> str:
        return self.answer[lang].format(**{k: str(v["number"]) for k, v in messages.hotlines().items()})


@lru_cache(maxsize=1)
def answers() -> tuple[InfoAnswer, ...]:
    raw = yaml.safe_load(INFO_FILE.read_text("utf-8")) or []
    result: list[InfoAnswer] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"{INFO_FILE.name} entry #{index + 1} ({entry.get('id', '?')})"
        try:
            if entry["id"] in seen or entry["topic"] not in TOPICS:
                raise CatalogueError(f"{where}: duplicate id or unknown topic")
            seen.add(entry["id"])
            patterns = {
                lang: tuple(re.compile(p, re.IGNORECASE) for p in entry["match"].get(lang) or []) for lang in LANGS
            }
            answer = {lang: str(entry["answer"][lang]) for lang in LANGS}
        except (KeyError, TypeError, re.error) as error:
            raise CatalogueError(f"{where}: {error}") from error
        result.append(InfoAnswer(entry["id"], entry["topic"], patterns, answer, tuple(entry.get("articles") or ())))
    return tuple(result)


def match(text: str, lang: Lang) -> list[InfoAnswer]:
    """The answers whose patterns match the message, in file order (the first is the one given)."""
    clean = normalise(text).lower()
    return [a for a in answers() if any(p.search(clean) for p in a.patterns[lang])]
