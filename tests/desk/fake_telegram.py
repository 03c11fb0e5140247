"""A fake Telegram Bot API server on 127.0.0.1 (aiohttp) for driving the real python-telegram-bot application:
the methods the gateway uses (getMe, deleteWebhook, setWebhook, setMyCommands, getUpdates with long polling,
sendMessage, sendChatAction, editMessageText, editMessageReplyMarkup, answerCallbackQuery), a queue of updates
the test pushes (private texts, presses, messages of other kinds, group messages), and a record of everything
sent to which chat. It also answers Rasa's REST webhook (a stand-in that echoes and records what
the gateway sent it: the text and the metadata), so a test sees whether a message reached the bot's dialogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-TOKEN"
BOT = {"id": 123456, "is_bot": True, "first_name": "Hotline", "username": "hotline_test_bot"}
LONG_POLL_MAX = 1.0  # seconds a getUpdates waits at most here, so that stopping is quick


@dataclass(frozen=True)
class Sent:
    """One call that showed something to a user."""

    method: str  # sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery
    chat_id: int
    text: str
    message_id: int | None = None
    reply_markup: dict[str, Any] | None = None
    show_alert: bool = False

    @property
    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(button["text"], button.get("callback_data", "")) for row in rows for button in row]


@dataclass
class FakeTelegram:
    sent: list[Sent] = field(default_factory=list)
    rasa_requests: list[dict[str, Any]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # language code ('' default) -> menu
    webhook: dict[str, Any] = field(default_factory=dict)  # the last setWebhook's parameters
    url: str = ""
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _acknowledged: int = 0  # the highest offset a getUpdates asked for: everything below it reached the bot
    _new: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _callbacks: dict[str, int] = field(default_factory=dict)  # callback query id -> the user who pressed
    _runner: web.AppRunner | None = None

    @property
    def bot_url(self) -> str:
        """For python-telegram-bot's base_url (it appends the token and the method)."""
        return f"{self.url}/bot"

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._bot_api)
        app.router.add_post("/webhooks/rest/webhook", self._rasa)
        app.router.add_get("/status", self._rasa_status)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._new.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the test pushes -------------------------------------------------------------------------------

    def push(self, *updates: dict[str, Any]) -> list[int]:
        """Queue updates for the bot's next getUpdates (all in one response if they are pushed together)."""
        ids = []
        for update in updates:
            update_id = next(self._ids)
            self._updates.append({"update_id": update_id, **update})
            ids.append(update_id)
        self._new.set()
        return ids

    def acknowledged(self, update_id: int) -> bool:
        """The bot asked for updates after this one: it has taken it into its queue."""
        return self._acknowledged > update_id

    @staticmethod
    def user(user_id: int, language_code: str = "zh-hans") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": language_code}

    def text(
        self, user_id: int, text: str, *, reply_to: Sent | None = None, language_code: str = "zh-hans"
    ) -> dict[str, Any]:
        """A private text message from a user (commands carry their bot_command entity, as Telegram sends)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"user{user_id}"},
            "from": self.user(user_id, language_code),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            message["reply_to_message"] = self._bot_message(reply_to.chat_id, reply_to.message_id, reply_to.text)
        return {"message": message}

    def message(self, user_id: int, *, language_code: str = "zh-hans", **content: Any) -> dict[str, Any]:
        """A private message of any kind: `voice={...}`, `photo=[...]`, `location={...}`, ..."""
        return {
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": f"user{user_id}"},
                "from": self.user(user_id, language_code),
                **content,
            }
        }

    def group_text(self, user_id: int, group_id: int, text: str) -> dict[str, Any]:
        """A text in a group chat the bot is in (group ids are negative)."""
        return {
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": group_id, "type": "group", "title": "a group"},
                "from": self.user(user_id),
                "text": text,
            }
        }

    def press(
        self, user_id: int, data: str, *, on: Sent | None = None, language_code: str = "zh-hans"
    ) -> dict[str, Any]:
        """A button press; `on` is the message the button was on (a forged press has an invented one)."""
        query_id = f"cq{next(self._message_ids)}"
        self._callbacks[query_id] = user_id
        message = (
            self._bot_message(on.chat_id, on.message_id, on.text)
            if on is not None
            else self._bot_message(user_id, next(self._message_ids), "…")
        )
        return {
            "callback_query": {
                "id": query_id,
                "from": self.user(user_id, language_code),
                "chat_instance": f"ci{user_id}",
                "data": data,
                "message": message,
            }
        }

    # --- what the test reads ----------------------------------------------------------------------------------

    def to(self, chat_id: int, method: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id and (method is None or s.method == method)]

    def texts(self, chat_id: int, method: str = "sendMessage") -> list[str]:
        return [s.text for s in self.to(chat_id, method)]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}; sent: {self.sent}")
            await asyncio.sleep(0.02)

    # --- the Bot API -------------------------------------------------------------------------------------------

    def _bot_message(self, chat_id: int, message_id: int | None, text: str, markup: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT,
            "text": text,
        }
        if markup:
            message["reply_markup"] = markup
        return message

    async def _bot_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        form = dict(await request.post()) if request.body_exists else {}
        params: dict[str, Any] = {key: str(value) for key, value in form.items()}
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        result = await handler(params)
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return BOT

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = params
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands[params.get("language_code", "")] = json.loads(params["commands"])
        return True

    async def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        self._acknowledged = max(self._acknowledged, offset)
        timeout = min(float(params.get("timeout") or 0), LONG_POLL_MAX)
        if not [u for u in self._updates if u["update_id"] >= offset] and timeout > 0:
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), timeout)
        return [u for u in self._updates if u["update_id"] >= offset]

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), next(self._message_ids)
        markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
        self.sent.append(Sent("sendMessage", chat_id, params["text"], message_id, markup))
        return self._bot_message(chat_id, message_id, params["text"], markup)

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
        self.sent.append(Sent("editMessageText", chat_id, params["text"], message_id, markup))
        return self._bot_message(chat_id, message_id, params["text"], markup)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
        self.sent.append(Sent("editMessageReplyMarkup", chat_id, "", message_id, markup))
        return self._bot_message(chat_id, message_id, "…", markup)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        user = self._callbacks.get(params["callback_query_id"], 0)
        alert = params.get("show_alert") == "true"
        self.sent.append(Sent("answerCallbackQuery", user, params.get("text", ""), show_alert=alert))
        return True

    # --- Rasa's REST channel (a stand-in: the real dialogue is tested elsewhere) ------------------------------------

    async def _rasa(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.rasa_requests.append(body)
        return web.json_response([{"recipient_id": body["sender"], "text": f"bot: {body['message']}"}])

    async def _rasa_status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "fake"})
