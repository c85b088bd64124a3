"""The notices process's handlers on an in-memory event store: what each owner's event makes
due, for whom and on which medium, and when (nothing is recorded: the unit is inspected)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from eungdapso_notifier.application import NotifierApplication
from eungdapso_notifier.consumers import Notices
from eungdapso_notifier.domainmodel import Notice, notice_id
from eungdapso_platform.clock import FixedClock
from eungdapso_platform.consumer import Unit
from eungdapso_platform.settings import ServiceSettings
from eungdapso_schemas.codes import Channel, ReplyMedium
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    ComplaintAnsweredInstantlyV1,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineWarnedV1,
    FirstContactResolution,
    RatingLinkIssuedV1,
    ReplyAddress,
    ReviewRequestedV1,
)

NOW = datetime(2026, 11, 2, 1, tzinfo=UTC)
GRACE = timedelta(seconds=300)
CID = uuid.uuid4()


def envelope(payload: Any) -> Envelope[Any]:
    payload = payload.model_copy(update={"complaint_id": CID, "receipt_no": "2026-0000777"})
    return Envelope(id=str(uuid.uuid4()), source="/test", time=NOW, subject=str(CID), data=payload)


def received(**values: Any) -> Envelope[Any]:
    reply = ReplyAddress(medium=ReplyMedium.SMS, address="010-7777-0001", consent=True)
    return envelope(
        ComplaintReceivedV2.example().model_copy(update={"channel": Channel.SMS, "reply_to": reply, **values})
    )


def run(
    *envelopes: Envelope[Any], sent: tuple[str, ...] = (), sent_before: int = -1
) -> tuple[dict[str, Notice], list[tuple[str, tuple[Any, ...]]]]:
    """The handlers on `envelopes`; the notices named in `sent` (stage/n/medium) are sent
    by the time the envelope at index `sent_before` comes."""
    application = NotifierApplication(env=ServiceSettings.in_memory_env())
    unit = Unit(application)
    handlers = Notices(FixedClock(NOW), GRACE)
    table: dict[type, Any] = {}

    class Recorder:
        def on(self, payload: type, handler: Any, *, aggregate_ids: Any = None) -> None:
            table[payload] = handler

    handlers.register(Recorder())  # type: ignore[arg-type]
    for i, e in enumerate(envelopes):
        if i == sent_before % len(envelopes):
            for n in unit.aggregates.values():
                if isinstance(n, Notice) and f"{n.stage}/{n.occurrence}/{n.medium}" in sent:
                    n.next_attempt(NOW)
                    n.sent(language="ko", provider="test", at=NOW, form=None)
        table[type(e.data)](unit, e)
    notices = {
        f"{n.stage}/{n.occurrence}/{n.medium}": n for n in unit.aggregates.values() if isinstance(n, Notice)
    }
    return notices, [(w.statement, w.params) for w in unit.writes]


def due_at(writes: list[tuple[str, tuple[Any, ...]]], notice: Notice) -> datetime:
    (params,) = [p for s, p in writes if "INSERT INTO {schema}.pending_notices" in s and p[0] == notice.id]
    at: datetime = params[4]
    return at


def test_an_instant_answer_waits_for_its_rating_link_and_goes_at_once_when_it_comes() -> None:
    notices, writes = run(received(), envelope(ComplaintAnsweredInstantlyV1.example()))
    assert sorted(notices) == ["answered/1/sms", "received/1/sms"]
    assert due_at(writes, notices["received/1/sms"]) == NOW
    assert due_at(writes, notices["answered/1/sms"]) == NOW + GRACE
    _, writes = run(
        received(), envelope(ComplaintAnsweredInstantlyV1.example()), envelope(RatingLinkIssuedV1.example())
    )
    assert any(s.startswith("UPDATE {schema}.pending_notices SET next_at") and p[0] == NOW for s, p in writes)


def test_an_answer_on_the_120_call_is_told_in_writing_with_the_receipt() -> None:
    fc = FirstContactResolution(agent="agent-7", answer="수거는 목요일입니다.", answered_at=NOW)
    notices, _ = run(received(first_contact=fc))
    assert sorted(notices) == ["answered/1/sms", "received/1/sms"]


def test_offices_are_told_of_warnings_breach_and_low_rating_by_email_once_each() -> None:
    share = DeadlineWarnedV1.example().model_copy(update={"stage": "share"})
    notices, _ = run(
        envelope(share),
        envelope(DeadlineWarnedV1.example()),
        envelope(DeadlineWarnedV1.example()),  # the same warning again: once
        envelope(DeadlineBreachedV1.example()),
        envelope(ReviewRequestedV1.example()),
    )
    assert sorted(notices) == [
        "office_breach/1/email",
        "office_deadline_warning/1/email",
        "office_deadline_warning/2/email",
        "office_low_rating/1/email",
    ]
    assert {n.recipient for n in notices.values()} == {"office"}
    assert {n.office for n in notices.values()} == {"district.yongsan.roads"}
    assert notices["office_breach/1/email"].id == notice_id(CID, "office_breach", 1, "email")


def test_nothing_is_planned_for_the_citizen_before_the_receipt() -> None:
    notices, _ = run(envelope(ComplaintAnsweredInstantlyV1.example()))
    assert notices == {}


def test_a_rating_link_after_the_answer_went_is_a_follow_up_notice_once() -> None:
    answered, link = envelope(ComplaintAnsweredInstantlyV1.example()), envelope(RatingLinkIssuedV1.example())
    notices, writes = run(received(), answered, link, sent=("answered/1/sms",))
    assert sorted(notices) == ["answered/1/sms", "rating_invited/1/sms", "received/1/sms"]
    assert due_at(writes, notices["rating_invited/1/sms"]) == NOW
    # The link published again (a redelivery, a second issue) invites nobody twice.
    link_again = envelope(RatingLinkIssuedV1.example())
    again, _ = run(received(), answered, link, link_again, sent=("answered/1/sms",), sent_before=2)
    assert sorted(again) == sorted(notices)
    assert [type(e).__name__ for e in again["rating_invited/1/sms"].collect_events()] == ["Planned"]


def test_a_rating_link_in_the_grace_period_goes_with_the_answer_and_no_follow_up() -> None:
    notices, writes = run(
        received(), envelope(ComplaintAnsweredInstantlyV1.example()), envelope(RatingLinkIssuedV1.example())
    )
    assert "rating_invited/1/sms" not in notices
    assert any(s.startswith("UPDATE {schema}.pending_notices SET next_at") for s, _ in writes)
    # The waiting answer is marked: a text made before the link came is made again.
    assert [type(e).__name__ for e in notices["answered/1/sms"].collect_events()][-1] == "RatingLinkCame"


def test_a_rating_link_before_the_answer_invites_nobody() -> None:
    notices, _ = run(received(), envelope(RatingLinkIssuedV1.example()))
    assert sorted(notices) == ["received/1/sms"]
