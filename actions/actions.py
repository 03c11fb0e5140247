"""action_reply: the one action Rasa runs after every user message (see config.yml for why).

It rebuilds the classification from Rasa's parse of the message, applies the safety rules to the text
itself (never the model alone), and lets hotline.dialogue decide the replies.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from hotline.dialogue import State, respond
from hotline.nlu import combine
from hotline.text import Lang

log = logging.getLogger(__name__)


def _lang(value: Any) -> Lang | None:
    return value if value in ("zh", "en") else None


class ActionReply(Action):  # type: ignore[misc]  # rasa-sdk ships no type information
    def name(self) -> str:
        return "action_reply"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        message: dict[str, Any] = tracker.latest_message or {}
        text = str(message.get("text") or "")
        metadata = message.get("metadata") or {}
        classification = combine(text, message)
        state = State(
            lang=_lang(tracker.get_slot("lang")),
            topic=tracker.get_slot("topic"),
            urgent=bool(tracker.get_slot("urgent")),
        )
        turn = respond(classification, state, lang_hint=_lang(metadata.get("lang")))
        # Privacy: the sender id and what happened, never the text.
        log.info("conversation=%s intent=%s events=%s", tracker.sender_id, classification.intent, turn.events)
        for reply in turn.replies:
            buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        return [
            SlotSet("lang", turn.state.lang),
            SlotSet("topic", turn.state.topic),
            SlotSet("urgent", turn.state.urgent),
        ]
