"""`hotline bench nlu`: topic precision/recall/macro-F1 per language on ../shared/eval (read at run time,
never copied), the confusion matrix, urgent flags, classify latency and training time; our pipeline beside
Rasa's default pipeline trained on the same data. Eval texts are never written out: items are named by id.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import Progress

from hotline import safety
from hotline.bench_doc import write_section
from hotline.nlu import RasaNLU
from hotline.rasa_service import RasaServer, train, training_record
from hotline.settings import Settings
from hotline.text import normalise

console = Console(stderr=True)
TOPICS = ["wages", "injury", "minors", "other"]
PREDICTED = [*TOPICS, "none"]
COMMAND = ".venv/bin/hotline bench nlu"
MARK_START, MARK_END = "<!-- bench-nlu:start -->", "<!-- bench-nlu:end -->"


@dataclass
class LangResult:
    lang: str
    n: int = 0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    per_topic: dict[str, dict[str, float]] = field(default_factory=dict)
    macro_f1: float = 0.0
    accuracy: float = 0.0
    urgent_ids_by_label: dict[str, list[str]] = field(default_factory=dict)
    false_urgent_rate: float = 0.0


@dataclass
class ModelResult:
    name: str
    config: str
    train_seconds: float | None
    langs: list[LangResult]
    latency_ms_p50: float
    latency_ms_p95: float


def load_eval(settings: Settings, lang: str) -> list[dict[str, Any]]:
    path = settings.shared_dir / "eval" / f"topics_{lang}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the evaluation sets live in ../shared/eval beside the checkout")
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def score(lang: str, items: list[dict[str, Any]], predictions: Sequence[tuple[str, bool]]) -> LangResult:
    result = LangResult(lang=lang, n=len(items))
    result.confusion = {gold: dict.fromkeys(PREDICTED, 0) for gold in TOPICS}
    urgent: dict[str, list[str]] = {t: [] for t in TOPICS}
    for item, (topic, is_urgent) in zip(items, predictions, strict=True):
        result.confusion[item["label"]][topic] += 1
        if is_urgent:
            urgent[item["label"]].append(str(item.get("src_id", "?")))
    f1s = []
    for topic in TOPICS:
        tp = result.confusion[topic][topic]
        fp = sum(result.confusion[g][topic] for g in TOPICS if g != topic)
        fn = sum(result.confusion[topic][p] for p in PREDICTED if p != topic)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result.per_topic[topic] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
        f1s.append(f1)
    result.macro_f1 = sum(f1s) / len(f1s)
    result.accuracy = sum(result.confusion[t][t] for t in TOPICS) / max(1, len(items))
    result.urgent_ids_by_label = urgent
    # A flag on a wages, injury or other item counts as false: none of those sets is about present danger.
    # Flags on minors items are listed but not counted, since many of them describe abuse.
    non_minors = sum(1 for item in items if item["label"] != "minors")
    result.false_urgent_rate = sum(len(urgent[t]) for t in TOPICS if t != "minors") / max(1, non_minors)
    return result


async def _evaluate(
    url: str, eval_sets: dict[str, list[dict[str, Any]]], progress: Progress, name: str
) -> tuple[list[LangResult], list[float]]:
    latencies: list[float] = []
    results = []
    async with RasaNLU(url) as nlu:
        await nlu.classify("你好")  # warm-up, not timed
        for lang, items in eval_sets.items():
            task = progress.add_task(f"{name}: {lang}", total=len(items))
            predictions = []
            for item in items:
                started = time.perf_counter()
                c = await nlu.classify(item["text"])
                latencies.append((time.perf_counter() - started) * 1000)
                predictions.append((c.topic, c.urgent))
                progress.advance(task)
            results.append(score(lang, items, predictions))
    return results, latencies


def _trained(settings: Settings, config: Path, prefix: str, retrain: bool) -> tuple[Path, float | None]:
    """The model (trained now if missing or asked to) and how long its training from scratch took."""
    path = train(settings, config=config, prefix=prefix, force=retrain, from_scratch=retrain)
    record = training_record(path)
    seconds = json.loads(record.read_text())["train_seconds"] if record.exists() else None
    return path, seconds


def safety_list(settings: Settings) -> dict[str, Any]:
    data = yaml.safe_load((settings.project_root / "tests" / "data" / "safety_cases.yml").read_text("utf-8"))
    out: dict[str, Any] = {}
    for lang in ("zh", "en"):
        urgent = data["urgent"][lang]
        calm = data["not_urgent"][lang]
        missed = [t for t in urgent if not safety.is_urgent(normalise(t))]
        false = [t for t in calm if safety.is_urgent(normalise(t))]
        out[lang] = {"urgent": len(urgent), "missed": missed, "not_urgent": len(calm), "false_flags": false}
    return out


def run_bench(settings: Settings, retrain: bool = False, write: bool = True, only: str | None = None) -> int:
    eval_sets = {lang: load_eval(settings, lang) for lang in ("zh", "en")}
    root = settings.project_root
    configs = [
        ("ours", root / "config.yml", "hotline", 5105),
        ("rasa-default", root / "bench" / "rasa-default-config.yml", "baseline", 5106),
    ]
    if only is not None:
        configs = [c for c in configs if c[0] == only]
    results: list[ModelResult] = []
    for name, config, prefix, port in configs:
        model, seconds = _trained(settings, config, prefix, retrain)
        server = RasaServer(settings, model, port=port, log_file=settings.var_dir / f"bench-{name}.log")
        console.print(f"Starting Rasa for {name} ...")
        with server.running() as url, Progress(console=console) as progress:
            langs, latencies = asyncio.run(_evaluate(url, eval_sets, progress, name))
        quantiles = statistics.quantiles(latencies, n=20)
        results.append(
            ModelResult(
                name,
                str(config.relative_to(root)),
                seconds,
                langs,
                statistics.median(latencies),
                quantiles[18],
            )
        )
    report = render(results, safety_list(settings))
    console.print(report)
    if write:
        write_section(root / "docs" / "benchmarks.md", report)
        console.print(f"Written to {root / 'docs' / 'benchmarks.md'}")
    return 0


def _pct(x: float) -> str:
    return f"{x:.3f}"


def render(results: list[ModelResult], safety_result: dict[str, Any]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        MARK_START,
        "## NLU: topics, urgent flags, latency",
        "",
        f"Reproduce: `{COMMAND}` (add `--retrain` to time training from scratch). Run {when} on "
        f"{platform.machine()}, 2 cores; both models served by `rasa run` on 127.0.0.1, messages sent one at a time.",
        "Evaluation sets: `../shared/eval/topics_zh.jsonl` and `topics_en.jsonl` (read at run time; never trained on).",
        "",
        "| pipeline | lang | macro-F1 | accuracy | false urgent | classify p50 ms | classify p95 ms | training s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for lr in r.langs:
            train_s = f"{r.train_seconds:.0f}" if r.train_seconds else "n/a"
            lines.append(
                f"| {r.name} (`{r.config}`) | {lr.lang} | {_pct(lr.macro_f1)} | {_pct(lr.accuracy)} | "
                f"{lr.false_urgent_rate:.1%} | {r.latency_ms_p50:.1f} | {r.latency_ms_p95:.1f} | {train_s} |"
            )
    for r in results:
        lines += ["", f"### {r.name}: per topic", ""]
        for lr in r.langs:
            lines += [
                f"**{lr.lang}** (n={lr.n})",
                "",
                "| topic | precision | recall | F1 | support |",
                "|---|---|---|---|---|",
            ]
            for topic, m in lr.per_topic.items():
                cells = [_pct(m["precision"]), _pct(m["recall"]), _pct(m["f1"]), str(int(m["support"]))]
                lines.append(f"| {topic} | " + " | ".join(cells) + " |")
            lines += [
                "",
                "Confusion (rows: label, columns: predicted)",
                "",
                "| label \\ predicted | " + " | ".join(PREDICTED) + " |",
                "|---" * (len(PREDICTED) + 1) + "|",
            ]
            for gold in TOPICS:
                lines.append(f"| {gold} | " + " | ".join(str(lr.confusion[gold][p]) for p in PREDICTED) + " |")
            flagged = {k: v for k, v in lr.urgent_ids_by_label.items() if v}
            lines += [
                "",
                "Urgent flags by label (eval item ids): " + (json.dumps(flagged) if flagged else "none"),
                "",
            ]
    lines += [
        "",
        "### Safety list (`tests/data/safety_cases.yml`, rules alone)",
        "",
        "| lang | urgent items | missed | near misses | false flags |",
        "|---|---|---|---|---|",
    ]
    for lang, s in safety_result.items():
        lines.append(f"| {lang} | {s['urgent']} | {len(s['missed'])} | {s['not_urgent']} | {len(s['false_flags'])} |")
    lines += [
        "",
        "A false urgent flag is one on a wages, injury or other item (none of those describes present danger);",
        "flags on minors items are listed but not counted. Flags come from the rules or the model's emergency intent.",
        MARK_END,
    ]
    return "\n".join(lines)
