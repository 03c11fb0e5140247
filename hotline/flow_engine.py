"""Running a flow: ask the next unanswered question, take an answer, apply the rule at the end.

The engine walks the flow from its first step every time, skipping the questions whose facts are known. So an
answer given early (the amount in the first message), a corrected answer, or a return after days all land on the
right next question without special cases. Pure functions of the state; hotline/dialogue.py decides when to
call them (repairs, safety, topic switches).
"""

from __future__ import annotations

import operator
from datetime import date
from typing import Any

from hotline import messages
from hotline.answers import UNKNOWN, match_option, parse_answer
from hotline.conversation import PERSON_FACTS, State
from hotline.eligibility import RULES
from hotline.flow_schema import PREFILL_ENTITIES, Branch, Flow, Step
from hotline.messages import Button, Reply
from hotline.nlu import Classification
from hotline.outcome import render
from hotline.text import Lang

_COMPARE = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
MAX_FAILURES = 2  # after this many answers not understood, a lawyer is offered (issue 3)


def holds(condition: dict[str, Any] | None, facts: dict[str, Any]) -> bool:
    """Whether every fact in a `next` condition has the value (or one of the values, or the comparison) given."""
    if condition is None:
        return True
    for fact, expected in condition.items():
        value = facts.get(fact)
        if isinstance(expected, dict):
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False
            if not all(_COMPARE[op](value, bound) for op, bound in expected.items()):
                return False
        elif isinstance(expected, list):
            if value not in expected:
                return False
        elif value != expected or isinstance(value, bool) != isinstance(expected, bool):
            return False
    return True


def next_step(step: Step, facts: dict[str, Any]) -> str:
    branch: Branch = next(b for b in step.next if holds(dict(b.condition) if b.condition else None, facts))
    return branch.target


def question(step: Step, lang: Lang, failed: bool = False) -> Reply:
    """A collect step's question, with buttons for yes/no and choices (a shortcut, never the only way)."""
    assert step.text is not None
    text = step.text[lang]
    if failed:
        hint = step.hint[lang] if step.hint else messages.text(f"hints.{step.type}", lang)
        text = f"{messages.text('flow_not_understood', lang)} {hint}\n{text}"
    buttons: list[Button] = []
    if step.type == "yesno":
        for key in ("yes", "no"):
            title = messages.label("buttons", key, lang)
            buttons.append(Button(title, title))
    elif step.type == "choice":
        numbered = [f"{i}. {o.label[lang]}" for i, o in enumerate(step.options, 1)]
        text += "\n" + messages.text("choice_list", lang) + " " + "  ".join(numbered)
        buttons = [Button(o.label[lang], o.label[lang]) for o in step.options]
    return Reply(text, buttons)


def lawyer_offer(lang: Lang, key: str = "offer_lawyer") -> Reply:
    return Reply(
        messages.text(key, lang),
        [
            Button(messages.label("buttons", "lawyer", lang), "/request_human"),
            Button(messages.label("buttons", "no_lawyer", lang), "/deny"),
        ],
    )


def prefill(flow: Flow, state: State, c: Classification, today: date) -> State:
    """Facts the person already gave in this message, for the flow's `prefill` steps not yet answered."""
    facts = dict(state.facts)
    for step in flow.steps.values():
        if step.kind != "collect" or not step.prefill or step.fact is None or step.fact in facts:
            continue
        value: Any = None
        if step.type == "choice":
            value = match_option(step.options, c.text, c.lang, patterns_only=True)
        else:
            entity = PREFILL_ENTITIES.get(step.type or "")
            found = [e["value"] for e in c.entities if e["entity"] == entity]
            if found:
                value = parse_answer(step, str(found[0]), c.lang, today=today) if step.type != "number" else found[0]
                if step.type == "number" and not _in_range(step, value):
                    value = None
        if value is not None and value is not UNKNOWN:
            facts[step.fact] = value
    return state.evolve(facts=facts)


def _in_range(step: Step, value: Any) -> bool:
    if not isinstance(value, int | float):
        return False
    return not (
        (step.minimum is not None and value < step.minimum) or (step.maximum is not None and value > step.maximum)
    )


def start(
    flows: dict[str, Flow], flow: Flow, state: State, c: Classification, today: date, lang: Lang
) -> tuple[list[Reply], State]:
    """Begin `flow`: its introduction, then the first question not already answered."""
    facts = state.facts if state.flow else {k: v for k, v in state.facts.items() if k in PERSON_FACTS}
    fresh = state.evolve(
        flow=flow.name, step=None, topic=flow.topic, failures=0, facts=dict(facts), outcome=None, offer=None
    )
    fresh = prefill(flow, fresh, c, today)
    replies, new = advance(flows, fresh, today, lang)
    return [Reply(flow.intro[lang]), *replies], new


