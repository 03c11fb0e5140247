"""The desk beyond the main loop, through the real application and the fake Bot API: a lawyer with several cases
(/to, reply-to), Decline, /release and the person's notices, the queue notice with the next shift, /status, a web
chat case (no reply address), old buttons pressed while paused, and commands with bad arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import packet
from bot.telegram import conversation_id
from hotline import messages
from hotline.cases.records import CaseRecord
from hotline.cases.store import CaseStore
from tests.desk.harness import BOSS, CHEN, PERSON, WANG, add_desk_lawyers, desk

OTHER_PERSON = 5550002


def wages_case(store: CaseStore, person: int, *, lang: str = "zh", words: str = "老板不给钱") -> CaseRecord:
    return store.create_case(
        channel="telegram",
        channel_key=conversation_id(person),
        reply_address=str(person),
        lang=lang,
        topic="wages",
        facts={"amount": 5000},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt=words,
    )


async def test_a_lawyer_with_two_cases_chooses_by_reply_or_by_ref(store: CaseStore) -> None:
    add_desk_lawyers(store)
    first, second = wages_case(store, PERSON), wages_case(store, OTHER_PERSON, lang="en", words="boss owes me")
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        await d.send(fake.press(WANG, f"claim:{first.id}", on=d.offer_to(WANG, first.ref)))
        await d.send(fake.press(WANG, f"claim:{second.id}"))  # an English case: not offered to him, taken anyway
        await d.tick()
        soon = messages.text("person_notice.when_soon", "en")  # Wang and Chen are on duty, escalation reaches them
        assert fake.texts(OTHER_PERSON) == [
            messages.text("person_notice.queued", "en", ref=second.ref, when=soon),
            messages.text("person_notice.claimed", "en", ref=second.ref),
        ]

        await d.send(fake.text(WANG, "hello?"))  # which one? neither: they are told how to choose
        assert fake.texts(WANG)[-1] == messages.text("desk.several_cases", "zh", refs=f"{first.ref}, {second.ref}")
        await d.send(fake.text(OTHER_PERSON, "are you there?"))
        relayed = fake.to(WANG, "sendMessage")[-1]
        assert relayed.text == f"【{second.ref} 当事人】are you there?"
        await d.send(fake.text(WANG, "Yes, I am here.", reply_to=relayed))
        assert fake.texts(OTHER_PERSON)[-1] == "Lawyer: Yes, I am here."
        await d.send(fake.text(WANG, f"/to {first.ref.lower()} 您好，\n我是值班律师。"))
        assert fake.texts(PERSON)[-1] == "律师：您好，\n我是值班律师。"
        await d.send(fake.text(WANG, "/to"))
        assert fake.texts(WANG)[-1] == messages.text("desk.to_usage", "zh")
        await d.send(fake.text(WANG, "/mycases"))
        assert fake.texts(WANG)[-1].splitlines()[1:] == [packet.case_line(first, "zh"), packet.case_line(second, "zh")]
        assert [m.text for m in store.messages(second.id)] == ["are you there?", "Yes, I am here."]


async def test_decline_release_and_what_the_person_is_told(store: CaseStore) -> None:
    lawyers = add_desk_lawyers(store)
    store.add_lawyer(name="Zhou", telegram_user_id="9104", topics=["wages"])  # registered, not on duty
    case = wages_case(store, PERSON)
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        offer = d.offer_to(WANG, case.ref)
        await d.send(fake.press(WANG, f"decline:{case.id}", on=offer))
        assert fake.texts(WANG, "editMessageText") == [messages.text("desk.declined", "zh", ref=case.ref)]
        assert [e.kind for e in store.events(case.id)] == ["created", "declined"]

        # Zhou is not on duty but may take it from the queue: Accept under /queue sends the packet first.
        await d.send(fake.text(9104, "/queue"))
        queue = fake.to(9104, "sendMessage")[-1]
        assert packet.case_line(case, "zh") in queue.text and queue.buttons == [
            (f"接手 {case.ref}", f"claim:{case.id}")
        ]
        await d.send(fake.press(9104, f"claim:{case.id}", on=queue))
        assert fake.texts(9104)[-2:] == [packet.offer_packet(case), messages.text("desk.accepted", "zh", ref=case.ref)]
        await d.send(fake.press(9104, f"claim:{case.id}", on=queue))  # pressed twice
        assert fake.to(9104, "answerCallbackQuery")[-1].text == messages.text("desk.already_yours", "zh", ref=case.ref)

        await d.send(fake.text(9104, f"/release {case.ref}"))
        assert fake.texts(9104)[-1] == messages.text("desk.released", "zh", ref=case.ref)
        await d.send(fake.text(9104, f"/release {case.ref}"))
        assert fake.texts(9104)[-1] == messages.text("desk.release_refused", "zh", ref=case.ref)
        await d.tick()  # offered afresh (Wang again: he declined, but the offer list starts over) and notices
        assert fake.texts(PERSON) == [
            messages.text("person_notice.claimed", "zh", ref=case.ref),
            messages.text("person_notice.released", "zh", ref=case.ref),
        ]
        await d.send(fake.text(PERSON, "还有人吗"))  # released: the bot answers again
        assert fake.texts(PERSON)[-1] == "bot: 还有人吗"

        # The supervisor closes it without an amount; an amount on a case of another topic is refused elsewhere.
        await d.send(fake.text(BOSS, f"/close {case.ref} referred"))
        assert fake.texts(BOSS)[-1] == messages.text("desk.closed", "zh", ref=case.ref)
        closed = store.get_case(case.id)
        assert closed is not None and (closed.status, closed.close_outcome) == ("closed", "referred")
        assert lawyers[BOSS].supervisor


async def test_close_checks_its_arguments(store: CaseStore) -> None:
    add_desk_lawyers(store)
    wages = wages_case(store, PERSON)
    minors = store.create_case(
        channel="telegram",
        channel_key=conversation_id(OTHER_PERSON),
        lang="zh",
        topic="minors",
        facts={},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="",
    )
    async with desk(store) as d:
        fake = d.fake
        await d.send(fake.press(WANG, f"claim:{wages.id}"), fake.press(CHEN, f"claim:{minors.id}"))
        for command, answer in (
            ("/close", messages.text("desk.close_usage", "zh")),
            (f"/close {wages.ref} won", messages.text("desk.close_usage", "zh")),
            (f"/close {wages.ref} advice lots", messages.text("desk.bad_amount", "zh", amount="lots")),
            (f"/close {wages.ref} advice -5", messages.text("desk.bad_amount", "zh", amount="-5")),
            (f"/close {wages.ref} advice 1.005", messages.text("desk.bad_amount", "zh", amount="1.005")),
            ("/close GZLA-2026-999999 advice", messages.text("desk.unknown_case", "zh")),
        ):
            await d.send(fake.text(WANG, command))
            assert fake.texts(WANG)[-1] == answer, command
        await d.send(fake.text(CHEN, f"/close {minors.ref} advice 300"))
        assert fake.texts(CHEN)[-1] == messages.text("desk.amount_not_allowed", "zh", ref=minors.ref)
        await d.send(fake.text(CHEN, f"/close {wages.ref} advice"))  # not theirs, not a supervisor
        assert fake.texts(CHEN)[-1] == messages.text("desk.close_refused", "zh", ref=wages.ref)
        await d.send(fake.text(WANG, f"/close {wages.ref} application 1,200.50"))
        assert fake.texts(WANG)[-1] == messages.text("desk.closed", "zh", ref=wages.ref)
    closed = store.get_case(wages.id)
    assert closed is not None and str(closed.amount_recovered) == "1200.50"


async def test_no_lawyer_on_duty_the_person_learns_when_to_expect_one(store: CaseStore) -> None:
    zhou = store.add_lawyer(name="Zhou", telegram_user_id="9104", topics=["wages"])
    starts = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    store.add_shift(zhou.id, starts, starts + timedelta(hours=8))
    case = wages_case(store, PERSON)
    unrostered = store.create_case(
        channel="telegram",
        channel_key=conversation_id(OTHER_PERSON),
        reply_address=str(OTHER_PERSON),
        lang="en",
        topic="minors",  # no one on the roster is qualified for minors' cases
        facts={},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=False,
        transcript_excerpt="",
    )
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        when = messages.text("person_notice.when_shift", "zh", when=packet.local_time(starts, "zh"))
        assert fake.texts(PERSON) == [messages.text("person_notice.queued", "zh", ref=case.ref, when=when)]
        assert fake.texts(OTHER_PERSON) == [
            messages.text(
                "person_notice.queued",
                "en",
                ref=unrostered.ref,
                when=messages.text("person_notice.next_working_day", "en"),
            )
        ]
        assert fake.to(9104) == []
        await d.send(fake.text(PERSON, "/status"))
        assert fake.texts(PERSON)[-1] == messages.text("status.queued", "zh", ref=case.ref)
        await d.send(fake.text(PERSON, f"/status {unrostered.ref}"))  # someone else's case: not found
        assert fake.texts(PERSON)[-1] == messages.text("status.unknown", "zh", ref=unrostered.ref)
        await d.send(fake.text(5550003, "/status", language_code="en"))
        assert fake.texts(5550003) == [messages.text("status.none", "en")]
        assert fake.rasa_requests == []


async def test_a_web_chat_case_can_be_taken_but_not_written_to(store: CaseStore) -> None:
    add_desk_lawyers(store)
    case = store.create_case(
        channel="web",
        channel_key="web:s1",
        lang="zh",
        topic="wages",
        facts={},
        eligibility=None,
        urgent=False,
        deadline=None,
        consent=True,
        transcript_excerpt="",
    )
    async with desk(store) as d:
        fake = d.fake
        await d.tick()
        await d.send(fake.press(WANG, f"claim:{case.id}", on=d.offer_to(WANG, case.ref)))
        assert fake.texts(WANG)[-1].endswith(messages.text("desk.no_reply_address", "zh"))
        await d.tick()  # the 'claimed' notice has nowhere to go: marked, not retried
        assert store.pending_outbox() == []
        await d.send(fake.text(WANG, "您好"))
        assert fake.texts(WANG)[-1] == messages.text("desk.unreachable", "zh", ref=case.ref)
        assert [m.text for m in store.messages(case.id)] == ["您好"]  # kept in the record all the same


async def test_an_old_bot_button_pressed_while_a_lawyer_has_the_case(store: CaseStore) -> None:
    add_desk_lawyers(store)
    case = wages_case(store, PERSON)
    async with desk(store) as d:
        fake = d.fake
        await d.send(fake.press(WANG, f"claim:{case.id}"))
        await d.send(fake.press(PERSON, "/affirm"))
        [answer] = fake.to(PERSON, "answerCallbackQuery")
        assert (answer.text, answer.show_alert) == (messages.text("lawyer_has_case", "zh", ref=case.ref), True)
        assert fake.rasa_requests == []
        await d.send(fake.text(WANG, "/start"))
        assert fake.texts(WANG)[-1] == messages.text("desk.help", "zh")
        await d.send(fake.text(OTHER_PERSON, "/start"))  # not a lawyer: the person's /start (the privacy notice)
        assert fake.texts(OTHER_PERSON) == [messages.text("telegram.notice", "zh")] and fake.rasa_requests == []
