"""The bilingual message catalogue (hotline/data/messages.yml) with hotline numbers filled in from data."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hotline.text import Lang

DATA_DIR = Path(__file__).resolve().parent / "data"
LANGS: tuple[Lang, ...] = ("zh", "en")
# Placeholders a text may use besides the hotline numbers: values an eligibility rule or a flow fills in.
PARAMS = (
    "deadline",
    "days",
    "amount",
    "per_capita",
    "threshold",
    "household",
    "income",
    "since",
    "scope",
    "place",
    "ref",
    # the lawyer desk (bot/desk.py, bot/outbox.py, bot/packet.py)
    "when",
    "text",
    "level",
    "count",
    "refs",
)


class CatalogueError(ValueError):
    """A message or hotline entry is missing or malformed; the message names the file and key."""


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)


@lru_cache(maxsize=1)
def hotlines() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = yaml.safe_load((DATA_DIR / "hotlines.yml").read_text("utf-8"))
    for key, entry in data.items():
        for required in ("number", "source", "confidence", "checked"):
            if required not in entry:
                raise CatalogueError(f"hotlines.yml: {key} has no {required}")
    return data


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    """messages.yml and its companions messages_*.yml (one per part of the product: the channels, the desk),
    merged; a top-level key defined in two files is an error, so no text silently replaces another."""
    data: dict[str, Any] = {}
    for path in [DATA_DIR / "messages.yml", *sorted(DATA_DIR.glob("messages_*.yml"))]:
        part: dict[str, Any] = yaml.safe_load(path.read_text("utf-8")) or {}
        for key in part:
            if key in data:
                raise CatalogueError(f"{path.name}: {key} is already defined in another messages file")
        data.update(part)
    return data


def _numbers() -> dict[str, str]:
    return {key: str(entry["number"]) for key, entry in hotlines().items()}


def text(key: str, lang: Lang, **params: str) -> str:
    """The message `key` (a dotted path for nested groups: `reasons.wages_limitation`) in `lang`, with hotline
    numbers and `params` filled in."""
    node: Any = catalogue()
    try:
        for part in key.split("."):
            node = node[part]
        template = node[lang]
    except (KeyError, TypeError) as missing:
        raise CatalogueError(f"messages.yml: no {lang} text for {key}") from missing
    try:
        return str(template).format(**_numbers(), **params)
    except KeyError as unknown:
        raise CatalogueError(f"messages.yml: {key}.{lang} needs the value {unknown}") from unknown


def has(key: str) -> bool:
    node: Any = catalogue()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, dict) and set(LANGS) <= set(node)


def label(group: str, key: str, lang: Lang) -> str:
    try:
        return str(catalogue()[group][key][lang])
    except KeyError as missing:
        raise CatalogueError(f"messages.yml: no {lang} label {group}.{key}") from missing


def validate() -> list[str]:
    """Problems in the catalogue: a missing language or an unknown placeholder."""
    problems: list[str] = []
    # Values the outcome texts take (hotline/outcome.py); any other placeholder is a mistake.
    numbers: dict[str, str] = {**_numbers(), **dict.fromkeys(PARAMS, "0")}

    def check(path: str, node: Any) -> None:
        if isinstance(node, dict) and set(LANGS) <= set(node) and all(isinstance(node[x], str) for x in LANGS):
            for lang in LANGS:
                try:
                    node[lang].format(**numbers)
                except (KeyError, IndexError, ValueError) as error:
                    problems.append(f"messages.yml: {path}.{lang}: bad placeholder {error}")
            return
        if isinstance(node, dict) and any(isinstance(v, dict) for v in node.values()):
            for key, value in node.items():
                check(f"{path}.{key}" if path else str(key), value)
            return
        problems.append(f"messages.yml: {path} needs both zh and en texts")

    check("", catalogue())
    return problems
