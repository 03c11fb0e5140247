"""Telegram's webhook on the gateway's own aiohttp app (production): one port behind the load balancer, beside the
web chat, instead of python-telegram-bot's own tornado server.

Telegram sends every update as `POST /telegram/webhook` with the secret given to setWebhook in the header
`X-Telegram-Bot-Api-Secret-Token`. A request without the right secret is refused (403) before its body is read:
anyone who finds the URL could otherwise inject updates (messages "from" any person, presses of a lawyer's
Accept). A valid update goes to the application's update queue, where polling would have put it, and the answer
is 200 at once: the handlers run later, so Telegram never times out and resends.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from hotline.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What Telegram accepts as a secret token (Bot API, setWebhook).
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# An update is a few kilobytes; a message with a long reply quoted stays far below this. The web chat's own body
# limit (bot/web.py) is smaller, so this route reads the body itself.
MAX_UPDATE = 1024 * 1024


class WebhookConfigError(ValueError):
    """TELEGRAM_WEBHOOK_URL / TELEGRAM_WEBHOOK_SECRET do not make a usable webhook; the message says why."""


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str


def webhook_from(settings: Settings) -> Webhook | None:
    """The webhook the settings ask for, or None for polling (no TELEGRAM_WEBHOOK_URL). WebhookConfigError when
    the URL is not https or the secret is missing or not what Telegram accepts: the gateway refuses to start."""
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise WebhookConfigError(
            f"TELEGRAM_WEBHOOK_URL must be a public https URL (Telegram posts updates there), not {url!r}"
        )
    if not secret:
        raise WebhookConfigError(
            "TELEGRAM_WEBHOOK_SECRET is required in webhook mode (TELEGRAM_WEBHOOK_URL is set): 1 to 256 characters "
            "of A-Z, a-z, 0-9, '_' and '-'"
        )
    if not _SECRET.fullmatch(secret):
        raise WebhookConfigError(
            "TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z, a-z, 0-9, '_' and '-' (what Telegram accepts)"
        )
    return Webhook(url, secret)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> bytes | None:
    """The request body, or None once it grows beyond MAX_UPDATE."""
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_UPDATE:
            return None
    return bytes(body)


def add_webhook(
    app: web.Application,
    application: Application,  # type: ignore[type-arg]
    secret: str,
    path: str = WEBHOOK_PATH,
) -> None:
    """Add `POST path` to `app` (before the app is started): Telegram's updates into `application`."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("telegram webhook: refused a request without the right secret token")
            return _error(403, "Wrong or missing secret token.")
        raw = await _body(request)
        if raw is None:
            return _error(413, "The update is too large.")
        try:
            data: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "The body is not valid JSON.")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return _error(400, "The body is not a Telegram update.")
        try:
            update = Update.de_json(data, application.bot)
        except (KeyError, TypeError, ValueError):
            return _error(400, "The body is not a Telegram update.")
        await application.update_queue.put(update)
        return web.json_response({"ok": True})

    app.router.add_post(path, receive)
