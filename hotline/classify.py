"""`hotline classify`: one JSON object out for each line in (plain text, or a JSON object with "text")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Any

import httpx

from hotline.nlu import RasaNLU

MAX_TEXT = 4000


def read_line(line: str) -> tuple[str | None, str | None]:
    """The text of one input line, or an error sentence. A line that is a JSON object must have "text"."""
    stripped = line.strip()
    if not stripped:
        return None, None
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError:
            return stripped, None  # not JSON after all: classify it as the plain text it is
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            return None, 'a JSON line must be an object with a non-empty "text" string'
        stripped = obj["text"].strip()
    if len(stripped) > MAX_TEXT:
        return None, f"the text is longer than {MAX_TEXT} characters"
    return stripped, None


async def classify_lines(
    lines: Iterable[str], rasa_url: str, today: date | None = None
) -> AsyncIterator[dict[str, Any]]:
    async with RasaNLU(rasa_url) as nlu:
        for number, line in enumerate(lines, start=1):
            text, error = read_line(line)
            if error:
                yield {"line": number, "error": error}
                continue
            if text is None:
                continue
            try:
                result = (await nlu.classify(text, today)).as_json()
            except httpx.HTTPError as failure:
                yield {
                    "line": number,
                    "text": text,
                    "error": f"the Rasa server did not answer ({type(failure).__name__})",
                }
                continue
            result.pop("dangers", None)
            yield result
