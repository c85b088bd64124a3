"""Standard answers (표준 상담 답변): everyday questions answered at once, and searched by
citizens before they file (`GET /api/v1/faq`).

The answers live in `data/faq.jsonl` (id, question, answer, keywords, subject, the office
that answers for the matter, a source note). Search ranks them by BM25 over kiwi's content
morphemes (nouns, verb and adjective stems) of question, keywords and answer; question and
keywords weigh more than the answer, since that is where a citizen's words usually are.

`best_answer` is the instant answer of the desk: the best entry only when the message is an
inquiry or a communication-class message and the entry's question and keywords cover at
least INSTANT_MIN_COVERAGE of the message's weighted words (see `coverage`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from eungdapso_router.morphology import CONTENT_TAGS, Morphology, shared_morphology
from eungdapso_router.textmodel import Analysis, json_lines
from eungdapso_schemas.codes import Kind, MessageClass
from eungdapso_schemas.subjects import subject

FAQ_PATH = Path(str(files("eungdapso_router").joinpath("data/faq.jsonl")))

#: BM25's usual constants.
K1 = 1.2
B = 0.75
#: Field weights: a word in the question or keywords counts this many times one in the answer.
QUESTION_WEIGHT = 3.0
KEYWORD_WEIGHT = 3.0
#: The instant answer needs the entry to cover this share of the message's (idf-weighted)
#: words and at least INSTANT_MIN_TERMS of them: a wrong instant answer costs a citizen more
#: than a department's answer a few hours later.
INSTANT_MIN_COVERAGE = 0.8
INSTANT_MIN_TERMS = 2
#: Messages longer than this are complaints with a story, not a question for the FAQ.
INSTANT_MAX_CHARS = 200

#: Words of asking that every question has: they never decide which answer fits.
ASKING = frozenset(
    "하 되 있 없 알 싶 주 보 것 수 좀 어떻게 어디 언제 무엇 뭐 왜 거 건 안녕 궁금 문의 방법 나 가".split()
)
#: Citizens ask in their words, answers use the administration's: a query word also looks
#: for these (at half weight).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "버리": ("배출",),
    "떼": ("발급",),
    "뗄": ("발급",),
    "잃어버리": ("분실", "분실물", "유실물"),
    "두": ("분실", "분실물", "유실물"),
    "놓": ("분실물", "유실물"),
    "고장나": ("고장",),
    "세금": ("지방세",),
    "쓰레기봉투": ("종량제",),
    "알바": ("임금",),
    "월급": ("임금",),
    "팔": ("판매", "구입"),
    "사": ("구입", "구매"),
}


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    keywords: tuple[str, ...]
    subject: str
    office: str
    source: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "keywords": list(self.keywords),
            "subject": self.subject,
            "office": self.office,
            "source": self.source,
        }


def load_entries(path: Path = FAQ_PATH) -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    for n, row in json_lines(path):
        try:
            subject(row["subject"])
            entries.append(
                FaqEntry(
                    id=row["id"],
                    question=row["question"],
                    answer=row["answer"],
                    keywords=tuple(row["keywords"]),
                    subject=row["subject"],
                    office=row["office"],
                    source=row.get("source", ""),
                )
            )
        except (KeyError, LookupError) as exc:
            raise ValueError(f"{path.name}:{n}: {exc}") from None
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        raise ValueError("an FAQ id appears twice")
    return entries


class FaqIndex:
    """Built once (`load()`); searching only reads it, from any thread.

    An inverted index (term → the entries that have it) keeps a search from ranking all the
    entries: an entry that shares no word with the query scores 0 and is never shown, so
    scoring only the entries of the query's postings ranks exactly as scoring every entry
    (`search(..., prefilter=False)`, which the tests compare it with)."""

    def __init__(self, entries: Sequence[FaqEntry], morphology: Morphology) -> None:
        self.entries = tuple(entries)
        self._position = {e.id: i for i, e in enumerate(self.entries)}
        self.morphology = morphology
        self._docs: list[dict[str, float]] = []
        self._heads: list[frozenset[str]] = []
        for e in self.entries:
            q = self.terms(e.question)
            k = self.terms(" ".join(e.keywords))
            doc: dict[str, float] = {}
            for terms, weight in ((q, QUESTION_WEIGHT), (k, KEYWORD_WEIGHT), (self.terms(e.answer), 1.0)):
                for term, n in terms.items():
                    doc[term] = doc.get(term, 0.0) + n * weight
            self._docs.append(doc)
            self._heads.append(frozenset(q) | frozenset(k))
        df: Counter[str] = Counter()
        postings: dict[str, list[int]] = {}
        for i, doc in enumerate(self._docs):
            df.update(doc.keys())
            for term in doc:
                postings.setdefault(term, []).append(i)
        self._postings = {t: tuple(ids) for t, ids in postings.items()}
        n_docs = len(self._docs)
        self._idf = {t: math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._max_idf = math.log(1 + (n_docs + 0.5) / 0.5)
        length = [sum(doc.values()) for doc in self._docs]
        avg_length = sum(length) / max(1, n_docs)
        #: BM25's length normalisation of each entry, computed once.
        self._norm = [K1 * (1 - B + B * n / avg_length) for n in length]

    @classmethod
    def load(cls, path: Path = FAQ_PATH, morphology: Morphology | None = None) -> FaqIndex:
        return cls(load_entries(path), morphology or shared_morphology())

    def terms(self, text: str | Analysis) -> Counter[str]:
        """The content morphemes that search weighs. An `Analysis` is the text already read
        (the router reads each complaint once, for the classifier and for this)."""
        analysis = text if isinstance(text, Analysis) else Analysis.of(self.morphology, text)
        return Counter(
            t.form
            for t in analysis.tokens
            if t.tag in CONTENT_TAGS and t.form not in ASKING and len(t.form) > 0
        )

    def _query(self, text: str | Analysis) -> dict[str, float]:
        """Query words with their weight: 1 for the citizen's own, 0.5 for a synonym."""
        weights: dict[str, float] = {}
        for term in self.terms(text):
            weights[term] = 1.0
            for other in SYNONYMS.get(term, ()):
                weights.setdefault(other, 0.5)
        return weights

    def search(
        self, text: str | Analysis, limit: int = 5, *, prefilter: bool = True
    ) -> list[tuple[FaqEntry, float, tuple[str, ...]]]:
        """Best entries first, with their BM25 score and the query words they contain.
        `prefilter=False` ranks every entry (the reference the index is tested against)."""
        return self._ranked(self._query(text), limit, prefilter=prefilter)

    def _ranked(
        self, query: dict[str, float], limit: int, *, prefilter: bool = True
    ) -> list[tuple[FaqEntry, float, tuple[str, ...]]]:
        if prefilter:
            candidates: Iterable[int] = sorted({i for t in query for i in self._postings.get(t, ())})
        else:
            candidates = range(len(self._docs))
        idf = self._idf
        # The share of the query's weight an entry's question and keywords hold needs the
        # query's total once, not once per entry.
        total = sum(w * idf.get(t, self._max_idf) for t, w in query.items())
        scored: list[tuple[float, int, tuple[str, ...]]] = []
        for i in candidates:
            doc = self._docs[i]
            score = 0.0
            matched: list[str] = []
            norm = self._norm[i]
            for term, weight in query.items():
                tf = doc.get(term, 0.0)
                if tf:
                    score += weight * idf[term] * tf * (K1 + 1) / (tf + norm)
                    matched.append(term)
            if score > 0:
                # An entry whose question says what the citizen asks beats one whose
                # answer merely mentions it.
                head = self._heads[i]
                found = sum(w * idf.get(t, self._max_idf) for t, w in query.items() if t in head)
                score *= 0.5 + (found / total if total else 0.0)
                scored.append((score, i, tuple(matched)))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [(self.entries[i], round(score, 3), matched) for score, i, matched in scored[:limit]]

    def coverage(self, text: str | Analysis, entry_index: int) -> tuple[float, int]:
        """Share of the message's idf-weighted words found in the entry's question and
        keywords (a word the FAQ never uses weighs the most), and how many were found."""
        return self._coverage(self._query(text), entry_index)

    def _coverage(self, query: dict[str, float], entry_index: int) -> tuple[float, int]:
        own = [t for t, w in query.items() if w == 1.0]
        if not own:
            return 0.0, 0
        head = self._heads[entry_index]
        total = 0.0
        found = 0.0
        hits = 0
        for term in own:
            weight = self._idf.get(term, self._max_idf)
            total += weight
            if term in head or any(s in head for s in SYNONYMS.get(term, ())):
                found += weight
                hits += 1
        return found / total, hits

    def best_answer(
        self,
        text: str,
        *,
        kind: Kind | None = None,
        message_class: MessageClass | None = None,
        analysis: Analysis | None = None,
    ) -> tuple[FaqEntry, float] | None:
        """The standard answer to give at once, with its confidence (coverage), or None.
        Only inquiries and communication-class messages get one (when told either).
        `analysis`: the text already read (else it is read here, once)."""
        if kind is not None and message_class is not None:
            if kind is not Kind.INQUIRY and message_class is not MessageClass.COMMUNICATION:
                return None
        elif kind is not None and kind is not Kind.INQUIRY:
            return None
        elif message_class is not None and message_class is not MessageClass.COMMUNICATION:
            return None
        if len(text) > INSTANT_MAX_CHARS:
            return None
        query = self._query(analysis if analysis is not None else text)
        results = self._ranked(query, limit=1)
        if not results:
            return None
        entry = results[0][0]
        cover, hits = self._coverage(query, self._position[entry.id])
        if cover < INSTANT_MIN_COVERAGE or hits < INSTANT_MIN_TERMS:
            return None
        return entry, round(cover, 3)
