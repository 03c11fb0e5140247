"""The web chat API (aiohttp): POST /api/chat (a person's message, the bot's answers), GET
/api/chat/{session}/updates (what a lawyer or the hotline sent them since), GET /healthz."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from bot.dialogue_service import DialogueService
from bot.rasa_client import BotMessage
from bot.ratelimit import RateLimiter
from bot.web_desk import WebDesk
from hotline.cases.mailbox import Inbox
from hotline.cases.models import WEB_CHANNELS
from hotline.cases.store import CaseStore
from hotline.rasa_tracker import TrackerEraser
from hotline.text import Lang

log = logging.getLogger(__name__)

DIALOGUE: web.AppKey[DialogueService] = web.AppKey("dialogue", DialogueService)
ACTIONS_HEALTH: web.AppKey[str] = web.AppKey("actions_health", str)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter", RateLimiter)
ENGINE: web.AppKey[Engine | None] = web.AppKey("engine")
INBOX: web.AppKey[Inbox | None] = web.AppKey("inbox")
WEB_DESK: web.AppKey[WebDesk | None] = web.AppKey("web_desk")
TRACKER_ERASER: web.AppKey[TrackerEraser | None] = web.AppKey("tracker_eraser")
MAX_BODY = 16 * 1024
_SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _closing(response: web.Response) -> web.Response:
    """The body was not read to its end: the connection closes after this answer (Connection: close), so that a
    client does not send its next request into the rest of it."""
    response.force_close()
    return response


def _validate(body: Any) -> tuple[dict[str, Any] | None, str]:
    if not isinstance(body, dict):
        return None, "The request body must be a JSON object."
    session, text = body.get("session"), body.get("text")
    channel, lang = body.get("channel", "web"), body.get("lang")
    if not isinstance(session, str) or not _SESSION.fullmatch(session):
        return None, "'session' must be 1 to 64 letters, digits, '_' or '-'."
    if not isinstance(text, str) or not text.strip():
        return None, "'text' must be a non-empty string."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): it could not be passed on
        return None, "'text' contains characters that are not valid Unicode."
    if len(text) > 4000:
        return None, "'text' is longer than 4000 characters; please send it in shorter parts."
    if channel not in WEB_CHANNELS:
        return None, "'channel' must be 'web' or '12355'."
    if lang is not None and lang not in ("zh", "en"):
        return None, "'lang' must be 'zh' or 'en'."
    consent = body.get("consent", False)
    if not isinstance(consent, bool):
        return None, "'consent' must be true or false."
    return {"session": session, "text": text, "channel": channel, "lang": lang, "consent": consent}, ""


async def chat(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return _error(415, "Send JSON with the header Content-Type: application/json.")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _closing(_error(413, "The request is too large."))
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a body sent without Content-Length that grew too large
        return _closing(_error(413, "The request is too large."))
    except web.RequestPayloadError:  # e.g. Content-Encoding: gzip on a body that is not gzip
        return _closing(_error(400, "The request body could not be read."))
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep, an integer too long
        return _error(400, "The request body is not valid JSON.")
    data, problem = _validate(body)
    if data is None:
        return _error(400, problem)
    lang: Lang | None = data["lang"]
    channel: str = data["channel"]
    sender = f"{channel}:{data['session']}"
    wait = request.app[LIMITER].try_acquire(sender)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        return _error(429, _too_fast(seconds), headers={"Retry-After": str(seconds)})
    desk = request.app[WEB_DESK]
    if desk is not None and await desk.relay_to_lawyer(channel, sender, data["text"]):
        return web.json_response({"session": data["session"], "messages": [], "relayed": True})
    metadata: dict[str, Any] = {"channel": channel}
    if lang:
        metadata["lang"] = lang
    if data["consent"]:
        metadata["consent"] = True
    replies = await request.app[DIALOGUE].answer(channel, sender, data["text"], metadata, lang)
    return web.json_response({"session": data["session"], "messages": [_as_json(m) for m in replies], "relayed": False})


def _too_fast(seconds: int) -> str:
    return (
        f"您发得有点快，请等 {seconds} 秒再发，消息不会丢。"
        f" You are sending messages quickly; please wait {seconds} seconds and send again."
    )


def _web_person(request: web.Request) -> tuple[str, str, str]:
    """The session in the path and the channel in the query, and what is wrong with them ('' if nothing)."""
    session = request.match_info["session"]
    channel = request.query.get("channel", "web")
    if not _SESSION.fullmatch(session):
        return session, channel, "'session' must be 1 to 64 letters, digits, '_' or '-'."
    if channel not in WEB_CHANNELS:
        return session, channel, "'channel' must be 'web' or '12355'."
    return session, channel, ""


async def updates(request: web.Request) -> web.Response:
    """What arrived for a web-chat person after the message id `after`: a lawyer's messages, notices about their
    case, answers to messages kept while the dialogue was down. Their page asks every few seconds."""
    session, channel, problem = _web_person(request)
    if problem:
        return _error(400, problem)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return _error(400, "'after' must be a whole number.")
    if after < 0:
        return _error(400, "'after' must be a whole number.")
    inbox = request.app[INBOX]
    items = [] if inbox is None else await asyncio.to_thread(inbox.since, channel, f"{channel}:{session}", after)
    return web.json_response(
        {
            "session": session,
            "messages": [
                {"id": item.id, "text": item.text, "buttons": item.buttons, "from": item.sender} for item in items
            ],
            "after": items[-1].id if items else after,
        }
    )


async def erase(request: web.Request) -> web.Response:
    """The person's erasure request from the page: what the case store holds about this session (their cases keep
    an anonymous row for the office's counts; a lawyer who had one is told the person withdrew, by the outbox item
    the erasure wrote in its transaction), the inbox and kept messages, and the conversation in Rasa's tracker
    store. Repeating it is harmless."""
    session, channel, problem = _web_person(request)
    if problem:
        return _error(400, problem)
    conversation = f"{channel}:{session}"
    engine, eraser = request.app[ENGINE], request.app[TRACKER_ERASER]
    cases = 0
    try:
        if engine is not None:
            erasure = await asyncio.to_thread(CaseStore(engine).erase_person, channel, conversation, datetime.now(UTC))
            cases = len(erasure.cases)
        if eraser is not None:
            await asyncio.to_thread(eraser.erase, conversation)
    except SQLAlchemyError:
        log.exception("conversation=%s: erasure not finished", conversation)
        return _error(503, "Your data could not be erased just now; please try again in a minute.")
    desk = request.app[WEB_DESK]
    if desk is not None and cases:  # the erasure wrote the lawyers' notices into the outbox: send them now
        desk.kick()
    log.info("conversation=%s erased at the person's request", conversation)
    return web.json_response({"session": session, "erased": True})


def _as_json(message: BotMessage) -> dict[str, Any]:
    return {"text": message.text, "buttons": message.buttons}


async def healthz(request: web.Request) -> web.Response:
    rasa_ok, actions_ok, database_ok = await asyncio.gather(
        request.app[DIALOGUE].rasa.ready(),
        _actions_ready(request.app[ACTIONS_HEALTH]),
        _database_ready(request.app[ENGINE]),
    )
    status = 200 if rasa_ok and actions_ok and database_ok is not False else 503
    return web.json_response(
        {"rasa": rasa_ok, "actions": actions_ok, "database": database_ok, "gateway": True}, status=status
    )


async def _actions_ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def _database_ready(engine: Engine | None) -> bool | None:
    """True if the case store answers, None if the gateway runs without one."""
    if engine is None:
        return None

    def ping() -> bool:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    return await asyncio.to_thread(ping)


_STATUS_SENTENCES = {
    404: "There is nothing at this address.",
    405: "This address does not take that method.",
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/, aiohttp's own errors (no such route, wrong method) are JSON with a readable sentence too."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or not request.path.startswith("/api/"):
            raise
        sentence = _STATUS_SENTENCES.get(error.status, "The request could not be handled.")
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return _error(error.status, sentence, headers=headers)


def create_app(
    dialogue: DialogueService,
    actions_health_url: str,
    *,
    limiter: RateLimiter,
    engine: Engine | None = None,
    desk: WebDesk | None = None,
    tracker: TrackerEraser | None = None,
) -> web.Application:
    """The gateway's HTTP side. `engine` is the case store's database (the inbox, /healthz); `desk` lets a web
    person whose case a lawyer has write to that lawyer (only when the Telegram desk runs)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[json_errors])
    app[DIALOGUE] = dialogue
    app[ACTIONS_HEALTH] = actions_health_url
    app[LIMITER] = limiter
    app[ENGINE] = engine
    app[INBOX] = Inbox(engine) if engine is not None else None
    app[WEB_DESK] = desk
    app[TRACKER_ERASER] = tracker
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/chat/{session}/updates", updates)
    app.router.add_delete("/api/chat/{session}", erase)
    app.router.add_get("/healthz", healthz)

    # The web chat pages (bot/static/): / general, /12355 the youth line. Nothing loads from another host.
    from pathlib import Path

    static = Path(__file__).with_name("static")
    page_headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }

    async def general_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(static / "index.html", headers=page_headers)

    async def youth_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(static / "12355.html", headers=page_headers)

    app.router.add_get("/", general_page)
    app.router.add_get("/12355", youth_page)
    app.router.add_static("/static/", static)

    async def close_rasa(app: web.Application) -> None:
        await app[DIALOGUE].rasa.aclose()

    app.on_cleanup.append(close_rasa)
    return app
