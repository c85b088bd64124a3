"""Intake's service layer: take in a submission from any channel, exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from eungdapso_intake.application import IntakeApplication
from eungdapso_intake.domainmodel import Complaint
from eungdapso_intake.receipts import ReceiptBook
from eungdapso_platform.clock import Clock, SystemClock
from eungdapso_platform.domain import acting_as
from eungdapso_platform.eventstore import IntegrityError, derived_id
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
    ) -> None:
        self.app = app
        self.clock: Clock = clock or SystemClock()
        self.receipts = receipts
        self.relay = relay
        self.commits = GroupCommit(app.save)

    async def submit(
        self, submission: ComplaintSubmission, *, channel: Channel, idempotency_key: str | None
    ) -> SubmissionResult:
        # Only a keyed request can be repeated; its fingerprint tells a retry from a misuse.
        request_print = fingerprint(submission) if idempotency_key is not None else None
        if idempotency_key is not None:
            complaint_id = derived_id(f"submission:{channel.value}", idempotency_key)
            existing = await asyncio.to_thread(self.app.complaint, complaint_id)
            if existing is not None:
                return self._replay(existing, request_print)
        else:
            complaint_id = uuid.uuid4()

        received_at = self.clock.now()
        receipt_no = await self.receipts.next_number(received_at)
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
            await self.commits.save(complaint)
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key won the race.
            existing = await asyncio.to_thread(self.app.complaint, complaint_id)
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
    def _replay(existing: Complaint, request_print: str | None) -> SubmissionResult:
        if existing.request_fingerprint != request_print:
            raise IdempotencyKeyReused(existing.receipt_no)
        return SubmissionResult(existing.id, existing.receipt_no, replayed=True)
