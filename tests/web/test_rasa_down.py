"""Rasa killed mid-conversation: the person gets the fallback within 5 seconds and the message is kept; when Rasa
is back the kept message is answered (the page fetches the answer) and the conversation goes on at the same step.
A Rasa server of its own (the stack's keeps serving the other tests), the same model, action server and stores."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from hotline.cases.db import upgrade
from hotline.rasa_service import RasaServer
from tests.conftest import Stack, extra_gateway, free_port, post_chat

pytestmark = pytest.mark.rasa

TURNS = ["老板欠我三个月工资", "是的", "对", "嗯 是包工头叫我去的"]


def texts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


def kill(server: RasaServer) -> None:
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(30)
    server.process = None


def own_database(tmp_path: Path) -> str:
    """A case store of the gateway's own: the stack's gateway shares the stack's, and its retry loop would answer
    this gateway's kept messages (as any gateway may; here the test watches this one)."""
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(url)
    return url


def test_rasa_killed_mid_conversation_nothing_lost(stack: Stack, model: Path, tmp_path: Path) -> None:
    # The same conversation on the stack's own gateway: what each turn should get.
    reference = "w-" + uuid.uuid4().hex[:12]
    expected = [texts(post_chat(stack.gateway_url, {"session": reference, "text": turn})) for turn in TURNS]

    port = free_port()
    rasa = RasaServer(stack.settings, model, port=port, log_file=stack.settings.var_dir / "rasa-killed.log")
    rasa.start()
    rasa.wait_ready()
    try:
        with extra_gateway(
            stack.settings,
            "gateway-rasa-down",
            RASA_URL=rasa.url,
            RETRY_INTERVAL_SECONDS="1",
            DATABASE_URL=own_database(tmp_path),
        ) as url:
            me = "w-" + uuid.uuid4().hex[:12]
            for turn, answer in zip(TURNS[:2], expected[:2], strict=True):
                assert texts(post_chat(url, {"session": me, "text": turn})) == answer

            kill(rasa)
            started = time.monotonic()
            fallback = texts(post_chat(url, {"session": me, "text": TURNS[2]}))
            assert time.monotonic() - started < 5.0
            assert len(fallback) == 1 and "已经保存" in fallback[0] and "110" in fallback[0]
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 503
            assert httpx.get(f"{url}/api/chat/{me}/updates", timeout=10).json()["messages"] == []

            rasa.start()  # the same port, the same tracker store
            rasa.wait_ready()
            deadline, answered = time.monotonic() + 60, list[dict[str, str]]()
            while not answered and time.monotonic() < deadline:
                time.sleep(0.5)
                answered = httpx.get(f"{url}/api/chat/{me}/updates", timeout=10).json()["messages"]
            assert [m["text"] for m in answered] == expected[2], "the kept message is answered when Rasa is back"
            assert all(m["from"] == "hotline" for m in answered)
            # ... and the conversation goes on at the same step, nothing asked twice.
            assert texts(post_chat(url, {"session": me, "text": TURNS[3]})) == expected[3]
    finally:
        rasa.stop()


def test_the_next_message_answers_what_was_kept_first(stack: Stack, model: Path, tmp_path: Path) -> None:
    """If the person writes again before the retry loop ran, their kept message is answered first, in order."""
    reference = "w-" + uuid.uuid4().hex[:12]
    expected = [texts(post_chat(stack.gateway_url, {"session": reference, "text": turn})) for turn in TURNS[:3]]
    port = free_port()
    rasa = RasaServer(stack.settings, model, port=port, log_file=stack.settings.var_dir / "rasa-killed-2.log")
    rasa.start()
    rasa.wait_ready()
    try:
        # A retry loop that never comes round in this test: only the next message can answer the kept one.
        with extra_gateway(
            stack.settings,
            "gateway-next",
            RASA_URL=rasa.url,
            RETRY_INTERVAL_SECONDS="3600",
            DATABASE_URL=own_database(tmp_path),
        ) as url:
            me = "w-" + uuid.uuid4().hex[:12]
            assert texts(post_chat(url, {"session": me, "text": TURNS[0]})) == expected[0]
            kill(rasa)
            assert "已经保存" in texts(post_chat(url, {"session": me, "text": TURNS[1]}))[0]
            rasa.start()
            rasa.wait_ready()
            assert texts(post_chat(url, {"session": me, "text": TURNS[2]})) == expected[1] + expected[2]
    finally:
        rasa.stop()


def test_a_gateway_restart_loses_no_conversation(stack: Stack) -> None:
    reference = "w-" + uuid.uuid4().hex[:12]
    expected = [texts(post_chat(stack.gateway_url, {"session": reference, "text": turn})) for turn in TURNS]
    me = "w-" + uuid.uuid4().hex[:12]
    with extra_gateway(stack.settings, "gateway-before") as url:
        for turn, answer in zip(TURNS[:2], expected[:2], strict=True):
            assert texts(post_chat(url, {"session": me, "text": turn})) == answer
    with extra_gateway(stack.settings, "gateway-after") as url:  # a new process: nothing in memory
        for turn, answer in zip(TURNS[2:], expected[2:], strict=True):
            assert texts(post_chat(url, {"session": me, "text": turn})) == answer
