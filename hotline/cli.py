"""The `hotline` command: run, train, chat, classify, bench; db, lawyers, roster, cases, report, purge (the case
store)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Annotated

import httpx
import typer

from hotline import rasa_service, services
from hotline.cases import cli as cases_cli
from hotline.settings import get_settings

app = typer.Typer(help="Legal-aid hotline assistant.", no_args_is_help=True, add_completion=False)
bench_app = typer.Typer(help="Benchmarks; figures go to docs/benchmarks.md.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
flows_app = typer.Typer(help="The guided flows in flows/ (format: docs/flows.md).", no_args_is_help=True)
app.add_typer(flows_app, name="flows")
# The case store (hotline/cases/cli.py): the database, the duty lawyers and their roster, the handed-off cases.
app.add_typer(cases_cli.db_app, name="db")
app.add_typer(cases_cli.lawyers_app, name="lawyers")
app.add_typer(cases_cli.roster_app, name="roster")
app.add_typer(cases_cli.cases_app, name="cases")
app.command("report")(cases_cli.report)
app.command("purge")(cases_cli.purge)


@flows_app.command("check")
def flows_check(
    directory: Annotated[Path | None, typer.Argument(help="Folder of flow files (default: flows/).")] = None,
) -> None:
    """Validate every flow; each problem is printed with its file and step. Exit 1 if any."""
    from hotline.flow_schema import FLOWS_DIR, validate_flows

    flows, problems = validate_flows(directory or FLOWS_DIR)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {directory or FLOWS_DIR}", err=True)
        raise typer.Exit(1)
    steps = sum(len(f.steps) for f in flows.values())
    typer.echo(f"{len(flows)} flows, {steps} steps: all valid ({', '.join(sorted(flows))})")


@app.command()
def run() -> None:
    """Train the model if its inputs changed, then start the action server, Rasa and the gateway."""
    raise typer.Exit(services.run(get_settings()))


@app.command()
def train(
    force: Annotated[bool, typer.Option(help="Train even if a model for these inputs exists.")] = False,
) -> None:
    """Train the Rasa model from config.yml, domain.yml and nlu_data/ (cached by their content hash)."""
    try:
        path = rasa_service.train(get_settings(), force=force)
    except rasa_service.RasaServiceError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(str(path))


@app.command()
def classify() -> None:
    """Classify messages from stdin, one per line (text or {"text": ...}); one JSON object per line out."""
    from hotline.classify import classify_lines

    settings = get_settings()
    lines = sys.stdin.read().splitlines()

    async def go(url: str) -> None:
        async for result in classify_lines(lines, url):
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    try:
        with rasa_service.rasa_server_for_nlu(settings) as url:
            asyncio.run(go(url))
    except rasa_service.RasaServiceError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error


@app.command()
def chat(
    url: Annotated[str | None, typer.Option(help="Gateway URL (default: the running hotline).")] = None,
    lang: Annotated[str | None, typer.Option(help="zh or en; default: from what you type.")] = None,
) -> None:
    """Talk to the running hotline in the terminal (type a button's number to press it; Ctrl-D to leave)."""
    settings = get_settings()
    base = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    session = "cli-" + uuid.uuid4().hex[:12]
    interactive = sys.stdin.isatty()
    buttons: list[dict[str, str]] = []
    with httpx.Client(base_url=base, timeout=30.0) as client:
        while True:
            try:
                line = input("you> " if interactive else "")
            except (EOFError, KeyboardInterrupt):
                break
            text = line.strip()
            if not text:
                continue
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            body: dict[str, str] = {"session": session, "text": text}
            if lang:
                body["lang"] = lang
            try:
                response = client.post("/api/chat", json=body)
            except httpx.HTTPError:
                typer.echo(f"The hotline does not answer at {base}. Start it with `make run`.", err=True)
                raise typer.Exit(1) from None
            data = response.json()
            if response.status_code != 200:
                typer.echo(f"bot> ({data.get('error')})")
                continue
            buttons = []
            for message in data["messages"]:
                typer.echo(f"bot> {message['text']}")
                for button in message.get("buttons") or []:
                    buttons.append(button)
                    typer.echo(f"     [{len(buttons)}] {button['title']}")


@bench_app.command("nlu")
def bench_nlu(
    retrain: Annotated[bool, typer.Option(help="Train both models from scratch to time training.")] = False,
    write: Annotated[bool, typer.Option(help="Write the figures into docs/benchmarks.md.")] = True,
    only: Annotated[str | None, typer.Option(help="Only one pipeline: ours or rasa-default (a quick look).")] = None,
) -> None:
    """Topic accuracy, urgent flags and latency on ../shared/eval, ours beside Rasa's default pipeline."""
    from hotline.bench_nlu import run_bench

    if only not in (None, "ours", "rasa-default"):
        typer.echo("--only takes ours or rasa-default", err=True)
        raise typer.Exit(2)
    if only and write:
        typer.echo("--only gives half the picture: add --no-write (docs/benchmarks.md keeps both)", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_bench(get_settings(), retrain=retrain, write=write, only=only))


def _e2e_options_ok(quick: bool, write: bool) -> None:
    if quick and write:
        typer.echo("--quick figures are a smoke test, not for docs/benchmarks.md: add --no-write", err=True)
        raise typer.Exit(2)


@bench_app.command("e2e")
def bench_e2e(
    quick: Annotated[bool, typer.Option(help="A smoke run: 5 s phases, one run (needs --no-write).")] = False,
    runs: Annotated[int | None, typer.Option(min=1, help="Runs of each phase and cold starts (default 3).")] = None,
    seconds: Annotated[float | None, typer.Option(min=1, help="Seconds per path, level and run (default 30).")] = None,
    retrain: Annotated[bool, typer.Option(help="Time training from scratch (in a temporary models dir).")] = False,
    write: Annotated[bool, typer.Option(help="Write docs/benchmarks.md and docs/img/bench-e2e.svg.")] = True,
) -> None:
    """Latency and throughput (1, 10, 50 conversations) through the gateway beside bare Rasa; memory; cold start."""
    from hotline.bench_e2e import COMMAND, run_bench

    _e2e_options_ok(quick, write)
    command = COMMAND + _given(quick=quick, retrain=retrain, runs=runs, seconds=seconds)
    raise typer.Exit(
        run_bench(
            get_settings(), quick=quick, runs=runs, seconds=seconds, retrain=retrain, write=write, command=command
        )
    )


@bench_app.command("profile")
def bench_profile(
    path: Annotated[str, typer.Option(help="gateway (POST /api/chat) or bare (Rasa's REST channel).")] = "gateway",
    people: Annotated[int, typer.Option(min=1, help="Simulated people at once.")] = 50,
    offered: Annotated[float, typer.Option(min=0, help="Messages/s offered in all (paced); 0: closed loop.")] = 0.0,
    seconds: Annotated[float, typer.Option(min=5, help="Seconds of load (and of sampling).")] = 25.0,
    write: Annotated[bool, typer.Option(help="Write its section of docs/benchmarks.md.")] = True,
) -> None:
    """Where each process's CPU goes under load (py-spy on the Rasa server, the action server, the gateway)."""
    from hotline.bench_profile import run_profile

    if path not in ("gateway", "bare"):
        typer.echo("--path takes gateway or bare", err=True)
        raise typer.Exit(2)
    raise typer.Exit(
        run_profile(get_settings(), path=path, people=people, offered=offered, seconds=seconds, write=write)
    )


@bench_app.command("all")
def bench_all(
    quick: Annotated[bool, typer.Option(help="The end-to-end part as a smoke run (needs --no-write).")] = False,
    runs: Annotated[int | None, typer.Option(min=1, help="End-to-end runs (default 3).")] = None,
    seconds: Annotated[float | None, typer.Option(min=1, help="End-to-end seconds per phase (default 30).")] = None,
    retrain: Annotated[bool, typer.Option(help="Time our model's training from scratch (temporary dir).")] = False,
    write: Annotated[bool, typer.Option(help="Write docs/benchmarks.md and docs/img/bench-e2e.svg.")] = True,
) -> None:
    """`bench nlu` then `bench e2e`, on the same trained model: every figure of docs/benchmarks.md in one run."""
    from hotline.bench_e2e import run_bench as run_e2e
    from hotline.bench_nlu import run_bench as run_nlu

    _e2e_options_ok(quick, write)
    settings = get_settings()
    # The NLU part times training from its models' records here; --retrain times ours from scratch in the e2e part
    # (`bench nlu --retrain` retrains both pipelines, Rasa's default one for about 25 minutes).
    code = run_nlu(settings, retrain=False, write=write)
    if code:
        raise typer.Exit(code)
    command = ".venv/bin/hotline bench all" + _given(quick=quick, retrain=retrain, runs=runs, seconds=seconds)
    raise typer.Exit(
        run_e2e(settings, quick=quick, runs=runs, seconds=seconds, retrain=retrain, write=write, command=command)
    )


def _given(**options: bool | float | None) -> str:
    """The options given on the command line, as they reproduce the run."""
    given = ""
    for name, value in options.items():
        if value is True:
            given += f" --{name}"
        elif value not in (None, False):
            given += f" --{name} {value:g}"
    return given


def main() -> None:
    app()
