"""The notifier's entry point from Kafka: thin handlers that record what the owners'
events teach the complaint's `Correspondence`, and plan the notices it makes due (each a
`Notice` with its row in `pending_notices`, in the same transaction; the dispatcher sends)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from uuid import UUID

from eungdapso_notifier.channels import citizen_routes, extra_routes, sns_thread
from eungdapso_notifier.domainmodel import (
    Answer,
    Contact,
    Correspondence,
    Notice,
    correspondence_id,
    notice_id,
)
from eungdapso_notifier.tables import answer_now, pending
from eungdapso_platform.clock import Clock
from eungdapso_platform.consumer import Process, Unit
from eungdapso_platform.logging import get_logger
from eungdapso_schemas.codes import ReplyMedium
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseTransferredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintEvent,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineExtendedV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DeadlineWarnedV1,
    DuplicateAnsweredV1,
    NoticeMedium,
    NoticeStage,
    RatingLinkIssuedV1,
    ReviewRequestedV1,
)

log = get_logger("eungdapso.notifier")

#: The occurrence of an office's deadline warning: the share of the period, then the last hour.
WARNING_OCCURRENCE = {"share": 1, "last_hour": 2}


class Notices:
    """The `notices` process."""

    def __init__(self, clock: Clock, rating_link_grace: timedelta) -> None:
        self.clock = clock
        self.grace = rating_link_grace

    def register(self, process: Process) -> None:
        handlers: list[tuple[Any, Any]] = [
            (ComplaintReceivedV1, self.on_received),
            (ComplaintReceivedV2, self.on_received),
            (ComplaintAssignedV1, self.on_assigned),
            (ComplaintAssignedV2, self.on_assigned),
            (ComplaintAnsweredInstantlyV1, self.on_answered_instantly),
            (CaseTransferredV1, self.on_transferred),
            (CaseAnsweredV1, self.on_answered),
            (DuplicateAnsweredV1, self.on_duplicate_answered),
            (DeadlineSetV1, self.on_deadline_set),
            (DeadlineExtendedV1, self.on_extended),
            (DeadlineMovedV1, self.on_moved),
            (DeadlineWarnedV1, self.on_warned),
            (DeadlineBreachedV1, self.on_breached),
            (ReviewRequestedV1, self.on_review_requested),
            (RatingLinkIssuedV1, self.on_rating_link),
        ]
        for payload, handler in handlers:
            process.on(payload, handler, aggregate_ids=self.aggregate_ids)

    def aggregate_ids(self, envelope: Envelope[ComplaintEvent]) -> Iterable[UUID]:
        return (correspondence_id(envelope.data.complaint_id),)

    # -- the complaint's correspondence ----------------------------------------------------
    def _correspondence(self, unit: Unit, event: ComplaintEvent) -> Correspondence:
        found = unit.get(Correspondence, correspondence_id(event.complaint_id))
        if found is None:
            found = Correspondence.start(event.complaint_id, event.receipt_no)
            unit.add(found)
        return found

    def _notice(
        self,
        unit: Unit,
        c: Correspondence,
        stage: NoticeStage,
        occurrence: int,
        medium: NoticeMedium,
        office: str | None,
    ) -> None:
        notice = Notice.plan(c.complaint_id, c.receipt_no, stage, occurrence, medium, office)
        now = self.clock.now()
        # The answer waits a little for its rating link (the rating service issues it after
        # the answer); the link's arrival sends it at once (`on_rating_link`).
        at = now + self.grace if stage == "answered" and c.rating_token is None else now
        unit.add(notice)
        unit.write(*_params(pending(notice.id, c.complaint_id, stage, medium, at, notice.version)))
        log.info("notice_planned", notice_id=str(notice.id), stage=stage, medium=medium)

    def _tell_citizen(self, unit: Unit, c: Correspondence) -> None:
        if c.contact is None:
            return  # the receipt has not come yet: every stage waits for it
        for stage, occurrence in c.citizen_stages_due():
            c.plan(stage, occurrence)
            best = citizen_routes(c.contact, c.receipt_no)[0]
            for route in (best, *extra_routes(c.contact, stage)):
                self._notice(unit, c, stage, occurrence, route.medium, c.office)

    def _tell_office(
        self, unit: Unit, c: Correspondence, stage: NoticeStage, office: str | None, n: int = 1
    ) -> None:
        if office is not None and c.plan(stage, n):
            self._notice(unit, c, stage, n, "email", office)

    # -- handlers ----------------------------------------------------------------------------
    def on_received(self, unit: Unit, envelope: Envelope[ComplaintReceivedV1]) -> None:
        received = ComplaintReceivedV2.from_v1(envelope.data)
        c = self._correspondence(unit, received)
        citizen = received.citizen
        reply_to = received.reply_to
        if reply_to is not None and reply_to.medium is ReplyMedium.SNS:
            thread = sns_thread(reply_to.thread, received.channel_ref)
            reply_to = reply_to.model_copy(update={"thread": thread})
        c.learn_contact(
            Contact(
                channel=received.channel,
                language=received.language,
                reply_to=reply_to,
                email=citizen.email if citizen else None,
                phone=citizen.phone if citizen else None,
            )
        )
        if received.first_contact is not None:  # answered on the call (1차 상담 종결)
            fc = received.first_contact
            c.learn_answer(Answer(by="instant", text=fc.answer, at=fc.answered_at))
        self._tell_citizen(unit, c)

    def on_assigned(self, unit: Unit, envelope: Envelope[ComplaintAssignedV1]) -> None:
        assigned = envelope.data
        c = self._correspondence(unit, assigned)
        if c.learn_assignment(assigned.office.code, assigned.office.name):
            n = assigned.reassignment + 1 if isinstance(assigned, ComplaintAssignedV2) else 1
            self._tell_office(unit, c, "office_new_case", assigned.office.code, n)
        self._tell_citizen(unit, c)

    def on_deadline_set(self, unit: Unit, envelope: Envelope[DeadlineSetV1]) -> None:
        c = self._correspondence(unit, envelope.data)
        c.learn_deadline(envelope.data.due, envelope.data.office)
        self._tell_citizen(unit, c)

    def on_extended(self, unit: Unit, envelope: Envelope[DeadlineExtendedV1]) -> None:
        c = self._correspondence(unit, envelope.data)
        c.learn_extension(envelope.data.due, envelope.data.reason)
        self._tell_citizen(unit, c)

    def on_moved(self, unit: Unit, envelope: Envelope[DeadlineMovedV1]) -> None:
        self._correspondence(unit, envelope.data).move_deadline(envelope.data.due)

    def on_transferred(self, unit: Unit, envelope: Envelope[CaseTransferredV1]) -> None:
        c = self._correspondence(unit, envelope.data)
        c.learn_transfer(envelope.data.to_office, envelope.data.reason)
        self._tell_citizen(unit, c)

    def _answered(self, unit: Unit, event: ComplaintEvent, answer: Answer) -> None:
        c = self._correspondence(unit, event)
        c.learn_answer(answer)
        self._tell_citizen(unit, c)

    def on_answered(self, unit: Unit, envelope: Envelope[CaseAnsweredV1]) -> None:
        a = envelope.data
        self._answered(unit, a, Answer(by="office", text=a.text, at=a.at, office=a.office))

    def on_answered_instantly(self, unit: Unit, envelope: Envelope[ComplaintAnsweredInstantlyV1]) -> None:
        a = envelope.data
        self._answered(unit, a, Answer(by="instant", text=a.answer, at=a.answered_at))

    def on_duplicate_answered(self, unit: Unit, envelope: Envelope[DuplicateAnsweredV1]) -> None:
        a = envelope.data
        answer = Answer(
            by="duplicate", text=a.text, at=a.at, office=a.office, duplicate_of=a.duplicate_of_receipt_no
        )
        self._answered(unit, a, answer)

    def on_rating_link(self, unit: Unit, envelope: Envelope[RatingLinkIssuedV1]) -> None:
        link = envelope.data
        c = self._correspondence(unit, link)
        if not c.learn_rating_link(link.token, link.expires_at):
            return
        if c.contact is None or ("answered", 1) not in c.planned:
            return  # the answer is not told yet: its notice will carry the link
        routes = citizen_routes(c.contact, c.receipt_no)
        answers = [unit.get(Notice, notice_id(c.complaint_id, "answered", 1, r.medium)) for r in routes]
        waiting = [n for n in answers if n is not None and n.waiting]
        if waiting:  # still in its grace period (or retrying): it goes now, with the link
            for n in waiting:
                n.rating_link_came()
            unit.write(*_params(answer_now(c.complaint_id, self.clock.now())))
        elif c.plan("rating_invited"):  # the answer went without it: the link follows, once
            self._notice(unit, c, "rating_invited", 1, routes[0].medium, c.office)

    def on_warned(self, unit: Unit, envelope: Envelope[DeadlineWarnedV1]) -> None:
        warned = envelope.data
        c = self._correspondence(unit, warned)
        self._tell_office(unit, c, "office_deadline_warning", warned.office, WARNING_OCCURRENCE[warned.stage])

    def on_breached(self, unit: Unit, envelope: Envelope[DeadlineBreachedV1]) -> None:
        c = self._correspondence(unit, envelope.data)
        self._tell_office(unit, c, "office_breach", envelope.data.office)

    def on_review_requested(self, unit: Unit, envelope: Envelope[ReviewRequestedV1]) -> None:
        review = envelope.data
        c = self._correspondence(unit, review)
        if c.low_score is None:
            c.learn_review(review.score)
        self._tell_office(unit, c, "office_low_rating", review.office)


def _params(write: Any) -> tuple[Any, ...]:
    return (write.statement, *write.params)
