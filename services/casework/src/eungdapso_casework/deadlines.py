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


async def _due(tx: ProjectionTx, e: DeadlineEvent) -> None:
    await tx.execute(_DUE, (e.complaint_id, e.due))


async def on_set(tx: ProjectionTx, envelope: Envelope[DeadlineSetV1]) -> None:
    e = envelope.data
    await _due(tx, e)
    await tx.execute(
        "UPDATE {deadlines} SET category=%s, basis=%s WHERE complaint_id=%s",
        (e.category, e.basis, e.complaint_id),
    )


async def on_extended(tx: ProjectionTx, envelope: Envelope[DeadlineExtendedV1]) -> None:
    e = envelope.data
    await _due(tx, e)
    await tx.execute(
        "UPDATE {deadlines} SET extended_at=%s, previous_due=%s, extension_reason=%s WHERE complaint_id=%s",
        (envelope.time, e.previous_due, e.reason, e.complaint_id),
    )


async def on_moved(tx: ProjectionTx, envelope: Envelope[DeadlineMovedV1]) -> None:
    await _due(tx, envelope.data)


async def on_warned(tx: ProjectionTx, envelope: Envelope[DeadlineWarnedV1]) -> None:
    e = envelope.data
    await _due(tx, e)
    await tx.execute(
        "UPDATE {deadlines} SET warned_at=%s, warned_stage=%s WHERE complaint_id=%s",
        (e.at, e.stage, e.complaint_id),
    )


async def on_breached(tx: ProjectionTx, envelope: Envelope[DeadlineBreachedV1]) -> None:
    e = envelope.data
    await _due(tx, e)
    await tx.execute("UPDATE {deadlines} SET breached_at=%s WHERE complaint_id=%s", (e.at, e.complaint_id))


async def on_met(tx: ProjectionTx, envelope: Envelope[DeadlineMetV1]) -> None:
    e = envelope.data
    await _due(tx, e)
    await tx.execute(
        "UPDATE {deadlines} SET met_at=%s, met_within=%s WHERE complaint_id=%s",
        (e.answered_at, e.within, e.complaint_id),
    )


HANDLERS = (
    (DeadlineSetV1, on_set),
    (DeadlineExtendedV1, on_extended),
    (DeadlineMovedV1, on_moved),
    (DeadlineWarnedV1, on_warned),
    (DeadlineBreachedV1, on_breached),
    (DeadlineMetV1, on_met),
)
