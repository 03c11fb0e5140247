"""How the gateway processes Telegram updates: different chats at the same time, one chat's updates in order,
and each update once.

python-telegram-bot processes one update after another unless told otherwise; then a slow database call for one
lawyer holds up every person. Fully concurrent processing would let a person's two quick messages overtake each
other on their way to the lawyer. Here each chat has a lock: twenty lawyers pressing Accept at once are handled
at once (the store's claim decides), while one chat's messages keep their order.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}  # updates holding or awaiting each lock, to drop idle locks

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to allocate: locks are made per chat as updates arrive."""

    async def shutdown(self) -> None:
        """Nothing to free."""


# Update ids remembered to recognise a repeat: Telegram resends an update when a webhook call failed or timed out,
# and a poller restarted before confirming gets the last batch again; both come back within minutes.
RECENT_UPDATES = 10_000


class RecentUpdates:
    """The ids of the updates this gateway process has taken, the newest RECENT_UPDATES of them. Per process: with
    several gateways behind one webhook URL, a repeat that reaches another process is not recognised here (and
    one chat's order across processes is not kept either); that needs a shared store, see docs/telegram.md."""

    def __init__(self, size: int = RECENT_UPDATES) -> None:
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def first_time(self, update_id: int) -> bool:
        """True the first time an id is seen (and remembers it), False for a repeat. No await inside: two copies
        of one update handled at the same moment cannot both pass."""
        if update_id in self._ids:
            self._ids.move_to_end(update_id)
            return False
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True
