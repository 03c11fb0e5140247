"""The person's side of the Telegram channel through the real application and the fake Bot API, with the fake's
stand-in for Rasa (it echoes `bot: <text>` and records what reached it): consent before anything goes to the
dialogue, declining, /help, the command menu, the slow-down, every kind of message that is not text, group chats,
and the channel without a case store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.persons import conversation_id
from bot.ratelimit import RateLimiter
from hotline import messages
from hotline.cases.store import CaseStore
from tests.desk.harness import WANG, add_desk_lawyers
from tests.telegram.harness import telegram, turn

PERSON = 7_200_001


def agree(store: CaseStore, person: int, lang: str = "zh") -> None:
    store.record_consent("telegram", conversation_id(person), lang, datetime.now(UTC))


async def test_before_consent_nothing_reaches_the_dialogue(sqlite_store: CaseStore) -> None:
    async with telegram(sqlite_store) as d:
        fake = d.fake
        [notice] = await turn(d, fake.text(PERSON, "/start"), PERSON)
        assert notice.text == messages.text("telegram.notice", "zh")
        assert notice.buttons == [("同意", "consent:yes"), ("不同意", "consent:no"), ("English", "lang:en")]
        [again] = await turn(d, fake.text(PERSON, "老板欠我三个月工资"), PERSON)
        assert again.text.startswith(messages.text("telegram.consent_first", "zh"))
        assert again.text.endswith(messages.text("telegram.notice", "zh")) and again.buttons == notice.buttons
        await d.send(fake.press(PERSON, "/inquiry_wages"))  # an old dialogue button: the notice again, too
        assert fake.rasa_requests == [] and sqlite_store.person("telegram", conversation_id(PERSON)) is None

        [agreed] = await turn(d, fake.press(PERSON, "consent:yes", on=notice), PERSON)
        assert agreed.text == messages.text("telegram.agreed", "zh")
        assert fake.to(PERSON, "editMessageReplyMarkup")[-1].message_id == notice.message_id  # buttons gone
        person = sqlite_store.person("telegram", conversation_id(PERSON))
        assert person is not None and person.consented and person.lang == "zh"

        [answer] = await turn(d, fake.text(PERSON, "老板欠我三个月工资"), PERSON)
        assert answer.text == "bot: 老板欠我三个月工资"
        [request] = fake.rasa_requests
        assert request["sender"] == conversation_id(PERSON)
        assert len(request["metadata"].pop("message_id")) == 32  # for the tracker lookup of kept messages
        assert request["metadata"] == {
            "channel": "telegram",
            "tg_lang": "zh",
            "reply_address": str(PERSON),
            "consent": True,
            "lang": "zh",
        }
        [welcome] = await turn(d, fake.text(PERSON, "/start"), PERSON)  # agreed: the dialogue's welcome
        assert welcome.text == "bot: /greet"


async def test_declining_keeps_nothing_and_says_how_to_get_help(sqlite_store: CaseStore) -> None:
    async with telegram(sqlite_store) as d:
        fake = d.fake
        [notice] = await turn(d, fake.text(PERSON, "/start", language_code="en"), PERSON)
        assert notice.text == messages.text("telegram.notice", "en")
        [declined] = await turn(d, fake.press(PERSON, "consent:no", on=notice, language_code="en"), PERSON)
        assert declined.text == messages.text("telegram.declined", "en")
        assert "12348" in declined.text and "110" in declined.text and "/start" in declined.text
        assert sqlite_store.person("telegram", conversation_id(PERSON)) is None and fake.rasa_requests == []


async def test_the_language_can_be_chosen_before_agreeing(sqlite_store: CaseStore) -> None:
    async with telegram(sqlite_store) as d:
        fake = d.fake
        [notice] = await turn(d, fake.text(PERSON, "/start", language_code="en"), PERSON)
        chosen, notice_zh = await turn(d, fake.press(PERSON, "lang:zh", on=notice, language_code="en"), PERSON)
        assert chosen.text == messages.text("telegram.lang_set", "zh")
        assert notice_zh.text == messages.text("telegram.notice", "zh")
        assert sqlite_store.person("telegram", conversation_id(PERSON)) is None  # nothing stored before consent
        await d.send(fake.press(PERSON, "consent:yes", on=notice_zh, language_code="en"))
        person = sqlite_store.person("telegram", conversation_id(PERSON))
        assert person is not None and person.lang == "zh"

        [choose] = await turn(d, fake.text(PERSON, "/lang", language_code="en"), PERSON)
        assert choose.buttons == [("中文", "lang:zh"), ("English", "lang:en")]
        [done] = await turn(d, fake.press(PERSON, "lang:en", on=choose), PERSON)
        assert done.text == messages.text("telegram.lang_set", "en")
        await d.send(fake.text(PERSON, "hello"))
        assert fake.rasa_requests[-1]["metadata"]["lang"] == "en"
        [help_text] = await turn(d, fake.text(PERSON, "/help"), PERSON)
        assert help_text.text == messages.text("telegram.help", "en")


async def test_help_and_the_command_menu(sqlite_store: CaseStore) -> None:
    async with telegram(sqlite_store) as d:
        fake = d.fake
        [help_text] = await turn(d, fake.text(PERSON, "/help"), PERSON)  # no consent needed for help
        assert help_text.text == messages.text("telegram.help", "zh")
        for command in ("/lang", "/restart", "/lawyer", "/status", "/delete", "12348", "110"):
            assert command in help_text.text
        assert set(fake.commands) == {"", "zh"}
        menu = ["start", "help", "lang", "restart", "lawyer", "status", "delete"]
        assert [c["command"] for c in fake.commands[""]] == [c["command"] for c in fake.commands["zh"]] == menu
        assert fake.commands["zh"][-1] == {"command": "delete", "description": "删除关于我的信息"}
        assert fake.commands[""][-1] == {"command": "delete", "description": "Erase what you hold about me"}


async def test_lawyers_need_no_consent_and_get_the_desk_help(sqlite_store: CaseStore) -> None:
    add_desk_lawyers(sqlite_store)
    async with telegram(sqlite_store) as d:
        fake = d.fake
        for command in ("/start", "/lang", "/delete"):
            [answer] = await turn(d, fake.text(WANG, command), WANG)
            assert answer.text == messages.text("desk.help", "zh")
        await d.send(fake.press(WANG, "/inquiry_wages"))  # an old dialogue button: goes through without consent
        assert fake.rasa_requests[-1]["message"] == "/inquiry_wages"


async def test_too_fast_is_slowed_down_in_order_never_dropped(sqlite_store: CaseStore) -> None:
    agree(sqlite_store, PERSON)
    # Then one message every 0.1 s. The limiter's clock stands still (the test's timing does not depend on how busy
    # the machine is): each message past the burst waits 0.1 s longer than the one before, in real time.
    limiter = RateLimiter(burst=2, per_minute=600, clock=lambda: 0.0)
    async with telegram(sqlite_store, rate_limit=limiter) as d:
        fake = d.fake
        await d.send(*[fake.text(PERSON, f"第{n}条") for n in range(1, 7)])
        assert fake.texts(PERSON) == [
            "bot: 第1条",
            "bot: 第2条",
            messages.text("telegram.slow_down", "zh"),
            *[f"bot: 第{n}条" for n in range(3, 7)],
        ]
        await d.send(fake.text(PERSON, "第7条"))  # still the same stretch: no second notice
        assert fake.texts(PERSON)[-1] == "bot: 第7条"
        assert fake.texts(PERSON).count(messages.text("telegram.slow_down", "zh")) == 1
        assert [r["message"] for r in fake.rasa_requests] == [f"第{n}条" for n in range(1, 8)]


async def test_every_kind_of_non_text_gets_a_clear_answer(sqlite_store: CaseStore) -> None:
    file = {"file_id": "f1", "file_unique_id": "u1"}
    picture = {**file, "width": 90, "height": 90}
    kinds: dict[str, dict[str, Any]] = {
        "voice": {"voice": {**file, "duration": 3}},
        "photo": {"photo": [picture]},
        "sticker": {"sticker": {**picture, "is_animated": False, "is_video": False, "type": "regular"}},
        "document": {"document": {**file, "file_name": "合同.pdf"}},
        "location": {"location": {"latitude": 23.0, "longitude": 113.3}},
        "video": {"video": {**picture, "duration": 5}},
        "contact": {"contact": {"phone_number": "13800138000", "first_name": "Li"}},
        "dice": {"dice": {"emoji": "🎲", "value": 3}},
    }
    expected = {
        "voice": "telegram.non_text.voice",
        "photo": "telegram.non_text.photo",
        "sticker": "telegram.non_text.sticker",
        "document": "telegram.non_text.photo",
        "location": "telegram.non_text.location",
        "video": "telegram.non_text.photo",
        "contact": "telegram.non_text.contact",
        "dice": "non_text",
    }
    async with telegram(sqlite_store) as d:
        fake = d.fake
        for kind, content in kinds.items():
            [answer] = await turn(d, fake.message(PERSON, **content), PERSON)
            assert answer.text == messages.text(expected[kind], "zh"), kind
        [english] = await turn(d, fake.message(PERSON, language_code="en", **kinds["voice"]), PERSON)
        assert english.text == messages.text("telegram.non_text.voice", "en")
        assert fake.rasa_requests == []
        assert sqlite_store.person("telegram", conversation_id(PERSON)) is None  # the contact was not kept either


async def test_a_photo_while_a_lawyer_has_the_case_says_evidence_goes_another_way(sqlite_store: CaseStore) -> None:
    lawyers = add_desk_lawyers(sqlite_store)
    case = sqlite_store.create_case(
        channel="telegram",
        channel_key=conversation_id(PERSON),
        reply_address=str(PERSON),
        lang="zh",
        topic="wages",
        facts={},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="老板不给钱",
    )
    assert sqlite_store.claim(case.id, lawyers[WANG].id, datetime.now(UTC))
    async with telegram(sqlite_store) as d:
        fake = d.fake
        photo = [{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9}]
        [answer] = await turn(d, fake.message(PERSON, photo=photo), PERSON)
        assert answer.text == messages.text("telegram.non_text.evidence_to_lawyer", "zh", ref=case.ref)
        assert fake.texts(WANG) == []  # nothing relayed: the desk passes text only
        [lawyer] = await turn(d, fake.text(PERSON, "/lawyer"), PERSON)  # they have one already
        assert lawyer.text == messages.text("lawyer_has_case", "zh", ref=case.ref)
        for command in ("/restart", "/start"):
            [answer] = await turn(d, fake.text(PERSON, command), PERSON)
            assert answer.text == messages.text("lawyer_has_case", "zh", ref=case.ref)
        assert fake.rasa_requests == [] and fake.texts(WANG) == []


async def test_a_group_chat_is_told_the_bot_works_in_private_only(sqlite_store: CaseStore) -> None:
    async with telegram(sqlite_store) as d:
        fake = d.fake
        for text in ("老板欠我工资", "/start"):
            [answer] = await turn(d, fake.group_text(PERSON, -100500, text), -100500)
            assert answer.text == messages.text("group_chat", "zh")
        assert fake.rasa_requests == [] and fake.texts(PERSON) == []


async def test_without_a_case_store_there_is_no_gate_and_the_language_is_remembered() -> None:
    async with telegram(None) as d:
        fake = d.fake
        [answer] = await turn(d, fake.text(PERSON, "老板欠我工资"), PERSON)
        assert answer.text == "bot: 老板欠我工资"
        assert "consent" not in fake.rasa_requests[-1]["metadata"]
        [choose] = await turn(d, fake.text(PERSON, "/lang"), PERSON)
        await d.send(fake.press(PERSON, "lang:en", on=choose))
        await d.send(fake.text(PERSON, "hello"))
        assert fake.rasa_requests[-1]["metadata"]["lang"] == "en"
        [start] = await turn(d, fake.text(PERSON, "/start"), PERSON)
        assert start.text == "bot: /greet"
