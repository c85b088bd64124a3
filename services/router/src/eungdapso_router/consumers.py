"""The router's entry points from Kafka: thin handlers that turn an event into a command."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eungdapso_platform.clock import Clock
from eungdapso_platform.consumer import Unit
from eungdapso_platform.logging import get_logger
from eungdapso_router.domainmodel import Routing, routing_id
from eungdapso_router.rules import choose_office
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintReceivedV1

log = get_logger("eungdapso.router")


class Assignment:
    """The `assignment` process: every received complaint is assigned to an office, once."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def aggregate_ids(self, envelope: Envelope[ComplaintReceivedV1]) -> Iterable[UUID]:
        """What `on_received` asks about: looked up for the whole batch at once."""
        return (routing_id(envelope.data.complaint_id),)

    def on_received(self, unit: Unit, envelope: Envelope[ComplaintReceivedV1]) -> None:
        received = envelope.data
        # Recorded before, or decided earlier in this batch: the first decision stands.
        if unit.exists(routing_id(received.complaint_id)):
            log.info("already_assigned")  # the same complaint published again: nothing new
            return
        office, rule = choose_office(received.kind, received.field)
        unit.add(
            Routing.assign(
                complaint_id=received.complaint_id,
                receipt_no=received.receipt_no,
                office=office,
                rule=rule,
                at=self.clock.now(),
            )
        )
        log.info("assignment_decided", office=office.code, rule=rule)
