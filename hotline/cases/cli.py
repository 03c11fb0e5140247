"""`hotline db`, `hotline lawyers`, `hotline roster`, `hotline cases`, `hotline report`, `hotline purge`: the case
store from the terminal, on the database named by DATABASE_URL (default: SQLite in var/). Bad input gets one
readable line per problem and exit code 1, never a traceback. SQLAlchemy is imported inside the commands:
`hotline chat` needn't load it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hotline.settings import get_settings

if TYPE_CHECKING:
    from hotline.cases.store import CaseStore

db_app = typer.Typer(help="The case database (DATABASE_URL; default: SQLite in var/).", no_args_is_help=True)
lawyers_app = typer.Typer(help="The duty lawyers cases are offered to.", no_args_is_help=True)
roster_app = typer.Typer(help="The duty roster: who is on duty when.", no_args_is_help=True)
cases_app = typer.Typer(help="Cases handed off to duty lawyers.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@contextmanager
def _readable_errors() -> Iterator[None]:
    """The case store's refusals and the database's failures as lines on stderr and exit code 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from hotline.cases.db import DatabaseError, shown
    from hotline.cases.records import CaseError

    try:
        yield
    except (CaseError, DatabaseError) as error:
        raise _fail(str(error)) from None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        url = shown(get_settings().effective_database_url)
        raise _fail(f"database error at {url}: {reason}") from None


