"""A Redis lock store for several Rasa servers that really serialises one conversation across them.

Loaded by Rasa itself (deploy/endpoints.production.yml, `lock_store: type:
deploy.rasa_lock_store.AtomicRedisLockStore`), so it runs in Rasa's environment (.venv-rasa) and is the one file of
ours that imports `rasa`. `rasa run` puts its working directory on the import path: start it from the project root
(or put the root on PYTHONPATH).

Why not Rasa's own `type: redis`: Rasa Open Source 3.6's RedisLockStore changes a conversation's lock with a plain
GET, then SET (issue a ticket, finish serving, drop expired tickets). Two replicas taking a ticket for the same
conversation at the same moment both read the same lock and both write it back: each gets the same ticket number,
and both handle their message at once (RasaHQ/rasa#9213; the atomic ConcurrentRedisLockStore of RasaHQ/rasa#11256
was reverted from Rasa Open Source). Measured here with two processes taking the lock of a fresh conversation at the
same instant: both were inside it together in 25 to 44 of 100 tries (docs/scale.md). This class keeps Rasa's ticket
lock and its Redis key layout, and makes every read-modify-write of a lock one optimistic Redis transaction (WATCH
the key, read, MULTI, write, EXEC; retried when another replica changed the key in between).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")


class AtomicRedisLockStore(RedisLockStore):
    """RedisLockStore whose lock changes are atomic (Redis WATCH/MULTI/EXEC)."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # Rasa builds a lock store named by its module path with the endpoint config alone.
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[TicketLock | None, T]]) -> T:
        """Apply `change` to the stored lock atomically: it gets the lock (or None) and returns the lock to store
        (None or no tickets: the key is deleted) and a result."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            new, result = change(lock)
            pipe.multi()
            if new is None or not new.tickets:
                pipe.delete(key)
            else:
                pipe.set(key, new.dumps())
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock | None, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove this ticket; the lock goes with its last ticket (one transaction, where Rasa's takes three)."""

        def remove(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, remove)
