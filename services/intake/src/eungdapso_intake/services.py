"""Intake's service layer: take in a submission from any channel, exactly once.

Every submission has an idempotency key: the client's `Idempotency-Key`, or one intake
makes up. Its complaint id derives from the key, so a retry with the same key and body
can never record the complaint twice. A submission that cannot be recorded within its
deadline (`deadline_s`, database unreachable or too slow) fails with `NotRecorded` or,
when the connection failed while committing, `OutcomeUnknown`; both carry the key to
retry with.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_platform.clock import Clock, SystemClock
from eungdapso_platform.domain import acting_as
from eungdapso_platform.errors import is_transient
from eungdapso_platform.eventstore import CommitOutcomeUnknown, IntegrityError, derived_id, within
from eungdapso_platform.groupcommit import GroupCommit
from eungdapso_platform.logging import get_logger
from eungdapso_platform.outbox import OutboxRelay
from eungdapso_schemas.codes import Channel, Field, Kind, Language
from eungdapso_schemas.events import Citizen, Place

log = get_logger("eungdapso.intake")


class ComplaintSubmission(BaseModel):
    """What a citizen submits. Codes as in DOMAIN.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    kind: Kind
    field: Field | None = None
    language: Language = Language.KO
    place: Place | None = None
    contact: Citizen | None = None


@dataclass(frozen=True)
class SubmissionResult:
    complaint_id: uuid.UUID
    receipt_no: str
    replayed: bool


class IdempotencyKeyReused(Exception):
    """The same Idempotency-Key came with a different request body."""


class SubmissionFailed(Exception):
    """The submission could not be recorded in time (database unreachable or too slow)."""

    def __init__(self, idempotency_key: str, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        #: Retrying the same body with this key is always safe.
        self.idempotency_key = idempotency_key


class NotRecorded(SubmissionFailed):
    """Nothing was recorded, and nothing will be."""


class OutcomeUnknown(SubmissionFailed):
    """The connection failed while the complaint was being committed: it may be recorded."""


def fingerprint(submission: ComplaintSubmission) -> str:
    canonical = json.dumps(submission.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ComplaintIntake:
    def __init__(
        self,
        app: IntakeApplication,
        receipts: ReceiptBook,
        relay: OutboxRelay | None,
        clock: Clock | None = None,
        *,
        deadline_s: float = 5.0,
    ) -> None:
        self.app = app
        self.clock: Clock = clock or SystemClock()
        self.receipts = receipts
        self.relay = relay
        #: How long a submission may wait on the database before it fails.
        self.deadline_s = deadline_s
        self.commits = GroupCommit(app.save)

    async def submit(
        self, submission: ComplaintSubmission, *, channel: Channel, idempotency_key: str | None
    ) -> SubmissionResult:
        deadline = time.monotonic() + self.deadline_s
        # Without a key, one made up here: the answer of a failed attempt gives it, so that
        # the client's retry cannot record the complaint twice.
        key = idempotency_key if idempotency_key is not None else f"intake-{uuid.uuid4()}"
        try:
            return await self._submit(
                submission, channel, key, check_replay=idempotency_key is not None, deadline=deadline
            )
        except CommitOutcomeUnknown as exc:
            log.warning("submission_outcome_unknown", idempotency_key=key, error=str(exc))
            raise OutcomeUnknown(key, exc) from exc
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("submission_not_recorded", idempotency_key=key, error=f"{type(exc).__name__}: {exc}")
            raise NotRecorded(key, exc) from exc

    async def _submit(
        self,
        submission: ComplaintSubmission,
        channel: Channel,
        key: str,
        *,
        check_replay: bool,
        deadline: float,
    ) -> SubmissionResult:
        # The fingerprint tells a retry (same body) from a misuse of the key (another body).
        request_print = fingerprint(submission)
        complaint_id = derived_id(f"submission:{channel.value}", key)
        if check_replay:
            existing = await asyncio.to_thread(within, deadline, self.app.complaint, complaint_id)
            if existing is not None:
                return self._replay(existing, request_print)

        received_at = self.clock.now()
        receipt_no = await self.receipts.next_number(received_at, deadline=deadline)
        with acting_as(f"citizen via {channel.value}"):
            complaint = Complaint.receive(
                id=complaint_id,
                receipt_no=receipt_no,
                received_at=received_at,
                channel=channel,
                kind=submission.kind,
                field=submission.field,
                language=submission.language,
                text=submission.text,
                place=submission.place,
                citizen=submission.contact,
                request_fingerprint=request_print,
            )
        try:
            await self.commits.save(complaint, deadline=deadline)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won the race.
            existing = await asyncio.to_thread(within, deadline, self.app.complaint, complaint_id)
            if existing is None:
                raise
            return self._replay(existing, request_print)
        if self.relay is not None:
            self.relay.wake()
        log.info(
            "complaint_received", complaint_id=str(complaint_id), receipt_no=receipt_no, channel=channel.value
        )
        return SubmissionResult(complaint_id, receipt_no, replayed=False)

    @staticmethod
    def _replay(existing: Complaint, request_print: str) -> SubmissionResult:
        if existing.request_fingerprint != request_print:
            raise IdempotencyKeyReused(existing.receipt_no)
        return SubmissionResult(existing.id, existing.receipt_no, replayed=True)
