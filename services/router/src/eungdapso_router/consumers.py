"""The router's entry point from Kafka: thin, it turns an event into a command."""

from __future__ import annotations

import asyncio
from typing import Any

from eungdapso_platform.eventstore import IntegrityError, LedgerEntry
from eungdapso_platform.logging import get_logger
from eungdapso_platform.tracing import event_metadata
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintReceivedV1

from eungdapso_router.application import RouterApplication

log = get_logger("eungdapso.router")


def make_on_complaint_received(app: RouterApplication, wake: Any) -> Any:
    async def on_complaint_received(envelope: Envelope[ComplaintReceivedV1], entry: LedgerEntry) -> None:
        received = envelope.data
        try:
            routing = await asyncio.to_thread(
                app.assign,
                complaint_id=received.complaint_id,
                receipt_no=received.receipt_no,
                kind=received.kind,
                field=received.field,
                meta=event_metadata(actor="router:rule"),
                ledger_entry=entry,
            )
        except IntegrityError:
            # Already routed: a redelivery, or the same complaint published twice.
            if await asyncio.to_thread(app.find, received.complaint_id) is None:
                raise
            log.info("already_routed")
            return
        wake()
        log.info("complaint_assigned", office=routing.office_code, rule=routing.rule)

    return on_complaint_received
