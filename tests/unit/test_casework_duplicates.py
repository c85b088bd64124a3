"""Instant answers and duplicate links in casework, without a database: the case assigned "for
the record" leaves the inbox; a linked duplicate follows its original (answered or transferred
with it) exactly once, whichever comes first, link or answer; links follow a reassignment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eungdapso_casework.api import detail
from eungdapso_casework.application import OUTBOX, CaseworkApplication
from eungdapso_casework.consumers import on_answered_instantly, on_assigned, on_linked, on_received
from eungdapso_casework.domainmodel import DESK, Case, CaseRefused, case_id
from eungdapso_casework.services import Acting, Casework
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.consumer import Unit
from eungdapso_schemas.codes import OfficeLevel, Resolution
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseTransferredV1,
    CaseWithdrawnV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV2,
    ComplaintLinkedV1,
    ComplaintReceivedV2,
    DuplicateAnsweredV1,
    Office,
    Payload,
)

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
PARKING = Office(code="district.gangnam.parking", name="강남구 주차관리과", level=OfficeLevel.DISTRICT)
ROADS = Office(code="district.gangnam.roads", name="강남구 도로관리과", level=OfficeLevel.DISTRICT)
AS_PARKING = Acting(office=PARKING.code, key="k")
ANSWER = "단속반이 현장에 나가 차량을 이동 조치했습니다."


def envelope(payload: Payload) -> Envelope[Any]:
    subject = str(payload.complaint_id)  # type: ignore[attr-defined]
    return Envelope(id=str(uuid.uuid4()), source="/test", time=T0, subject=subject, data=payload)


class Complaint:
    def __init__(self, n: int) -> None:
        self.id = uuid.uuid4()
        self.receipt_no = f"2026-{n:07d}"

    def received(self) -> Envelope[Any]:
        return envelope(
            ComplaintReceivedV2.example().model_copy(
                update={"complaint_id": self.id, "receipt_no": self.receipt_no}
            )
        )

    def assigned(self, office: Office = PARKING, minutes: int = 0) -> Envelope[Any]:
        return envelope(
            ComplaintAssignedV2.example().model_copy(
                update={
                    "complaint_id": self.id,
                    "receipt_no": self.receipt_no,
                    "office": office,
                    "assigned_at": T0 + timedelta(minutes=minutes),
                }
            )
        )

    def linked_to(self, original: Complaint) -> Envelope[Any]:
        return envelope(
            ComplaintLinkedV1.example().model_copy(
                update={
                    "complaint_id": self.id,
                    "receipt_no": self.receipt_no,
                    "duplicate_of": original.id,
                    "duplicate_of_receipt_no": original.receipt_no,
                    "linked_at": T0 + timedelta(minutes=1),
                }
            )
        )

    def answered_instantly(self) -> Envelope[Any]:
        return envelope(
            ComplaintAnsweredInstantlyV1.example().model_copy(
                update={"complaint_id": self.id, "receipt_no": self.receipt_no}
            )
        )


HANDLERS = {
    ComplaintReceivedV2: on_received,
    ComplaintAssignedV2: on_assigned,
    ComplaintLinkedV1: on_linked,
    ComplaintAnsweredInstantlyV1: on_answered_instantly,
}


def decide(app: CaseworkApplication, *envelopes: Envelope[Any]) -> None:
    """As the inbox process does (one unit, one save), without the ledger: a redelivery here
    reaches the handlers, so what they do must hold without it."""
    unit = Unit(app)
    for e in envelopes:
        HANDLERS[type(e.data)](unit, e)
    app.save(*unit.aggregates.values(), writes=unit.writes)


def published(app: CaseworkApplication) -> list[Payload]:
    """Everything casework's outbox would publish, in order."""
    found = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        translated = OUTBOX(app.mapper.to_domain_event(notification))
        if translated is not None:
            found.append(translated.data)
    return found


