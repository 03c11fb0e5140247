"""Webhook mode: the gateway's aiohttp route takes Telegram's updates only with the right secret token (403
otherwise, and nothing is handled), refuses bodies that are not updates (400), and an update Telegram sends twice
is handled once. The configuration is refused with a clear error when the secret is missing or malformed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.rasa_client import RasaClient
from bot.telegram import TelegramGateway, build_telegram
from bot.telegram_webhook import SECRET_HEADER, WEBHOOK_PATH, Webhook, WebhookConfigError, add_webhook, webhook_from
from hotline import messages
from hotline.cases.store import CaseStore
from hotline.settings import PROJECT_ROOT, Settings
from tests.desk.fake_telegram import TOKEN, FakeTelegram

PERSON = 7_300_001
SECRET = "s3cret_Token-for-the-TESTS"
PUBLIC_URL = "https://hotline.example.org/telegram/webhook"


@dataclass
class Served:
    fake: FakeTelegram
    gateway: TelegramGateway
    url: str  # where the test posts updates, as Telegram would

    async def post(self, body: Any, *, secret: str | None = SECRET, raw: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        content = raw if raw is not None else json.dumps(body).encode()
        async with httpx.AsyncClient() as client:
            return await client.post(self.url, content=content, headers=headers)

    async def settled(self) -> None:
        """Wait until the application has handled everything it was given."""
        application = self.gateway.application
        quiet, deadline = 0, time.monotonic() + 10
        while quiet < 5:
            assert time.monotonic() < deadline, "the application did not finish"
            await asyncio.sleep(0.02)
            idle = application.update_queue.empty() and application.update_processor.current_concurrent_updates == 0
            quiet = quiet + 1 if idle else 0


@asynccontextmanager
async def served(store: CaseStore) -> AsyncIterator[Served]:
    fake = await FakeTelegram().start()
    rasa = RasaClient(fake.url)
    gateway = build_telegram(TOKEN, rasa, base_url=fake.bot_url, store=store, webhook=Webhook(PUBLIC_URL, SECRET))
    app = web.Application()
    add_webhook(app, gateway.application, SECRET)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await gateway.start(send=False)
        yield Served(fake, gateway, f"http://127.0.0.1:{port}{WEBHOOK_PATH}")
    finally:
        await gateway.stop()
        await runner.cleanup()
        await rasa.aclose()
        await fake.stop()


async def test_webhook_mode_registers_and_takes_updates_with_the_secret_only(sqlite_store: CaseStore) -> None:
    async with served(sqlite_store) as s:
        fake = s.fake
        assert s.gateway.mode == "webhook"
        assert fake.webhook == {
            "url": PUBLIC_URL,
            "secret_token": SECRET,
            "allowed_updates": '["message", "edited_message", "callback_query"]',
        }
        assert fake.calls["getUpdates"] == 0 and fake.calls["deleteWebhook"] == 0  # no polling

        response = await s.post({"update_id": 501, **fake.text(PERSON, "/help")})
        assert response.status_code == 200 and response.json() == {"ok": True}
        await s.settled()
        assert fake.texts(PERSON) == [messages.text("telegram.help", "zh")]

        for secret in ("wrong", "", None, SECRET + "x"):
            response = await s.post({"update_id": 502, **fake.text(PERSON, "/help")}, secret=secret)
            assert response.status_code == 403, secret
            assert "secret" in response.json()["error"]
        await s.settled()
        assert len(fake.texts(PERSON)) == 1  # none of them was handled

        assert (await s.post(None, raw=b"{not json")).status_code == 400
        assert (await s.post([1, 2])).status_code == 400
        assert (await s.post({"message": {}})).status_code == 400  # no update id
        assert (await s.post({"update_id": 502, **fake.text(PERSON, "/help")})).status_code == 200
        await s.settled()
        assert len(fake.texts(PERSON)) == 2  # the refused requests did not use up update 502


async def test_an_update_sent_twice_is_handled_once(sqlite_store: CaseStore) -> None:
    async with served(sqlite_store) as s:
        fake = s.fake
        update = {"update_id": 601, **fake.text(PERSON, "/start")}
        for _ in range(3):  # Telegram resends when it did not see our answer in time
            assert (await s.post(update)).status_code == 200
        await s.settled()
        assert fake.texts(PERSON) == [messages.text("telegram.notice", "zh")]
        press = {"update_id": 602, **fake.press(PERSON, "consent:yes")}
        await asyncio.gather(s.post(press), s.post(press))  # at the same moment
        await s.settled()
        assert fake.texts(PERSON)[1:] == [messages.text("telegram.agreed", "zh")]
        assert fake.calls["answerCallbackQuery"] == 1


def test_polling_without_a_webhook_url() -> None:
    assert webhook_from(Settings(telegram_webhook_url="", telegram_webhook_secret="")) is None


@pytest.mark.parametrize(
    ("url", "secret", "problem"),
    [
        (PUBLIC_URL, "", "TELEGRAM_WEBHOOK_SECRET is required"),
        (PUBLIC_URL, "has spaces in it", "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters"),
        (PUBLIC_URL, "x" * 257, "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters"),
        (PUBLIC_URL, "ümlaut", "TELEGRAM_WEBHOOK_SECRET must be"),
        ("http://hotline.example.org/telegram/webhook", SECRET, "must be a public https URL"),
        ("hotline.example.org", SECRET, "must be a public https URL"),
    ],
)
def test_a_bad_webhook_configuration_is_refused(url: str, secret: str, problem: str) -> None:
    with pytest.raises(WebhookConfigError, match=problem):
        webhook_from(Settings(telegram_webhook_url=url, telegram_webhook_secret=secret))


def test_a_good_webhook_configuration() -> None:
    secret = "A" * 256
    assert webhook_from(Settings(telegram_webhook_url=PUBLIC_URL, telegram_webhook_secret=secret)) == Webhook(
        PUBLIC_URL, secret
    )


def test_the_gateway_refuses_to_start_without_the_secret(tmp_path: Any) -> None:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_URL": PUBLIC_URL,
        "TELEGRAM_WEBHOOK_SECRET": "",
        "HOTLINE_VAR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "GATEWAY_PORT": "1",  # never reached: it stops before listening
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "TELEGRAM_WEBHOOK_SECRET is required" in result.stderr
