"""Where the router sends a complaint (decision.py): the issue's examples read by the real
models (kiwi, classifier, gazetteer, standard answers) against the packaged directory, and
each rule of the decision on a classifier whose answer the test sets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from eungdapso_platform.domain import DomainError
from eungdapso_router.classifier import Evidence
from eungdapso_router.decision import Decider, Submission, Thresholds, decide, next_after_rejection
from eungdapso_router.directory import TRIAGE, packaged_directory
from eungdapso_router.domainmodel import Reading, Routing
from eungdapso_router.places import NO_PLACE, PlaceResolution
from eungdapso_schemas.codes import District, Field, Kind, MessageClass
from eungdapso_schemas.events import Office, Place, RoutingEvidence, SubjectScore
from tests.support.routing import routing_models

DIRECTORY = packaged_directory()
MANGWON = Place(address="서울특별시 마포구 망원로 50", lat=37.5556, lon=126.9016)


@pytest.fixture(scope="module")
def decider() -> Decider:
    return Decider(routing_models(), Thresholds(triage_below=0.3))


@pytest.mark.parametrize(
    ("text", "kind", "place", "office"),
    [
        # A pothole on a district road: that district's road division.
        (
            "망원동 골목 도로에 포트홀이 생겨서 자전거가 넘어질 뻔했어요",
            Kind.COMPLAINT,
            MANGWON,
            "district.mapo.roads",
        ),
        # A city bus route: the city's bus policy division, wherever it is.
        (
            "146번 버스 배차 간격이 너무 길어요 출근길에 30분 기다렸습니다",
            Kind.COMPLAINT,
            None,
            "seoul.transport.bus_policy",
        ),
        # Illegal parking: the district's parking division.
        ("강남역 11번 출구 앞 불법주차 차량 단속해주세요", Kind.COMPLAINT, None, "district.gangnam.parking"),
        # The subway: the transit corporation.
        ("지하철 2호선 열차 냉방이 너무 세서 추워요", Kind.COMPLAINT, None, "seoul.metro"),
        # Outside Seoul: the neighbouring government, at once.
        (
            "정자동 공원 벤치가 부서졌어요",
            Kind.COMPLAINT,
            Place(address="경기도 성남시 분당구 정자동"),
            "ext.seongnam",
        ),
        # Confidential kinds: the investigators, whatever the topic.
        ("도로 공사 감독 공무원이 업체에서 돈을 받았습니다", Kind.COMPLAINT, None, "seoul.audit"),
        ("시청 앞 도로 포장 공사 입찰이 이상합니다", Kind.CORRUPTION_REPORT, None, "seoul.audit"),
        ("회사가 몰래 폐수를 방류합니다", Kind.WHISTLEBLOWING, None, "seoul.audit"),
        ("주민센터에서 장애를 이유로 차별을 당했습니다", Kind.HUMAN_RIGHTS, None, "seoul.human_rights"),
        # Nothing the router can read: a person decides.
        ("그냥 좀 그래요", Kind.COMPLAINT, None, TRIAGE),
    ],
)
def test_the_issues_examples_go_to_the_office_that_handles_them(
    decider: Decider, text: str, kind: Kind, place: Place | None, office: str
) -> None:
    decision = decider.decide(Submission(text, kind, place), DIRECTORY)
    assert decision.office.code == office, decision.reading.evidence.rules
    reading = decision.reading
    assert reading.confidential is (office in ("seoul.audit", "seoul.human_rights"))
    assert reading.evidence.scores and reading.evidence.rules[-1] == decision.rule


def test_the_evidence_names_the_terms_scores_and_place_never_the_address(decider: Decider) -> None:
    decision = decider.decide(
        Submission("망원동 골목 도로에 포트홀이 생겨서 자전거가 넘어질 뻔했어요", Kind.COMPLAINT, MANGWON),
        DIRECTORY,
    )
    evidence = decision.reading.evidence
    assert decision.reading.district is District.MAPO and decision.reading.subject == "pothole"
    assert evidence.place.method == "coordinates" and "망원로 50" not in evidence.place.matched
    assert evidence.scores[0].subject == "pothole" and evidence.matched_terms
    assert decision.rule == "subject:pothole district:mapo"


def test_an_everyday_question_is_answered_at_once_and_assigned_for_the_record(decider: Decider) -> None:
    decision = decider.decide(Submission("대형폐기물은 어떻게 버리나요?", Kind.INQUIRY), DIRECTORY)
    assert decision.instant_answer is not None and decision.instant_answer.answer_id.startswith("faq-")
    assert decision.instant_answer.answer
    assert decision.reading.subject == "bulky_waste" and not decision.at_triage
    assert decision.rule.startswith(f"instant answer {decision.instant_answer.answer_id}")


def test_a_complaint_is_not_answered_from_the_standard_answers(decider: Decider) -> None:
    decision = decider.decide(
        Submission("대형폐기물 신고했는데 3일째 안 가져가요 수거해 주세요", Kind.COMPLAINT), DIRECTORY
    )
    assert decision.instant_answer is None


# ---------------------------------------------------------------------- each rule, alone
@dataclass(frozen=True)
class Read:
    subject: str
    confidence: float
    scores: tuple[tuple[str, float], ...] = ()
    message_class: MessageClass = MessageClass.FIELD
    confidential: bool = False
    detected_kind: Kind | None = None
    field: Field = Field.ROADS_TRAFFIC

    @property
    def evidence(self) -> Evidence:
        scores = self.scores or ((self.subject, self.confidence),)
        return Evidence(("m:test",), scores, (), detected_kind=self.detected_kind)


@dataclass
class Answers:
    found: tuple[str, str] | None = None  # (id, subject)
    asked: list[str] = field(default_factory=list)

    def best_answer(  # type: ignore[no-untyped-def]
        self,
        text: str,
        *,
        kind: Kind | None = None,
        message_class: MessageClass | None = None,
        analysis: object = None,
    ):
        self.asked.append(text)
        if self.found is None:
            return None
        return Entry(*self.found), 0.9


@dataclass(frozen=True)
class Entry:
    id: str
    subject: str
    question: str = "질문"
    answer: str = "답변"


def in_district(district: District) -> PlaceResolution:
    return PlaceResolution(district, None, None, "address", (), 0.9, matched=(district.value,))


def rule_decision(read: Read, *, place: PlaceResolution = NO_PLACE, chosen: str | None = None, **kw):  # type: ignore[no-untyped-def]
    kind = kw.pop("kind", Kind.COMPLAINT)
    answers = kw.pop("answers", Answers())
    return decide(read, place, Submission("본문", kind, None, chosen), DIRECTORY, answers, Thresholds(0.3))


def test_below_the_threshold_a_person_decides_and_above_it_the_directory() -> None:
    assert rule_decision(Read("pothole", 0.29), place=in_district(District.MAPO)).office.code == TRIAGE
    assert (
        rule_decision(Read("pothole", 0.31), place=in_district(District.MAPO)).office.code
        == "district.mapo.roads"
    )


def test_a_district_subject_with_no_place_goes_to_the_city_office_that_finds_the_district() -> None:
    decision = rule_decision(Read("illegal_parking", 0.9))
    assert decision.office.code == DIRECTORY.office_for("illegal_parking", None).code
    assert decision.office.level.value == "headquarters" and decision.reading.district is None


def test_a_chosen_subject_is_a_strong_prior_the_text_can_still_overrule() -> None:
    # The classifier is unsure: the citizen's choice stands, with a confidence above the threshold.
    unsure = Read("sidewalk", 0.35, scores=(("sidewalk", 0.35), ("pothole", 0.3), ("streetlight", 0.1)))
    chosen = rule_decision(unsure, place=in_district(District.JONGNO), chosen="pothole")
    assert chosen.reading.subject == "pothole" and chosen.reading.confidence > 0.9
    assert any(r.startswith("subject-chosen:pothole (prior") for r in chosen.reading.evidence.rules)
    # The classifier is sure of something the choice does not even rank: the text wins.
    sure = Read("subway", 0.97, scores=(("subway", 0.97), ("bus", 0.01), ("taxi", 0.01)))
    overruled = rule_decision(sure, chosen="park")
    assert overruled.reading.subject == "subway" and overruled.office.code == "seoul.metro"
    assert any("overruled by the text" in r for r in overruled.reading.evidence.rules)


def test_a_confidential_report_found_in_an_ordinary_complaint_goes_to_the_investigators() -> None:
    hidden = Read("corruption", 0.6, confidential=True, detected_kind=Kind.CORRUPTION_REPORT)
    decision = rule_decision(hidden, place=in_district(District.MAPO))
    assert decision.office.code == "seoul.audit" and decision.reading.confidential
    low = Read("human_rights", 0.1, confidential=True, detected_kind=Kind.HUMAN_RIGHTS)
    assert rule_decision(low).office.code == "seoul.human_rights"  # never to triage
    # Registered confidential: decided by rule, with full confidence, whatever the text.
    registered = rule_decision(Read("park", 0.2), kind=Kind.WHISTLEBLOWING)
    assert registered.office.code == "seoul.audit" and registered.reading.confidence == 1.0


def test_an_instant_answer_gives_its_subject_to_an_unsure_reading() -> None:
    answers = Answers(found=("faq-parking-report-01", "illegal_parking"))
    inquiry = rule_decision(
        Read("other", 0.1, message_class=MessageClass.COMMUNICATION), kind=Kind.INQUIRY, answers=answers
    )
    assert inquiry.instant_answer is not None and inquiry.reading.subject == "illegal_parking"
    assert not inquiry.at_triage


def test_outside_seoul_is_transferred_even_for_a_district_subject() -> None:
    outside = PlaceResolution(None, None, "ext.goyang", "address", (), 0.9, matched=("일산",))
    decision = rule_decision(Read("pothole", 0.95), place=outside)
    assert decision.office.code == "ext.goyang" and decision.office.level.value == "external"
    assert decision.rule == "outside Seoul: transfer to ext.goyang" and decision.reading.district is None


# ---------------------------------------------------------------------- after a rejection
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def routed(subject: str, office: str, scores: tuple[tuple[str, float], ...], **reading: object) -> Routing:
    r = Reading(
        message_class=MessageClass.FIELD,
        field=Field.ROADS_TRAFFIC,
        subject=subject,
        district=District.MAPO,
        confidence=scores[0][1],
        evidence=RoutingEvidence(scores=tuple(SubjectScore(subject=s, score=p) for s, p in scores)),
        **reading,  # type: ignore[arg-type]
    )
    o = DIRECTORY.office(office)
    return Routing.assign(
        complaint_id=uuid.uuid4(),
        receipt_no="2026-0000042",
        office=o.ref,
        rule="test",
        at=NOW,
        reading=r,
    )


def test_a_rejected_complaint_goes_to_the_next_subject_then_after_two_rejections_to_triage() -> None:
    routing = routed("pothole", "district.mapo.roads", (("pothole", 0.6), ("illegal_parking", 0.3)))
    first = next_after_rejection(routing, "district.mapo.roads", DIRECTORY)
    assert first.office.code == "district.mapo.parking" and first.reading is not None
    assert first.reading.subject == "illegal_parking" and first.rule.startswith(
        "rejected by district.mapo.roads"
    )
    routing.reassign(
        office=first.office.ref,
        rule=first.rule,
        reading=first.reading,
        at=NOW,
        rejected_by="district.mapo.roads",
    )
    second = next_after_rejection(routing, "district.mapo.parking", DIRECTORY)
    assert second.office.code == TRIAGE and second.rule == "rejected 2 times: triage desk"


def test_with_no_second_subject_the_city_level_office_takes_it() -> None:
    routing = routed("pothole", "district.mapo.roads", (("pothole", 0.95), ("sidewalk", 0.02)))
    after = next_after_rejection(routing, "district.mapo.roads", DIRECTORY)
    assert after.office.code == DIRECTORY.office_for("pothole", None).code
    assert after.office.district is None and after.rule.endswith("city-level office")


def test_a_rejected_confidential_report_stays_with_the_investigators() -> None:
    routing = routed("corruption", "seoul.audit", (("corruption", 0.9), ("pothole", 0.05)), confidential=True)
    after = next_after_rejection(routing, "seoul.audit", DIRECTORY)
    assert after.office.code == "seoul.human_rights"


def test_only_the_office_that_has_the_complaint_can_reject_it() -> None:
    routing = routed("pothole", "district.mapo.roads", (("pothole", 0.9),))
    with pytest.raises(DomainError, match="cannot reject"):
        routing.reassign(
            office=Office(code="seoul.metro", name="서울교통공사", level="city_office"),  # type: ignore[arg-type]
            rule="x",
            reading=routing.reading,
            at=NOW,
            rejected_by="district.gangnam.roads",
        )


@pytest.mark.parametrize(
    ("subject", "office", "level"),
    [("other", "seoul.eungdapso", "headquarters"), ("labour", "ext.moel", "external")],
)
def test_an_instant_answer_about_nobodys_or_an_agencys_matter_is_recorded_with_the_desk_or_the_agency(
    subject: str, office: str, level: str
) -> None:
    answers = Answers(found=(f"faq-{subject}-01", subject))
    decision = rule_decision(
        Read(subject, 0.9, message_class=MessageClass.COMMUNICATION), kind=Kind.INQUIRY, answers=answers
    )
    assert decision.instant_answer is not None and not decision.at_triage
    assert (decision.office.code, decision.office.level.value) == (office, level)
    routing = Routing.assign(
        complaint_id=uuid.uuid4(),
        receipt_no="2026-0000042",
        office=decision.office.ref,
        rule=decision.rule,
        at=NOW,
        reading=decision.reading,
    )
    routing.answer_instantly(answer_id=f"faq-{subject}-01", answer="답변", confidence=0.9, at=NOW)
    assert routing.state.value == "answered"