def advance(flows: dict[str, Flow], state: State, today: date, lang: Lang) -> tuple[list[Reply], State]:
    """Walk the current flow from its start to the first unanswered question, or to its outcome."""
    replies: list[Reply] = []
    assert state.flow is not None
    flow = flows[state.flow]
    step_id = flow.start
    for _ in range(200):  # flows are checked for loops without exit; this only guards against a bad edit
        step = flow.step(step_id)
        if step.kind == "collect":
            assert step.fact is not None
            if step.fact not in state.facts:
                replies.append(question(step, lang))
                return replies, state.evolve(step=step.id, failures=0, offer=None)
            step_id = next_step(step, state.facts)
        elif step.kind == "say":
            assert step.text is not None
            replies.append(Reply(step.text[lang]))
            step_id = next_step(step, state.facts)
        elif step.kind == "link":
            assert step.link is not None
            facts = {**dict(step.sets), **state.facts}
            state = state.evolve(flow=step.link, facts=facts)
            flow = flows[step.link]
            step_id = flow.start
        else:
            assert step.action is not None
            assessment = RULES[step.action](state.facts, today)
            replies.append(Reply(render(assessment, state.facts, lang)))
            replies.append(lawyer_offer(lang))
            return replies, state.evolve(
                flow=None,
                step=None,
                failures=0,
                outcome=assessment.as_json(),
                urgent=state.urgent or assessment.urgent,
                offer="lawyer",
            )
    raise RuntimeError(f"flow {flow.name}: no question or outcome reached (run `hotline flows check`)")


def current_step(flows: dict[str, Flow], state: State) -> Step | None:
    if state.flow is None or state.step is None or state.flow not in flows:
        return None
    return flows[state.flow].steps.get(state.step)


def take_answer(
    flows: dict[str, Flow], state: State, c: Classification, today: date, lang: Lang
) -> tuple[list[Reply], State] | None:
    """The answer to the question we asked, and what follows; None when the message is not an answer."""
    step = current_step(flows, state)
    if step is None or step.fact is None:
        return None
    value = parse_answer(step, c.text, c.lang, c.intent, today)
    if value is None:
        return None
    facts = {**state.facts, step.fact: None if value is UNKNOWN else value}
    state = state.evolve(facts=facts, answered=(*state.answered, f"{state.flow}/{step.id}"))
    assert state.flow is not None
    state = prefill(flows[state.flow], state, c, today)  # "番禺的工地" answers the district and the workplace
    return advance(flows, state, today, lang)


def skip(flows: dict[str, Flow], state: State, today: date, lang: Lang) -> tuple[list[Reply], State]:
    """Leave the current question unanswered (the fact is recorded as unknown) and go on."""
    step = current_step(flows, state)
    assert step is not None and step.fact is not None
    state = state.evolve(facts={**state.facts, step.fact: None}, answered=(*state.answered, f"{state.flow}/{step.id}"))
    replies, new = advance(flows, state, today, lang)
    return [Reply(messages.text("flow_skipped", lang)), *replies], new


def not_understood(flows: dict[str, Flow], state: State, lang: Lang) -> tuple[list[Reply], State]:
    """Ask again with a hint; after MAX_FAILURES misunderstandings in a row, offer a lawyer."""
    step = current_step(flows, state)
    assert step is not None
    failures = state.failures + 1
    if failures >= MAX_FAILURES:
        offer = lawyer_offer(lang, "flow_two_failures")
        buttons = [offer.buttons[0], Button(messages.label("buttons", "continue", lang), "/affirm")]
        return [Reply(offer.text, buttons)], state.evolve(failures=0, offer="continue")
    return [question(step, lang, failed=True)], state.evolve(failures=failures)


def reask(
    flows: dict[str, Flow], state: State, lang: Lang, prefix: list[Reply] | None = None
) -> tuple[list[Reply], State]:
    step = current_step(flows, state)
    assert step is not None
    return [*(prefix or []), question(step, lang)], state.evolve(offer=None)


def why(flows: dict[str, Flow], state: State, lang: Lang) -> tuple[list[Reply], State]:
    step = current_step(flows, state)
    assert step is not None and step.why is not None
    return reask(flows, state, lang, [Reply(step.why[lang])])


def correct(
    flows: dict[str, Flow], state: State, c: Classification, today: date, lang: Lang
) -> tuple[list[Reply], State]:
    """Change an earlier answer: to the value this message gives for an earlier question, else back one question.

    The questions tried are those answered (latest first), then those filled in from the person's own words."""
    # Steps answered that still exist (the office may have edited the flows since).
    answered = [
        (f, s)
        for f, s in (tuple(a.split("/", 1)) for a in state.answered if "/" in a)
        if f in flows and s in flows[f].steps
    ]
    prefilled = [
        (state.flow, s.id)
        for s in (flows[state.flow].steps.values() if state.flow in flows else ())
        if s.fact in state.facts and (state.flow, s.id) not in answered
    ]
    for flow_name, step_id in [*reversed(answered), *prefilled]:
        flow = flows.get(flow_name or "")
        step = flow.steps.get(step_id) if flow else None
        if step is None or step.fact is None or step.type in ("yesno", "text"):
            continue  # a yes/no is corrected by going back to it
        value = parse_answer(step, c.text, c.lang, c.intent, today)
        if value is not None and value is not UNKNOWN and value != state.facts.get(step.fact):
            state = state.evolve(facts={**state.facts, step.fact: value}, flow=state.flow or flow_name)
            replies, new = advance(flows, state, today, lang)
            return [Reply(messages.text("flow_corrected", lang)), *replies], new
    if not answered:
        return reask(flows, state, lang)
    flow_name, step_id = answered[-1]
    step = flows[flow_name].steps[step_id]
    facts = {k: v for k, v in state.facts.items() if k != step.fact}
    state = state.evolve(flow=flow_name, step=step_id, facts=facts, answered=state.answered[:-1], failures=0)
    return [Reply(messages.text("flow_back", lang)), question(step, lang)], state
