"""Guided flows as YAML data (flows/*.yml): loading and validation.

One flow per file. Steps ask (`collect`), say, apply an eligibility rule (`action`, which ends the flow with an
outcome) or continue in another flow (`link`); `next` branches on collected facts. Every text is given in
Chinese and English. Every problem is reported with the file and the step, so a lawyer who edits a flow can fix
it without reading Python (docs/flows.md). The services refuse to start while any problem remains.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from hotline.eligibility import RULES
from hotline.messages import LANGS, hotlines
from hotline.text import Lang

AnswerType = Literal["yesno", "choice", "money", "number", "date", "duration", "district", "text"]
StepKind = Literal["collect", "say", "action", "link"]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)
TOPICS = ("wages", "injury", "minors", "other")
# Rasa entities a collect step may take its answer from when the person already said it (`prefill: true`).
PREFILL_ENTITIES = {"money": "money", "duration": "duration", "date": "date", "district": "district", "number": "age"}
# HOTLINE_FLOWS points the services at another folder of flows (a staging copy the office is editing).
FLOWS_DIR = Path(os.environ.get("HOTLINE_FLOWS") or Path(__file__).resolve().parent.parent / "flows")

Bilingual = Mapping[Lang, str]
Condition = Mapping[str, Any]  # fact -> value | [values] | {lt|le|gt|ge: number}

_STEP_KEYS: dict[StepKind, set[str]] = {
    "collect": {"id", "collect", "type", "ask", "why", "hint", "options", "prefill", "next", "min", "max"},
    "say": {"id", "say", "next"},
    "action": {"id", "action"},
    "link": {"id", "link", "set"},
}
_COMPARISONS = {"lt", "le", "gt", "ge"}


class FlowError(ValueError):
    """One or more problems in flows/; the message lists each with its file and step."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Option:
    value: str
    label: Bilingual
    patterns: Mapping[Lang, tuple[re.Pattern[str], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Branch:
    target: str
    condition: Condition | None = None  # None: always (the `else`, or a plain `next: step`)


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    text: Bilingual | None = None  # the question (collect) or the message (say)
    fact: str | None = None
    type: AnswerType | None = None
    why: Bilingual | None = None
    hint: Bilingual | None = None
    options: tuple[Option, ...] = ()
    prefill: bool = False
    minimum: float | None = None
    maximum: float | None = None
    action: str | None = None
    link: str | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)  # facts a link step records before continuing
    next: tuple[Branch, ...] = ()


@dataclass(frozen=True)
class Flow:
    name: str
    file: str
    topic: str
    title: Bilingual
    intro: Bilingual
    steps: Mapping[str, Step]
    start: str

    def step(self, step_id: str) -> Step:
        return self.steps[step_id]


# --- loading ----------------------------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def _bilingual(node: Any, where: str, what: str, problems: _Problems, required: bool = True) -> Bilingual | None:
    if node is None:
        if required:
            problems.add(where, f"`{what}` is missing")
        return None
    if not isinstance(node, dict):
        problems.add(where, f"`{what}` must have a zh and an en text")
        return None
    numbers = {key: str(entry["number"]) for key, entry in hotlines().items()}
    result: dict[Lang, str] = {}
    for lang in LANGS:
        value = node.get(lang)
        if not isinstance(value, str) or not value.strip():
            problems.add(where, f"`{what}` has no {lang} text (missing translation)")
            continue
        try:
            value.format(**numbers)
        except (KeyError, IndexError, ValueError) as error:
            problems.add(where, f"`{what}` ({lang}) has an unknown placeholder {error}")
        result[lang] = value
    extra = set(node) - set(LANGS)
    if extra:
        problems.add(where, f"`{what}` has unknown languages {sorted(extra)}")
    return result


def _patterns(node: Any, where: str, problems: _Problems) -> Mapping[Lang, tuple[re.Pattern[str], ...]]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        problems.add(where, "`match` must map zh/en to lists of patterns")
        return {}
    result: dict[Lang, tuple[re.Pattern[str], ...]] = {}
    for lang in LANGS:
        compiled: list[re.Pattern[str]] = []
        for pattern in node.get(lang) or []:
            try:
                compiled.append(re.compile(str(pattern), re.IGNORECASE))
            except re.error as error:
                problems.add(where, f"bad {lang} pattern {pattern!r}: {error}")
        result[lang] = tuple(compiled)
    return result


def _branches(node: Any, where: str, problems: _Problems) -> tuple[Branch, ...]:
    if node is None:
        return ()
    if isinstance(node, str):
        return (Branch(node),)
    if not isinstance(node, list):
        problems.add(where, "`next` must be a step id or a list of `if`/`then` and `else`")
        return ()
    branches: list[Branch] = []
    for item in node:
        if isinstance(item, dict) and set(item) == {"if", "then"} and isinstance(item["if"], dict):
            branches.append(Branch(str(item["then"]), dict(item["if"])))
        elif isinstance(item, dict) and set(item) == {"else"}:
            branches.append(Branch(str(item["else"])))
        else:
            problems.add(
                where, f"a `next` entry must be {{if: {{fact: value}}, then: step}} or {{else: step}}: {item!r}"
            )
    return tuple(branches)


def _step(raw: Any, where_file: str, index: int, problems: _Problems) -> Step | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        problems.add(f"{where_file} step #{index + 1}", "a step needs an `id`")
        return None
    where = f"{where_file} step '{raw['id']}'"
    kinds = [k for k in ("collect", "say", "action", "link") if k in raw]
    if len(kinds) != 1:
        problems.add(where, "a step does exactly one of: collect, say, action, link")
        return None
    kind = cast(StepKind, kinds[0])
    unknown = set(raw) - _STEP_KEYS[kind]
    if unknown:
        problems.add(where, f"unknown keys {sorted(unknown)} for a {kind} step")
    step_id = str(raw["id"])
    next_ = _branches(raw.get("next"), where, problems)
    if kind == "say":
        return Step(step_id, kind, text=_bilingual(raw["say"], where, "say", problems), next=next_)
    if kind == "action":
        if raw["action"] not in RULES:
            problems.add(where, f"unknown rule '{raw['action']}' (known: {', '.join(sorted(RULES))})")
        return Step(step_id, kind, action=str(raw["action"]))
    if kind == "link":
        sets = raw.get("set") or {}
        if not isinstance(sets, dict):
            problems.add(where, "`set` must map facts to values")
            sets = {}
        return Step(step_id, kind, link=str(raw["link"]), sets=dict(sets))
    answer_type = raw.get("type")
    if answer_type not in ANSWER_TYPES:
        problems.add(where, f"unknown answer type {answer_type!r} (known: {', '.join(ANSWER_TYPES)})")
        answer_type = "text"
    options: list[Option] = []
    for option in raw.get("options") or []:
        if not isinstance(option, dict) or "value" not in option:
            problems.add(where, f"an option needs a `value` and a `label`: {option!r}")
            continue
        owhere = f"{where} option '{option['value']}'"
        label = _bilingual(option.get("label"), owhere, "label", problems) or {}
        options.append(Option(str(option["value"]), label, _patterns(option.get("match"), owhere, problems)))
    if answer_type == "choice" and len(options) < 2:
        problems.add(where, "a choice step needs at least two options")
    if answer_type != "choice" and options:
        problems.add(where, "only a choice step has options")
    if len({o.value for o in options}) != len(options):
        problems.add(where, "option values must be unique")
    if raw.get("prefill") and answer_type not in (*PREFILL_ENTITIES, "choice"):
        problems.add(where, f"`prefill` works for choice and {', '.join(PREFILL_ENTITIES)} answers only")
    if not next_:
        problems.add(where, "a collect step needs `next`")
    return Step(
        step_id,
        kind,
        text=_bilingual(raw.get("ask"), where, "ask", problems),
        fact=str(raw["collect"]),
        type=cast(AnswerType, answer_type),
        why=_bilingual(raw.get("why"), where, "why", problems),
        hint=_bilingual(raw.get("hint"), where, "hint", problems, required=False),
        options=tuple(options),
        prefill=bool(raw.get("prefill", False)),
        minimum=float(raw["min"]) if "min" in raw else None,
        maximum=float(raw["max"]) if "max" in raw else None,
        next=next_,
    )


def _load_file(path: Path, problems: _Problems) -> Flow | None:
    name = f"flows/{path.name}"
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as error:
        problems.add(name, f"not valid YAML: {error}")
        return None
    if not isinstance(raw, dict):
        problems.add(name, "a flow file is a mapping with `flow`, `topic`, `title`, `intro` and `steps`")
        return None
    unknown = set(raw) - {"flow", "topic", "title", "intro", "steps"}
    if unknown:
        problems.add(name, f"unknown keys {sorted(unknown)}")
    flow_name = raw.get("flow")
    if not isinstance(flow_name, str) or flow_name != path.stem:
        problems.add(name, f"`flow` must be the file's name without .yml ('{path.stem}')")
        flow_name = path.stem
    topic = raw.get("topic")
    if topic not in TOPICS:
        problems.add(name, f"`topic` must be one of {', '.join(TOPICS)}")
    steps: dict[str, Step] = {}
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.add(name, "`steps` must be a non-empty list")
        raw_steps = []
    for index, raw_step in enumerate(raw_steps):
        step = _step(raw_step, name, index, problems)
        if step is None:
            continue
        if step.id in steps:
            problems.add(f"{name} step '{step.id}'", "this id is used twice")
        steps[step.id] = step
    return Flow(
        name=flow_name,
        file=name,
        topic=str(topic),
        title=_bilingual(raw.get("title"), name, "title", problems) or {},
        intro=_bilingual(raw.get("intro"), name, "intro", problems) or {},
        steps=steps,
        start=next(iter(steps), ""),
    )


# --- whole-set checks ---------------------------------------------------------------------------------------------


def _check_graph(flow: Flow, flows: Mapping[str, Flow], facts: Mapping[str, Step], problems: _Problems) -> None:
    for step in flow.steps.values():
        where = f"{flow.file} step '{step.id}'"
        for branch in step.next:
            if branch.target not in flow.steps:
                problems.add(where, f"`next` goes to unknown step '{branch.target}'")
            if branch.condition is not None:
                _check_condition(branch.condition, where, facts, problems)
        if step.kind == "say" and not step.next:
            problems.add(where, "this path ends with no outcome (a say step needs `next`)")
        if step.next and step.next[-1].condition is not None:
            problems.add(where, "the last `next` entry must be an `else` (otherwise a path can end with no outcome)")
        if step.kind == "link" and step.link not in flows:
            problems.add(where, f"links to unknown flow '{step.link}'")
        if step.sets:
            _check_condition(step.sets, where, facts, problems)
    # Reachable from the start
    reachable: set[str] = set()
    todo = [flow.start] if flow.start else []
    while todo:
        current = todo.pop()
        if current in reachable or current not in flow.steps:
            continue
        reachable.add(current)
        todo += [b.target for b in flow.steps[current].next]
    for step_id in flow.steps:
        if step_id not in reachable:
            problems.add(f"{flow.file} step '{step_id}'", "unreachable: no path from the first step leads here")
    # Every step can still reach an outcome (an action or a link): no dead ends, no loops without exit.
    ends = {s.id for s in flow.steps.values() if s.kind in ("action", "link")}
    changed = True
    while changed:
        changed = False
        for step in flow.steps.values():
            if step.id not in ends and any(b.target in ends for b in step.next):
                ends.add(step.id)
                changed = True
    for step_id in reachable - ends:
        problems.add(f"{flow.file} step '{step_id}'", "no path from here ends in an outcome (an action or a link)")


def _check_condition(condition: Condition, where: str, facts: Mapping[str, Step], problems: _Problems) -> None:
    for fact, expected in condition.items():
        step = facts.get(fact)
        if step is None:
            problems.add(where, f"condition on '{fact}', which no flow collects")
            continue
        values = expected if isinstance(expected, list) else [expected]
        if isinstance(expected, dict):
            if not set(expected) <= _COMPARISONS or step.type not in ("number", "money"):
                problems.add(where, f"'{fact}': comparisons (lt, le, gt, ge) work on number and money answers only")
            continue
        for value in values:
            if step.type == "yesno" and not isinstance(value, bool):
                problems.add(where, f"'{fact}' is a yes/no answer: compare it with true or false, not {value!r}")
            if step.type == "choice" and value not in {o.value for o in step.options}:
                problems.add(where, f"'{fact}' has no option '{value}'")


def validate_flows(directory: Path = FLOWS_DIR) -> tuple[dict[str, Flow], list[str]]:
    """All flows in `directory` and every problem found (empty when the flows are valid)."""
    problems = _Problems()
    flows: dict[str, Flow] = {}
    for path in sorted(directory.glob("*.yml")):
        flow = _load_file(path, problems)
        if flow is not None:
            flows[flow.name] = flow
    facts: dict[str, Step] = {}
    for flow in flows.values():
        for step in flow.steps.values():
            if step.fact is None:
                continue
            earlier = facts.get(step.fact)
            if earlier is not None and (earlier.type, {o.value for o in earlier.options}) != (
                step.type,
                {o.value for o in step.options},
            ):
                problems.add(f"{flow.file} step '{step.id}'", f"'{step.fact}' is collected elsewhere with another type")
            facts.setdefault(step.fact, step)
    for flow in flows.values():
        _check_graph(flow, flows, facts, problems)
    for topic in TOPICS:
        if not any(f.topic == topic for f in flows.values()):
            problems.add(f"{directory.name}/", f"no flow for the topic '{topic}'")
    return flows, problems.items


@lru_cache(maxsize=4)
def load_flows(directory: Path = FLOWS_DIR) -> dict[str, Flow]:
    """The valid flows; raises FlowError listing every problem otherwise."""
    flows, problems = validate_flows(directory)
    if problems:
        raise FlowError(problems)
    return flows


def flow_for_topic(flows: Mapping[str, Flow], topic: str) -> Flow | None:
    """The flow a topic starts: the one named after it, else the first with that topic."""
    if topic in flows:
        return flows[topic]
    return next((f for f in flows.values() if f.topic == topic), None)
