"""Monthly statistics (통계) and open data: the arithmetic, with no database and no broker.

Two steps, each one function that both the `publisher.statistics` projection (through
PostgreSQL) and the `statistics` command (straight from the topics) call, so the published
numbers and the recomputed ones come from the same code:

1. `fold(facts, event)`: what one event says about one complaint, folded into its
   `ComplaintFacts`. Every rule is order-independent (earliest answer, latest assignment,
   latest overdue due moment, flags that only turn on), so events from five streams may
   arrive in any order, or be replayed, and give the same facts. A rating is a `RatingFact`
   of its own (one per invitation).
2. `figures(month, by, complaints, ratings)`: the month's figures per value of a dimension
   (README, "Statistics and open data", defines each one).

Months are calendar months in Asia/Seoul. A confidential report (corruption, whistleblowing,
human rights, or flagged by the router) counts in the city, but under no office, district or
field, as the public status shows none for it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from eungdapso_schemas.codes import Kind
from eungdapso_schemas.events import (
    CaseAnsweredV1,
    ComplaintAnsweredInstantlyV1,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    DeadlineBreachedV1,
    DeadlineMetV1,
    DuplicateAnsweredV1,
    Payload,
    RatedV1,
)

SEOUL = ZoneInfo("Asia/Seoul")
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
#: The whole city's row (`by=city`).
CITY = "seoul"
#: Kinds the speed index leaves out: petitions, questions and suggestions (진정·질의·건의).
#: The kind codes have no petition of their own; questions are `inquiry`, suggestions `proposal`.
SPEED_INDEX_EXCLUDED_KINDS = frozenset({Kind.INQUIRY.value, Kind.PROPOSAL.value})
#: How many days one unit of a period is, to add periods counted in different units.
DAYS_PER = {"working_days": 1.0, "days": 1.0, "working_hours": 1 / 8, "hours": 1 / 24}
DAY = timedelta(days=1)


class Dimension(StrEnum):
    """What a row of the statistics is about."""

    CITY = "city"
    OFFICE = "office"
    DISTRICT = "district"
    FIELD = "field"
    CHANNEL = "channel"


# -- 1. facts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ComplaintFacts:
    """What the statistics need to know of one complaint (no text, no personal data)."""

    complaint_id: UUID
    receipt_no: str | None = None
    received_at: datetime | None = None
    channel: str | None = None
    kind: str | None = None
    confidential: bool = False
    #: As the receipt said.
    receipt_field: str | None = None
    receipt_district: str | None = None
    #: Answered by the 120 agent on the call (ComplaintReceivedV2.first_contact).
    first_contact: bool = False
    #: The latest assignment (a reassignment replaces it) and the router's classification.
    assigned_at: datetime | None = None
    assigned_office: str | None = None
    classified_field: str | None = None
    classified_district: str | None = None
    #: The earliest answer of any kind: first contact, instant, office, duplicate.
    answered_at: datetime | None = None
    #: The office that answered first, and when.
    office_answered_at: datetime | None = None
    answering_office: str | None = None
    #: Answered at once by the desk from its standard answers (즉시 답변).
    instant: bool = False
    #: The statutory and the actual processing period in days (sla's deadline.met).
    statutory_days: float | None = None
    actual_days: float | None = None
    #: The due moment that passed without an answer (the latest, should there be two).
    overdue_due: datetime | None = None

    @property
    def office(self) -> str | None:
        return self.answering_office or self.assigned_office

    @property
    def district(self) -> str | None:
        return self.classified_district or self.receipt_district

    @property
    def field(self) -> str | None:
        return self.classified_field or self.receipt_field

    @property
    def in_speed_index(self) -> bool:
        """A statutory period of at least a day, and not a petition, question or suggestion."""
        return (
            self.statutory_days is not None
            and self.actual_days is not None
            and self.statutory_days >= 1
            and self.kind is not None
            and self.kind not in SPEED_INDEX_EXCLUDED_KINDS
        )


COMPLAINT_FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ComplaintFacts))


@dataclass(frozen=True)
class RatingFact:
    """One rating (만족도) of an answer: the score, when, and whose answer. Never the comment."""

    invitation_id: UUID
    complaint_id: UUID
    score: int
    rated_at: datetime
    #: The office whose answer was rated; None for the desk's instant answers.
    office: str | None = None

    @classmethod
    def of(cls, e: RatedV1) -> RatingFact:
        return cls(e.invitation_id, e.complaint_id, e.score, e.rated_at, e.office)


RATING_FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RatingFact))

#: Every event type the statistics read (the projection's handlers and the command's filter).
COMPLAINT_EVENTS: tuple[type[Payload], ...] = (
    ComplaintReceivedV1,
    ComplaintReceivedV2,
    ComplaintAssignedV1,
    ComplaintAssignedV2,
    ComplaintAnsweredInstantlyV1,
    CaseAnsweredV1,
    DuplicateAnsweredV1,
    DeadlineMetV1,
    DeadlineBreachedV1,
)
RATING_EVENTS: tuple[type[Payload], ...] = (RatedV1,)


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def fold(facts: ComplaintFacts, event: Payload) -> ComplaintFacts:
    """The complaint's facts once `event` is known too (any order gives the same facts)."""
    match event:
        case ComplaintReceivedV1():
            first = event.first_contact if isinstance(event, ComplaintReceivedV2) else None
            place = event.place
            facts = replace(
                facts,
                receipt_no=event.receipt_no,
                received_at=event.received_at,
                channel=event.channel.value,
                kind=event.kind.value,
                confidential=facts.confidential or event.confidential or event.kind.confidential,
                receipt_field=None if event.field is None else event.field.value,
                receipt_district=None if place is None or place.district is None else place.district.value,
            )
            if first is not None:
                facts = replace(
                    facts, first_contact=True, answered_at=_earliest(facts.answered_at, first.answered_at)
                )
            return facts
        case ComplaintAssignedV1():
            v2 = event if isinstance(event, ComplaintAssignedV2) else None
            facts = replace(facts, confidential=facts.confidential or (v2 is not None and v2.confidential))
            if facts.assigned_at is not None and event.assigned_at < facts.assigned_at:
                return facts  # an older assignment than the one known
            return replace(
                facts,
                receipt_no=facts.receipt_no or event.receipt_no,
                assigned_at=event.assigned_at,
                assigned_office=event.office.code,
                classified_field=v2.field.value if v2 else None,
                classified_district=v2.district.value if v2 and v2.district else None,
            )
        case ComplaintAnsweredInstantlyV1():
            return replace(facts, instant=True, answered_at=_earliest(facts.answered_at, event.answered_at))
        case CaseAnsweredV1() | DuplicateAnsweredV1():
            facts = replace(facts, answered_at=_earliest(facts.answered_at, event.at))
            if facts.office_answered_at is None or event.at < facts.office_answered_at:
                facts = replace(facts, office_answered_at=event.at, answering_office=event.office)
            return facts
        case DeadlineMetV1():
            unit = DAYS_PER[event.measured_in]
            facts = replace(
                facts,
                answered_at=_earliest(facts.answered_at, event.answered_at),
                statutory_days=event.statutory * unit,
                actual_days=event.actual * unit,
            )
            return (
                facts if event.within else replace(facts, overdue_due=_latest(facts.overdue_due, event.due))
            )
        case DeadlineBreachedV1():
            return replace(facts, overdue_due=_latest(facts.overdue_due, event.due))
    raise TypeError(f"the statistics do not read {type(event).__name__}")


