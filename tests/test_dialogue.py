"""What the hotline answers to one message, as a pure function (hotline.dialogue); the flows themselves are in
test_flow_dialogue.py."""

from hotline.dialogue import State, respond
from hotline.nlu import combine


def parse(intent: str, confidence: float = 0.95, ranking: list[tuple[str, float]] | None = None) -> dict[str, object]:
    ranked = ranking or [(intent, confidence)]
    return {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranked],
        "entities": [],
    }


def test_wage_inquiry_starts_the_wages_flow_in_chinese() -> None:
    turn = respond(combine("老板欠我三个月工资", parse("inquiry_wages")), State())
    assert turn.state.topic == "wages" and turn.state.lang == "zh"
    assert turn.state.flow == "wages" and turn.state.step == "employed"
    assert "法律援助" in turn.replies[0].text and [b.title for b in turn.replies[-1].buttons] == ["是", "不是"]


def test_wage_inquiry_in_english_is_answered_in_english() -> None:
    turn = respond(combine("my boss hasn't paid me for two months", parse("inquiry_wages")), State())
    assert turn.state.lang == "en" and turn.state.flow == "wages"
    assert "legal aid" in turn.replies[0].text and turn.replies[-1].text.startswith("Were you working")


def test_safety_rules_override_the_model() -> None:
    # The model thinks it is a greeting; the rules see self-harm: emergency guidance, whatever the model says.
    turn = respond(combine("你好 我不想活了", parse("greet")), State(topic="wages"))
    assert turn.state.urgent and "110" in turn.replies[0].text
    assert turn.state.topic == "wages"  # the inquiry is kept for the lawyer


def test_model_emergency_alone_also_raises_the_flag() -> None:
    turn = respond(combine("救救我", parse("emergency", 0.9)), State())
    assert turn.state.urgent


def test_unsure_emergency_from_the_model_alone_does_not() -> None:
    c = combine("嗯", parse("emergency", 0.4, [("emergency", 0.4), ("affirm", 0.35)]))
    assert not c.urgent


def test_digits_keep_the_conversation_language() -> None:
    turn = respond(combine("15000", parse("inform")), State(lang="en"))
    assert turn.state.lang == "en"


def test_channel_language_wins() -> None:
    turn = respond(combine("你好", parse("greet")), State(), lang_hint="en")
    assert turn.replies[0].text.startswith("Hello")


def test_long_message_with_weak_intent_takes_the_ranked_topic() -> None:
    text = "我在工地干了半年活，包工头一直说年底结账，现在过年了人找不到，电话也不接，我们十几个工友都没拿到钱"
    c = combine(text, parse("inform", 0.4, [("inform", 0.4), ("inquiry_wages", 0.3), ("greet", 0.1)]))
    assert c.topic == "wages"


def test_greeting_offers_topic_buttons_and_start_over_clears_the_topic() -> None:
    turn = respond(combine("hi", parse("greet")), State())
    assert [b.payload for b in turn.replies[0].buttons] == [
        "/inquiry_wages",
        "/inquiry_injury",
        "/inquiry_minors",
        "/inquiry_other",
    ]
    turn = respond(combine("重新开始", parse("start_over")), State(lang="zh", topic="wages"))
    assert turn.state.topic is None


def test_yes_after_a_lawyer_offer_is_a_handoff() -> None:
    turn = respond(combine("好的", parse("affirm")), State(lang="zh", topic="wages", offer="lawyer"))
    assert "律师" in turn.replies[0].text
    assert turn.state.handoff == "requested" and "handoff:requested" in turn.events


def test_danger_to_a_child_is_a_minors_matter_even_when_the_model_only_says_emergency() -> None:
    c = combine("继父性侵我，我好怕", parse("emergency", 0.99, [("emergency", 0.99), ("inquiry_minors", 0.004)]))
    assert c.topic == "minors" and c.urgent


def test_violence_between_adults_is_an_other_matter_and_self_harm_alone_no_topic() -> None:
    assert combine("老公又打了我", parse("emergency", 0.99)).topic == "other"
    assert combine("我不想活了", parse("emergency", 0.99)).topic == "none"


def test_a_button_payload_keeps_the_conversation_language() -> None:
    turn = respond(combine("/inquiry_injury", parse("inquiry_injury", 1.0)), State(lang="zh"))
    assert turn.state.lang == "zh" and "工伤" in turn.replies[0].text and turn.state.flow == "injury"
