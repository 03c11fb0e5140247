"""The eligibility rules against the golden tables in tests/golden/ (one row = one reviewed case)."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline import eligibility, messages
from hotline.eligibility import RULES, one_year_after, standard_on

GOLDEN = Path(__file__).parent / "golden"


def rows() -> list[Any]:
    params = []
    for path in sorted(GOLDEN.glob("*.yml")):
        table = yaml.safe_load(path.read_text("utf-8"))
        for row in table["rows"]:
            params.append(pytest.param(table["rule"], row, id=f"{path.stem}: {row['case']}"))
    return params


@pytest.mark.parametrize(("rule", "row"), rows())
def test_golden_row(rule: str, row: dict[str, Any]) -> None:
    assessment = RULES[rule](row["facts"], row["today"])
    assert assessment.result == row["result"]
    assert [(r.code, r.article) for r in assessment.reasons] == list(row["reasons"].items())
    assert assessment.urgent is row["urgent"]
    assert assessment.deadline == row["deadline"]
    assert assessment.minors_lawyer is row.get("minors_lawyer", False)


def test_every_rule_has_a_golden_table() -> None:
    tables = {yaml.safe_load(p.read_text("utf-8"))["rule"] for p in GOLDEN.glob("*.yml")}
    assert tables == set(RULES)


def test_every_reason_prepare_and_where_has_both_texts() -> None:
    for path in GOLDEN.glob("*.yml"):
        for row in yaml.safe_load(path.read_text("utf-8"))["rows"]:
            assessment = RULES[yaml.safe_load(path.read_text("utf-8"))["rule"]](row["facts"], row["today"])
            keys = [f"reasons.{r.code}" for r in assessment.reasons]
            keys += [f"prepare.{p}" for p in assessment.prepare] + [f"where.{assessment.where}"]
            for key in keys:
                assert messages.has(key), key


def test_one_year_periods_end_on_the_same_date() -> None:
    assert one_year_after(date(2025, 12, 5)) == date(2026, 12, 5)
    assert one_year_after(date(2024, 2, 29)) == date(2025, 2, 28)


def test_the_hardship_standard_is_dated_data() -> None:
    assert standard_on(date(2020, 6, 1)).monthly_threshold_yuan == 2711
    assert standard_on(date(2022, 12, 31)).monthly_threshold_yuan == 3101
    current = standard_on(date(2026, 12, 1))
    assert current.effective_from == date(2026, 3, 1) and not current.verified
    with pytest.raises(LookupError):
        standard_on(date(2019, 1, 1))


def test_minors_cases_always_go_to_lawyers_for_minors() -> None:
    for matter in eligibility.MINOR_MATTERS:
        assert eligibility.assess_minors({"minor_matter": matter, "age": 12}, date(2026, 12, 1)).minors_lawyer
