"""The router's aggregate: how one complaint was routed (배정, later 이송/재배정)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Routing(Aggregate):
    if TYPE_CHECKING:  # created by the @event decorator below
        Assigned: ClassVar[type[Aggregate.Created]]

    """One per complaint; its id is derived from the complaint id, so a complaint
    can never be assigned twice by accident."""

    @event("Assigned")
    def __init__(
        self,
        id: UUID,
        complaint_id: UUID,
        receipt_no: str,
        office_code: str,
        office_name: str,
        office_level: str,
        rule: str,
        assigned_at: datetime,
        meta: dict[str, str],
    ) -> None:
        self.complaint_id = complaint_id
        self.receipt_no = receipt_no
        self.office_code = office_code
        self.office_name = office_name
        self.office_level = office_level
        self.rule = rule
        self.assigned_at = assigned_at
