"""The case's rules without a database: the order of an office's actions, the objection notice,
one extension, reassignment, and what an office may see; the inbox process in memory."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from eungdapso_casework.api import contact_for, detail
from eungdapso_casework.application import OUTBOX, CaseworkApplication
from eungdapso_casework.consumers import on_assigned, on_received
from eungdapso_casework.domainmodel import Case, CaseRefused, CaseStatus, ComplaintFile, case_id, file_id
from eungdapso_platform.consumer import Unit
from eungdapso_platform.domain import DomainError
from eungdapso_schemas.codes import OfficeLevel, ReplyMedium, Resolution
from eungdapso_schemas.envelope import Envelope, decode, encode
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseRejectedV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV2,
    Office,
    ReplyAddress,
)

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
PARKING = Office(code="district.gangnam.parking", name="강남구 주차관리과", level=OfficeLevel.DISTRICT)
ROADS = Office(code="district.gangnam.roads", name="강남구 도로관리과", level=OfficeLevel.DISTRICT)


def a_case(**values: object) -> Case:
    details: dict[str, object] = {
        "complaint_id": uuid.uuid4(),
        "receipt_no": "2026-0000001",
        "number": 1,
        "office": PARKING,
        "assigned_at": T0,
    }
    details.update(values)
    return Case.open(**details)  # type: ignore[arg-type]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def accept(c: Case) -> None:
    c.accept(staff="kim", at=at(1))


def reject(c: Case) -> None:
    c.reject(staff="kim", reason="주차관리과 소관이 아닙니다", at=at(2))


def extend(c: Case) -> None:
    c.request_extension(staff="kim", reason="현장 조사 필요", at=at(3))


def transfer(c: Case) -> None:
    c.transfer(staff="kim", to_office="ext.seoul_police", reason="교통사고는 경찰 소관", at=at(4))


def answer(c: Case) -> None:
    c.answer(staff="kim", text="단속했습니다", resolution=Resolution.RESOLVED, objection=None, at=at(5))


def close(c: Case) -> None:
    c.close(staff="kim", at=at(6))


Step = Callable[[Case], None]
ACTIONS: dict[str, Step] = {
    "accept": accept,
    "reject": reject,
    "extend": extend,
    "transfer": transfer,
    "answer": answer,
    "close": close,
}
#: How to bring a new case into each state, and which actions that state allows.
STATES: dict[str, tuple[tuple[Step, ...], set[str]]] = {
    "assigned": ((), {"accept", "reject"}),
    "accepted": ((accept,), {"extend", "transfer", "answer"}),
    "extended": ((accept, extend), {"transfer", "answer"}),
    "rejected": ((reject,), set()),
    "transferred": ((accept, transfer), set()),
    "answered": ((accept, answer), {"close"}),
    "closed": ((accept, answer, close), set()),
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_out_of_order_is_refused_with_a_clear_title(state: str, action: str) -> None:
    steps, allowed = STATES[state]
    case = a_case()
    for step in steps:
        step(case)
    before = case.version
    if action in allowed:
        ACTIONS[action](case)
        assert case.version == before + 1
        return
    with pytest.raises(CaseRefused) as refused:
        ACTIONS[action](case)
    assert refused.value.status == 409 and refused.value.title and refused.value.detail
    assert case.version == before  # nothing recorded
    assert isinstance(refused.value, DomainError)  # consumers and HTTP treat it as the data's fault


def test_the_titles_say_which_rule() -> None:
    fresh = a_case()
    with pytest.raises(CaseRefused, match="Accept the case before you answer it"):
        answer(fresh)
    accepted = a_case()
    accept(accepted)
    answer(accepted)
    with pytest.raises(CaseRefused) as twice:
        answer(accepted)
    assert twice.value.title == "Case already answered"
    close(accepted)
    with pytest.raises(CaseRefused) as after_close:
        answer(accepted)
    assert after_close.value.title == "Case closed"


@pytest.mark.parametrize("resolution", [Resolution.PARTLY, Resolution.NOT_POSSIBLE])
def test_an_answer_that_does_not_resolve_must_say_how_to_object(resolution: Resolution) -> None:
    case = a_case()
    accept(case)
    for missing in (None, "", "   "):
        with pytest.raises(CaseRefused) as refused:
            case.answer(staff="kim", text="불가합니다", resolution=resolution, objection=missing, at=at(5))
        assert refused.value.status == 422 and refused.value.title == "Objection notice required"
    assert case.status is CaseStatus.ACCEPTED
    notice = "처분을 안 날부터 90일 이내에 행정심판을 청구할 수 있습니다"
    case.answer(staff="kim", text="불가합니다", resolution=resolution, objection=notice, at=at(5))
    assert case.status is CaseStatus.ANSWERED and case.objection == notice
    # The contract says so too: a payload without the notice is invalid.
    with pytest.raises(ValueError, match="objection"):
        CaseAnsweredV1.model_validate(
            {**CaseAnsweredV1.example().model_dump(), "resolution": resolution.value}
        )


def test_an_extension_is_requested_once() -> None:
    case = a_case()
    accept(case)
    extend(case)
    with pytest.raises(CaseRefused) as again:
        extend(case)
    assert again.value.title == "Extension already requested"
    answer(case)  # the case goes on


def test_a_case_is_not_transferred_to_its_own_office_and_reasons_are_words() -> None:
    case = a_case()
    accept(case)
    with pytest.raises(CaseRefused) as own:
        case.transfer(staff="kim", to_office=PARKING.code, reason="x", at=at(2))
    assert own.value.status == 422
    with pytest.raises(CaseRefused):
        case.transfer(staff="kim", to_office="ext.seoul_police", reason="  ", at=at(2))
    with pytest.raises(DomainError):
        case.transfer(staff="kim", to_office="ext.seoul_police", reason="x", at=datetime(2026, 1, 1))


def test_a_withdrawn_case_is_no_longer_the_offices_and_refuses_everything() -> None:
    case = a_case()
    assert case.belongs_to(PARKING.code) and not case.belongs_to(ROADS.code)
    assert case.withdraw(to_office=ROADS.code, at=at(1))
    assert not case.withdraw(to_office=ROADS.code, at=at(2))  # once
    assert not case.belongs_to(PARKING.code)
    for action in ACTIONS.values():
        with pytest.raises(CaseRefused, match="reassigned"):
            action(case)
    closed = a_case()
    for step in (accept, answer, close):
        step(closed)
    assert not closed.withdraw(to_office=ROADS.code, at=at(9))  # a closed case stays the office's record


def test_a_rejection_counts_the_rejections_of_the_complaint_so_far() -> None:
    first = a_case()
    reject(first)
    assert first.rejections_so_far == 1
    second = a_case(complaint_id=first.complaint_id, number=2, office=ROADS, rejections_before=1)
    reject(second)
    [rejected] = [e for e in second.collect_events() if isinstance(e, Case.Rejected)]
    assert rejected.rejections == 2
    envelope = OUTBOX(rejected)
    assert envelope is not None and isinstance(envelope.data, CaseRejectedV1)
    assert envelope.data.rejections == 2 and envelope.data.office == ROADS.code
    assert envelope.data.case_id == case_id(first.complaint_id, 2)
    # It travels as a valid CloudEvent about the complaint.
    record = encode(envelope)
    assert decode(record.headers, record.key, record.value).data == envelope.data


def received(complaint_id: uuid.UUID, *, consent: bool = True) -> Envelope[ComplaintReceivedV2]:
    payload = ComplaintReceivedV2.example().model_copy(
        update={
            "complaint_id": complaint_id,
            "reply_to": ReplyAddress(medium=ReplyMedium.SMS, address="010-1234-5678", consent=consent),
        }
    )
    return Envelope(id=str(uuid.uuid4()), source="/test", time=T0, subject=str(complaint_id), data=payload)


def assigned(complaint_id: uuid.UUID, office: Office, minutes: int = 0) -> Envelope[ComplaintAssignedV1]:
    payload = ComplaintAssignedV2.example().model_copy(
        update={"complaint_id": complaint_id, "office": office, "assigned_at": at(minutes)}
    )
    return Envelope(id=str(uuid.uuid4()), source="/test", time=T0, subject=str(complaint_id), data=payload)


def decide(app: CaseworkApplication, *envelopes: Envelope) -> Unit:  # type: ignore[type-arg]
    unit = Unit(app)
    for envelope in envelopes:
        handler = on_received if isinstance(envelope.data, ComplaintReceivedV2) else on_assigned
        handler(unit, envelope)
    app.save(*unit.aggregates.values())
    return unit


@pytest.fixture
def app() -> CaseworkApplication:
    return CaseworkApplication(
        env={"PERSISTENCE_MODULE": "eungdapso_platform.eventstore:LedgeredPOPOFactory"}
    )


def test_an_assignment_before_its_receipt_opens_the_case_and_the_receipt_fills_it_in(
    app: CaseworkApplication,
) -> None:
    cid = uuid.uuid4()
    decide(app, assigned(cid, PARKING))
    case = app.case(case_id(cid, 1))
    assert case is not None and case.office == PARKING and case.subject == "footbridge"
    assert detail(case, app.file(cid)).complaint is None
    decide(app, received(cid))
    file = app.file(cid)
    assert file is not None and file.complaint is not None and file.current_case == case.id
    shown = detail(case, file)
    assert shown.complaint is not None and shown.complaint.text == ComplaintReceivedV2.example().text
    # The same events again change nothing.
    decide(app, received(cid), assigned(cid, PARKING))
    assert app.file(cid).cases == 1  # type: ignore[union-attr]


def test_a_reassignment_withdraws_the_case_and_opens_one_for_the_new_office(app: CaseworkApplication) -> None:
    cid = uuid.uuid4()
    decide(app, received(cid), assigned(cid, PARKING))
    first = app.case(case_id(cid, 1))
    assert first is not None
    reject(first)
    app.save(first)
    decide(app, assigned(cid, ROADS, minutes=10))
    old, new = app.case(case_id(cid, 1)), app.case(case_id(cid, 2))
    assert old is not None and new is not None
    assert old.withdrawn and old.withdrawn_to == ROADS.code and not old.belongs_to(PARKING.code)
    assert new.belongs_to(ROADS.code) and new.rejections_before == 1 and new.number == 2
    assert app.file(cid).current_case == new.id  # type: ignore[union-attr]


def test_the_contact_is_the_reply_address_only_once_accepted_and_only_with_consent(
    app: CaseworkApplication,
) -> None:
    cid = uuid.uuid4()
    decide(app, received(cid), assigned(cid, PARKING))
    case = app.case(case_id(cid, 1))
    assert case is not None
    file = app.file(cid)
    assert contact_for(case, file) is None  # not before accepting
    accept(case)
    contact = contact_for(case, file)
    assert contact is not None and contact.address == "010-1234-5678" and contact.medium is ReplyMedium.SMS
    answer(case)
    assert contact_for(case, file) is not None
    close(case)
    assert contact_for(case, file) is None  # not after closing
    shown = detail(case, file).model_dump_json()
    assert "홍길동" not in shown  # never the citizen's name

    other = uuid.uuid4()
    decide(app, received(other, consent=False), assigned(other, PARKING))
    no_consent = app.case(case_id(other, 1))
    assert no_consent is not None
    accept(no_consent)
    assert contact_for(no_consent, app.file(other)) is None


def test_ids_are_derived_so_a_case_is_never_opened_twice() -> None:
    cid = uuid.uuid4()
    assert case_id(cid, 1) == case_id(cid, 1) != case_id(cid, 2)
    assert file_id(cid) != case_id(cid, 1)
    file = ComplaintFile.open(cid, "2026-0000001")
    with pytest.raises(DomainError):
        file.note(a_case(complaint_id=cid, number=2, rejections_before=1))