# -- 2. figures -----------------------------------------------------------------------------
def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first moment of the month and of the next one, in Asia/Seoul."""
    if not re.match(MONTH_PATTERN, month):
        raise ValueError(f"a month is YYYY-MM, not {month!r}")
    year, number = int(month[:4]), int(month[5:])
    start = datetime(year, number, 1, tzinfo=SEOUL)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SEOUL)
    return start, end


class StatisticsRow(BaseModel):
    """One month's figures for one value of a dimension. Rates are percentages (0-100) rounded
    to 2 decimals; a figure with nothing to measure is null."""

    model_config = ConfigDict(frozen=True)

    month: str = Field(description="YYYY-MM, a calendar month in Asia/Seoul")
    by: Dimension = Field(description="The dimension: city, office, district, field or channel")
    value: str | None = Field(
        description="The office code, district, field or channel code (`seoul` for the city); null: "
        "not known (not yet assigned or classified) or not public (a confidential report)"
    )
    received: int = Field(ge=0, description="Complaints received in the month")
    answered: int = Field(ge=0, description="Complaints whose first answer (any kind) fell in the month")
    processing_rate: float | None = Field(
        description="Of the complaints received in the month, the share answered before the month ended (%)"
    )
    average_processing_days: float | None = Field(
        description="Mean of (answered - received) in days of 24 h, over the complaints answered in the month"
    )
    speed_index: float | None = Field(
        description="(sum statutory - sum actual) / sum statutory x 100, over the complaints answered in "
        "the month with a statutory period of at least a day, petitions/questions/suggestions excluded"
    )
    speed_index_complaints: int = Field(ge=0, description="How many complaints the speed index is over")
    overdue: int = Field(ge=0, description="Complaints whose due moment, in the month, passed unanswered")
    satisfaction_count: int = Field(ge=0, description="Ratings given in the month")
    satisfaction_mean: float | None = Field(description="Mean score (1-5) of the ratings given in the month")
    first_contact_resolution_rate: float | None = Field(
        description="Of the complaints received in the month, the share resolved on the call (%)"
    )
    instant_answer_rate: float | None = Field(
        description="Of the complaints received in the month, the share the desk answered at once (%)"
    )


class StatisticsReport(BaseModel):
    """Open data: one month's statistics by one dimension (GET /api/v1/statistics)."""

    model_config = ConfigDict(frozen=True)

    month: str
    by: Dimension
    timezone: Literal["Asia/Seoul"] = "Asia/Seoul"
    rows: list[StatisticsRow]


