"""The router's entry points from Kafka: thin handlers that turn an event into a decision.

- `Assignment.on_received`: every received complaint is read and assigned to an office, once
  (decision.py), answered at once or linked to the open complaint it duplicates.
- `Assignment.on_rejected` / `on_transferred` / `on_answered`: what casework's offices did
  (반려 → reassignment, 이송 → transfer, 답변 → nothing links to it any more). Casework's
  events name the office whose case it was: one about an office that no longer has the
  complaint (it was reassigned meanwhile) changes nothing, so the order of what happens to a
  complaint is kept whatever arrives late.

Handlers run in the process's worker thread (classification included), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID
from weakref import WeakKeyDictionary

from eungdapso_platform.clock import Clock
from eungdapso_platform.consumer import Unit
from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import get_logger
from eungdapso_router.decision import Decider, Decision, Submission, next_after_rejection, unread
from eungdapso_router.directory import TRIAGE, Directory, DirectoryOffice
from eungdapso_router.domainmodel import Reading, Routing, RoutingState, routing_id
from eungdapso_router.duplicates import Indexed, Match, Rules, best_match, named_places, sketch
from eungdapso_router.tables import (
    Change,
    Close,
    Dequeue,
    Enqueue,
    Index,
    Queued,
    Reindex,
    Remember,
    Remembered,
    RouterTables,
)
from eungdapso_schemas.codes import OfficeLevel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    CaseEvent,
    CaseRejectedV1,
    CaseTransferredV1,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    Office,
)

log = get_logger("eungdapso.router")


class Assignment:
    """The `assignment` process: complaints assigned once, reassigned and transferred as
    their offices say."""

    def __init__(
        self,
        clock: Clock,
        decider: Decider,
        directory: Callable[[], Directory],
        tables: RouterTables,
        duplicates: Rules | None = None,
    ) -> None:
        self.clock = clock
        self.decider = decider
        #: The directory in force now (it changes at run time: read it per decision).
        self.directory = directory
        self.tables = tables
        self.duplicates = duplicates or Rules()
        #: The decisions `prepare_received` took for a unit's batch, until their handler runs.
        self._read: WeakKeyDictionary[Unit, dict[UUID, Decision]] = WeakKeyDictionary()

    # ------------------------------------------------------------------ received
    def aggregate_ids(self, envelope: Envelope[ComplaintReceivedV1]) -> Iterable[UUID]:
        """What `on_received` asks about: looked up for the whole batch at once."""
        return (routing_id(envelope.data.complaint_id),)

    def prepare_received(self, unit: Unit, envelopes: list[Envelope[ComplaintReceivedV1]]) -> None:
        """A batch's complaints read before their handlers run, so that their duplicate
        candidates are read in one query, not one per complaint (`look_up_like`). Reading is
        pure (the same submission and directory give the same decision): deciding here or in
        the handler is the same decision."""
        directory = self.directory()
        read = self._read.setdefault(unit, {})
        news: list[Indexed] = []
        for envelope in envelopes:
            received = ComplaintReceivedV2.from_v1(envelope.data)
            if received.complaint_id in read or unit.exists(routing_id(received.complaint_id)):
                continue
            decision = self._decide(received, directory)
            read[received.complaint_id] = decision
            indexed = self._indexed(received, decision)
            if indexed is not None:
                news.append(indexed)
        self.tables.look_up_like(unit, news, self.duplicates)

    def on_received(self, unit: Unit, envelope: Envelope[ComplaintReceivedV1]) -> None:
        received = ComplaintReceivedV2.from_v1(envelope.data)
        # Recorded before, or decided earlier in this batch: the first decision stands.
        if unit.exists(routing_id(received.complaint_id)):
            log.info("already_assigned")  # the same complaint published again: nothing new
            return
        directory = self.directory()
        read = self._read.get(unit, {}).pop(received.complaint_id, None)
        decision = read if read is not None else self._decide(received, directory)
        changes: list[Change] = [Remember(remembered(received, decision))]
        office, rule, match = decision.office, decision.rule, None
        indexed = self._indexed(received, decision)
        if indexed is not None:
            match = best_match(
                indexed, self.tables.open_like(unit, indexed, self.duplicates), self.duplicates
            )
            if match is not None:
                office = _office_or(directory, match.original.office, decision.office)
                rule = f"duplicate of {match.original.receipt_no}: with it at {office.code}"
        now = self.clock.now()
        routing = Routing.assign(
            complaint_id=received.complaint_id,
            receipt_no=received.receipt_no,
            office=office.ref,
            rule=rule,
            reading=decision.reading,
            at=now,
        )
        if decision.instant_answer is not None:
            answer = decision.instant_answer
            routing.answer_instantly(
                answer_id=answer.answer_id, answer=answer.answer, confidence=answer.confidence, at=now
            )
        elif match is not None:
            link(routing, match, now)
        elif decision.at_triage:
            changes.append(Enqueue(queued(routing, decision.reading, now)))
        elif indexed is not None:
            changes.append(Index(indexed))
        unit.add(routing)
        self.tables.change(unit, *changes)
        log.info(
            "assignment_decided",
            office=office.code,
            subject=decision.reading.subject,
            confidence=decision.reading.confidence,
            state=routing.state.value,
        )

    def _decide(self, received: ComplaintReceivedV2, directory: Directory) -> Decision:
        submission = Submission(received.text, received.kind, received.place, received.subject)
        try:
            return self.decider.decide(submission, directory)
        except Exception as exc:
            if is_transient(exc):
                raise
            # The type only: a message could quote the text, personal data included.
            log.warning("reading_failed", error=type(exc).__name__)
            return unread(submission, directory, exc)

    def _indexed(self, received: ComplaintReceivedV2, decision: Decision) -> Indexed | None:
        """The complaint as the duplicate index would keep it, if it may duplicate another
        (and be duplicated): not confidential, answered at once, at triage, outside the city,
        about `other`, or nowhere known."""
        reading, place = decision.reading, received.place
        lat, lon = (place.lat, place.lon) if place is not None else (None, None)
        if (
            reading.confidential
            or decision.instant_answer is not None
            or decision.at_triage
            or decision.office.level is OfficeLevel.EXTERNAL
            or reading.subject == "other"
            or (reading.district is None and (lat is None or lon is None))
        ):
            return None
        return Indexed(
            complaint_id=received.complaint_id,
            receipt_no=received.receipt_no,
            subject=reading.subject,
            district=reading.district,
            lat=lat,
            lon=lon,
            places=named_places(decision.place.matched, decision.place.dong),
            sketch=sketch(received.text),
            received_at=received.received_at,
            office=decision.office.code,
        )

    # ------------------------------------------------------------------ casework
    def on_rejected(self, unit: Unit, envelope: Envelope[CaseRejectedV1]) -> None:
        rejection = envelope.data
        routing = self._routing_of(unit, rejection)
        if routing is None:
            return
        directory = self.directory()
        after = next_after_rejection(routing, rejection.office, directory)
        now = self.clock.now()
        routing.reassign(
            office=after.office.ref,
            rule=after.rule,
            reading=after.reading,
            at=now,
            rejected_by=rejection.office,
        )
        self.tables.change(unit, *moved(routing, after.reading, now))
        log.info("reassigned_after_rejection", office=after.office.code, rejections=routing.rejections)

    def on_transferred(self, unit: Unit, envelope: Envelope[CaseTransferredV1]) -> None:
        transfer = envelope.data
        routing = self._routing_of(unit, transfer)
        if routing is None:
            return
        try:
            agency = self.directory().office(transfer.to_office).ref
        except LookupError:
            # Casework checked the code against its own copy of the directory: record the
            # transfer as the office made it rather than lose it.
            log.warning("transfer_to_an_office_the_directory_lacks", office=transfer.to_office)
            agency = Office(code=transfer.to_office, name=transfer.to_office, level=OfficeLevel.EXTERNAL)
        now = self.clock.now()
        routing.transfer(
            to=agency, from_office=transfer.office, reason=transfer.reason, decided_by=transfer.staff, at=now
        )
        self.tables.change(unit, *moved(routing, routing.reading, now))
        log.info("transferred", office=agency.code, level=agency.level.value)

    def on_answered(self, unit: Unit, envelope: Envelope[CaseAnsweredV1]) -> None:
        """An office answered: the complaint is closed for new duplicates (those linked to it
        are answered with it, by the notifier and the publisher)."""
        self.tables.change(unit, Close(envelope.data.complaint_id))

    def _routing_of(self, unit: Unit, action: CaseEvent) -> Routing | None:
        routing = unit.get(Routing, routing_id(action.complaint_id))
        if routing is None:
            log.warning("case_action_for_an_unrouted_complaint", office=action.office)
            return None
        if routing.office.code != action.office or routing.state in (
            RoutingState.TRANSFERRED,
            RoutingState.ANSWERED,
        ):
            # Late news of a case the office no longer has: what happened since stands.
            log.info("case_action_of_a_past_assignment", office=action.office, now_at=routing.office.code)
            return None
        return routing


def link(routing: Routing, match: Match, at: datetime) -> None:
    routing.link_as_duplicate(
        duplicate_of=match.original.complaint_id,
        duplicate_of_receipt_no=match.original.receipt_no,
        similarity=match.similarity,
        distance_m=match.distance_m,
        at=at,
    )


def moved(routing: Routing, reading: Reading | None, at: datetime) -> list[Change]:
    """The tables after the complaint went to another office: on the triage desk's queue, or
    off it; the duplicate index follows it (closed when it left the city's offices)."""
    at_triage = routing.office.code == TRIAGE
    changes: list[Change] = [
        Enqueue(queued(routing, reading, at)) if at_triage else Dequeue(routing.complaint_id)
    ]
    if reading is None or routing.state is RoutingState.TRANSFERRED:
        changes.append(Close(routing.complaint_id))
    else:
        changes.append(
            Reindex(
                routing.complaint_id,
                subject=reading.subject,
                district=reading.district,
                office=routing.office.code,
                open=not at_triage,
            )
        )
    return changes


def queued(routing: Routing, reading: Reading | None, at: datetime) -> Queued:
    return Queued(
        complaint_id=routing.complaint_id,
        receipt_no=routing.receipt_no,
        since=at,
        reason=routing.rule[:200],
        subject=reading.subject if reading is not None else None,
        confidence=reading.confidence if reading is not None else None,
        reassignment=routing.reassignment,
    )


def remembered(received: ComplaintReceivedV2, decision: Decision) -> Remembered:
    place = received.place
    return Remembered(
        complaint_id=received.complaint_id,
        receipt_no=received.receipt_no,
        kind=received.kind.value,
        channel=received.channel.value,
        received_at=received.received_at,
        # A confidential report's content stays with the investigators (tables.py).
        text=None if decision.reading.confidential or received.confidential else received.text,
        address=place.address if place is not None else None,
        lat=place.lat if place is not None else None,
        lon=place.lon if place is not None else None,
        district=place.district.value if place is not None and place.district is not None else None,
        chosen_subject=received.subject,
    )


def _office_or(directory: Directory, code: str, fallback: DirectoryOffice) -> DirectoryOffice:
    try:
        return directory.office(code)
    except LookupError:
        return fallback  # the original's office left the directory since
