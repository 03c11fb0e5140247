"""`hotline classify` through the real command, against a real Rasa server."""

import json
import subprocess

import pytest

from tests.conftest import free_port, hotline_command


def run_classify(stdin: str, rasa_url: str, timeout: float = 120) -> list[dict[str, object]]:
    result = subprocess.run(
        [*hotline_command(), "classify"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"RASA_URL": rasa_url, "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.rasa
def test_plain_and_json_lines_give_one_object_each(rasa_server: str) -> None:
    lines = "老板欠我三个月工资\n" + json.dumps({"text": "my boss hasn't paid me for two months"}) + "\n"
    out = run_classify(lines, rasa_server)
    assert [o["topic"] for o in out] == ["wages", "wages"]
    assert [o["lang"] for o in out] == ["zh", "en"]
    for o in out:
        assert set(o) == {"text", "intent", "confidence", "topic", "urgent", "lang", "entities"}
        assert isinstance(o["confidence"], float) and isinstance(o["urgent"], bool)
    assert {"entity": "duration", "value": "P3M"} in out[0]["entities"]  # type: ignore[operator]


@pytest.mark.rasa
def test_money_is_normalised_to_yuan_and_urgent_is_flagged(rasa_server: str) -> None:
    out = run_classify("还欠我1.2万\n爸爸經常打我\n", rasa_server)
    assert {"entity": "money", "value": 12000} in out[0]["entities"]  # type: ignore[operator]
    assert out[1]["urgent"] is True


@pytest.mark.rasa
def test_bad_lines_get_a_readable_error_and_nothing_is_lost(rasa_server: str) -> None:
    stdin = '{"no_text": 1}\n\n' + "字" * 4001 + "\n{not json\n你好\n"
    out = run_classify(stdin, rasa_server)
    assert out[0] == {"line": 1, "error": 'a JSON line must be an object with a non-empty "text" string'}
    assert out[1]["line"] == 3 and "4000" in str(out[1]["error"])
    assert out[2]["text"] == "{not json"  # not JSON after all: classified as text
    assert out[3]["text"] == "你好"


@pytest.mark.rasa
def test_starts_its_own_rasa_when_none_answers(model: object) -> None:
    port = free_port()
    out = run_classify("工伤认定要多久\n", f"http://127.0.0.1:{port}", timeout=300)
    assert out[0]["topic"] == "injury"
    # ... and stopped it again
    import httpx

    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/status", timeout=2)
