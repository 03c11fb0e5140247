"""Pseudonyms of channel identities: keyed, stable, and refused with a short key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hotline import pseudonym as module
from hotline.pseudonym import PseudonymKeyError, pseudonym


def test_a_pseudonym_is_keyed_not_a_plain_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_VAR", str(tmp_path))
    monkeypatch.delenv("PSEUDONYM_KEY", raising=False)
    first = pseudonym("telegram", "5550001")
    assert first == pseudonym("telegram", "5550001") and len(first) == 20  # stable: conversations continue
    assert first != hashlib.sha256(b"telegram:5550001").hexdigest()[:20]  # not found by hashing every id
    key = tmp_path / "pseudonym.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text()) == 64
    monkeypatch.setenv("PSEUDONYM_KEY", "x" * 40)
    assert pseudonym("telegram", "5550001") != first  # another office key, another pseudonym


def test_a_short_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSEUDONYM_KEY", "secret")
    module._key.cache_clear()
    with pytest.raises(PseudonymKeyError, match="at least 32"):
        pseudonym("telegram", "1")