@contextmanager
def _store() -> Iterator[CaseStore]:
    """The case store on the configured database, once its schema is at the latest migration."""
    from hotline.cases.db import engine_for, require_current
    from hotline.cases.store import CaseStore

    with _readable_errors():
        engine = engine_for(get_settings().effective_database_url)
        try:
            require_current(engine)
            yield CaseStore(engine)
        finally:
            engine.dispose()


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _local(at: datetime) -> str:
    from hotline.cases.models import OFFICE_TZ

    return at.astimezone(OFFICE_TZ).isoformat(timespec="minutes")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the case tables (alembic upgrade head)."""
    from hotline.cases import db

    url = get_settings().effective_database_url
    with _readable_errors():
        db.upgrade(url)
        engine = db.engine_for(url)
        try:
            revision = db.current_revision(engine)
        finally:
            engine.dispose()
    typer.echo(f"{db.shown(url)}: schema at {revision} (latest)")


@lawyers_app.command("add")
def lawyers_add(
    name: Annotated[str, typer.Option(help="The lawyer's name as the office knows it.")],
    topics: Annotated[str, typer.Option(help="Comma-separated: wages, injury, minors, other.")],
    telegram_id: Annotated[str | None, typer.Option(help="Their numeric Telegram user id (the lawyer desk).")] = None,
    languages: Annotated[str, typer.Option(help="Comma-separated: zh, en.")] = "zh",
    minors: Annotated[
        bool, typer.Option("--minors/--no-minors", help="Qualified for minors' cases (Minors Protection Law Art. 104).")
    ] = False,
    supervisor: Annotated[
        bool, typer.Option("--supervisor/--no-supervisor", help="Gets cases no one claimed (last escalation).")
    ] = False,
) -> None:
    """Register a duty lawyer; prints their id."""
    with _store() as store:
        lawyer = store.add_lawyer(
            name=name,
            telegram_user_id=telegram_id,
            languages=_csv(languages),
            topics=_csv(topics),
            minors_qualified=minors,
            supervisor=supervisor,
        )
    typer.echo(f"lawyer {lawyer.id}: {lawyer.name}")


@lawyers_app.command("list")
def lawyers_list(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array instead of a table.")] = False,
) -> None:
    """Every lawyer, removed ones marked inactive."""
    with _store() as store:
        lawyers = store.list_lawyers()
    if as_json:
        typer.echo(json.dumps([lawyer.as_json() for lawyer in lawyers], ensure_ascii=False, indent=2))
        return
    for lawyer in lawyers:
        flags = [flag for flag, on in (("minors", lawyer.minors_qualified), ("supervisor", lawyer.supervisor)) if on]
        if not lawyer.active:
            flags.append("INACTIVE")
        typer.echo(
            f"{lawyer.id:>4}  {lawyer.name}  telegram={lawyer.telegram_user_id or '-'}  "
            f"languages={','.join(lawyer.languages)}  topics={','.join(lawyer.topics)}  {' '.join(flags)}".rstrip()
        )
    if not lawyers:
        typer.echo("no lawyers yet: hotline lawyers add --name ... --topics ...")


@lawyers_app.command("remove")
def lawyers_remove(lawyer_id: Annotated[int, typer.Argument(help="The lawyer's id (hotline lawyers list).")]) -> None:
    """Deactivate a lawyer: no more offers or claims; their past cases keep their name."""
    with _store() as store:
        removed = store.remove_lawyer(lawyer_id)
    if not removed:
        raise _fail(f"no active lawyer {lawyer_id}")
    typer.echo(f"lawyer {lawyer_id} removed (inactive)")


@roster_app.command("import")
def roster_import(
    file: Annotated[Path, typer.Argument(help="CSV: telegram_user_id or name, starts_at, ends_at (ISO 8601).")],
) -> None:
    """Add the shifts of a roster file: all of them, or none if any line is wrong (each problem is named)."""
    with _store() as store:
        result = store.import_roster_csv(file)
    typer.echo(f"{file}: {result.added} shifts added, {result.already_present} already present")


@roster_app.command("show")
def roster_show(
    show_all: Annotated[bool, typer.Option("--all", help="Past shifts too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array instead of a table.")] = False,
) -> None:
    """The shifts that have not ended (times in the office's zone, Asia/Shanghai)."""
    with _store() as store:
        shifts = store.shifts(ending_after=None if show_all else datetime.now(UTC))
    if as_json:
        rows = [
            {
                "id": shift.id,
                "lawyer_id": shift.lawyer_id,
                "lawyer": shift.lawyer_name,
                "starts_at": shift.starts_at.isoformat(),
                "ends_at": shift.ends_at.isoformat(),
            }
            for shift in shifts
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for shift in shifts:
        when = f"{_local(shift.starts_at)} – {_local(shift.ends_at)}"
        typer.echo(f"{when}  {shift.lawyer_name} (lawyer {shift.lawyer_id})")
    if not shifts:
        typer.echo("no shifts" + ("" if show_all else " ahead (--all shows past ones)"))


@cases_app.command("list")
def cases_list(
    status: Annotated[str | None, typer.Option(help="queued, offered, claimed or closed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON array of the cases (without transcripts).")] = False,
) -> None:
    """The cases, urgent ones first, then the oldest first."""
    with _store() as store:
        cases = store.list_cases(status)
    if as_json:
        typer.echo(json.dumps([case.as_json() for case in cases], ensure_ascii=False, indent=2))
        return
    for case in cases:
        lawyer = f"  lawyer {case.assigned_lawyer_id}" if case.assigned_lawyer_id else ""
        urgent = "  URGENT" if case.urgent else ""
        created = _local(case.created_at)
        typer.echo(f"{case.ref}  {case.status:<8} {case.topic:<7} {case.lang}  {created}{urgent}{lawyer}")
    if not cases:
        typer.echo("no cases")


def report(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (Asia/Shanghai).")],
    end: Annotated[str, typer.Option("--to", help="Last day, included, YYYY-MM-DD.")],
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML page with charts.")
    ] = None,
) -> None:
    """The office's figures for a period: consultations, cases, response times, outcomes, amounts, minors."""
    from hotline.cases import report as figures

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise _fail(f"--from {start} / --to {end}: give days as YYYY-MM-DD") from None
    if last < first:
        raise _fail(f"--to {end} is before --from {start}")
    with _store() as store:
        span = figures.period(first, last)
        result = figures.build(store.cases_created_between(*span), first, last, store.consultations_between(*span))
    typer.echo(figures.to_text(result))
    if html_file is not None:
        try:
            html_file.write_text(figures.to_html(result), encoding="utf-8")
        except OSError as error:
            raise _fail(f"cannot write {html_file}: {error}") from None
        typer.echo(f"\nHTML: {html_file}")


def purge(
    days: Annotated[
        int | None, typer.Option(min=1, help="Erase what is older than this many days (default: RETENTION_DAYS).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be erased; change nothing.")] = False,
) -> None:
    """The retention purge: idle persons (no open case, nothing for N days), the personal content of cases closed
    N days ago, answered kept messages and fetched inbox messages; Rasa's tracker too. Prints counts only."""
    from hotline.cases.retention import cutoff
    from hotline.cases.retention import purge as run_purge
    from hotline.rasa_tracker import TrackerEraser

    try:
        settings = get_settings()
    except ValueError as error:  # RETENTION_DAYS (or another number) that is not one
        raise _fail(str(error)) from None
    days = days if days is not None else settings.retention_days
    if not days:
        typer.echo("RETENTION_DAYS is 0 or empty: the purge is off; nothing erased (--days N purges anyway)")
        return
    now = datetime.now(UTC)
    tracker = TrackerEraser(settings.rasa_tracker_url)
    try:
        with _store() as store:
            counts = run_purge(store.engine, tracker, days, now=now, dry_run=dry_run)
    finally:
        tracker.dispose()
    limit = _local(cutoff(days, now))
    done = "dry run, nothing changed; would erase" if dry_run else "erased"
    typer.echo(f"{done} what is older than {days} days (before {limit}):")
    labels = {
        "cases": "closed cases, personal content",
        "conversations": "idle conversations",
        "persons": "  of them person records",
        "tracker_events": "  their events in Rasa's tracker store",
        "kept_messages": "kept messages",
        "inbox_messages": "inbox messages",
    }
    for name, count in counts.as_dict().items():
        typer.echo(f"{labels[name]}: {count}")
