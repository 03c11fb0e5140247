"""Rasa's own validation of our training data and domain, through its CLI in the Rasa environment."""

import subprocess

import pytest

from hotline.settings import PROJECT_ROOT, Settings, rasa_environment


@pytest.mark.rasa
def test_rasa_data_validate_passes(settings: Settings) -> None:
    result = subprocess.run(
        [
            str(settings.rasa_bin),
            "data",
            "validate",
            "--fail-on-warnings",
            "--domain",
            "domain.yml",
            "--data",
            "nlu_data",
            "--config",
            "config.yml",
        ],
        cwd=PROJECT_ROOT,
        env=rasa_environment(settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_no_passage_of_the_evaluation_sets_is_in_the_repository(settings: Settings) -> None:
    """Any 24-character window of an evaluation text (sampled every 40 characters) found in a tracked file fails."""
    import json

    eval_dir = settings.shared_dir / "eval"
    if not eval_dir.exists():
        pytest.skip("no ../shared/eval beside this checkout")
    passages: set[str] = set()
    for path in eval_dir.glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            text = json.loads(line)["text"].replace("…", "").strip()
            if len(text) < 24:
                if len(text) >= 10:
                    passages.add(text)
                continue
            passages |= {text[i : i + 24] for i in range(0, len(text) - 23, 40)}
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    leaks = []
    for name in files:
        path = PROJECT_ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            body = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        if any(p in body for p in passages):
            leaks.append(name)  # the file only: never print evaluation text
    assert leaks == []


def test_at_least_150_examples_per_topic_intent_per_language() -> None:
    import yaml

    counts: dict[tuple[str, str], int] = {}
    for path in (PROJECT_ROOT / "nlu_data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text("utf-8")).get("nlu", []):
            if not block.get("intent", "").startswith("inquiry_"):
                continue
            for line in block["examples"].splitlines():
                text = line.strip()[2:]
                lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
                counts[(block["intent"], lang)] = counts.get((block["intent"], lang), 0) + 1
    for intent in ("inquiry_wages", "inquiry_injury", "inquiry_minors", "inquiry_other"):
        for lang in ("zh", "en"):
            assert counts.get((intent, lang), 0) >= 150, (intent, lang, counts)
