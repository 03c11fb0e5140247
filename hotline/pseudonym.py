"""Pseudonyms for channel identities (a Telegram chat id): an HMAC with the office's secret key, so that the
pseudonym in Rasa's tracker, the case store and the logs cannot be turned back into the chat id by hashing every
possible id, as a plain hash could (Telegram ids are short numbers).

The key comes from PSEUDONYM_KEY (production: a secret of at least 32 characters, the same on every gateway).
Without it, a random key is made once and kept in HOTLINE_VAR/pseudonym.key, readable by its owner only, so a
developer's conversations survive restarts. Changing the key starts every person's conversation afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from hotline.settings import get_settings

MIN_KEY_CHARS = 32


class PseudonymKeyError(RuntimeError):
    """PSEUDONYM_KEY is set but too short to be a secret."""


@lru_cache(maxsize=4)
def _key(configured: str, var_dir: Path) -> bytes:
    if configured:
        if len(configured) < MIN_KEY_CHARS:
            raise PseudonymKeyError(f"PSEUDONYM_KEY must be at least {MIN_KEY_CHARS} characters of random text")
        return configured.encode()
    path = var_dir / "pseudonym.key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once keep the first one's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def pseudonym(channel: str, raw_id: str, length: int = 20) -> str:
    settings = get_settings()
    digest = hmac.new(_key(settings.pseudonym_key, settings.var_dir), f"{channel}:{raw_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:length]
