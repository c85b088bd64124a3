"""The router's aggregates: how one complaint was routed (배정, later 이송/재배정), and the
editions of the organisation directory it routes by."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from eungdapso_platform.domain import DomainError, RecordedAggregate
from eungdapso_platform.eventstore import derived_id
from eungdapso_router.directory import DirectoryOffice
from eungdapso_schemas.events import Office


def routing_id(complaint_id: UUID) -> UUID:
    """One routing per complaint: its id is derived from the complaint's, so a complaint
    can never be assigned twice by accident."""
    return derived_id("routing", str(complaint_id))


class Routing(RecordedAggregate):
    class Assigned(RecordedAggregate.Created):
        complaint_id: UUID
        receipt_no: str
        office: Office
        rule: str
        assigned_at: datetime

    @classmethod
    def assign(
        cls, *, complaint_id: UUID, receipt_no: str, office: Office, rule: str, at: datetime
    ) -> Routing:
        """Assign a complaint to the office that handles it, saying by which rule."""
        if not rule.strip():
            raise DomainError("an assignment records the rule that made it")
        if at.tzinfo is None:
            raise DomainError("the moment of assignment must carry its time zone")
        return cls(
            id=routing_id(complaint_id),
            complaint_id=complaint_id,
            receipt_no=receipt_no,
            office=office,
            rule=rule,
            assigned_at=at,
        )

    @event(Assigned)
    def __init__(
        self,
        id: UUID,
        complaint_id: UUID,
        receipt_no: str,
        office: Office,
        rule: str,
        assigned_at: datetime,
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.office = office
        self.rule = rule
        self.assigned_at = assigned_at


def directory_version_id(version: int) -> UUID:
    """Version n of the organisation directory has this id: two publishers cannot both record
    version n (the second conflicts and reads again), and versions count 1, 2, 3… without gaps."""
    return derived_id("directory-version", str(version))


class DirectoryVersion(RecordedAggregate):
    """One published edition of the organisation directory (조직 디렉터리), never changed
    afterwards: each version is its own aggregate, so reading the current one reads one event."""

    class Published(RecordedAggregate.Created):
        version: int
        content_hash: str
        edition: str
        #: What published it: `package` (the file a router started with) or `file:<name>` (the CLI).
        source: str
        #: Content hashes of every version published so far, this one's included: a router
        #: starting with a packaged file whose content was published before (a restart, an older
        #: replica during a rolling deploy) leaves a later publication in force.
        published_hashes: tuple[str, ...]
        offices: tuple[DirectoryOffice, ...]

    @classmethod
    def publish(
        cls,
        *,
        version: int,
        content_hash: str,
        edition: str,
        source: str,
        published_hashes: tuple[str, ...],
        offices: tuple[DirectoryOffice, ...],
    ) -> DirectoryVersion:
        if version < 1:
            raise DomainError("directory versions count from 1")
        if not offices:
            raise DomainError("a directory has offices")
        return cls(
            id=directory_version_id(version),
            version=version,
            content_hash=content_hash,
            edition=edition,
            source=source,
            published_hashes=published_hashes,
            offices=offices,
        )

    @event(Published)
    def __init__(
        self,
        id: UUID,
        version: int,
        content_hash: str,
        edition: str,
        source: str,
        published_hashes: tuple[str, ...],
        offices: tuple[DirectoryOffice, ...],
    ) -> None:
        # The offices stay in the event (read from it when the version is loaded): the
        # aggregate keeps only what deciding the next version needs.
        self.version = version
        self.content_hash = content_hash
        self.published_hashes = tuple(published_hashes)
