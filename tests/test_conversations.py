"""The issue's conversations, typed as a person would, through the real stack: the gateway's web chat API, the
Rasa server with the model trained from our data, and the action server running the flows. Dates are relative
to the day the test runs."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from hotline.entities import _shift_months
from hotline.outcome import format_date
from tests.conftest import Stack, post_chat

pytestmark = pytest.mark.rasa


class Person:
    def __init__(self, stack: Stack, lang: str | None = None) -> None:
        self.stack = stack
        self.session = "t-" + uuid.uuid4().hex[:16]
        self.lang = lang
        self.last: list[dict[str, Any]] = []

    def say(self, text: str) -> str:
        body = {"session": self.session, "text": text} | ({"lang": self.lang} if self.lang else {})
        response = post_chat(self.stack.gateway_url, body)
        assert response.status_code == 200, response.text
        self.last = response.json()["messages"]
        return "\n".join(m["text"] for m in self.last)

    def buttons(self) -> list[str]:
        return [b["title"] for m in self.last for b in m.get("buttons") or []]


def test_1_construction_wages_urgent_near_the_limitation(stack: Stack) -> None:
    person = Person(stack)
    assert "干活" in person.say("工地老板欠我们工资")
    person.say("是的")
    person.say("对")
    person.say("嗯 是包工头叫我去的")
    person.say("番禺")
    assert "还在那里干" in person.say("15000")
    assert "哪天离开" in person.say("没有 早就不干了")
    left = _shift_months(date.today(), 11) - timedelta(days=27)
    person.say(f"{left.year}年{left.month}月{left.day}号")
    reply = person.say("有微信聊天记录")
    last_day = (
        left.replace(year=left.year + 1) if not (left.month == 2 and left.day == 29) else date(left.year + 1, 2, 28)
    )
    assert "不用审查家庭经济状况" in reply and "第42条第3项" in reply
    assert format_date(last_day.isoformat(), "zh") in reply and "第44条" in reply and "紧急" in reply
    assert "转值班律师" in person.buttons()


def test_2_commuting_injury_in_english(stack: Stack) -> None:
    person = Person(stack)
    assert "mainly at fault" in person.say("I got hurt on my way to work")
    person.say("no it wasn't my fault")
    person.say("two months ago")
    person.say("they didn't apply")
    person.say("don't know")
    person.say("yes")
    reply = person.say("Tianhe")
    deadline = _shift_months(date.today(), 2)
    deadline = (
        deadline.replace(year=deadline.year + 1)
        if (deadline.month, deadline.day) != (2, 29)
        else date(deadline.year + 1, 2, 28)
    )
    assert "Art. 14(6)" in reply and "Legal Aid Law Art. 42(3)" in reply
    assert format_date(deadline.isoformat(), "en") in reply
    assert "Talk to a lawyer" in person.buttons()


def test_3_emergency_mid_wages_flow(stack: Stack) -> None:
    person = Person(stack)
    person.say("老板欠我工资")
    person.say("是")
    reply = person.say("我不想活了")
    assert reply.startswith("你的安全最重要") and "110" in reply
    assert "等你安全了" in reply


def test_4_traffic_accident_likely_not_on_income(stack: Stack) -> None:
    person = Person(stack)
    first = person.say("我走路被车撞了，司机不赔医药费")
    assert "几口人" in first, first
    person.say("3个人")
    person.say("全家一个月3万左右")
    person.say("没有")
    reply = person.say("没有")
    assert "第31条第7项" in reply and "可能不符合" in reply and "3,354" in reply and "12348" in reply


def test_5_a_child_hit_by_a_parent(stack: Stack) -> None:
    person = Person(stack)
    reply = person.say("我14岁，爸爸经常打我")
    assert reply.startswith("你的安全最重要") and "110" in reply
    assert "第32条第4项" in reply and "第104条" in reply and "几口人" not in reply
    assert "转值班律师" in person.buttons()


def test_repairs_why_correct_restart_switch_in_chinese(stack: Stack) -> None:
    person = Person(stack)
    person.say("包工头欠我八千块钱跑了")
    assert "劳动关系" in person.say("你问这个干嘛")
    person.say("是")
    person.say("是")
    corrected = person.say("说错了，应该是9000")
    assert "改过来" in corrected
    switched = person.say("另外我上个月在工地上从架子上摔下来把腿摔断了")
    assert "改看这个问题" in switched and "怎么受伤" not in switched  # "at work" already known from the words
    restarted = person.say("重新开始")
    assert "重新开始" in restarted


def test_repairs_in_english_and_lawyer_on_request(stack: Stack) -> None:
    person = Person(stack)
    person.say("my boss owes me 3 months of wages")
    assert "working relationship" in person.say("why do you ask?")
    person.say("yes")
    reply = person.say("I want to talk to a lawyer")
    assert "lawyer" in reply.lower()


def test_coming_back_later_continues_in_the_same_chat(stack: Stack) -> None:
    person = Person(stack)
    person.say("老板欠我工资")
    person.say("是")
    person.say("拜拜")
    assert "农村" in person.say("你好")  # the migrant-worker question again, where it stopped


def test_a_handoff_becomes_a_case_with_a_reference_number(stack: Stack) -> None:
    from hotline.cases.db import engine_for
    from hotline.cases.store import CaseStore

    person = Person(stack)
    first = person.say("我14岁，爸爸经常打我")  # urgent: the case is opened in this very turn
    ref = re.search(r"GZLA-\d{4}-\d{6}", first)
    assert ref is not None, first
    cases = {c.ref: c for c in CaseStore(engine_for(stack.settings.effective_database_url)).list_cases()}
    case = cases[ref.group(0)]
    assert case.topic == "minors" and case.urgent and case.lang == "zh" and case.channel == "web"
    assert case.eligibility and case.eligibility["minors_lawyer"] and case.facts["minor_matter"] == "violence"
    again = person.say("/request_human")
    assert ref.group(0) in again  # the same case, not a second one
    after = CaseStore(engine_for(stack.settings.effective_database_url)).list_cases()
    assert len([c for c in after if c.ref == ref.group(0)]) == 1 and len(after) == len(cases)


def test_after_a_lawyer_closes_the_case_a_new_handoff_opens_a_new_one(stack: Stack) -> None:
    from datetime import UTC, datetime

    from hotline.cases.db import engine_for
    from hotline.cases.store import CaseStore

    store = CaseStore(engine_for(stack.settings.effective_database_url))
    person = Person(stack)
    first = re.search(r"GZLA-\d{4}-\d{6}", person.say("我想找律师"))
    assert first is not None
    case = store.get_case_by_ref(first.group(0))
    assert case is not None
    lawyer = store.add_lawyer(name="Closer", languages=("zh", "en"), topics=("wages", "injury", "minors", "other"))
    now = datetime.now(UTC)
    assert store.claim(case.id, lawyer.id, now) and store.close(case.id, lawyer.id, "advice", None, now)
    second = re.search(r"GZLA-\d{4}-\d{6}", person.say("还有别的事，我要找律师"))
    assert second is not None and second.group(0) != first.group(0)


def test_every_inquiry_is_counted_for_the_office_figures(stack: Stack) -> None:
    from datetime import UTC, datetime

    from hotline.cases.db import engine_for
    from hotline.cases.store import CaseStore

    store = CaseStore(engine_for(stack.settings.effective_database_url))
    all_time = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    before = store.consultations_between(*all_time)
    person = Person(stack)
    person.say("老板欠我工资")
    person.say("是")
    person.say("老板欠我工资")  # the same inquiry again in the same conversation: counted once
    after = store.consultations_between(*all_time)
    assert after - before == Counter({("wages", "web"): 1})
