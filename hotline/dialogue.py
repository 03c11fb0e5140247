"""What the hotline answers to one message: a pure function of the classification and the conversation state,
so it is tested without Rasa. `actions/` adapts it to rasa-sdk.

Order of precedence, for every message:
1. Safety: an urgent message (rules or model) gets emergency guidance (110) and an urgent handoff, at any
   point of any flow.
2. The person's control: a lawyer now, start over.
3. Inside a flow: why-do-you-ask, skip, correct an earlier answer, the answer itself, then a switch of topic,
   an information question, leaving; an answer not understood is asked again with a hint (a lawyer after two).
4. Outside a flow: accepting an offer, information answers, starting the flow for a topic, small talk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from hotline import flow_engine, info, messages
from hotline.conversation import State
from hotline.flow_schema import Flow, flow_for_topic, load_flows
from hotline.messages import Button, Reply
from hotline.nlu import TOPIC_INTENTS, Classification
from hotline.text import Lang, normalise

__all__ = ["State", "Turn", "respond", "topic_buttons"]

TOPIC_PAYLOADS = {
    "wages": "/inquiry_wages",
    "injury": "/inquiry_injury",
    "minors": "/inquiry_minors",
    "other": "/inquiry_other",
}
SIMPLE_REPLIES = {"goodbye": "goodbye", "ask_why": "ask_why", "out_of_scope": "out_of_scope"}
# A topic intent switches flows mid-question only when the model is this sure (or a topic button was pressed).
SWITCH_CONFIDENCE = 0.6

_WHY = re.compile(
    r"为什么|为啥|为何|干嘛问|问这个干|问这干|点解|why do you|why are you asking|why is that|what for|^why\W*$"
)
_SKIP = re.compile(
    r"^(?:跳过|不想说|不想回答|不方便说|不告诉你|skip|pass|rather not say|prefer not to say|i'?d rather not)"
)
_CORRECT = re.compile(
    r"说错|写错|打错|搞错|弄错|改一下|改成|更正|纠正|修改一下|应该是|上一个问题|上一步|返回上|"
    r"i meant|i mean |correction|change my answer|that'?s wrong|made a mistake|typo|go back|previous question"
)
_LAWYER = re.compile(
    r"找律师|转律师|要律师|联系律师|找个律师|转人工|人工服务|真人|"
    r"(?:talk|speak|chat) (?:to|with) (?:a |the )?(?:lawyer|human|person|someone)|^lawyer\W*$|^律师\W*$"
)
# Dangers that make a child's message a minors' case about violence (the minors flow's `violence` matter).
_VIOLENCE_DANGERS = {"child_danger", "violence", "sexual_harm"}


@dataclass(frozen=True)
class Turn:
    replies: list[Reply]
    state: State
    events: list[str] = field(default_factory=list)  # what happened, for the case log (no message text)


def topic_buttons(lang: Lang) -> list[Button]:
    return [Button(messages.label("topic_buttons", t, lang), p) for t, p in TOPIC_PAYLOADS.items()]


def respond(
    c: Classification,
    state: State,
    lang_hint: Lang | None = None,
    today: date | None = None,
    flows: dict[str, Flow] | None = None,
) -> Turn:
    """The replies to one classified message and the new state."""
    today = today or date.today()
    flows = flows if flows is not None else load_flows()
    # The language: what the channel says, else what the message is written in, else what it was.
    lang: Lang = lang_hint or (c.lang if _has_language_signal(c) else state.lang or c.lang)
    state = state.evolve(lang=lang)
    text = normalise(c.text).strip().lower()

    if c.urgent:
        return _emergency(c, state, lang, flows, today)
    if c.intent == "request_human" or _LAWYER.search(text):
        return _handoff(state, lang, "requested")
    if c.intent == "start_over":
        fresh = State(lang=lang)
        return Turn([Reply(messages.text("restart", lang), topic_buttons(lang))], fresh, ["restart"])
    if state.flow and flow_engine.current_step(flows, state) is not None:
        return _in_flow(c, state, lang, text, flows, today)
    return _outside_flow(c, state, lang, flows, today)


def _emergency(c: Classification, state: State, lang: Lang, flows: dict[str, Flow], today: date) -> Turn:
    replies = [Reply(messages.text("emergency", lang))]
    topic = c.topic if c.topic != "none" else state.topic
    new = state.evolve(urgent=True, handoff="urgent", topic=topic)
    events = ["urgent", "handoff:urgent"]
    if state.flow:
        replies.append(Reply(messages.text("flow_emergency_resume", lang)))
    elif c.topic == "minors" and _VIOLENCE_DANGERS & set(c.dangers) and "minors" in flows:
        # A child hurt by someone: safety first, then what the law gives them, without a means test.
        new = new.evolve(facts={**new.facts, "minor_matter": "violence"})
        more, new = flow_engine.start(flows, flows["minors"], new, c, today, lang)
        replies += more
        events.append("flow:minors")
    return Turn(replies, new, events)


def _handoff(state: State, lang: Lang, kind: str) -> Turn:
    handoff = "urgent" if state.urgent else kind
    new = state.evolve(handoff=handoff, offer=None)
    return Turn([Reply(messages.text("request_human", lang))], new, [f"handoff:{handoff}"])


def _in_flow(c: Classification, state: State, lang: Lang, text: str, flows: dict[str, Flow], today: date) -> Turn:
    flow = flows[state.flow or ""]
    if state.offer == "continue" and c.intent in ("affirm", "deny") and c.text.startswith("/"):
        return _turn(flow_engine.reask(flows, state, lang))
    if c.intent == "ask_why" or _WHY.search(text):
        return _turn(flow_engine.why(flows, state, lang))
    if _SKIP.match(text):
        return _turn(flow_engine.skip(flows, state, today, lang))
    if _CORRECT.search(text):
        return _turn(flow_engine.correct(flows, state, c, today, lang), "corrected")
    switch_to = _switch_topic(c, flow)
    if switch_to is None and (answered := flow_engine.take_answer(flows, state, c, today, lang)) is not None:
        return _turn(answered, *_flow_events(state, answered[1]))
    if switch_to is not None and (target := flow_for_topic(flows, switch_to)) is not None:
        replies, new = flow_engine.start(flows, target, state, c, today, lang)
        return Turn([Reply(messages.text("flow_switch", lang)), *replies], new, [f"flow:{target.name}"])
    if hits := info.match(c.text, lang):
        return _turn(flow_engine.reask(flows, state, lang, [Reply(hits[0].text(lang))]), f"info:{hits[0].id}")
    if c.intent in ("greet", "help") or (c.text.startswith("/") and TOPIC_INTENTS.get(c.intent) == flow.topic):
        return _turn(flow_engine.reask(flows, state, lang, [Reply(messages.text("flow_resume", lang))]))
    if c.intent == "goodbye":
        return Turn([Reply(messages.text("flow_paused", lang))], state)
    return _turn(flow_engine.not_understood(flows, state, lang), "not_understood")


def _switch_topic(c: Classification, flow: Flow) -> str | None:
    """The topic to switch to: a topic button, or a confident topic intent other than the flow's own."""
    topic = TOPIC_INTENTS.get(c.intent)
    if topic is None or topic == flow.topic:
        return None
    if c.text.startswith("/") or (c.confidence >= SWITCH_CONFIDENCE and len(c.text) >= 6):
        return topic
    return None


