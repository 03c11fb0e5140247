"""kill -9 during live web conversations and handoffs (issue 6): the action server, a gateway, the Rasa server. After
each: no message lost (every message the person's page counts as sent is in Rasa's conversation exactly once), no
handoff lost or duplicated (one case per person who asked), every conversation goes on at its step (the answers a
conversation nothing happened to gets), and whoever could not be answered at once is told so within 5 seconds.

Processes of their own (tests/faults/rig.py): the stack's keep serving the other tests. Already covered elsewhere:
Rasa killed between two messages and a clean gateway restart (tests/web/test_rasa_down.py), a gateway killed
between a case and its offers (tests/desk/test_desk_restart.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hotline.cases.db import engine_for
from hotline.cases.store import CaseStore
from tests.faults.rig import (
    FALLBACK_SECONDS,
    HANDOFF,
    SERVICE_DOWN,
    WAGES,
    Rig,
    WebPerson,
    assert_in_tracker_once,
    kill_rasa,
    nothing_more,
    paused,
    reference,
    restart_rasa,
    running,
    session_id,
    wait_requests_waiting,
)

pytestmark = pytest.mark.rasa

REF = re.compile(r"GZLA-\d{4}-\d{6}")


@pytest.fixture
def store(faults: Rig) -> Iterator[CaseStore]:
    engine = engine_for(faults.cases_url, pool_size=2)
    yield CaseStore(engine)
    engine.dispose()


def refs(texts: list[str]) -> set[str]:
    return set(REF.findall("\n".join(texts)))


def fallback_in_time(person: WebPerson, gateway: str, text: str) -> None:
    started = time.monotonic()
    answers = person.say(gateway, text)
    assert time.monotonic() - started < FALLBACK_SECONDS, f"{person.session}: no answer within 5 s"
    assert answers == [SERVICE_DOWN], f"{person.session}: {answers}"


def one_case(store: CaseStore, person: WebPerson) -> str:
    """The ref of the person's only case."""
    cases = store.person_cases("web", person.sender)
    assert len(cases) == 1, f"{person.session} asked for a lawyer once and has cases {[c.ref for c in cases]}"
    return cases[0].ref


def test_action_server_killed_mid_conversation(faults: Rig, store: CaseStore) -> None:
    """Five people at five steps of the wages flow and one asking for a lawyer when the action server dies (Rasa
    itself still answers): each gets, at once, the gateway's "saved, will be answered" and the message is kept;
    the action server back, the kept messages are answered in their inbox, in order, and each goes on at its
    step; the handoff is one case."""
    with running(faults.gateway("gw-actions-killed", faults.rasa_a)) as gateway:
        expected = reference(gateway.url, WAGES[:7])
        people = [WebPerson(session_id(f"a{i}")) for i in range(1, 6)]
        for steps, person in enumerate(people, start=1):
            for turn, answer in zip(WAGES[:steps], expected[:steps], strict=True):
                assert person.say(gateway.url, turn) == answer
        asking = WebPerson(session_id("a-lawyer"))
        asking.say(gateway.url, WAGES[0])

        with paused(faults.actions), ThreadPoolExecutor(1) as pool:  # the handoff is at the action server ...
            handoff = pool.submit(asking.post, gateway.url, HANDOFF)
            wait_requests_waiting(faults.action_port, 1)
            faults.actions.kill()  # ... when it dies
            response = handoff.result()
        assert response.status_code == 200, response.text
        asking.sent.append(HANDOFF)
        assert [m["text"] for m in response.json()["messages"]] == [SERVICE_DOWN]
        for steps, person in enumerate(people, start=1):
            fallback_in_time(person, gateway.url, WAGES[steps])
        fallback_in_time(people[0], gateway.url, WAGES[2])  # the first writes again: kept behind the first

        faults.actions.start()
        faults.actions.wait_ready()
        for steps, person in enumerate(people, start=1):
            kept = [steps, 2] if steps == 1 else [steps]
            want = [text for turn in kept for text in expected[turn]]
            assert person.wait_inbox(gateway.url, len(want)) == want, person.session
        answered = asking.wait_inbox(gateway.url, 2)
        assert refs(answered) == {one_case(store, asking)}, answered
        nothing_more(gateway.url, [*people, asking])

        for steps, person in enumerate(people, start=1):  # each goes on where it was
            following = 3 if steps == 1 else steps + 1
            assert person.say(gateway.url, WAGES[following]) == expected[following], person.session
        assert refs(asking.say(gateway.url, HANDOFF)) == {one_case(store, asking)}
    for person in [*people, asking]:
        assert_in_tracker_once(faults.rasa_a.url, person, person.sent)


