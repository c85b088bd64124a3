"""How long a message may be on each medium, counted the way the medium counts, and how a
longer one is shortened: always between whole characters, never through one.

- Text messages (문자): Korean carriers count bytes as EUC-KR/CP949 does (a Hangul syllable
  is 2 bytes, ASCII 1). Up to 90 bytes is an SMS; longer is an LMS (장문, up to 2,000
  bytes, with a subject of up to 40 bytes); with media an MMS (same limits as an LMS).
- X: 280 weighted characters (twitter-text v3): Latin, and the few punctuation ranges
  below, weigh 1; everything else (Hangul, Han, kana, emoji) weighs 2; a link weighs 23
  whatever its length. A direct message may hold 10,000 characters.
- Facebook: a Messenger message holds 2,000 characters, a comment or Page post 8,000.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ELLIPSIS = "…"

SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000
LMS_SUBJECT_MAX_BYTES = 40

X_MAX_WEIGHT = 280
X_DM_MAX_CHARS = 10_000
#: twitter-text v3: these code point ranges weigh 1, all others 2.
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
X_URL_WEIGHT = 23

FACEBOOK_MESSAGE_MAX_CHARS = 2000
FACEBOOK_COMMENT_MAX_CHARS = 8000

SmsForm = Literal["sms", "lms", "mms"]


def char_bytes(ch: str) -> int:
    """Bytes of one character as the carriers count them (CP949); a character CP949 cannot
    encode (an emoji) is counted as 2, as the gateways that accept it do."""
    try:
        return len(ch.encode("cp949"))
    except UnicodeEncodeError:
        return 2


def sms_bytes(text: str) -> int:
    return sum(char_bytes(ch) for ch in text)


def _glued(ch: str) -> bool:
    """A character that belongs to the one before it (a combining mark, a variation
    selector, a joiner, a following surrogate-free emoji modifier): never cut before it."""
    return (
        unicodedata.combining(ch) != 0
        or ch in "\u200d\ufe0e\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or "\u1160" <= ch <= "\u11ff"  # Hangul medial vowels and final consonants (conjoining jamo)
    )


def cut(
    text: str,
    limit: int,
    measure: Callable[[str], int],
    *,
    ellipsis: str = ELLIPSIS,
    pieces: Callable[[str], list[str]] = list,
) -> str:
    """`text` if it measures at most `limit`, otherwise its longest prefix that, with
    `ellipsis`, does: cut between whole `pieces` (characters by default) and never inside a
    character sequence such as a base and its combining marks."""
    text = unicodedata.normalize("NFC", text)
    if measure(text) <= limit:
        return text
    tokens = pieces(text)
    budget = limit - measure(ellipsis)
    end, used = 0, 0
    for i, token in enumerate(tokens):
        used += measure(token)
        if used > budget:
            break
        end = i + 1
    while 0 < end < len(tokens) and len(tokens[end]) == 1 and _glued(tokens[end]):
        end -= 1
    return "".join(tokens[:end]).rstrip() + ellipsis


def cut_bytes(text: str, limit: int) -> str:
    return cut(text, limit, sms_bytes)


@dataclass(frozen=True)
class SmsPlan:
    """What a text message becomes: its form, its text (shortened to fit if it must) and,
    for an LMS/MMS, its subject."""

    form: SmsForm
    text: str
    subject: str | None
    #: The text was longer than an LMS holds and was shortened.
    shortened: bool


def plan_sms(text: str, *, subject: str | None = None, media: int = 0) -> SmsPlan:
    text = unicodedata.normalize("NFC", text)
    if media:
        form: SmsForm = "mms"
    elif sms_bytes(text) <= SMS_MAX_BYTES:
        return SmsPlan("sms", text, None, False)
    else:
        form = "lms"
    body = cut_bytes(text, LMS_MAX_BYTES)
    title = cut_bytes(subject, LMS_SUBJECT_MAX_BYTES) if subject else None
    return SmsPlan(form, body, title, body != text)


def _x_char_weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _X_LIGHT_RANGES) else 2


def x_weight(text: str) -> int:
    """The weighted length X counts (NFC normalised first, as X does)."""
    text = unicodedata.normalize("NFC", text)
    weight = 0
    last = 0
    for url in _X_URL.finditer(text):
        weight += sum(_x_char_weight(ch) for ch in text[last : url.start()]) + X_URL_WEIGHT
        last = url.end()
    return weight + sum(_x_char_weight(ch) for ch in text[last:])


def _links_whole(text: str) -> list[str]:
    """Characters, except that each link is one piece."""
    tokens: list[str] = []
    last = 0
    for url in _X_URL.finditer(text):
        tokens.extend(text[last : url.start()])
        tokens.append(url.group())
        last = url.end()
    tokens.extend(text[last:])
    return tokens


def cut_x(text: str, limit: int = X_MAX_WEIGHT) -> str:
    """A post of at most `limit` weighted characters, cut between whole characters; a link
    is kept whole or left out, never cut through."""
    return cut(text, limit, x_weight, pieces=_links_whole)


def cut_chars(text: str, limit: int) -> str:
    return cut(text, limit, len)
