"""The router reads Korean as citizens write it: slang, no spacing, typos, several issues,
an agent's call summary, a polite web form; it finds confidential reports hidden in
ordinary complaints, classes messages by the 메시지민원 처리규정 and explains every decision.
Real kiwi, the checked-in model."""

from __future__ import annotations

import threading
import time

import pytest

from eungdapso_router.classifier import Classification, Classifier
from eungdapso_schemas.codes import Field, Kind, MessageClass
from eungdapso_schemas.subjects import subject


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load()


def read(classifier: Classifier, text: str, kind: Kind = Kind.COMPLAINT) -> Classification:
    return classifier.classify(text, kind)


def test_sns_slang_and_profanity_still_name_the_subject(classifier: Classifier) -> None:
    c = read(classifier, "집앞 도로 한가운데 구멍 뻥 뚫림ㅠㅠ ㄹㅇ 개빡침 오토바이 넘어질뻔")
    assert (c.subject, c.field, c.message_class) == ("pothole", Field.ROADS_TRAFFIC, MessageClass.FIELD)
    assert "구멍" in c.evidence.matched_terms


def test_no_spacing_and_typos(classifier: Classifier) -> None:
    assert (
        read(classifier, "골목에불볍주차된차때문에소방차못들어가요단속좀해주세여").subject
        == "illegal_parking"
    )
    assert read(classifier, "가로든이 일주일째 꺼져있어요 밤에 너무 어두워요").subject == "streetlight"


def test_abbreviations_are_expanded_and_recorded(classifier: Classifier) -> None:
    c = read(classifier, "음쓰 수거 3일째 안해감 여름이라 냄새 미침", Kind.COMPLAINT)
    assert c.subject == "waste_collection"
    assert any(rule.startswith("slang:음쓰") for rule in c.evidence.rules)


def test_polite_web_form(classifier: Classifier) -> None:
    c = read(
        classifier,
        "안녕하십니까. 저는 이 동네에 20년째 거주하고 있는 주민입니다. 최근 저희 집 앞 하수구에서 "
        "악취가 심하게 올라와 여름철에 창문을 열 수가 없습니다. 바쁘시겠지만 준설 작업을 부탁드립니다.",
    )
    assert (c.subject, c.field) == ("sewer", Field.ENVIRONMENT_PARKS)


def test_call_summary_of_a_120_agent(classifier: Classifier) -> None:
    c = read(
        classifier,
        "민원인 이사하면서 나온 장롱과 침대 버리는 방법 문의함. 구청 누리집 대형폐기물 신고 안내함.",
        Kind.INQUIRY,
    )
    assert (c.subject, c.message_class) == ("bulky_waste", MessageClass.COMMUNICATION)
    assert "style:call-summary" in c.evidence.rules


def test_several_issues_main_one_and_the_others_in_evidence(classifier: Classifier) -> None:
    c = read(
        classifier,
        "골목 보안등이 일주일째 꺼져 있습니다. 그리고 보도블록도 여러 장 깨져 있습니다. "
        "무엇보다 가로등이 가장 급하니 먼저 고쳐 주세요.",
    )
    assert c.subject == "streetlight"
    others = [s for s, _ in c.evidence.other_issues]
    assert "sidewalk" in others


def test_corruption_hidden_in_a_complaint_is_confidential(classifier: Classifier) -> None:
    c = read(classifier, "구청 위생과 단속 공무원이 영업정지 안 당하게 해주겠다며 돈봉투를 요구했어요")
    assert c.confidential
    assert c.evidence.detected_kind is Kind.CORRUPTION_REPORT
    assert (c.subject, c.message_class) == ("corruption", MessageClass.GENERAL)
    assert c.field is subject("corruption").field


def test_whistleblowing_keeps_its_topic_and_is_confidential(classifier: Classifier) -> None:
    c = read(
        classifier, "제가 일하는 반찬가게에서 유통기한 지난 재료로 반찬을 만들어 팝니다. 내부고발합니다."
    )
    assert c.confidential and c.evidence.detected_kind is Kind.WHISTLEBLOWING
    assert c.subject == "food_hygiene"


def test_human_rights_case_is_confidential(classifier: Classifier) -> None:
    c = read(classifier, "주민센터 직원이 제가 장애인이라고 무시하고 접수를 거부했습니다. 명백한 차별입니다.")
    assert c.confidential and c.evidence.detected_kind is Kind.HUMAN_RIGHTS
    assert c.subject == "human_rights"


def test_a_registered_confidential_kind_stays_confidential(classifier: Classifier) -> None:
    c = read(
        classifier, "시 산하기관 구매 담당자가 납품 업체에서 리베이트를 받습니다.", Kind.CORRUPTION_REPORT
    )
    assert c.confidential and c.subject == "corruption"
    assert "kind:corruption_report (registered confidential)" in c.evidence.rules


