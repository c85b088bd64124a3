"""The one way an office's action reaches a case: find the case among the office's own, let the
case decide, record the events with the case's inbox row in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from eungdapso_casework import inbox
from eungdapso_casework.application import CaseworkApplication
from eungdapso_casework.domainmodel import Case, CaseRefused, ComplaintFile, settle_links
from eungdapso_platform.clock import Clock
from eungdapso_platform.domain import acting_as
from eungdapso_platform.eventstore import Write, within
from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.casework")

#: Times an action is decided again when the case changed while it was decided (the router
#: reassigned it, another request acted first): then it is decided on what the case is now.
ATTEMPTS = 3


class CaseNotFound(Exception):
    """No such case in this office's inbox: unknown, another office's, or reassigned away
    (which of these, the office is not told)."""


@dataclass(frozen=True)
class Acting:
    """Who acts: the office, through which of its keys."""

    office: str
    key: str


#: An action on a case, at a time (the case refuses it with `CaseRefused`).
Action = Callable[[Case, datetime], None]
#: Rows of casework's tables an action writes with its events, besides the case's inbox row.
Rows = Callable[[Case], list[Write]]


class Casework:
    def __init__(
        self, application: CaseworkApplication, clock: Clock, on_recorded: Callable[[], None]
    ) -> None:
        self.application = application
        self.clock = clock
        #: Wakes the outbox relays once new events are committed.
        self.on_recorded = on_recorded

    async def read(
        self, acting: Acting, case_id: UUID, *, deadline: float
    ) -> tuple[Case, ComplaintFile | None]:
        return await asyncio.to_thread(within, deadline, self._read, acting, case_id)

    async def act(
        self, acting: Acting, case_id: UUID, action: Action, *, deadline: float, rows: Rows = lambda case: []
    ) -> tuple[Case, ComplaintFile | None]:
        found = await asyncio.to_thread(within, deadline, self._act, acting, case_id, action, rows)
        self.on_recorded()
        return found

    def _file(self, complaint_id: UUID, receipt_no: str) -> ComplaintFile:
        return self.application.file(complaint_id) or ComplaintFile.open(complaint_id, receipt_no)

    def _read(self, acting: Acting, case_id: UUID) -> tuple[Case, ComplaintFile | None]:
        case = self.application.case(case_id)
        if case is None or not case.belongs_to(acting.office):
            raise CaseNotFound()
        return case, self.application.file(case.complaint_id)

    def _act(
        self, acting: Acting, case_id: UUID, action: Action, rows: Rows = lambda case: []
    ) -> tuple[Case, ComplaintFile | None]:
        for attempt in range(1, ATTEMPTS + 1):
            case, file = self._read(acting, case_id)
            with acting_as(f"office:{acting.office} key:{acting.key}"):
                action(case, self.clock.now())
                # An answer or a transfer is also its linked duplicates' (recorded together).
                followers = settle_links(file, case, self._file) if file is not None else []
            writes = [inbox.case_row(case), *(inbox.link_row(f) for f in followers[1:]), *rows(case)]
            try:
                self.application.save(case, *followers, writes=writes)
            except IntegrityError as exc:
                if attempt == ATTEMPTS:
                    raise CaseRefused(
                        "Case changed meanwhile",
                        "The case kept changing while your action was recorded: read it again, then retry.",
                    ) from exc
                log.info("case_changed_meanwhile", case_id=str(case_id), attempt=attempt)
                continue
            return case, file
        raise AssertionError("unreachable")