class InMemory(CaseworkApplication):
    """The application in memory: the inbox rows (PostgreSQL's) are left out."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        kwargs.pop("writes", None)
        return super().save(*objs, **kwargs)


@pytest.fixture
def app() -> CaseworkApplication:
    return InMemory(env={"PERSISTENCE_MODULE": "eungdapso_platform.eventstore:LedgeredPOPOFactory"})


@pytest.fixture
def casework(app: CaseworkApplication) -> Casework:
    return Casework(app, FixedClock(T0 + timedelta(hours=2)), lambda: None)


def case_of(app: CaseworkApplication, complaint: Complaint, number: int = 1) -> Case:
    case = app.case(case_id(complaint.id, number))
    assert case is not None
    return case


def accept_and_answer(casework: Casework, case: Case, acting: Acting = AS_PARKING) -> None:
    casework._act(acting, case.id, lambda c, at: c.accept(staff="kim", at=at))
    casework._act(
        acting,
        case.id,
        lambda c, at: c.answer(
            staff="kim", text=ANSWER, resolution=Resolution.RESOLVED, objection=None, at=at
        ),
    )


def test_an_instant_answer_takes_the_case_out_of_the_inbox(app: CaseworkApplication) -> None:
    faq = Complaint(1)
    decide(app, faq.received(), faq.assigned(), faq.answered_instantly())
    case = case_of(app, faq)
    assert case.withdrawn and case.withdrawn_because == "answered_instantly" and case.withdrawn_to == DESK
    assert not case.belongs_to(PARKING.code)
    with pytest.raises(CaseRefused):
        case.accept(staff="kim", at=T0)
    [_, left] = published(app)
    assert isinstance(left, CaseWithdrawnV1) and left.because == "answered_instantly"
    decide(app, faq.answered_instantly())  # again: nothing more
    assert len(published(app)) == 2


def test_a_link_then_the_answer_answers_the_duplicate_once(
    app: CaseworkApplication, casework: Casework
) -> None:
    original, duplicate = Complaint(1), Complaint(2)
    decide(app, original.received(), original.assigned())
    decide(app, duplicate.received(), duplicate.assigned(), duplicate.linked_to(original))
    dup_case = case_of(app, duplicate)
    assert dup_case.withdrawn and dup_case.withdrawn_because == "linked"
    assert dup_case.withdrawn_to == PARKING.code

    shown = detail(case_of(app, original), app.file(original.id))
    assert [(link.receipt_no, link.followed) for link in shown.linked] == [(duplicate.receipt_no, None)]

    accept_and_answer(casework, case_of(app, original))
    answers = [p for p in published(app) if isinstance(p, DuplicateAnsweredV1)]
    assert len(answers) == 1
    [answer] = answers
    assert answer.complaint_id == duplicate.id and answer.duplicate_of == original.id
    assert answer.case_id == case_of(app, original).id and answer.office == PARKING.code
    assert answer.text == ANSWER and answer.resolution is Resolution.RESOLVED
    assert detail(case_of(app, original), app.file(original.id)).linked[0].followed == "answered"

    # The link delivered again (a replay without the ledger) answers nobody twice.
    decide(app, duplicate.linked_to(original))
    assert len([p for p in published(app) if isinstance(p, DuplicateAnsweredV1)]) == 1


def test_a_link_after_the_answer_is_answered_at_once(app: CaseworkApplication, casework: Casework) -> None:
    original, late = Complaint(1), Complaint(2)
    decide(app, original.received(), original.assigned())
    accept_and_answer(casework, case_of(app, original))
    assert not [p for p in published(app) if isinstance(p, DuplicateAnsweredV1)]
    decide(app, late.assigned(), late.linked_to(original))
    decide(app, late.linked_to(original))
    answers = [p for p in published(app) if isinstance(p, DuplicateAnsweredV1)]
    assert [a.complaint_id for a in answers] == [late.id]
    file = app.file(late.id)
    assert file is not None and file.followed == "answered"


def test_links_follow_the_original_to_its_next_office_and_a_transfer_takes_them_along(
    app: CaseworkApplication, casework: Casework
) -> None:
    original, duplicate = Complaint(1), Complaint(2)
    decide(app, original.assigned(), duplicate.assigned(), duplicate.linked_to(original))
    first = case_of(app, original)
    casework._act(AS_PARKING, first.id, lambda c, at: c.reject(staff="kim", reason="도로관리과 소관", at=at))
    decide(app, original.assigned(ROADS, minutes=30))
    second = case_of(app, original, 2)
    assert [link.complaint_id for link in detail(second, app.file(original.id)).linked] == [duplicate.id]

    as_roads = Acting(office=ROADS.code, key="r")
    casework._act(as_roads, second.id, lambda c, at: c.accept(staff="lee", at=at))
    casework._act(
        as_roads,
        second.id,
        lambda c, at: c.transfer(staff="lee", to_office="ext.seoul_police", reason="교통사고", at=at),
    )
    transfers = [p for p in published(app) if isinstance(p, CaseTransferredV1)]
    assert [(t.complaint_id, t.to_office) for t in transfers] == [
        (original.id, "ext.seoul_police"),
        (duplicate.id, "ext.seoul_police"),
    ]
    # The duplicate moves from its own case (in the office it was assigned to for the record).
    assert transfers[1].case_id == case_of(app, duplicate).id and transfers[1].office == PARKING.code
    assert not [p for p in published(app) if isinstance(p, DuplicateAnsweredV1)]


def test_a_link_after_the_office_answered_the_complaint_itself_changes_nothing(
    app: CaseworkApplication, casework: Casework
) -> None:
    original, answered_alone = Complaint(1), Complaint(2)
    decide(app, original.assigned(), answered_alone.assigned())
    accept_and_answer(casework, case_of(app, answered_alone))
    decide(app, answered_alone.linked_to(original))
    assert not case_of(app, answered_alone).withdrawn
    assert app.file(original.id).links == {}  # type: ignore[union-attr]
