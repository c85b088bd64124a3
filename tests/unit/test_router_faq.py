"""Standard answers: at least 200 everyday Q&A, searched by Korean morphology (a citizen's
words find the entry about them, ranked first), and an instant answer only for a question
the entry clearly answers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eungdapso_router.faq import FaqIndex, load_entries
from eungdapso_router.textmodel import Analysis
from eungdapso_schemas.codes import Kind, MessageClass, OfficeLevel
from eungdapso_schemas.subjects import subject


@pytest.fixture(scope="module")
def faq() -> FaqIndex:
    return FaqIndex.load()


def test_the_starter_set_is_real_and_consistent() -> None:
    entries = load_entries()
    assert len(entries) >= 200
    assert len({e.id for e in entries}) == len(entries)
    assert len({e.question for e in entries}) == len(entries)
    for e in entries:
        s = subject(e.subject)
        expected = f"district.*.{s.role}" if s.level is OfficeLevel.DISTRICT else s.role
        assert e.office == expected, e.id
        assert e.answer and e.keywords and e.source, e.id
    assert len({e.subject for e in entries}) >= 50


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("소파 버리려면 어떻게 해요?", "faq-bulky-waste-01"),
        ("냉장고 무료로 버리는 방법", "faq-bulky-waste-04"),
        ("대형폐기물 스티커 어디서 사요", "faq-bulky-waste-02"),
        ("지하철에 가방 두고 내림", "faq-subway-01"),
        ("택시에 핸드폰 두고 내렸어요", "faq-taxi-01"),
        ("불법주차 신고 방법", "faq-illegal-parking-01"),
        ("따릉이 반납이 안돼요", "faq-bike-share-04"),
        ("자동차세 연납", "faq-local-tax-01"),
        ("재산세 언제 내요", "faq-local-tax-02"),
        ("어린이집 입소 대기", "faq-childcare-01"),
        ("청년수당신청", "faq-jobs-02"),
        ("한강공원 텐트 몇시까지", "faq-han-river-park-01"),
        ("120 외국어 상담", "faq-other-02"),
    ],
)
def test_search_ranks_the_matching_entry_first(faq: FaqIndex, question: str, expected: str) -> None:
    results = faq.search(question, limit=5)
    assert results[0][0].id == expected, [(e.id, s) for e, s, _ in results]
    scores = [s for _, s, _ in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0][2], "the words that matched are named"


def test_search_respects_the_limit_and_finds_nothing_for_nothing(faq: FaqIndex) -> None:
    assert len(faq.search("여권", limit=2)) == 2
    assert faq.search("ㅋㅋㅋ", limit=5) == []


def test_instant_answer_for_a_clear_question(faq: FaqIndex) -> None:
    found = faq.best_answer("여권 재발급 준비물이 뭐예요?", kind=Kind.INQUIRY)
    assert found is not None
    entry, confidence = found
    assert entry.id == "faq-passport-01" and confidence >= 0.8
    communication = faq.best_answer("독감 무료접종 대상", message_class=MessageClass.COMMUNICATION)
    assert communication is not None and communication[0].id == "faq-public-health-02"


def test_no_instant_answer_for_complaints_or_vague_questions(faq: FaqIndex) -> None:
    # A complaint needs a department, even when an entry is about the same thing.
    assert (
        faq.best_answer("불법주차 신고 방법", kind=Kind.COMPLAINT, message_class=MessageClass.FIELD) is None
    )
    # One word is not a question the desk can be sure of.
    assert faq.best_answer("단수 언제 끝나요", kind=Kind.INQUIRY) is None
    # A story is not an FAQ.
    assert faq.best_answer("대형폐기물 " + "가" * 250, kind=Kind.INQUIRY) is None
    assert faq.best_answer("우리집 앞 도로에 구멍났어요 빨리 고쳐주세요", kind=Kind.INQUIRY) is None


# The words citizens' questions are made of: the entries' own (questions, keywords, answers)
# and everyday words no entry has, in any order, with or without spacing.
_WORDS = sorted(
    {w for e in load_entries() for w in (*e.question.split(), *e.keywords, *e.answer.split()[:12])}
    | {"우리", "동네", "오늘", "ㅠㅠ", "진짜", "어떡해요", "고양이", "라면", "주차", "버스"}
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8), spaced=st.booleans())
def test_the_inverted_index_ranks_exactly_as_scoring_every_entry(
    faq: FaqIndex, words: list[str], spaced: bool
) -> None:
    """Scoring only the entries that share a word with the query (the index's postings)
    gives the same answers, scores and order as scoring all of them."""
    query = (" " if spaced else "").join(words)
    indexed = faq.search(query, limit=5)
    assert indexed == faq.search(query, limit=5, prefilter=False)
    assert [e.id for e, _, _ in faq.search(query, limit=1)] == [e.id for e, _, _ in indexed[:1]]


def test_the_answer_is_the_same_from_the_text_or_from_the_complaint_already_read(faq: FaqIndex) -> None:
    """The router reads a complaint once (kiwi) for the classifier and the standard answers."""
    for text in ("여권 재발급 준비물이 뭐예요?", "독감 무료접종 대상", "소파 버리려면 어떻게 해요?"):
        analysis = Analysis.of(faq.morphology, text)
        assert faq.search(analysis) == faq.search(text)
        for kind in (Kind.INQUIRY, Kind.COMPLAINT):
            assert faq.best_answer(text, kind=kind, analysis=analysis) == faq.best_answer(text, kind=kind)
