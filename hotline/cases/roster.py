"""Reading the duty roster the office keeps as a spreadsheet (CSV): one shift per line.

Columns (header line first; other columns are ignored): `telegram_user_id` or `name` (or both; the Telegram id
wins when given), `starts_at`, `ends_at` in ISO 8601 with a time zone (2026-11-02T09:00+08:00). Every problem
is named by file and line; one problem and nothing is imported.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hotline.cases.records import CaseError

REQUIRED = ("starts_at", "ends_at")
WHO = ("telegram_user_id", "name")


class RosterError(CaseError):
    """The roster file's problems, one per line of the message, each as 'FILE:LINE: what'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RosterRow:
    line: int
    telegram_user_id: str | None
    name: str | None
    starts_at: datetime
    ends_at: datetime


def _instant(raw: str, column: str) -> tuple[datetime | None, str | None]:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None, f"{column} {raw.strip()!r} is not an ISO 8601 time (e.g. 2026-11-02T09:00+08:00)"
    if value.tzinfo is None or value.utcoffset() is None:
        return None, f"{column} {raw.strip()!r} has no time zone (write e.g. 2026-11-02T09:00+08:00)"
    return value.astimezone(UTC), None


def read_roster(path: Path) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    """The well-formed shifts in the file and the problems of the others as (line, 'FILE:LINE: what'), so the
    caller can add its own (unknown lawyers) and report all in line order. An unreadable file or header raises
    RosterError at once."""
    try:
        # utf-8-sig: a spreadsheet's CSV export often starts with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _rows(path, csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError([f"{path}: cannot read the roster: {error}"]) from error


def _rows(path: Path, reader: csv.DictReader[str]) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [column for column in REQUIRED if column not in header]
    if not any(column in header for column in WHO):
        missing.insert(0, "telegram_user_id or name")
    if missing:
        raise RosterError(
            [f"{path}:1: the header lacks {', '.join(missing)} (it has: {', '.join(header) or 'nothing'})"]
        )
    rows: list[RosterRow] = []
    problems: list[tuple[int, str]] = []
    for record in reader:
        line = reader.line_num
        if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
            continue  # a blank line between weeks
        telegram = (record.get("telegram_user_id") or "").strip() or None
        name = (record.get("name") or "").strip() or None
        here: list[str] = []
        if telegram is None and name is None:
            here.append("no telegram_user_id and no name")
        starts_at, error = _instant(record.get("starts_at") or "", "starts_at")
        if error:
            here.append(error)
        ends_at, error = _instant(record.get("ends_at") or "", "ends_at")
        if error:
            here.append(error)
        if starts_at and ends_at and ends_at <= starts_at:
            here.append("ends_at is not after starts_at")
        if here or starts_at is None or ends_at is None:
            problems.extend((line, f"{path}:{line}: {problem}") for problem in here)
            continue
        rows.append(RosterRow(line, telegram, name, starts_at, ends_at))
    return rows, problems
