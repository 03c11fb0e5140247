"""The web inbox and the kept messages, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from hotline.cases.mailbox import Inbox, KeptMessages
from hotline.cases.models import InboxMessage
from hotline.cases.records import CaseError
from tests.cases.conftest import T0, NewCase


def test_the_inbox_gives_each_message_once_in_order(engine: Engine) -> None:
    inbox = Inbox(engine)
    first = inbox.put("12355", "12355:abc", "hotline", "一位律师已接手", T0)
    second = inbox.put(
        "12355", "12355:abc", "lawyer", "你好", T0 + timedelta(seconds=1), [{"title": "a", "payload": "b"}]
    )
    inbox.put("web", "web:abc", "lawyer", "someone else", T0)  # another channel, another person
    items = inbox.since("12355", "12355:abc", 0)
    assert [(i.id, i.sender, i.text) for i in items] == [
        (first, "hotline", "一位律师已接手"),
        (second, "lawyer", "你好"),
    ]
    assert items[1].buttons == [{"title": "a", "payload": "b"}]
    assert inbox.since("12355", "12355:abc", second) == []
    assert inbox.erase("12355", "12355:abc") == 2 and inbox.since("12355", "12355:abc", 0) == []
    with pytest.raises(CaseError):
        inbox.put("sms", "x", "lawyer", "t", T0)
    with pytest.raises(CaseError):
        inbox.put("web", "x", "bot", "t", T0)


def test_a_message_is_marked_fetched_when_the_page_first_gets_it(engine: Engine) -> None:
    """The retention purge deletes inbox messages fetched long enough ago: the first fetch is what counts."""
    inbox = Inbox(engine)
    first = inbox.put("web", "web:f", "lawyer", "一", T0)
    inbox.since("web", "web:f", 0, at=T0 + timedelta(minutes=1))
    second = inbox.put("web", "web:f", "lawyer", "二", T0 + timedelta(minutes=2))
    inbox.since("web", "web:f", 0, at=T0 + timedelta(minutes=3))  # the page lost its answer and asks again
    with engine.connect() as connection:
        fetched = dict(connection.execute(select(InboxMessage.id, InboxMessage.fetched_at)).tuples().all())
    assert fetched == {first: T0 + timedelta(minutes=1), second: T0 + timedelta(minutes=3)}
    inbox.put("web", "web:f", "lawyer", "三", T0)
    assert [i.text for i in inbox.since("web", "web:f", second)] == ["三"]  # handed out all the same


def test_only_web_persons_get_inbox_messages_for_their_case(engine: Engine, new_case: NewCase) -> None:
    inbox = Inbox(engine)
    web = new_case(channel="web", channel_key="web:s1")
    telegram = new_case(channel="telegram", channel_key="tg:1", reply_address="5550001")
    assert inbox.person_of_case(web.id) == ("web", "web:s1")
    assert inbox.put_for_case(web.id, "lawyer", "请带上工资条", T0) is True
    assert inbox.put_for_case(telegram.id, "lawyer", "x", T0) is False  # Telegram persons are written to directly
    assert [i.text for i in inbox.since("web", "web:s1", 0)] == ["请带上工资条"]


def test_kept_messages_are_answered_once_in_order(engine: Engine) -> None:
    kept = KeptMessages(engine)
    a = kept.keep(message_id="m1", channel="web", conversation_key="web:a", text="一", meta={"lang": "zh"}, at=T0)
    b = kept.keep(message_id="m2", channel="telegram", conversation_key="tg:b", text="二", meta={}, at=T0)
    c = kept.keep(message_id="m3", channel="web", conversation_key="web:a", text="三", meta={}, at=T0)
    assert [k.id for k in kept.pending()] == [a, b, c]
    assert [k.text for k in kept.pending("web:a")] == ["一", "三"] and kept.pending("web:a")[0].meta == {"lang": "zh"}
    kept.failed(a)
    assert kept.pending()[0].attempts == 1
    assert kept.answered(a, T0) is True and kept.answered(a, T0) is False  # a second gateway loses the race
    assert [k.id for k in kept.pending()] == [b, c]
    assert kept.erase("web:a") == 2 and [k.id for k in kept.pending()] == [b]


def test_one_gateway_at_a_time_answers_a_kept_message(engine: Engine) -> None:
    kept = KeptMessages(engine)
    a = kept.keep(message_id="m1", channel="web", conversation_key="web:a", text="一", meta={}, at=T0)
    assert kept.claim(a, T0) is True
    assert kept.claim(a, T0 + timedelta(seconds=5)) is False  # held by the first gateway
    kept.failed(a)  # Rasa still down: let go
    assert kept.claim(a, T0 + timedelta(seconds=6)) is True
    assert kept.claim(a, T0 + timedelta(minutes=5)) is True  # the lease ran out (that gateway died)
    kept.answered(a, T0 + timedelta(minutes=5))
    assert kept.claim(a, T0 + timedelta(hours=1)) is False
