"""Text normalisation before anything reads a message: one canonical form for the model and the rules.

Traditional characters become Simplified (OpenCC, Hong Kong variants included), full-width letters and digits
become half-width (NFKC), control characters go, whitespace is folded.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

import opencc

Lang = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    # hk2s: Hong Kong Traditional (and ordinary Traditional) to Simplified; Cantonese-specific
    # characters such as 佢/冇/嘅 have no Simplified counterpart and pass through unchanged.
    return opencc.OpenCC("hk2s")


def normalise(text: str) -> str:
    """The canonical form of a user message (what the model and the safety rules see)."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if _CJK.search(text):
        text = str(_converter().convert(text))
    return text


def detect_lang(text: str, default: Lang = "zh") -> Lang:
    """`zh` when the message has Chinese characters, `en` when it has English words and none, else default.

    A message of digits or emoji alone says nothing about the language, so it keeps the default.
    """
    cjk = len(_CJK.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if cjk == 0 and latin_words == 0:
        return default
    if cjk == 0:
        return "en"
    # Code-mixed messages ("老板不pay我salary") are Chinese unless English clearly dominates.
    return "en" if latin_words >= 4 * cjk else "zh"
