"""Korean text as the router reads it: normalised, cut into morphemes by kiwi, turned into
the terms the classifier and the FAQ index weigh.

Citizens write without spacing, with typos, slang and abbreviations; kiwi's morphemes carry
the meaning of well-formed text, character n-grams (over the text without spaces) carry what
kiwi cannot cut. Both are kept with a prefix saying which they are (`m:` morpheme, `b:` pair
of neighbouring morphemes, `c:` character n-gram, `e:` sentence ending, `k:` registration
kind), so the evidence of a decision can name them.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Content morphemes: nouns, verb and adjective stems, roots, foreign words and numbers
#: written in Latin letters (CCTV, LED).
CONTENT_TAGS = frozenset({"NNG", "NNP", "VV", "VA", "XR", "SL", "SH", "VV-R", "VV-I", "VA-R", "VA-I"})
#: Words every kind of complaint uses (asking, reporting, thanking, the 120 agent's summary
#: verbs): they tell the message class, never the subject.
STYLE_WORDS = frozenset(
    "민원인 민원 문의 안내 요청 신고 방법 어디 감사 부탁 하 되 있 없 주 보 알 싶 가능 접수 전달 연결 확인 "
    "나 진짜 너무 제발 오늘 어제 매일 계속 때문 것 수 등 번 분 말 경우 관련 사항 내용 상황 처리 조치 "
    "바라 드리 당하 받 보이 같 생기 나오 들 오 가 빨리 문제 불편 해결 개선 검토 답변 요구 "
    "안녕 구청 시청 서울시 서울 동네 우리 집 앞 근처 주변 옆 주민 시민 방문 전화 상담 이관 연락".split()
)
#: Sentence endings tell a question from a request (message class); only these matter.
ENDING_TAGS = frozenset({"EF"})

#: Abbreviations and slang citizens use for things the city handles, expanded before kiwi
#: cuts the text (kiwi reads them as unknown proper nouns). Each expansion is evidence.
SLANG: dict[str, str] = {
    "지옥철": "혼잡한 지하철",
    "엘베": "엘리베이터",
    "장콜": "장애인콜택시",
    "동사무소": "주민센터",
    "보도블럭": "보도블록",
    # Short ones only at the start of a word: "마음쓰여요" is not about food waste.
    "음쓰": "음식물쓰레기",
    "쓰봉": "쓰레기봉투",
    "버정": "버스정류장",
    "불주": "불법주차",
    "층소": "층간소음",
}
_WORD_START = frozenset({"음쓰", "쓰봉", "버정", "불주", "층소"})
_SLANG_RE = re.compile(
    "|".join(
        (rf"(?<![가-힣]){re.escape(w)}" if w in _WORD_START else re.escape(w))
        for w in sorted(SLANG, key=len, reverse=True)
    )
)

#: Personal data and noise that carry no meaning for routing: never analysed.
_PERSONAL = re.compile(
    r"(https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+|@\w+|\b01[016789][- .]?\d{3,4}[- .]?\d{4}\b)"
)
#: ㅋㅋㅋㅋ, !!!!, ㅠㅠㅠㅠ: the third repetition onwards says nothing more.
_REPEAT = re.compile(r"(.)\1{2,}")
_HANGUL_OR_WORD = re.compile(r"[0-9a-z가-힣ㄱ-ㅎㅏ-ㅣ]+")


def normalize(text: str) -> tuple[str, tuple[str, ...]]:
    """NFC, lower case, personal data out, repetitions cut, slang expanded; with the slang
    expansions that fired (evidence)."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _PERSONAL.sub(" ", text)
    text = _REPEAT.sub(r"\1\1", text)
    fired: list[str] = []

    def expand(match: re.Match[str]) -> str:
        word = match.group(0)
        full = SLANG[word]
        fired.append(f"slang:{word}→{full}")
        return full

    text = _SLANG_RE.sub(expand, text)
    return " ".join(text.split()), tuple(dict.fromkeys(fired))


@dataclass(frozen=True)
class Token:
    form: str
    tag: str
    start: int
    end: int


class Morphology:
    """kiwi, loaded once per process (a second or two) and shared by the classifier and the
    FAQ index. kiwi's analysis does not change the analyser, but its Python binding is not
    documented as thread-safe: calls are serialised (well under a millisecond each)."""

    def __init__(self) -> None:
        from kiwipiepy import Kiwi

        # WikiData's multi-word proper nouns double the load time and name no complaint.
        self._kiwi: Any = Kiwi(load_multi_dict=False)
        self._lock = threading.Lock()
        self.tokens("")  # kiwi finishes loading on its first analysis

    def tokens(self, text: str) -> list[Token]:
        with self._lock:
            raw = self._kiwi.tokenize(text, normalize_coda=True)
        return [Token(t.form, t.tag, t.start, t.end) for t in raw]


@lru_cache(maxsize=1)
def shared_morphology() -> Morphology:
    """The process's one kiwi."""
    return Morphology()


def content_morphemes(tokens: Iterable[Token]) -> list[str]:
    return [t.form for t in tokens if t.tag in CONTENT_TAGS and len(t.form.strip()) > 0]


def char_ngrams(text: str, sizes: Sequence[int] = (2, 3)) -> list[str]:
    """Character n-grams of the text with spaces and punctuation removed, so "불법주차",
    "불법 주차" and "불볍주차" share most of theirs."""
    squeezed = "".join(_HANGUL_OR_WORD.findall(text))
    grams: list[str] = []
    for n in sizes:
        grams.extend(squeezed[i : i + n] for i in range(len(squeezed) - n + 1))
    return grams


def sentence_spans(text: str, tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Where sentences end: kiwi's final punctuation and endings, or a line break."""
    ends = sorted(
        {t.end for t in tokens if t.tag in ("SF", "EF")} | {m.end() for m in re.finditer(r"\n", text)}
    )
    spans: list[tuple[int, int]] = []
    start = 0
    for end in ends:
        if end - start >= 4:
            spans.append((start, end))
            start = end
    if len(text) - start >= 4:
        spans.append((start, len(text)))
    return spans
