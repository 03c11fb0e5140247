"""action_reply: the one action Rasa runs after every user message; it runs the guided flows.

Why one flow-runner action rather than Rasa forms with dynamic slots: our flows branch on collected facts, link
to each other, and must be edited as data by the office (flows/*.yml); repairs (why, correct, skip, switch,
emergency) apply at every step. Forms would spread that over domain.yml, rules and per-slot validators, and
every flow edit would retrain the model. Here Rasa does what it is good at (NLU, the tracker store) and the
flow engine (hotline/flow_engine.py) is a pure, tested function of the state kept in one slot.

It rebuilds the classification from Rasa's parse of the message, applies the safety rules to the text itself
(never the model alone), and lets hotline.dialogue decide the replies.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from hotline import messages
from hotline.cases.db import engine_for
from hotline.cases.store import CaseStore
from hotline.conversation import State
from hotline.dialogue import Turn, respond
from hotline.flow_schema import load_flows
from hotline.handoff import case_channel, case_topic, open_case
from hotline.messages import Reply
from hotline.nlu import combine
from hotline.settings import get_settings
from hotline.text import Lang

log = logging.getLogger(__name__)

# Refuse to start with an invalid flow: FlowError lists every problem with its file and step.
FLOWS = load_flows()


_store: CaseStore | None = None


def case_store() -> CaseStore:
    global _store
    if _store is None:
        _store = CaseStore(engine_for(get_settings().effective_database_url))
    return _store


def _count_consultation(turn: Turn, tracker: Tracker, channel: str) -> None:
    """An inquiry started (a topic's flow, or an urgent message): counted for the office's figures. Never in the
    way of the answer: a failure is logged, not shown."""
    topic = case_topic(turn.state.topic)
    started = any(e.startswith(("flow:", "topic:", "urgent")) for e in turn.events)
    if not started or topic is None:
        return
    try:
        case_store().record_consultation(
            channel=case_channel(channel),
            conversation_key=tracker.sender_id,
            topic=topic,
            lang=turn.state.lang or "zh",
            at=datetime.now(UTC),
        )
    except Exception:
        log.exception("conversation=%s could not count the consultation", tracker.sender_id)


def _still_open(ref: str) -> bool:
    """Whether the conversation's case is still open; after a lawyer closes it, a new handoff opens a new case.
    When the store cannot say (database down), the case counts as open: never a duplicate case."""
    try:
        case = case_store().get_case_by_ref(ref)
    except Exception:
        log.exception("case=%s: could not read its status", ref)
        return True
    return case is not None and case.status != "closed"


def _open_case_of(channel: str, sender_id: str) -> str | None:
    try:
        cases = case_store().person_cases(case_channel(channel), sender_id)
    except Exception:
        log.exception("conversation=%s: could not read its cases", sender_id)
        return None
    return next((case.ref for case in cases if case.status != "closed"), None)


def _with_case(
    turn: Turn, tracker: Tracker, channel: str, reply_address: str | None = None, consent: bool = False
) -> Turn:
    """A handoff becomes a case in the store (written before anyone is notified) and the person gets its number."""
    if not any(e.startswith("handoff:") for e in turn.events):
        return turn
    lang = turn.state.lang or "zh"
    if turn.state.case_ref and _still_open(turn.state.case_ref):  # one open case at a time: its number again
        reminder = Reply(messages.text("handoff_created", lang, ref=turn.state.case_ref))
        return Turn([*turn.replies, reminder], turn.state, turn.events)
    existing = _open_case_of(channel, tracker.sender_id)
    if existing is not None:  # opened by a handoff whose answer never reached the conversation (a crash)
        reply = Reply(messages.text("handoff_created", lang, ref=existing))
        return Turn([*turn.replies, reply], turn.state.evolve(case_ref=existing), [*turn.events, f"case:{existing}"])
    user_texts = [str(e.get("text") or "") for e in tracker.events if e.get("event") == "user"]
    try:
        case = open_case(
            case_store(), turn.state, channel, tracker.sender_id, user_texts, reply_address, consent=consent
        )
    except Exception:  # the database is down or not migrated: say so, and how to reach a lawyer anyway
        log.exception("conversation=%s could not open a case", tracker.sender_id)
        return Turn([*turn.replies, Reply(messages.text("handoff_failed", lang))], turn.state, turn.events)
    log.info("conversation=%s case=%s urgent=%s", tracker.sender_id, case.ref, case.urgent)
    reply = Reply(messages.text("handoff_created", lang, ref=str(case.ref)))
    return Turn([*turn.replies, reply], turn.state.evolve(case_ref=case.ref), [*turn.events, f"case:{case.ref}"])


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
        state = State.from_slot(tracker.get_slot("conversation"))
        try:
            turn = respond(classification, state, lang_hint=_lang(metadata.get("lang")), flows=FLOWS)
        except Exception:  # a bug must not leave the person without an answer; the state is kept as it was
            log.exception("conversation=%s action_reply failed; state kept", tracker.sender_id)
            lang = _lang(metadata.get("lang")) or state.lang or classification.lang
            keys = (["emergency"] if classification.urgent else []) + ["dialogue_error"]
            for key in keys:
                dispatcher.utter_message(text=messages.text(key, lang))
            return []
        # The gateway's reply address (the Telegram chat id) goes to the case store only, never to the logs.
        reply_address = str(metadata["reply_address"]) if metadata.get("reply_address") else None
        channel = str(metadata.get("channel") or "web")
        _count_consultation(turn, tracker, channel)
        # The channel asked for consent (Telegram's /start, the web page's notice) and says so in the metadata.
        turn = _with_case(turn, tracker, channel, reply_address, consent=metadata.get("consent") is True)
        # Privacy: the conversation id and what happened, never the text or the facts.
        log.info("conversation=%s intent=%s events=%s", tracker.sender_id, classification.intent, turn.events)
        for reply in turn.replies:
            buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        return [SlotSet("conversation", turn.state.to_slot())]
