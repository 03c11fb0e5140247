"""The web chat API: POST /api/chat and GET /healthz (aiohttp)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
from aiohttp import web

from bot.rasa_client import BotMessage, RasaClient, RasaUnavailable, fallback_messages
from hotline.text import Lang

log = logging.getLogger(__name__)

RASA: web.AppKey[RasaClient] = web.AppKey("rasa", RasaClient)
ACTION_PORT: web.AppKey[int] = web.AppKey("action_port", int)
MAX_BODY = 16 * 1024
_SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHANNELS = ("web", "12355")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _validate(body: Any) -> tuple[dict[str, Any] | None, str]:
    if not isinstance(body, dict):
        return None, "The request body must be a JSON object."
    session, text = body.get("session"), body.get("text")
    channel, lang = body.get("channel", "web"), body.get("lang")
    if not isinstance(session, str) or not _SESSION.fullmatch(session):
        return None, "'session' must be 1 to 64 letters, digits, '_' or '-'."
    if not isinstance(text, str) or not text.strip():
        return None, "'text' must be a non-empty string."
    if len(text) > 4000:
        return None, "'text' is longer than 4000 characters; please send it in shorter parts."
    if channel not in CHANNELS:
        return None, "'channel' must be 'web' or '12355'."
    if lang is not None and lang not in ("zh", "en"):
        return None, "'lang' must be 'zh' or 'en'."
    return {"session": session, "text": text, "channel": channel, "lang": lang}, ""


async def chat(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return _error(415, "Send JSON with the header Content-Type: application/json.")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, "The request is too large.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a body sent without Content-Length that grew too large
        return _error(413, "The request is too large.")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "The request body is not valid JSON.")
    data, problem = _validate(body)
    if data is None:
        return _error(400, problem)
    lang: Lang | None = data["lang"]
    sender = f"{data['channel']}:{data['session']}"
    metadata = {"channel": data["channel"], **({"lang": lang} if lang else {})}
    try:
        replies = await request.app[RASA].send(sender, data["text"], metadata)
    except RasaUnavailable as error:
        log.warning("rasa unavailable for conversation=%s: %s", sender, error)
        replies = fallback_messages(data["text"], lang)
    return web.json_response({"session": data["session"], "messages": [_as_json(m) for m in replies]})


def _as_json(message: BotMessage) -> dict[str, Any]:
    return {"text": message.text, "buttons": message.buttons}


async def healthz(request: web.Request) -> web.Response:
    rasa_ok = await request.app[RASA].ready()
    actions_ok = await _actions_ready(request.app[ACTION_PORT])
    status = 200 if rasa_ok and actions_ok else 503
    return web.json_response({"rasa": rasa_ok, "actions": actions_ok, "gateway": True}, status=status)


async def _actions_ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
    except httpx.HTTPError:
        return False


def create_app(rasa: RasaClient, action_port: int) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[RASA] = rasa
    app[ACTION_PORT] = action_port
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/healthz", healthz)

    async def close_rasa(app: web.Application) -> None:
        await app[RASA].aclose()

    app.on_cleanup.append(close_rasa)
    return app
