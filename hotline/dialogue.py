"""What the hotline answers to one message, before the guided flows take over: a pure function of the
classification and the conversation state, so it is tested without Rasa. `actions/` adapts it to rasa-sdk.

Safety comes first: an urgent message (rules or model) is answered with emergency guidance whatever else
it says, at any point of the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline import messages
from hotline.messages import Button, Reply
from hotline.nlu import Classification
from hotline.text import Lang

TOPIC_REPLIES = {
    "wages": "topic_wages",
    "injury": "topic_injury",
    "minors": "topic_minors",
    "other": "topic_other",
}
TOPIC_PAYLOADS = {
    "wages": "/inquiry_wages",
    "injury": "/inquiry_injury",
    "minors": "/inquiry_minors",
    "other": "/inquiry_other",
}
SIMPLE_REPLIES = {
    "goodbye": "goodbye",
    "request_human": "request_human",
    "ask_why": "ask_why",
    "out_of_scope": "out_of_scope",
}


@dataclass(frozen=True)
class State:
    lang: Lang | None = None
    topic: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Turn:
    replies: list[Reply]
    state: State
    events: list[str] = field(default_factory=list)  # what happened, for the case log (no message text)


def topic_buttons(lang: Lang) -> list[Button]:
    return [Button(messages.label("topic_buttons", t, lang), p) for t, p in TOPIC_PAYLOADS.items()]


def respond(c: Classification, state: State, lang_hint: Lang | None = None) -> Turn:
    """The replies to one classified message and the new state."""
    # The language: what the channel says, else what the message is written in, else what it was.
    lang: Lang = lang_hint or (c.lang if _has_language_signal(c) else state.lang or c.lang)
    if c.urgent:
        new = State(lang=lang, topic=c.topic if c.topic != "none" else state.topic, urgent=True)
        return Turn([Reply(messages.text("emergency", lang))], new, ["urgent"])
    if c.topic != "none" and c.intent in (
        "inquiry_wages",
        "inquiry_injury",
        "inquiry_minors",
        "inquiry_other",
    ):
        new = State(lang=lang, topic=c.topic, urgent=state.urgent)
        return Turn([Reply(messages.text(TOPIC_REPLIES[c.topic], lang))], new, [f"topic:{c.topic}"])
    if c.intent == "start_over":
        return Turn([Reply(messages.text("restart", lang), topic_buttons(lang))], State(lang=lang), ["restart"])
    if c.intent in ("greet", "help"):
        key = "welcome" if c.intent == "greet" else "help"
        return Turn([Reply(messages.text(key, lang), topic_buttons(lang))], _with_lang(state, lang))
    if c.intent in SIMPLE_REPLIES:
        return Turn([Reply(messages.text(SIMPLE_REPLIES[c.intent], lang))], _with_lang(state, lang))
    if c.topic != "none":  # a long message the model ranked weakly, but about a topic
        new = State(lang=lang, topic=c.topic, urgent=state.urgent)
        return Turn([Reply(messages.text(TOPIC_REPLIES[c.topic], lang))], new, [f"topic:{c.topic}"])
    if c.intent == "affirm":
        key = "request_human" if state.topic else "affirm_no_context"
        return Turn([Reply(messages.text(key, lang))], _with_lang(state, lang))
    if c.intent == "inform":
        return Turn([Reply(messages.text("inform_no_context", lang), topic_buttons(lang))], _with_lang(state, lang))
    return Turn([Reply(messages.text("not_understood", lang), topic_buttons(lang))], _with_lang(state, lang))


def _with_lang(state: State, lang: Lang) -> State:
    return State(lang=lang, topic=state.topic, urgent=state.urgent)


def _has_language_signal(c: Classification) -> bool:
    if c.text.startswith("/"):  # a button's payload (/inquiry_wages) is not the person's own words
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in c.text) or sum(ch.isalpha() for ch in c.text) >= 4
