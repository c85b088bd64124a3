"""Integrators over Kafka: complaints published as `complaint.submitted` CloudEvents on
`eungdapso.integrators.submissions`, answered on `eungdapso.intake.replies`.

Each submission is recorded once, by its CloudEvents `source` + `id`
(`Idempotency.channel_message(Channel.INTEGRATION, source, id)`): published again, it
records no second complaint and gets the same answer again. A record that breaks the
contract (not a CloudEvent, an invalid payload) is dead-lettered with the reason, as by
every component; one that parses but that a rule refuses (a text empty once stripped, an
attachment intake does not hold) is answered `accepted: false` with the reason.

The answer is recorded in intake's event store (`Submission.Answered`) and published by
the outbox relay, not sent to Kafka from here: it is a decision intake makes, so it
belongs in the history an auditor replays (who answered what, when); the relay keeps it
until the broker acknowledges it, so a broker outage delays answers and loses none, and
publishes it after the complaint's own `complaint.received`; its CloudEvents id derives
from the recorded event, so a resend after a relay restart carries the same id.

Answers are at least once: each delivery of a submission is answered, so a delivery
retried after an outage may be answered twice, always with the same content.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from pydantic import ValidationError

from eungdapso_intake.application import OUTBOX
from eungdapso_intake.attachments import AttachmentRefused, Attachments
from eungdapso_intake.services import ComplaintIntake, Idempotency, ReceiveComplaint, SubmissionFailed
from eungdapso_platform.consumer import Component, message_context
from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import IntegrityError, derived_id, within
from eungdapso_platform.logging import get_logger
from eungdapso_platform.service import Overrides, ServiceParts
from eungdapso_schemas.codes import Channel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import AttachmentRef, ComplaintSubmittedV1, SubmissionAnsweredV1

log = get_logger("eungdapso.intake.integrators")

#: `registered_by` of an integrator's complaint is its CloudEvents source.
MAX_SOURCE_CHARS = 100
MAX_REASON_CHARS = 2000


def submission_key(source: str, message_id: str) -> UUID:
    return derived_id("integrator-submission", f"{source} {message_id}")


class Submission(RecordedAggregate):
    """An integrator's submission (its CloudEvents source and id) and intake's answers to it:
    the first decides, every later delivery gets the same answer again."""

    class Submitted(RecordedAggregate.Created):
        source: str
        message_id: str

    class Answered(RecordedAggregate.Event):
        # The whole answer, so that its translation needs nothing but the event.
        source: str
        message_id: str
        accepted: bool
        complaint_id: UUID | None
        receipt_no: str | None
        reason: str | None

    @event(Submitted)
    def __init__(self, id: UUID, source: str, message_id: str) -> None:
        self.source = source
        self.message_id = message_id
        self.accepted = False
        self.complaint_id: UUID | None = None
        self.receipt_no: str | None = None
        self.reason: str | None = None
        self.answers = 0

    @classmethod
    def accept(cls, source: str, message_id: str, complaint_id: UUID, receipt_no: str) -> Submission:
        submission = cls(id=submission_key(source, message_id), source=source, message_id=message_id)
        submission._answer(source, message_id, True, complaint_id, receipt_no, None)
        return submission

    @classmethod
    def reject(cls, source: str, message_id: str, reason: str) -> Submission:
        if not reason.strip():
            raise DomainError("a rejection says why")
        submission = cls(id=submission_key(source, message_id), source=source, message_id=message_id)
        submission._answer(source, message_id, False, None, None, reason[:MAX_REASON_CHARS])
        return submission

    def answer_again(self) -> None:
        self._answer(
            self.source, self.message_id, self.accepted, self.complaint_id, self.receipt_no, self.reason
        )

    @event(Answered)
    def _answer(
        self,
        source: str,
        message_id: str,
        accepted: bool,
        complaint_id: UUID | None,
        receipt_no: str | None,
        reason: str | None,
    ) -> None:
        self.accepted = accepted
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.reason = reason
        self.answers += 1


def answered_v1(e: Submission.Answered) -> SubmissionAnsweredV1:
    return SubmissionAnsweredV1(
        source=e.source,
        id=e.message_id,
        accepted=e.accepted,
        complaint_id=e.complaint_id,
        receipt_no=e.receipt_no,
        reason=e.reason,
    )


# Registered here, beside the aggregate; bootstrap imports this module before the relay runs.
OUTBOX.translate(Submission.Answered, answered_v1)


class Refused(Exception):
    """A submission a rule refuses: answered `accepted: false` with this reason."""


SubmissionHandler = Callable[[Envelope[ComplaintSubmittedV1]], Awaitable[None]]


class IntegratorSubmissions(Component[SubmissionHandler]):
    """The `intake.submissions` component: records integrators' submissions and answers them.

    Its ledger is the `Submission` aggregates (one per source + id), saved with intake's
    group commit; different submissions of a batch are answered side by side, the
    deliveries of one submission in order."""

    kind = "process"

    def __init__(
        self, intake: ComplaintIntake, attachments: Attachments, *, fetch_max_wait_ms: int = 50
    ) -> None:
        super().__init__("submissions", service="intake", fetch_max_wait_ms=fetch_max_wait_ms)
        self.intake = intake
        self.attachments = attachments
        self.on(ComplaintSubmittedV1, self.answer)

    @property
    def ledger(self) -> str:
        return self.id

    async def _apply(self, envelopes: list[Envelope[Any]]) -> None:
        deliveries: dict[tuple[str, str], list[Envelope[ComplaintSubmittedV1]]] = {}
        for envelope in envelopes:
            deliveries.setdefault((envelope.source, envelope.id), []).append(envelope)
        outcomes = await asyncio.gather(
            *(self._answer_in_order(d) for d in deliveries.values()), return_exceptions=True
        )
        self._applied([e for d, o in zip(deliveries.values(), outcomes, strict=True) if o is None for e in d])
        self.on_recorded()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _answer_in_order(self, deliveries: list[Envelope[ComplaintSubmittedV1]]) -> None:
        for envelope in deliveries:
            with message_context(envelope, "answer", actor=self.id):
                await self.answer(envelope)

    def on_recorded(self) -> None:
        if self.intake.relay is not None:
            self.intake.relay.wake()

    async def answer(self, envelope: Envelope[ComplaintSubmittedV1]) -> None:
        key = submission_key(envelope.source, envelope.id)
        for _ in range(3):
            deadline = time.monotonic() + self.intake.deadline_s
            found = await asyncio.to_thread(within, deadline, self.intake.app.find, key)
            if isinstance(found, Submission):
                found.answer_again()
                submission = found
            else:
                submission = await self._decide(envelope, deadline)
            try:
                await self.intake.commits.save(submission, deadline=deadline)
            except IntegrityError:
                continue  # answered meanwhile (another delivery, another replica): answer after it
            log.info(
                "submission_answered",
                accepted=submission.accepted,
                complaint_id=str(submission.complaint_id) if submission.complaint_id else None,
                receipt_no=submission.receipt_no,
                answers=submission.answers,
            )
            return
        raise RuntimeError("the submission kept being answered concurrently")

    async def _decide(self, envelope: Envelope[ComplaintSubmittedV1], deadline: float) -> Submission:
        source, message_id = envelope.source, envelope.id
        idempotency = Idempotency.channel_message(Channel.INTEGRATION, source, message_id)
        # Recorded before its answer was (a crash in between): the complaint stands, whatever
        # the rules would say now.
        complaint_id = idempotency.complaint_id(message_id)
        recorded = await asyncio.to_thread(within, deadline, self.intake.app.complaint, complaint_id)
        if recorded is not None:
            return Submission.accept(source, message_id, recorded.id, recorded.receipt_no)
        try:
            command = await self._command(envelope)
            result = await self.intake.submit(command, idempotency)
        except Refused as exc:
            log.info("submission_refused", reason=str(exc)[:300])
            return Submission.reject(source, message_id, str(exc))
        except DomainError as exc:
            return Submission.reject(source, message_id, str(exc))
        except SubmissionFailed as exc:
            # The database is unavailable: the component retries the batch for as long as it lasts.
            raise (exc.__cause__ or exc) from exc
        return Submission.accept(source, message_id, result.complaint_id, result.receipt_no)

    async def _command(self, envelope: Envelope[ComplaintSubmittedV1]) -> ReceiveComplaint:
        data = envelope.data
        if len(envelope.source) > MAX_SOURCE_CHARS:
            raise Refused(
                f"ce_source is longer than {MAX_SOURCE_CHARS} characters: intake keeps it as who "
                "registered the complaint"
            )
        attachments = await self._attachments(data.attachments)
        try:
            return ReceiveComplaint.model_validate(
                {**dict(data), "registered_by": envelope.source, "attachments": attachments}
            )
        except ValidationError as exc:
            raise Refused(_reasons(exc)) from exc

    async def _attachments(self, sha256s: tuple[str, ...]) -> tuple[AttachmentRef, ...]:
        try:
            return await self.attachments.resolve(sha256s)
        except AttachmentRefused as exc:
            raise Refused(f"attachments: {exc.detail}") from exc


def subscribe(parts: ServiceParts, intake: ComplaintIntake, overrides: Overrides) -> None:
    """Intake reads the integrators' submissions (bootstrap's one line for this channel)."""
    settings = parts.settings
    parts.broker = parts.broker or overrides.broker_for(settings)
    parts.components.append(
        IntegratorSubmissions(
            intake, parts.state["attachments"], fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms
        )
    )
    # Intake stays ready for HTTP while the broker is away: the outbox keeps what it records.
    parts.advisory_checks |= {"broker", "consumers"}


def _reasons(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:10]
    )
