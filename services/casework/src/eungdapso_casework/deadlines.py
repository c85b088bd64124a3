"""The deadline of each complaint as the SLA service keeps it (처리기한), in casework's inbox:
the `deadlines` projection of `eungdapso.sla.events`. One row per complaint (a reassignment
does not restart the clock, so every case of the complaint shows the same deadline).

SLA's events of one complaint arrive in order (its stream, keyed by complaint id); each sets
its own columns, so a redelivery changes nothing.
"""

from __future__ import annotations

from eungdapso_platform.readmodel import ProjectionTx, ReadModel
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    DeadlineBreachedV1,
    DeadlineEvent,
    DeadlineExtendedV1,
    DeadlineMetV1,
    DeadlineMovedV1,
    DeadlineSetV1,
    DeadlineWarnedV1,
)

DEADLINES = ReadModel(
    name="deadlines",
    shape=1,
    tables={
        "deadlines": (
            "CREATE TABLE {table} ("
            " complaint_id uuid PRIMARY KEY,"
            " due timestamptz NOT NULL,"
            " category text,"
            " basis text,"
            " extended_at timestamptz,"
            " previous_due timestamptz,"
            " extension_reason text,"
            " warned_at timestamptz,"
            " warned_stage text,"
            " breached_at timestamptz,"
            " met_at timestamptz,"
            " met_within boolean)",
        )
    },
)

_DUE = (
    "INSERT INTO {deadlines} AS d (complaint_id, due) VALUES (%s, %s)"
    " ON CONFLICT (complaint_id) DO UPDATE SET due=EXCLUDED.due"
)


async def _record(tx: ProjectionTx, e: DeadlineEvent, **columns: object) -> None:
    """The due moment every event carries, and the event's own columns."""
    await tx.execute(_DUE, (e.complaint_id, e.due))
    if columns:
        assigned = ", ".join(f"{name}=%s" for name in columns)
        await tx.execute(
            f"UPDATE {{deadlines}} SET {assigned} WHERE complaint_id=%s", (*columns.values(), e.complaint_id)
        )


async def on_set(tx: ProjectionTx, envelope: Envelope[DeadlineSetV1]) -> None:
    await _record(tx, envelope.data, category=envelope.data.category, basis=envelope.data.basis)


async def on_extended(tx: ProjectionTx, envelope: Envelope[DeadlineExtendedV1]) -> None:
    e = envelope.data
    # The event carries no time of its own: it happened when it was published.
    await _record(tx, e, extended_at=envelope.time, previous_due=e.previous_due, extension_reason=e.reason)


async def on_moved(tx: ProjectionTx, envelope: Envelope[DeadlineMovedV1]) -> None:
    await _record(tx, envelope.data)


async def on_warned(tx: ProjectionTx, envelope: Envelope[DeadlineWarnedV1]) -> None:
    await _record(tx, envelope.data, warned_at=envelope.data.at, warned_stage=envelope.data.stage)


async def on_breached(tx: ProjectionTx, envelope: Envelope[DeadlineBreachedV1]) -> None:
    await _record(tx, envelope.data, breached_at=envelope.data.at)


async def on_met(tx: ProjectionTx, envelope: Envelope[DeadlineMetV1]) -> None:
    await _record(tx, envelope.data, met_at=envelope.data.answered_at, met_within=envelope.data.within)


HANDLERS = (
    (DeadlineSetV1, on_set),
    (DeadlineExtendedV1, on_extended),
    (DeadlineMovedV1, on_moved),
    (DeadlineWarnedV1, on_warned),
    (DeadlineBreachedV1, on_breached),
    (DeadlineMetV1, on_met),
)
