"""Twenty lawyers press Accept on one case at the same moment, through the real desk (updates processed
concurrently, the claims running at once in worker threads against the database): exactly one wins, the others
are told it is taken. On PostgreSQL, as in production, and on SQLite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.telegram import conversation_id
from hotline import messages
from hotline.cases.store import CaseStore
from tests.desk.harness import PERSON, desk, on_duty

RACERS = 20
FIRST_ID = 9201


class InFlight:
    """Counts claims running at the same time, to show that the presses really raced."""

    def __init__(self, claim: Callable[[int, int, datetime], bool]) -> None:
        self.claim = claim
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __call__(self, case_id: int, lawyer_id: int, at: datetime) -> bool:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return self.claim(case_id, lawyer_id, at)
        finally:
            with self.lock:
                self.now -= 1


async def test_twenty_concurrent_accepts_one_winner(store: CaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = list(range(FIRST_ID, FIRST_ID + RACERS))
    lawyers = {tid: store.add_lawyer(name=f"lawyer {tid}", telegram_user_id=str(tid), topics=["wages"]) for tid in ids}
    for lawyer in lawyers.values():
        on_duty(store, lawyer)
    case = store.create_case(
        channel="telegram",
        channel_key=conversation_id(PERSON),
        reply_address=str(PERSON),
        lang="zh",
        topic="wages",
        facts={"amount": 8000},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="欠了八千",
        at=datetime.now(UTC) - timedelta(seconds=1),
    )
    offered = store.offered_to(case.id)
    assert len(offered) == 3  # the first offer goes to the three least loaded
    in_flight = InFlight(store.claim)
    monkeypatch.setattr(store, "claim", in_flight)
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        offers = {tid: d.offer_to(tid, case.ref) for tid in ids if lawyers[tid].id in offered}
        # All twenty at once, in one getUpdates: the three with the offer on it, the others from /queue.
        await d.send(*(fake.press(tid, f"claim:{case.id}", on=offers.get(tid)) for tid in ids))
        assert in_flight.most > 1, "the claims did not run concurrently"
        claimed = store.get_case(case.id)
        assert claimed is not None and claimed.status == "claimed"
        winner = next(tid for tid in ids if lawyers[tid].id == claimed.assigned_lawyer_id)
        assert [e.actor for e in store.events(case.id) if e.kind == "claimed"] == [f"lawyer:{lawyers[winner].id}"]
        accepted = messages.text("desk.accepted", "zh", ref=case.ref)
        assert fake.texts(winner)[-1] == accepted
        taken = messages.text("desk.taken", "zh", ref=case.ref)
        for tid in ids:
            answers = [(s.text, s.show_alert) for s in fake.to(tid, "answerCallbackQuery")]
            if tid == winner:
                assert answers == [("", False)]
                continue
            assert answers == [(taken, True)], tid
            # Those who had the offer see their copy say so too; the others only the alert.
            assert fake.texts(tid, "editMessageText") == ([taken] if tid in offers else []), tid
            assert accepted not in fake.texts(tid), tid
        # The outbox withdraws the other offers (their messages already say "taken") and tells the person.
        await d.tick()
        for tid in offers:
            if tid != winner:
                assert fake.texts(tid, "editMessageText") == [taken, taken]
        assert fake.texts(PERSON) == [messages.text("person_notice.claimed", "zh", ref=case.ref)]
        assert store.pending_outbox() == []
