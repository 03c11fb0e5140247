"""Updates of different chats are processed at once, one chat's in the order they came."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.concurrency import PerChatUpdateProcessor
from tests.desk.fake_telegram import FakeTelegram


async def test_one_chat_in_order_different_chats_at_once() -> None:
    processor = PerChatUpdateProcessor(8)
    fake = FakeTelegram()
    done: list[tuple[int, str]] = []
    running = 0
    most = 0

    async def handle(chat: int, text: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05 if text == "first" else 0.0)  # the first would be overtaken without the lock
        done.append((chat, text))
        running -= 1

    updates = [(1, "first"), (1, "second"), (2, "first"), (2, "second")]
    tasks = []
    for number, (chat, text) in enumerate(updates, 1):
        update = Update.de_json({"update_id": number, **fake.text(chat, text)}, None)
        tasks.append(asyncio.create_task(processor.process_update(update, handle(chat, text))))
    await asyncio.gather(*tasks)
    assert [text for chat, text in done if chat == 1] == ["first", "second"]
    assert [text for chat, text in done if chat == 2] == ["first", "second"]
    assert most == 2  # the two chats ran side by side
    assert processor._locks == {}  # idle chats leave nothing behind
