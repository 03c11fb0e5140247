"""Turning a conversation's handoff into a case: written to the case store (with the facts, the eligibility
result and the urgency) before anyone is notified; the offers to the lawyers on duty go out from the store's
outbox. The person gets the case's reference number."""

from __future__ import annotations

from datetime import date
from typing import Any

from hotline.cases.models import CHANNELS, TOPICS
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore
from hotline.conversation import State

TRANSCRIPT_MESSAGES = 6  # the last messages the person wrote, for the lawyer (kept in the database, never logged)
TRANSCRIPT_CHARS = 1500


def case_channel(channel: str) -> str:
    """The channel as the case store knows it (a gateway that sent none is the web chat)."""
    return channel if channel in CHANNELS else "web"


def case_topic(topic: str | None) -> str | None:
    """The conversation's topic if it is one the case store knows."""
    return topic if topic in TOPICS else None


def transcript_excerpt(user_texts: list[str]) -> str:
    excerpt = "\n".join(t.strip() for t in user_texts[-TRANSCRIPT_MESSAGES:] if t.strip() and not t.startswith("/"))
    return excerpt[-TRANSCRIPT_CHARS:]


def open_case(
    store: CaseStore,
    state: State,
    channel: str,
    channel_key: str,
    user_texts: list[str],
    reply_address: str | None = None,
    *,
    consent: bool = False,
) -> CaseRecord:
    """The case for this conversation's handoff (one per conversation: the state remembers its reference).
    `reply_address` is the Telegram chat id the gateway put in the message's metadata: the lawyer desk writes
    back to the person there (only Telegram has one). `consent`: the person agreed to the privacy notice."""
    outcome: dict[str, Any] | None = state.outcome
    deadline = outcome.get("deadline") if outcome else None
    topic = case_topic(state.topic) or "other"
    return store.create_case(
        channel=case_channel(channel),
        channel_key=channel_key,
        lang=state.lang or "zh",
        topic=topic,
        facts=dict(state.facts),
        eligibility=outcome,
        urgent=state.urgent or state.handoff == "urgent" or bool(outcome and outcome.get("urgent")),
        deadline=date.fromisoformat(deadline) if deadline else None,
        consent=consent,  # asked by the channels (Telegram's /start, the web page's notice); shown in the packet
        transcript_excerpt=transcript_excerpt(user_texts),
        reply_address=reply_address if channel == "telegram" and reply_address else None,
    )
