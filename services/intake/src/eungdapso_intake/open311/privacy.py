"""What of a complaint the public Open311 answers may show.

Redaction proper (names, resident numbers, addresses of people, faces in photos) is a
later issue. Until then a citizen's text is published only when they chose disclosure,
and only after `mask_contacts`, which hides what is easy to find and most harmful to
publish: phone numbers and e-mail addresses.
"""

from __future__ import annotations

import re

MASK = "[비공개]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# Korean numbers as people write them (010-1234-5678, 01012345678, 02 123 4567,
# +82 10-1234-5678, (02)1234-5678) and other long digit runs with separators. Dates
# (2026-11-20) are kept: a phone number has at least 9 digits.
# Bounded by non-digits only: Korean particles stick to the number (010-1234-5678로).
_PHONE = re.compile(
    r"(?<![\d+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)\s?|\d{1,4})(?:[\s.\-]?\d{3,4}){1,2}(?!\d)"
)


_RECEIPT_NO = re.compile(r"^[0-9]{4}-[0-9]{7,10}$")


def mask_contacts(text: str) -> str:
    """`text` with every e-mail address and phone number replaced by `[비공개]`. Errs on
    the side of masking: a long number that is not a phone number may go too (a receipt
    number, which citizens quote, is kept)."""

    def phone(match: re.Match[str]) -> str:
        found = match.group()
        if sum(c.isdigit() for c in found) < 9 or _RECEIPT_NO.match(found):
            return found
        return MASK

    return _PHONE.sub(phone, _EMAIL.sub(MASK, text))


#: Decimal places of published coordinates: 0.001° is 111 m north-south and 88 m east-west
#: in Seoul.
COORDINATE_DECIMALS = 3


def rounded(coordinate: float | None) -> float | None:
    """A coordinate rounded to ~100 m. Enough to put a pothole or a dark streetlight on a
    map at its block; not enough to point at the door of whoever reported it (a noise
    complaint is often reported from home)."""
    return None if coordinate is None else round(coordinate, COORDINATE_DECIMALS)
