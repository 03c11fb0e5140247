"""The guided flows through hotline.dialogue, message by message, with the model's parse given by hand (the
same conversations run through the real Rasa stack in test_conversations.py). Dates are relative to TODAY."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hotline.conversation import State
from hotline.dialogue import Turn, respond
from hotline.entities import _shift_months
from hotline.nlu import combine

TODAY = date(2026, 12, 1)


class Chat:
    """One conversation; every turn's state goes through the slot's JSON form, as it does in Rasa."""

    def __init__(self, lang: str | None = None) -> None:
        self.state = State()
        self.lang = lang
        self.turns: list[Turn] = []

    def say(self, text: str, intent: str = "inform", entities: list[dict[str, Any]] | None = None) -> str:
        parse = {
            "intent": {"name": intent, "confidence": 0.9},
            "intent_ranking": [{"name": intent, "confidence": 0.9}],
            "entities": entities or [],
        }
        turn = respond(combine(text, parse, TODAY), self.state, lang_hint=self.lang, today=TODAY)  # type: ignore[arg-type]
        self.turns.append(turn)
        self.state = State.from_slot(json.loads(json.dumps(turn.state.to_slot(), ensure_ascii=False)))
        return "\n".join(r.text for r in turn.replies)

    @property
    def events(self) -> list[str]:
        return self.turns[-1].events


def entity(name: str, value: str) -> list[dict[str, Any]]:
    return [{"entity": name, "value": value, "start": 0, "end": len(value)}]


def wages_until_still_employed(chat: Chat) -> None:
    chat.say("工地老板欠我们工资", "inquiry_wages", entity("employer_type", "工地"))
    chat.say("是的", "affirm")  # employed
    chat.say("是", "affirm")  # migrant worker
    chat.say("是包工头招的", "affirm")  # through a labour boss
    chat.say("番禺", "inform", entity("district", "番禺"))
    chat.say("15000")


def test_done_when_1_construction_wages_near_the_limitation() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    assert chat.say("不在了，已经走了", "deny").startswith("您是哪天离开")
    left = _shift_months(TODAY, 11) - timedelta(days=27)
    chat.say(f"{left.month}月{left.day}号走的")
    reply = chat.say("有聊天记录和工友", "affirm")
    deadline = left.replace(year=left.year + 1)
    assert "不用审查家庭经济状况" in reply and "第42条第3项" in reply
    assert f"{deadline.year}年{deadline.month}月{deadline.day}日" in reply and "第44条" in reply
    assert "第30条" in reply and "番禺区" in reply and "7日内" in reply
    assert chat.state.urgent and chat.state.outcome and chat.state.outcome["urgent"]
    assert chat.state.offer == "lawyer" and "转值班律师" in [b.title for b in chat.turns[-1].replies[-1].buttons]
    chat.say("好的", "affirm")
    assert chat.state.handoff == "urgent" and "handoff:urgent" in chat.events


def test_done_when_2_commuting_injury_in_english() -> None:
    chat = Chat()
    first = chat.say("I got hurt on my way to work", "inquiry_injury")
    assert "mainly at fault" in first  # "on my way to work" already answered how it happened
    chat.say("no, it was not my fault", "deny")
    chat.say("two months ago", "inform", entity("date", "two months ago"))
    chat.say("they did not apply", "deny")
    chat.say("not sure")
    chat.say("yes", "affirm")
    reply = chat.say("Baiyun", "inform", entity("district", "Baiyun"))
    assert "Art. 14(6)" in reply and "Legal Aid Law Art. 42(3)" in reply
    assert "your last day is about 1 October 2027" in reply
    assert chat.state.outcome and chat.state.outcome["result"] == "exempt"
    assert "Talk to a lawyer" in [b.title for b in chat.turns[-1].replies[-1].buttons]


def test_done_when_3_emergency_mid_flow_comes_first() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    reply = chat.say("我不想活了", "emergency")
    assert reply.startswith("你的安全最重要") and "110" in reply
    assert chat.state.handoff == "urgent" and "handoff:urgent" in chat.events
    assert chat.state.flow == "wages" and chat.state.step == "still_employed"  # the flow waits for them
    assert chat.say("还在干", "affirm").startswith("您手上有没有证据")


def test_done_when_4_traffic_accident_means_test() -> None:
    chat = Chat()
    first = chat.say("我走路被车撞了，司机不赔医药费", "inquiry_other")
    assert "几口人" in first  # the matter (a traffic accident) is already known
    chat.say("3口人")
    chat.say("一共3万")
    chat.say("没有", "deny")
    reply = chat.say("没有", "deny")
    assert "第31条第7项" in reply and "可能不符合" in reply
    assert "10,000" in reply and "3,354" in reply and "12348" in reply and "第44条" in reply
    assert "第41条" in reply and "第64条" in reply


def test_done_when_5_a_child_hit_at_home() -> None:
    chat = Chat()
    reply = chat.say("我14岁，爸爸经常打我", "inquiry_minors", entity("age", "14岁"))
    assert reply.startswith("你的安全最重要") and "110" in reply
    assert "不看家里有没有钱" in reply and "第32条第4项" in reply and "第104条" in reply
    assert "经济困难条件" not in reply and "几口人" not in reply  # no means test
    assert chat.state.handoff == "urgent" and chat.state.outcome and chat.state.outcome["minors_lawyer"]


def test_why_do_you_ask_explains_and_asks_again() -> None:
    chat = Chat()
    chat.say("老板欠我工资", "inquiry_wages")
    reply = chat.say("为什么要问这个？", "ask_why")
    assert "劳动关系" in reply and reply.endswith("（没签合同也算）")
    assert chat.state.step == "employed"


def test_correcting_an_earlier_answer() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    reply = chat.say("刚才说错了，是12000")
    assert "改过来" in reply and chat.state.facts["amount"] == 12000
    assert chat.state.step == "still_employed"
    back = chat.say("返回上一步")
    assert "返回" not in back and chat.state.step == "amount"


def test_start_over_clears_everything() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    chat.say("重新开始", "start_over")
    assert chat.state.flow is None and chat.state.facts == {}


def test_switching_topic_mid_flow_keeps_what_was_said() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    reply = chat.say("其实我上个月在工地摔伤了腿", "inquiry_injury")
    assert "改看这个问题" in reply and chat.state.flow == "injury"
    assert chat.state.facts["district"] == "番禺区" and chat.state.facts["migrant"] is True


def test_two_answers_not_understood_offer_a_lawyer() -> None:
    chat = Chat()
    chat.say("老板欠我工资", "inquiry_wages")
    chat.say("是", "affirm")
    chat.say("是", "affirm")
    chat.say("工厂")
    first = chat.say("啊啊啊")
    assert "没看懂" in first and "番禺" in first  # asked again with a hint
    second = chat.say("哦哦哦")
    assert "转值班律师" in second or "律师" in second
    assert "/request_human" in [b.payload for b in chat.turns[-1].replies[0].buttons]
    again = chat.say("/affirm", "affirm")  # "keep answering"
    assert "哪个区" in again


def test_skip_a_question() -> None:
    chat = Chat()
    chat.say("老板欠我工资", "inquiry_wages")
    reply = chat.say("跳过")
    assert "跳过" in reply and chat.state.facts["employed"] is None and chat.state.step == "migrant"


def test_leaving_and_coming_back_continues_where_it_stopped() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    chat.say("先这样，拜拜", "goodbye")
    reply = chat.say("你好", "greet")
    assert "接着上次" in reply and reply.endswith("您现在还在那里干吗？")


def test_asking_for_a_lawyer_at_any_step() -> None:
    chat = Chat()
    wages_until_still_employed(chat)
    chat.say("我要找律师", "request_human")
    assert chat.state.handoff == "requested" and chat.state.facts["amount"] == 15000


def test_non_migrant_wages_go_through_the_means_test() -> None:
    chat = Chat()
    chat.say("公司欠我两个月工资", "inquiry_wages")
    chat.say("是", "affirm")
    chat.say("不是", "deny")  # not a migrant worker
    chat.say("饭店")
    chat.say("天河", "inform", entity("district", "天河"))
    chat.say("8000")
    chat.say("还在", "affirm")
    reply = chat.say("有", "affirm")
    assert "几口人" in reply and chat.state.flow == "means_test" and chat.state.facts["matter"] == "wages"


def test_a_young_persons_support_question_asks_who_is_writing() -> None:
    chat = Chat()
    chat.say("我爸妈离婚了，爸爸不给抚养费", "inquiry_minors")
    chat.say("15", "inform", entity("age", "15"))
    reply = chat.say("我自己")
    assert "第1085条" in reply and "第42条第1项" in reply and "第104条" in reply


def test_an_adult_is_sent_to_the_general_rules() -> None:
    chat = Chat()
    chat.say("我被学校欺负了", "inquiry_minors")
    reply = chat.say("20")
    assert "满18岁" in reply and chat.state.flow == "means_test"


def test_correcting_an_amount_given_in_the_first_message() -> None:
    chat = Chat()
    chat.say("包工头欠我八千块钱跑了", "inquiry_wages", entity("money", "八千块"))
    assert chat.state.facts["amount"] == 8000
    chat.say("是", "affirm")
    reply = chat.say("说错了，应该是9000")
    assert "改过来" in reply and chat.state.facts["amount"] == 9000 and chat.state.step == "migrant"


def test_pressing_the_same_topic_button_again_resumes() -> None:
    chat = Chat()
    chat.say("老板欠我工资", "inquiry_wages")
    chat.say("是", "affirm")
    reply = chat.say("/inquiry_wages", "inquiry_wages")
    assert "接着上次" in reply and chat.state.step == "migrant"
