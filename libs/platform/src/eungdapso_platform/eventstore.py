"""The event store every service records its decisions in (`eventsourcing`, PostgreSQL).

`LedgeredPostgresRecorder` adds one thing to the library's recorder: when a consumer
saves the events that a message caused, the consumer ledger row for that message is
inserted in the same transaction. A redelivered message then fails on the ledger's
primary key and nothing is recorded twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow

from eungdapso_platform.db import CREATE_LEDGER, INSERT_LEDGER, schema_sql
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import Payload

__all__ = ["IntegrityError", "LedgerEntry", "LedgeredPostgresRecorder", "event_id"]

#: Namespace for deterministic ids (event ids, aggregate ids derived from other ids).
EUNGDAPSO_NAMESPACE = uuid.UUID("5f0e4a52-6a4f-4d0e-9b1e-2b1d7c3a0e11")


@dataclass(frozen=True)
class LedgerEntry:
    consumer: str
    message_id: str


class LedgeredPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(schema_sql(CREATE_LEDGER, datastore.schema))

    def create_table(self) -> None:
        # The library creates types and tables inside the schema but not the schema itself.
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(schema_sql("CREATE SCHEMA IF NOT EXISTS {schema}", self.datastore.schema))
        super().create_table()

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Any, **kwargs: Any) -> None:
        entries: list[LedgerEntry] = kwargs.get("ledger_entries") or []
        if entries:
            curs.executemany(
                schema_sql(INSERT_LEDGER, self.datastore.schema),
                [(entry.consumer, entry.message_id) for entry in entries],
            )
        super()._insert_events(curs, stored_events, **kwargs)


def integration_event(domain_event: Any, payload: Payload, *, source: str, subject: Any) -> Envelope[Any]:
    """The envelope of what a recorded domain event tells other services: its id derived
    from the recorded event, and the cause (correlation, causation, trace) kept in `meta`."""
    meta: dict[str, str] = domain_event.meta
    return Envelope(
        id=event_id(domain_event.originator_id, domain_event.originator_version),
        source=source,
        time=domain_event.timestamp,
        subject=str(subject),
        data=payload,
        correlation_id=meta.get("correlation_id"),
        causation_id=meta.get("causation_id"),
        traceparent=meta.get("traceparent"),
        tracestate=meta.get("tracestate"),
    )


def event_id(originator_id: uuid.UUID, originator_version: int) -> str:
    """The CloudEvents id of a recorded event: the same every time the relay sends it."""
    return str(uuid.uuid5(EUNGDAPSO_NAMESPACE, f"{originator_id}:{originator_version}"))


def derived_id(kind: str, source: str) -> uuid.UUID:
    """A deterministic aggregate id, so that creating it twice is a conflict, not a copy."""
    return uuid.uuid5(EUNGDAPSO_NAMESPACE, f"{kind}:{source}")
