"""The gateway's client for Rasa's REST channel: text in (normalised), bot messages out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from hotline import messages, safety
from hotline.text import Lang, detect_lang, normalise


@dataclass(frozen=True)
class BotMessage:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


class RasaUnavailable(RuntimeError):
    """Rasa (or the action server behind it) did not answer in time."""


class RasaUnanswered(RasaUnavailable):
    """Rasa took the message (it is in the conversation) but action_reply produced nothing: the action server is
    down (Rasa logs "Encountered an exception while running action" and answers 200 with no message). The
    message must be answered later by running the action again on it, not by sending it again."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float = 4.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def send(self, sender: str, text: str, metadata: dict[str, Any]) -> list[BotMessage]:
        try:
            response = await self._client.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": normalise(text), "metadata": metadata},
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise RasaUnavailable(str(type(error).__name__)) from error
        items: list[dict[str, Any]] = response.json()
        result: list[BotMessage] = []
        for item in items:
            if "text" not in item:
                continue
            result.append(BotMessage(str(item["text"]), _buttons(item.get("buttons") or [])))
        return result

    async def answers_to(self, sender: str, message_id: str) -> list[BotMessage] | None:
        """If Rasa took the message with this `message_id` (our metadata) already, the bot's answers to it from
        the conversation's tracker; None if it never arrived. Raises RasaUnavailable if Rasa does not answer."""
        try:
            response = await self._client.get(
                f"/conversations/{quote(sender, safe=':')}/tracker", params={"include_events": "ALL"}
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise RasaUnavailable(str(type(error).__name__)) from error
        events: list[dict[str, Any]] = response.json().get("events") or []
        for index, event in enumerate(events):
            if event.get("event") == "user" and (event.get("metadata") or {}).get("message_id") == message_id:
                answers = []
                later_user = False
                for later in events[index + 1 :]:
                    if later.get("event") == "user":
                        later_user = True
                        break
                    if later.get("event") == "bot" and later.get("text"):
                        buttons = (later.get("data") or {}).get("buttons") or []
                        answers.append(BotMessage(str(later["text"]), _buttons(buttons)))
                if not answers and not later_user:
                    raise RasaUnanswered("taken, never answered")
                return answers
        return None

    async def answer_again(self, sender: str) -> list[BotMessage]:
        """Run action_reply again on the conversation's latest message (taken, left unanswered while the action
        server was down), then listen, as after any message: the message stays in the conversation once."""
        path = f"/conversations/{quote(sender, safe=':')}"
        try:
            response = await self._client.post(
                f"{path}/execute", params={"include_events": "NONE"}, json={"name": "action_reply"}
            )
            response.raise_for_status()
            items: list[dict[str, Any]] = response.json().get("messages") or []
            answers = [BotMessage(str(i["text"]), _buttons(i.get("buttons") or [])) for i in items if "text" in i]
            if not answers:
                raise RasaUnanswered("no answer from the action server")
            listen = await self._client.post(
                f"{path}/tracker/events",
                params={"include_events": "NONE"},
                json=[{"event": "action", "name": "action_listen"}],
            )
            listen.raise_for_status()
        except httpx.HTTPError as error:
            raise RasaUnavailable(str(type(error).__name__)) from error
        return answers

    async def ready(self) -> bool:
        try:
            return (await self._client.get("/status", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()


def _buttons(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"title": str(b["title"]), "payload": str(b["payload"])} for b in items]


def fallback_messages(text: str, lang: Lang | None, *, kept: bool = True) -> list[BotMessage]:
    """What the person gets when Rasa does not answer: safety first (rules only), then the hotlines, and whether
    their message was kept for later (`kept`) or should be sent again."""
    normalised = normalise(text)
    lang = lang or detect_lang(normalised)
    replies = []
    if safety.is_urgent(normalised):
        replies.append(BotMessage(messages.text("emergency", lang)))
    replies.append(BotMessage(messages.text("service_down" if kept else "service_down_unsaved", lang)))
    return replies
