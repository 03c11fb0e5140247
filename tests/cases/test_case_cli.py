"""`hotline db | lawyers | roster | cases` through the real command, on a SQLite file named by DATABASE_URL."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from hotline.cases.db import engine_for, head_revision
from hotline.cases.store import CaseStore
from tests.cases.conftest import T0, fresh_postgres_schema
from tests.conftest import hotline_command

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'hotline.db'}"


@pytest.fixture
def hotline(database: str, tmp_path: Path) -> Run:
    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database, "HOTLINE_VAR": str(tmp_path)}
        result = subprocess.run(
            [*hotline_command(), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode in (1, 2), (result.returncode, result.stdout, result.stderr)
        return result

    return run


def lawyers(hotline: Run) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(hotline("lawyers", "list", "--json").stdout)
    return result


def test_before_the_schema_exists_commands_say_to_upgrade(hotline: Run) -> None:
    result = hotline("lawyers", "list", ok=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "hotline db upgrade" in result.stderr
    assert f"schema at {head_revision()}" in hotline("db", "upgrade").stdout
    assert f"schema at {head_revision()}" in hotline("db", "upgrade").stdout  # again: nothing to do


def test_lawyers_add_list_remove(hotline: Run) -> None:
    hotline("db", "upgrade")
    added = hotline(
        "lawyers",
        "add",
        "--name",
        "李娜",
        "--telegram-id",
        "700100",
        "--languages",
        "zh,en",
        "--topics",
        "wages,injury,minors",
        "--minors",
        "--no-supervisor",
    )
    assert added.stdout.strip() == "lawyer 1: 李娜"
    hotline("lawyers", "add", "--name", "Boss", "--topics", "other", "--supervisor")
    listed = lawyers(hotline)
    assert [(row["id"], row["name"], row["telegram_user_id"]) for row in listed] == [
        (1, "李娜", "700100"),
        (2, "Boss", None),
    ]
    assert listed[0]["languages"] == ["zh", "en"] and listed[0]["topics"] == ["wages", "injury", "minors"]
    assert (listed[0]["minors_qualified"], listed[0]["supervisor"]) == (True, False)
    assert (listed[1]["languages"], listed[1]["minors_qualified"], listed[1]["supervisor"]) == (["zh"], False, True)
    table = hotline("lawyers", "list").stdout
    assert "李娜" in table and "minors" in table and "supervisor" in table

    assert hotline("lawyers", "remove", "1").stdout.strip() == "lawyer 1 removed (inactive)"
    assert [row["active"] for row in lawyers(hotline)] == [False, True]
    assert "INACTIVE" in hotline("lawyers", "list").stdout
    again = hotline("lawyers", "remove", "1", ok=False)
    assert again.stderr.strip() == "no active lawyer 1"


BAD_LAWYERS = [
    (["--name", "X", "--topics", "wage"], "topic 'wage' is not one of wages, injury, minors, other"),
    (["--name", "X", "--topics", "wages", "--languages", "fr"], "language 'fr'"),
    (["--name", "X", "--topics", "wages", "--telegram-id", "@x"], "not a number"),
    (["--name", "Y", "--topics", "wages", "--telegram-id", "700100"], "already lawyer 1"),
]


def test_bad_lawyers_get_one_readable_line(hotline: Run) -> None:
    hotline("db", "upgrade")
    hotline("lawyers", "add", "--name", "Li", "--telegram-id", "700100", "--topics", "wages")
    for args, message in BAD_LAWYERS:
        result = hotline("lawyers", "add", *args, ok=False)
        assert result.returncode == 1
        assert message in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr
    usage = hotline("lawyers", "add", "--name", "X", ok=False)  # --topics is required: typer's usage error
    assert usage.returncode == 2
    assert len(lawyers(hotline)) == 1


def test_roster_import_and_show(hotline: Run, tmp_path: Path) -> None:
    hotline("db", "upgrade")
    hotline("lawyers", "add", "--name", "Li", "--telegram-id", "700100", "--topics", "wages")
    hotline("lawyers", "add", "--name", "Zhou", "--topics", "injury")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "telegram_user_id,name,starts_at,ends_at\n"
        "700100,,2030-11-04T09:00+08:00,2030-11-04T17:00+08:00\n"
        ",Zhou,2030-11-04T17:00+08:00,2030-11-05T01:00+08:00\n",
        encoding="utf-8",
    )
    assert hotline("roster", "import", str(roster)).stdout.strip() == f"{roster}: 2 shifts added, 0 already present"
    assert hotline("roster", "import", str(roster)).stdout.strip() == f"{roster}: 0 shifts added, 2 already present"
    shown = hotline("roster", "show").stdout.splitlines()
    assert shown == [
        "2030-11-04T09:00+08:00 – 2030-11-04T17:00+08:00  Li (lawyer 1)",
        "2030-11-04T17:00+08:00 – 2030-11-05T01:00+08:00  Zhou (lawyer 2)",
    ]
    rows = json.loads(hotline("roster", "show", "--json").stdout)
    assert [(row["lawyer"], row["starts_at"]) for row in rows] == [
        ("Li", "2030-11-04T01:00:00+00:00"),
        ("Zhou", "2030-11-04T09:00:00+00:00"),
    ]


def test_a_bad_roster_line_is_named_and_nothing_is_imported(hotline: Run, tmp_path: Path) -> None:
    hotline("db", "upgrade")
    hotline("lawyers", "add", "--name", "Li", "--telegram-id", "700100", "--topics", "wages")
    roster = tmp_path / "week45.csv"
    roster.write_text(
        "telegram_user_id,starts_at,ends_at\n"
        "700100,2030-11-04T09:00+08:00,2030-11-04T17:00+08:00\n"
        "700100,2030-11-05 09:00,2030-11-05T17:00+08:00\n",
        encoding="utf-8",
    )
    result = hotline("roster", "import", str(roster), ok=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{roster}:3: starts_at '2030-11-05 09:00' has no time zone (write e.g. 2026-11-02T09:00+08:00)"
    ]
    assert json.loads(hotline("roster", "show", "--all", "--json").stdout) == []
    missing = hotline("roster", "import", str(tmp_path / "none.csv"), ok=False)
    assert "none.csv: cannot read the roster" in missing.stderr


def test_cases_list_json(hotline: Run, database: str) -> None:
    hotline("db", "upgrade")
    assert json.loads(hotline("cases", "list", "--json").stdout) == []
    engine = engine_for(database)
    try:
        store = CaseStore(engine)
        store.create_case(
            channel="12355",
            channel_key="yl-3f9e0c",
            lang="zh",
            topic="minors",
            facts={"age": 15, "writer": "self"},
            eligibility={"result": "no_means_test"},
            urgent=True,
            deadline=None,
            consent=True,
            transcript_excerpt="爸爸经常打我",
            at=T0,
        )
    finally:
        engine.dispose()
    [case] = json.loads(hotline("cases", "list", "--json").stdout)
    assert {"ref", "topic", "status", "urgent", "eligibility", "lang", "channel", "created_at", "facts"} <= set(case)
    assert case["ref"] == "GZLA-2026-000001"
    assert (case["topic"], case["status"], case["urgent"], case["lang"], case["channel"]) == (
        "minors",
        "queued",
        True,
        "zh",
        "12355",
    )
    assert case["eligibility"] == {"result": "no_means_test"} and case["facts"] == {"age": 15, "writer": "self"}
    assert case["created_at"] == "2026-11-02T02:00:00+00:00"
    assert "transcript_excerpt" not in case  # the person's words stay in the database
    assert json.loads(hotline("cases", "list", "--json", "--status", "closed").stdout) == []
    assert "GZLA-2026-000001  queued" in hotline("cases", "list").stdout
    bad = hotline("cases", "list", "--status", "lost", ok=False)
    assert bad.stderr.strip() == "status 'lost' is not one of queued, offered, claimed, closed"


def test_an_unreachable_or_unknown_database_is_one_line(hotline: Run, tmp_path: Path) -> None:
    for url, message in (
        ("postgresql://postgres@127.0.0.1:1/nowhere", "cannot use the database at postgresql+psycopg://"),
        ("nosuchdb://x", "cannot use DATABASE_URL nosuchdb://x"),
    ):
        env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url, "HOTLINE_VAR": str(tmp_path)}
        result = subprocess.run(
            [*hotline_command(), "cases", "list"], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert message in result.stderr and result.stderr.strip().count("\n") == 0


def test_the_commands_work_on_postgresql(tmp_path: Path) -> None:
    """The same commands on PostgreSQL, with a plain postgresql:// URL (psycopg 3 is the driver we install)."""
    with fresh_postgres_schema() as url:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": plain, "HOTLINE_VAR": str(tmp_path)}

        def run(*args: str) -> str:
            result = subprocess.run(
                [*hotline_command(), *args], capture_output=True, text=True, env=env, timeout=60, check=False
            )
            assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
            return result.stdout

        assert f"schema at {head_revision()}" in run("db", "upgrade")
        run("lawyers", "add", "--name", "Li", "--topics", "wages")
        assert [row["name"] for row in json.loads(run("lawyers", "list", "--json"))] == ["Li"]
        assert json.loads(run("cases", "list", "--json")) == []