def test_gateway_killed_during_handoffs_and_with_messages_kept(faults: Rig, store: CaseStore) -> None:
    """A gateway killed (1) right after one person's handoff was answered, while another's handoff and a third
    person's answer to the flow were still on their way (their pages got no answer and send them again, as
    chat.js does), and (2) holding messages it kept while Rasa was down. A new gateway on the same case store:
    one case per person who asked, the kept messages answered by its retry loop when Rasa is back, every
    conversation at its step, nothing twice in a conversation."""
    first = faults.gateway("gw-first", faults.rasa_b)
    w1, w2, w3 = (WebPerson(session_id(f"g{i}")) for i in range(1, 4))
    answered, in_flight = WebPerson(session_id("g-answered")), WebPerson(session_id("g-in-flight"))
    with running(first):
        expected = reference(first.url, WAGES[:6])
        for person, steps in ((w1, 2), (w2, 3), (w3, 1)):
            for turn, answer in zip(WAGES[:steps], expected[:steps], strict=True):
                assert person.say(first.url, turn) == answer
        for person in (answered, in_flight):
            person.say(first.url, WAGES[0])
        [answered_ref] = refs(answered.say(first.url, HANDOFF))

        with paused(faults.actions), ThreadPoolExecutor(2) as pool:
            lost = [pool.submit(in_flight.post, first.url, HANDOFF), pool.submit(w3.post, first.url, WAGES[1])]
            wait_requests_waiting(faults.action_port, 2)  # both at the action server, Rasa waiting for it
            first.kill()
            for future in lost:  # the page: "not sent yet, press Retry"
                with pytest.raises(httpx.HTTPError):
                    future.result()
        faults.actions.wait_ready()  # resumed: it finishes whatever it had been asked
        time.sleep(1.0)

    second = first.restarted("gw-second")
    with running(second):
        [in_flight_ref] = refs(in_flight.say(second.url, HANDOFF))  # the page's Retry
        assert one_case(store, in_flight) == in_flight_ref
        assert refs(answered.say(second.url, HANDOFF)) == {answered_ref}  # asking again: the same case
        assert one_case(store, answered) == answered_ref
        assert w3.say(second.url, WAGES[1]) == expected[1]  # the page's Retry: taken once
        assert w1.say(second.url, WAGES[2]) == expected[2]

        kill_rasa(faults.rasa_b)
        fallback_in_time(w1, second.url, WAGES[3])
        fallback_in_time(w2, second.url, WAGES[3])
        second.kill()  # with two messages kept

    third = second.restarted("gw-third")
    with running(third):
        restart_rasa(faults.rasa_b)
        for person in (w1, w2):
            assert person.wait_inbox(third.url, len(expected[3])) == expected[3], person.session
        nothing_more(third.url, [w1, w2])
        for person in (w1, w2):
            assert person.say(third.url, WAGES[4]) == expected[4], person.session
        assert w3.say(third.url, WAGES[2]) == expected[2]
    for person in (w1, w2, w3, answered, in_flight):
        assert_in_tracker_once(faults.rasa_b.url, person, person.sent)


def test_rasa_killed_during_handoffs(faults: Rig, store: CaseStore) -> None:
    """One person's handoff is at the action server when Rasa is killed, another asks while Rasa is down: both get
    "saved, will be answered" within 5 s; Rasa back, each finds their case number in their inbox, has exactly one
    case, and asking again gives the same number."""
    with running(faults.gateway("gw-rasa-killed", faults.rasa_b)) as gateway:
        in_flight, while_down = WebPerson(session_id("r-in-flight")), WebPerson(session_id("r-down"))
        for person in (in_flight, while_down):
            person.say(gateway.url, WAGES[0])
            person.say(gateway.url, WAGES[1])

        with paused(faults.actions), ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            handoff = pool.submit(in_flight.post, gateway.url, HANDOFF)
            wait_requests_waiting(faults.action_port, 1)
            kill_rasa(faults.rasa_b)
            response = handoff.result()
        assert time.monotonic() - started < FALLBACK_SECONDS
        assert response.status_code == 200, response.text
        assert [m["text"] for m in response.json()["messages"]] == [SERVICE_DOWN]
        in_flight.sent.append(HANDOFF)
        fallback_in_time(while_down, gateway.url, HANDOFF)
        faults.actions.wait_ready()
        time.sleep(1.0)  # the action server finishes what the dead Rasa had asked

        restart_rasa(faults.rasa_b)
        for person in (in_flight, while_down):
            inbox = person.wait_inbox(gateway.url, 2)
            assert refs(inbox) == {one_case(store, person)}, (person.session, inbox)
        nothing_more(gateway.url, [in_flight, while_down])
        for person in (in_flight, while_down):
            assert refs(person.say(gateway.url, HANDOFF)) == {one_case(store, person)}
    for person in (in_flight, while_down):
        assert_in_tracker_once(faults.rasa_b.url, person, person.sent)
