"""Open deadlines (the scheduler's work list): one row per deadline with a warning or a
breach still to come, written in the same transaction as the events that change it, so the
scheduler never acts on what the event store does not say, and a row can be recomputed from
the aggregate (`row_of`)."""

from __future__ import annotations

from datetime import datetime

from eungdapso_platform.eventstore import Write
from eungdapso_platform.migrations import Migration
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.domainmodel import Deadline

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "sla",
        1,
        "open deadlines: the next warning and the due moment of each deadline still open",
        (
            "CREATE TABLE {schema}.open_deadlines ("
            " deadline_id uuid PRIMARY KEY,"
            " complaint_id uuid NOT NULL,"
            " office text,"
            " due timestamptz NOT NULL,"
            # The next warning to give (its stage), or NULL when none is left.
            " warn_at timestamptz,"
            " warn_stage text,"
            # The moment the next step falls due: the earlier of warn_at and due.
            " next_at timestamptz NOT NULL,"
            # A replica working on the row holds it until then (a crashed one lets it go).
            " claimed_until timestamptz,"
            # The version of the declared holidays it was counted with (holidays.py): an
            # older one is counted again.
            " calendar_version integer NOT NULL,"
            " version integer NOT NULL)",
            "CREATE INDEX open_deadlines_next ON {schema}.open_deadlines (next_at)",
        ),
    ),
)

#: Sla migration 3 (after the admin keys' 2): the scheduler finds the rows counted with an
#: older calendar by this index, not by reading the whole table every interval.
BY_CALENDAR_VERSION = Migration(
    "sla",
    3,
    "open deadlines by the calendar version they were counted with",
    ("CREATE INDEX open_deadlines_calendar ON {schema}.open_deadlines (calendar_version)",),
)

_UPSERT = (
    "INSERT INTO {schema}.open_deadlines AS t"
    " (deadline_id, complaint_id, office, due, warn_at, warn_stage, next_at, claimed_until,"
    " calendar_version, version)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, %s)"
    " ON CONFLICT (deadline_id) DO UPDATE SET office=EXCLUDED.office, due=EXCLUDED.due,"
    " warn_at=EXCLUDED.warn_at, warn_stage=EXCLUDED.warn_stage, next_at=EXCLUDED.next_at,"
    " claimed_until=NULL, calendar_version=EXCLUDED.calendar_version, version=EXCLUDED.version"
    " WHERE t.version <= EXCLUDED.version"
)
_DELETE = "DELETE FROM {schema}.open_deadlines WHERE deadline_id = %s"


def row_of(deadline: Deadline, calendar: BusinessCalendar, share: float) -> Write:
    """The row the deadline has now: kept while a breach can still come, removed otherwise."""
    if deadline.status.value != "open" or deadline.breached or deadline.due is None:
        return Write(_DELETE, (deadline.id,))
    warnings = deadline.warnings(calendar, share)
    stage, warn_at = warnings[0] if warnings else (None, None)
    next_at: datetime = min(warn_at, deadline.due) if warn_at is not None else deadline.due
    return Write(
        _UPSERT,
        (
            deadline.id,
            deadline.complaint_id,
            deadline.office,
            deadline.due,
            warn_at,
            stage,
            next_at,
            deadline.calendar_version,
            deadline.version,
        ),
    )
