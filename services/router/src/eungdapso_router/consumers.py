"""The router's entry point from Kafka: thin, it turns an event into a command."""

from __future__ import annotations

from eungdapso_platform.logging import get_logger
from eungdapso_platform.tracing import event_metadata
from eungdapso_router.application import RouterApplication
from eungdapso_router.domainmodel import Routing
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintReceivedV1

log = get_logger("eungdapso.router")


class ComplaintReceivedHandler:
    def __init__(self, app: RouterApplication) -> None:
        self.app = app

    def decide(self, envelope: Envelope[ComplaintReceivedV1]) -> Routing:
        received = envelope.data
        routing = self.app.assign(
            complaint_id=received.complaint_id,
            receipt_no=received.receipt_no,
            kind=received.kind,
            field=received.field,
            meta=event_metadata(actor="router:rule"),
        )
        log.info("assignment_decided", office=routing.office_code, rule=routing.rule)
        return routing