CSV_COLUMNS: tuple[str, ...] = tuple(StatisticsRow.model_fields)


@dataclass
class _Tally:
    received: int = 0
    answered_by_month_end: int = 0
    answered: int = 0
    processing_days: list[float] = field(default_factory=list)
    statutory_days: list[float] = field(default_factory=list)
    actual_days: list[float] = field(default_factory=list)
    overdue: int = 0
    scores: list[int] = field(default_factory=list)
    first_contact: int = 0
    instant: int = 0

    def row(self, month: str, by: Dimension, value: str | None) -> StatisticsRow:
        # fsum is exact, so the figures do not depend on the order the facts came in.
        statutory = math.fsum(self.statutory_days)
        return StatisticsRow(
            month=month,
            by=by,
            value=value,
            received=self.received,
            answered=self.answered,
            processing_rate=_percent(self.answered_by_month_end, self.received),
            average_processing_days=_mean(self.processing_days),
            speed_index=_round((statutory - math.fsum(self.actual_days)) / statutory * 100)
            if statutory
            else None,
            speed_index_complaints=len(self.statutory_days),
            overdue=self.overdue,
            satisfaction_count=len(self.scores),
            satisfaction_mean=_mean([float(s) for s in self.scores]),
            first_contact_resolution_rate=_percent(self.first_contact, self.received),
            instant_answer_rate=_percent(self.instant, self.received),
        )


def _round(x: float) -> float:
    return round(x, 2)


def _percent(part: int, whole: int) -> float | None:
    return _round(part / whole * 100) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return _round(math.fsum(values) / len(values)) if values else None


def dimension_value(
    facts: ComplaintFacts | None, by: Dimension, rated_office: str | None = None
) -> str | None:
    """Which row a complaint (or a rating of its answer) counts in."""
    if by is Dimension.CITY:
        return CITY
    if facts is None:  # a rating whose complaint is not known (yet)
        return rated_office if by is Dimension.OFFICE else None
    if by is Dimension.CHANNEL:
        return facts.channel
    if facts.confidential:
        return None
    if by is Dimension.OFFICE:
        return rated_office or facts.office
    return facts.district if by is Dimension.DISTRICT else facts.field


def figures(
    month: str, by: Dimension, complaints: Iterable[ComplaintFacts], ratings: Iterable[RatingFact]
) -> StatisticsReport:
    """The month's figures, a row per value of `by` that has any. Complaints and ratings
    outside the month are ignored, so a caller may pass more than the month's."""
    # In UTC: comparing moments of one fixed offset is much cheaper than with a zone's rules.
    start, end = (moment.astimezone(UTC) for moment in month_bounds(month))

    def within(moment: datetime | None) -> bool:
        return moment is not None and start <= moment < end

    tallies: dict[str | None, _Tally] = {}
    by_id = {f.complaint_id: f for f in complaints}
    for f in by_id.values():
        received, answered, overdue = within(f.received_at), within(f.answered_at), within(f.overdue_due)
        if not (received or answered or overdue):
            continue
        t = tallies.setdefault(dimension_value(f, by), _Tally())
        if received:
            t.received += 1
            t.answered_by_month_end += f.answered_at is not None and f.answered_at < end
            t.first_contact += f.first_contact
            t.instant += f.instant
        if answered and f.answered_at is not None:
            t.answered += 1
            if f.received_at is not None:
                t.processing_days.append(max(f.answered_at - f.received_at, timedelta()) / DAY)
            if f.in_speed_index and f.statutory_days is not None and f.actual_days is not None:
                t.statutory_days.append(f.statutory_days)
                t.actual_days.append(f.actual_days)
        t.overdue += overdue
    for r in ratings:
        if within(r.rated_at):
            value = dimension_value(by_id.get(r.complaint_id), by, r.office)
            tallies.setdefault(value, _Tally()).scores.append(r.score)
    rows = [t.row(month, by, value) for value, t in tallies.items()]
    rows.sort(key=lambda r: (r.value is None, r.value or ""))
    return StatisticsReport(month=month, by=by, rows=rows)


def as_csv(report: StatisticsReport) -> str:
    """The report as CSV (RFC 4180, a header row; an empty cell is null)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        values: dict[str, Any] = row.model_dump(mode="json")
        writer.writerow("" if values[c] is None else values[c] for c in CSV_COLUMNS)
    return out.getvalue()
