"""The Eung-Dap-So triage desk (분류 데스크): a person decides where a complaint goes when the
router is not sure enough (or two offices refused it).

A decision names the office (a code of the directory), or the subject and district (the
directory then says which office, as for the router's own decisions). It is recorded as a
reassignment with who decided (`decided_by`: the staff member of the credential) and a
confidence of 1: a person read it. Two people deciding the same complaint at once: the first
decision stands, the second is told (`AlreadyDecided`).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eungdapso_platform.clock import Clock
from eungdapso_platform.domain import acting_as
from eungdapso_platform.eventstore import IntegrityError
from eungdapso_router.application import RouterApplication
from eungdapso_router.consumers import moved
from eungdapso_router.directory import TRIAGE, Directory, DirectoryOffice
from eungdapso_router.domainmodel import Reading, Routing
from eungdapso_router.tables import RouterTables
from eungdapso_schemas.codes import District, MessageClass
from eungdapso_schemas.events import RoutingEvidence
from eungdapso_schemas.subjects import subject as subject_of


class NotAtTriage(LookupError):
    """No complaint with that id waits at the desk."""


class AlreadyDecided(Exception):
    """Someone decided (or the router reassigned) the complaint meanwhile."""


class UnknownOffice(ValueError):
    """An office the directory does not have, or the desk itself."""


class TriageDesk:
    def __init__(
        self,
        application: RouterApplication,
        tables: RouterTables,
        directory: Callable[[], Directory],
        clock: Clock,
    ) -> None:
        self.application = application
        self.tables = tables
        self.directory = directory
        self.clock = clock

    def waiting(self, complaint_id: UUID) -> Routing:
        """The complaint's routing, if it waits at the desk (blocking)."""
        routing = self.application.routing(complaint_id)
        if routing is None or not routing.at_triage:
            raise NotAtTriage(str(complaint_id))
        return routing

    def decide(
        self,
        complaint_id: UUID,
        *,
        staff: str,
        office: str | None = None,
        subject: str | None = None,
        district: District | None = None,
    ) -> Routing:
        """Send the complaint where the staff member says (blocking: call it in a thread)."""
        routing = self.waiting(complaint_id)
        directory = self.directory()
        target, reading = self._target(routing, directory, office, subject, district)
        rule = f"triage: {staff} decided {target.code}"
        now = self.clock.now()
        with acting_as(f"staff:{staff}"):
            routing.reassign(office=target.ref, rule=rule, reading=reading, at=now, decided_by=staff)
            try:
                self.tables.save(self.application, [routing], *moved(routing, reading, now))
            except IntegrityError:
                raise AlreadyDecided(str(complaint_id)) from None
        return routing

    def _target(
        self,
        routing: Routing,
        directory: Directory,
        office: str | None,
        subject: str | None,
        district: District | None,
    ) -> tuple[DirectoryOffice, Reading]:
        before = routing.reading
        if office is not None:
            try:
                target = directory.office(office)
            except LookupError:
                raise UnknownOffice(f"the directory has no office {office!r}") from None
            subject = subject or (before.subject if before is not None else None)
            district = district if district is not None else target.district
        else:
            assert subject is not None, "a decision names an office, or a subject"
            district = district if district is not None else (before.district if before else None)
            target = directory.office_for(subject, district)
        if target.code == TRIAGE:
            raise UnknownOffice("the desk decides where a complaint goes, not to keep it")
        evidence = before.evidence if before is not None else RoutingEvidence()
        decided = f"triage: decided {target.code}" + (f" (subject {subject})" if subject else "")
        reading = Reading(
            message_class=before.message_class if before is not None else MessageClass.GENERAL,
            field=subject_of(subject).field
            if subject
            else (before.field if before else subject_of("other").field),
            subject=subject or "other",
            district=district,
            confidential=before.confidential if before is not None else False,
            confidence=1.0,
            evidence=evidence.model_copy(update={"rules": (*evidence.rules, decided)[-20:]}),
        )
        return target, reading