def test_an_ordinary_complaint_is_not_confidential(classifier: Classifier) -> None:
    for text in (
        "버스 기사님이 너무 불친절했어요 교육 부탁드립니다",
        "길고양이 학대하는 사람이 있어요 동물학대 신고",
    ):
        c = read(classifier, text)
        assert not c.confidential, text
        assert c.evidence.detected_kind is None


def test_thanks_only_is_communication(classifier: Classifier) -> None:
    c = read(classifier, "어제 신고한 가로등 바로 고쳐주셔서 정말 감사합니다!")
    assert c.message_class is MessageClass.COMMUNICATION
    assert c.subject == "streetlight"


def test_question_is_communication_and_proposal_is_proposal(classifier: Classifier) -> None:
    assert (
        read(classifier, "여권 재발급 준비물이 뭔가요?", Kind.INQUIRY).message_class
        is MessageClass.COMMUNICATION
    )
    c = read(classifier, "우리 동네 지하철역 앞에 따릉이 대여소를 하나 더 설치해 주세요", Kind.PROPOSAL)
    assert (c.subject, c.message_class) == ("bike_share", MessageClass.PROPOSAL)
    assert "class:proposal (registered as a proposal)" in c.evidence.rules


def test_evidence_names_terms_top_three_subjects_and_field_scores(classifier: Classifier) -> None:
    c = read(classifier, "아파트 관리비 내역이 공개되지 않아요 관리사무소가 장부를 안 보여줍니다")
    e = c.evidence
    assert c.subject == "apartment_management" and c.field is Field.HOUSING_BUILDING
    assert e.matched_terms and len(e.scores) == 3
    assert e.scores[0][0] == c.subject and e.scores[0][1] == c.confidence
    assert e.scores[0][1] >= e.scores[1][1] >= e.scores[2][1]
    assert e.field_scores[0][0] == c.field.value
    assert 0.0 < c.confidence <= 1.0
    assert e.as_dict()["scores"][0]["subject"] == c.subject


def test_field_follows_the_subject(classifier: Classifier) -> None:
    for text in (
        "수돗물에서 녹물이 나와요",
        "어린이집 입소 대기 순번이 밀렸어요",
        "재개발 조합이 총회 자료를 공개 안 해요",
    ):
        c = read(classifier, text)
        assert c.field is subject(c.subject).field, text


def test_empty_or_meaningless_text_is_answered_not_refused(classifier: Classifier) -> None:
    for text in ("", "ㅋㅋㅋㅋ", "!!!"):
        c = read(classifier, text)
        assert c.subject in {s for s, _ in c.evidence.scores}
        assert 0.0 <= c.confidence <= 1.0


def test_one_classifier_serves_threads_alike(classifier: Classifier) -> None:
    texts = ["택시 승차거부 당했어요", "놀이터 그네가 끊어졌어요", "재산세가 두 번 나왔어요"]
    expected = [read(classifier, t).subject for t in texts]
    seen: list[list[str]] = []

    def work() -> None:
        seen.append([read(classifier, t).subject for t in texts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [expected] * 4
    assert expected == ["taxi", "park", "local_tax"]


def test_classification_is_fast(classifier: Classifier) -> None:
    text = "안녕하세요 골목 가로등이 일주일째 꺼져 있어 수리 부탁드립니다. 보도블록도 깨져 있어요."
    timings = []
    for _ in range(50):
        started = time.perf_counter()
        read(classifier, text)
        timings.append(time.perf_counter() - started)
    timings.sort()
    assert timings[25] < 0.05  # p50 is a few milliseconds; generous for a busy CI machine


def test_evidence_fits_the_assigned_event(classifier: Classifier) -> None:
    c = read(classifier, "주민센터 공무원이 서류 빨리 처리해 준다며 상품권을 요구했어요")
    evidence = c.evidence.as_routing_evidence()
    assert evidence.scores[0].subject == c.subject
    assert "detected-kind:corruption_report" in evidence.rules
    assert evidence.place.method == "none"


def test_cash_at_a_shop_is_not_corruption_but_an_official_asking_is(classifier: Classifier) -> None:
    assert not read(classifier, "공영주차장 직원이 카드는 안 되고 현금만 받는대요").confidential
    boss = read(classifier, "회사 팀장이 회식 때 접대를 강요해요")
    assert boss.evidence.detected_kind is not Kind.CORRUPTION_REPORT
    c = read(classifier, "주민센터 담당 직원이 서류를 빨리 처리해 주겠다며 현금을 요구했습니다")
    assert c.confidential and c.evidence.detected_kind is Kind.CORRUPTION_REPORT