def _outside_flow(c: Classification, state: State, lang: Lang, flows: dict[str, Flow], today: date) -> Turn:
    if state.offer == "lawyer" and c.intent == "affirm":
        return _handoff(state, lang, "requested")
    if state.offer and state.offer.startswith("check:") and c.intent == "affirm":
        c = Classification(c.text, f"inquiry_{state.offer[6:]}", 1.0, state.offer[6:], False, lang)  # type: ignore[arg-type]
    elif state.offer and c.intent == "deny":
        return Turn([Reply(messages.text("declined_lawyer", lang))], state.evolve(offer=None))
    hits = [] if c.text.startswith("/") else info.match(c.text, lang)
    if hits:
        answer = hits[0]
        offer = Reply(
            messages.text("offer_check", lang),
            [
                Button(messages.label("buttons", "check", lang), TOPIC_PAYLOADS[answer.topic]),
                Button(messages.label("buttons", "lawyer", lang), "/request_human"),
            ],
        )
        new = state.evolve(offer=f"check:{answer.topic}", topic=state.topic or answer.topic)
        return Turn([Reply(answer.text(lang)), offer], new, [f"info:{answer.id}"])
    if c.topic != "none" and (
        c.intent in TOPIC_INTENTS or c.intent not in ("greet", "help", "goodbye", "affirm", "deny", "start_over")
    ):
        flow = flow_for_topic(flows, c.topic)
        if flow is not None:
            replies, new = flow_engine.start(flows, flow, state, c, today, lang)
            return Turn(replies, new, [f"topic:{c.topic}", f"flow:{flow.name}"])
    if c.intent in ("greet", "help"):
        key = "welcome" if c.intent == "greet" else "help"
        return Turn([Reply(messages.text(key, lang), topic_buttons(lang))], state)
    if c.intent in SIMPLE_REPLIES:
        return Turn([Reply(messages.text(SIMPLE_REPLIES[c.intent], lang))], state)
    if c.intent == "affirm":
        return Turn([Reply(messages.text("affirm_no_context", lang))], state)
    if c.intent == "inform":
        return Turn([Reply(messages.text("inform_no_context", lang), topic_buttons(lang))], state)
    if _looks_like_question(c.text):
        return Turn([Reply(messages.text("info_unknown", lang))], state.evolve(offer="lawyer"))
    return Turn([Reply(messages.text("not_understood", lang), topic_buttons(lang))], state)


def _turn(result: tuple[list[Reply], State], *events: str) -> Turn:
    return Turn(result[0], result[1], list(events))


def _flow_events(before: State, after: State) -> list[str]:
    events = []
    if after.outcome is not None and after.outcome is not before.outcome:
        events.append(f"outcome:{after.outcome['flow']}:{after.outcome['result']}")
        if after.outcome.get("urgent"):
            events.append("urgent_deadline")
    if after.flow != before.flow and after.flow:
        events.append(f"flow:{after.flow}")
    return events


def _looks_like_question(text: str) -> bool:
    return bool(
        re.search(
            r"[?？]|吗|么|呢|怎么|什么|多久|多少|能不能|可不可以|是否|^(how|what|when|can|is|do|does|who|where)\b",
            text.lower(),
        )
    )


def _has_language_signal(c: Classification) -> bool:
    if c.text.startswith("/"):  # a button's payload (/inquiry_wages) is not the person's own words
        return False
    return any("\u4e00" <= ch <= "\u9fff" for ch in c.text) or sum(ch.isalpha() for ch in c.text) >= 4
