"""A crash never loses nor doubles an offer, on SQLite and PostgreSQL.

- The real gateway process (`python -m bot`, Telegram pointed at the fake Bot API) is killed (SIGKILL) after a
  case was created and before its offer went out; a new gateway over the same database notifies the lawyer, once,
  and a third start sends nothing more.
- A sender that delivered the offer but died before marking it sent: the next sender sees the lawyer's copy
  recorded and does not send it again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.telegram import conversation_id
from hotline.cases.db import engine_for
from hotline.cases.models import OFFICE_TZ
from hotline.cases.records import CaseRecord
from hotline.cases.store import OUTBOX_LEASE, CaseStore
from hotline.conversation import State
from hotline.eligibility import assess_injury
from hotline.handoff import open_case
from hotline.settings import PROJECT_ROOT
from tests.conftest import free_port
from tests.desk.fake_telegram import TOKEN, FakeTelegram
from tests.desk.harness import CHEN, PERSON, WANG, add_desk_lawyers, desk


def injury_case(store: CaseStore) -> CaseRecord:
    """As the action server opens it (hotline.handoff.open_case), with the person's Telegram chat as address."""
    facts = {"how": "at_work", "injured_on": "2026-10-20", "insured": False, "migrant": True}
    today = datetime.now(OFFICE_TZ).date()
    state = State(lang="zh", topic="injury", facts=facts, outcome=assess_injury(facts, today).as_json())
    return open_case(store, state, "telegram", conversation_id(PERSON), ["我在工地摔伤了"], str(PERSON))


@asynccontextmanager
async def gateway_process(
    fake: FakeTelegram, db_url: str, var: Path, interval: float
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot` with Telegram on, polling the fake Bot API; yielded once it polls."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.bot_url,
        "RASA_URL": fake.url,
        "DATABASE_URL": db_url,
        "HOTLINE_VAR": str(var),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(free_port()),
        "OUTBOX_INTERVAL_SECONDS": str(interval),
    }
    log = (var / "gateway.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
    )
    polls = fake.calls["getUpdates"]
    try:
        await fake.wait_for(lambda: fake.calls["getUpdates"] > polls, timeout=60, what="the gateway polling")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def test_a_gateway_killed_before_notifying_notifies_once_after_restart(
    store: CaseStore, db_url: str, tmp_path: Path
) -> None:
    add_desk_lawyers(store)
    fake = await FakeTelegram().start()
    try:
        # An hour between sends: this gateway is up, polling, and will not send before it dies.
        async with gateway_process(fake, db_url, tmp_path, interval=3600) as first:
            case = injury_case(store)
            assert [item.kind for item in store.pending_outbox()] == ["offer", "offer"]  # Wang and Chen
            await asyncio.sleep(0.5)
            first.kill()  # SIGKILL: no clean-up, no last tick
            assert await first.wait() == -signal.SIGKILL
        assert fake.sent == [] and len(store.pending_outbox()) == 2

        async with gateway_process(fake, db_url, tmp_path, interval=0.2):
            await fake.wait_for(lambda: len(fake.sent) >= 2, what="the offers after the restart")
            await asyncio.sleep(1.5)  # several more ticks
        for lawyer in (WANG, CHEN):
            [offer] = fake.to(lawyer)
            assert case.ref in offer.text and offer.buttons[0][1] == f"claim:{case.id}"
        assert store.pending_outbox() == []

        async with gateway_process(fake, db_url, tmp_path, interval=0.2):
            await asyncio.sleep(1.5)
        assert len(fake.sent) == 2  # and not after yet another start
    finally:
        await fake.stop()


async def test_a_sender_that_died_after_sending_does_not_send_again(
    store: CaseStore, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_desk_lawyers(store)
    case = injury_case(store)

    class Died(Exception):
        """The gateway died between sending and marking."""

    def crash(item_id: int, at: datetime) -> bool:
        raise Died

    with monkeypatch.context() as patch:
        patch.setattr(store, "mark_sent", crash)
        async with desk(store) as d:
            with pytest.raises(Died):
                await d.tick()
            assert len(d.fake.to(WANG)) == 1
    assert len(store.pending_outbox()) == 2  # never marked (the first crash ended the tick)

    engine = engine_for(db_url)  # a new process: its own engine and store on the same database
    try:
        restarted = CaseStore(engine)
        # The dead sender held Wang's item (claim_outbox_item); the restarted one may take it once the lease ran out.
        later = datetime.now(UTC) + OUTBOX_LEASE
        async with desk(restarted, clock=lambda: later) as d:
            assert await d.tick() == 2  # Wang's marked sent without sending again; Chen's sent now
            assert await d.tick() == 0
            assert d.fake.to(WANG) == [] and len(d.fake.to(CHEN)) == 1
        assert restarted.pending_outbox() == []
        assert all(restarted.offer_message(case.id, lawyer) for lawyer in restarted.offered_to(case.id))
    finally:
        engine.dispose()
