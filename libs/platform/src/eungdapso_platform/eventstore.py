"""The event store every service records its decisions in (`eventsourcing`), and the
ledger that makes consuming a message and recording what it caused one transaction.

Both recorders add the same two things to the library's:
- `ledger_entries`: the consumer-ledger rows of the messages that caused the events,
  inserted in the same transaction, so a redelivered message fails on the ledger's key
  and nothing is recorded twice;
- `writes`: read-model rows a process keeps beside its events (a lookup table, ...),
  written in the same transaction too.
The PostgreSQL recorder is the production one; the in-memory one serves fast unit tests.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow

from eungdapso_platform.db import INSERT_LEDGER, schema_sql
from eungdapso_platform.migrations import PLATFORM_MIGRATIONS, migrate
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import ComplaintEvent

__all__ = [
    "IntegrityError",
    "LedgerEntry",
    "LedgeredPOPORecorder",
    "LedgeredPostgresRecorder",
    "Write",
    "derived_id",
    "event_id",
    "integration_event",
]

#: Namespace for deterministic ids (event ids, aggregate ids derived from other ids).
EUNGDAPSO_NAMESPACE = uuid.UUID("5f0e4a52-6a4f-4d0e-9b1e-2b1d7c3a0e11")


@dataclass(frozen=True)
class LedgerEntry:
    ledger: str
    message_id: str


@dataclass(frozen=True)
class Write:
    """One SQL statement (`{schema}` for the service's schema) run with the events."""

    statement: str
    params: tuple[Any, ...] = field(default_factory=tuple)


class LedgeredPostgresRecorder(PostgresApplicationRecorder):
    def create_table(self) -> None:
        # The library creates its own tables; the ledger is the platform's (migrations).
        kwargs: dict[str, Any] = self.datastore.pool.kwargs  # type: ignore[assignment]
        params = {k: v for k, v in kwargs.items() if k != "row_factory"}
        migrate(make_conninfo(**params), self.datastore.schema, PLATFORM_MIGRATIONS)
        super().create_table()

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Any, **kwargs: Any) -> None:
        entries: list[LedgerEntry] = kwargs.get("ledger_entries") or []
        writes: list[Write] = kwargs.get("writes") or []
        if entries or writes:
            # The library runs this in pipeline mode and fetches results only later, inside
            # a block that keeps the error and then commits: a refused row would reach us
            # as "pipeline aborted" (no SQLSTATE, taken for an outage) instead of itself.
            # Sync here, so that what the database refuses is raised as what it is.
            with curs.connection.pipeline() as pipeline:
                if entries:
                    curs.executemany(
                        schema_sql(INSERT_LEDGER, self.datastore.schema),
                        [(entry.ledger, entry.message_id) for entry in entries],
                    )
                for write in writes:
                    curs.execute(schema_sql(write.statement, self.datastore.schema), write.params)
                pipeline.sync()
        super()._insert_events(curs, stored_events, **kwargs)

    def processed_among(self, ledger: str, message_ids: list[str]) -> set[str]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                schema_sql(
                    "SELECT message_id FROM {schema}.processed_messages"
                    " WHERE consumer=%s AND message_id = ANY(%s)",
                    self.datastore.schema,
                ),
                (ledger, message_ids),
            )
            return {row["message_id"] for row in curs.fetchall()}


class LedgeredPOPORecorder(POPOApplicationRecorder):
    """In memory, for unit tests: the same ledger rule, no SQL writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ledger: set[tuple[str, str]] = set()
        self._ledger_lock = threading.Lock()

    def _insert_events(self, stored_events: Any, **kwargs: Any) -> Any:
        entries: list[LedgerEntry] = kwargs.get("ledger_entries") or []
        if kwargs.get("writes"):
            raise NotImplementedError("read-model writes need the PostgreSQL recorder")
        with self._ledger_lock:
            keys = {(e.ledger, e.message_id) for e in entries}
            if keys & self.ledger or len(keys) < len(entries):
                raise IntegrityError(f"already in the ledger: {sorted(keys & self.ledger)}")
            result = super()._insert_events(stored_events, **kwargs)
            self.ledger |= keys
        return result

    def processed_among(self, ledger: str, message_ids: list[str]) -> set[str]:
        with self._ledger_lock:
            return {m for m in message_ids if (ledger, m) in self.ledger}


class LedgeredPOPOFactory(POPOFactory):
    """The in-memory persistence module, with the ledgered recorder."""

    def application_recorder(self) -> LedgeredPOPORecorder:
        return LedgeredPOPORecorder()


def integration_event(domain_event: Any, payload: ComplaintEvent, *, source: str) -> Envelope[Any]:
    """The envelope of what a recorded domain event tells other services: its id derived
    from the recorded event, and the cause (correlation, causation, trace) kept in `meta`."""
    meta: dict[str, str] = getattr(domain_event, "meta", None) or {}
    return Envelope(
        id=event_id(domain_event.originator_id, domain_event.originator_version),
        source=source,
        time=domain_event.timestamp,
        subject=payload.subject,
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
