"""The whole stack (action server, Rasa, gateway) through `hotline chat` and POST /api/chat."""

import subprocess

import httpx
import pytest

from tests.conftest import Stack, hotline_command, post_chat

pytestmark = pytest.mark.rasa


def chat(stack: Stack, lines: str) -> str:
    result = subprocess.run(
        [*hotline_command(), "chat", "--url", stack.gateway_url],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chat_answers_a_chinese_wage_inquiry(stack: Stack) -> None:
    out = chat(stack, "老板欠我三个月工资\n")
    assert "您是给这个老板或单位干活的吗" in out  # the wages flow's first question


def test_chat_answers_an_english_wage_inquiry(stack: Stack) -> None:
    out = chat(stack, "my boss hasn't paid me for two months\n")
    assert "Were you working for this boss or company?" in out


def test_buttons_are_numbered_and_pressable(stack: Stack) -> None:
    out = chat(stack, "你好\n2\n")
    assert "[2] 工伤" in out
    assert "是怎么受伤或得病的" in out  # pressing 2 sent /inquiry_injury: the injury flow's first question


def test_emergency_interrupts_at_once(stack: Stack) -> None:
    response = post_chat(stack.gateway_url, {"session": "urgent-1", "text": "老板欠我工资"})
    assert response.status_code == 200
    response = post_chat(stack.gateway_url, {"session": "urgent-1", "text": "我不想活了"})
    assert "110" in response.json()["messages"][0]["text"]


def test_the_api_answers_with_messages_and_buttons(stack: Stack) -> None:
    response = post_chat(stack.gateway_url, {"session": "s-1", "text": "hi", "channel": "12355", "lang": "en"})
    body = response.json()
    assert response.status_code == 200 and body["session"] == "s-1"
    assert body["messages"][0]["text"].startswith("Hello")
    assert body["messages"][0]["buttons"][0] == {"title": "Unpaid wages", "payload": "/inquiry_wages"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"session": "ok", "text": ""}, 400),
        ({"session": "bad session!", "text": "hi"}, 400),
        ({"session": "x" * 65, "text": "hi"}, 400),
        ({"session": "ok", "text": "字" * 4001}, 400),
        ({"session": "ok", "text": "hi", "channel": "sms"}, 400),
        ({"session": "ok", "text": "hi", "lang": "fr"}, 400),
        (["not", "an", "object"], 400),
    ],
)
def test_bad_requests_get_a_readable_error(stack: Stack, body: object, status: int) -> None:
    response = post_chat(stack.gateway_url, body)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str) and len(response.json()["error"]) > 10


def test_wrong_content_type_invalid_json_and_oversize(stack: Stack) -> None:
    url = f"{stack.gateway_url}/api/chat"
    assert httpx.post(url, content="text=hi", headers={"Content-Type": "text/plain"}).status_code == 415
    assert httpx.post(url, content="{bad", headers={"Content-Type": "application/json"}).status_code == 400
    big = '{"session": "ok", "text": "' + "a" * 20000 + '"}'
    assert httpx.post(url, content=big, headers={"Content-Type": "application/json"}).status_code == 413


def test_healthz_reports_rasa_actions_and_the_database(stack: Stack) -> None:
    body = httpx.get(f"{stack.gateway_url}/healthz").json()
    assert body == {"rasa": True, "actions": True, "database": True, "gateway": True}
