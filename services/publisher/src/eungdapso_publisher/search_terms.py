"""Korean words as the publisher's search reads them: kiwi's content morphemes (nouns, verb
and adjective stems, roots, foreign words and numbers), so that "주차했는데" and "주차 차량" meet
at "주차". The projection stores the terms of each disclosed (already redacted) text and
answer; a query is cut the same way (`search_api`)."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

#: kiwi's tags of words that carry content (Sejong tag set).
CONTENT_TAGS = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "VV-R", "VA-R", "VV-I", "VA-I"})
#: A term is letters and digits only: it goes into a tsquery as a quoted lexeme.
_TERM = re.compile(r"^[0-9A-Za-z가-힣]{1,40}$")
#: Placeholders of redaction are not words of the complaint.
_PLACEHOLDER = re.compile(r"\[[^\]]{1,12}\]")


class Terms:
    """kiwi, loaded once per process (seconds). Its binding is not documented as thread-safe:
    calls are serialised (well under a millisecond each)."""

    def __init__(self) -> None:
        from kiwipiepy import Kiwi

        self._kiwi: Any = Kiwi(load_multi_dict=False)
        self._lock = threading.Lock()
        self.of("")  # kiwi finishes loading on its first analysis

    def of(self, text: str) -> list[str]:
        """The content morphemes of the text, lower-cased, in order (repeats kept: they rank)."""
        text = _PLACEHOLDER.sub(" ", text)
        with self._lock:
            tokens = self._kiwi.tokenize(text, normalize_coda=True)
        return [
            t.form.lower()
            for t in tokens
            if t.tag.split("-")[0] in _BASE_TAGS and _TERM.match(t.form) is not None
        ]


_BASE_TAGS = frozenset(tag.split("-")[0] for tag in CONTENT_TAGS)


@lru_cache(maxsize=1)
def shared_terms() -> Terms:
    """The process's one kiwi."""
    return Terms()


def as_document(terms: list[str]) -> str:
    """Terms as a space-separated string for `to_tsvector('simple', …)`."""
    return " ".join(terms)


def as_query(terms: list[str]) -> str:
    """Any of the terms, for `to_tsquery('simple', …)` (each quoted; terms are checked words)."""
    return " | ".join(f"'{t}'" for t in dict.fromkeys(terms))
