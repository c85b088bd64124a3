"""The event store every service records its decisions in (`eventsourcing`), and the
ledger that makes consuming a message and recording what it caused one transaction.

Both recorders add the same two things to the library's:
- `ledger_entries`: the consumer-ledger rows of the messages that caused the events,
  inserted in the same transaction, so a redelivered message fails on the ledger's key
  and nothing is recorded twice;
- `writes`: read-model rows a process keeps beside its events (a lookup table, ...),
  written in the same transaction too.
The PostgreSQL recorder is the production one; the in-memory one serves fast unit tests.

The PostgreSQL recorder also bounds work done `within` a deadline (an HTTP request) by it
instead of by the library's retry loop (10 attempts, each waiting up to the pool timeout:
20 s and more while the database is down): waiting for a connection, lock waits and
statements stop at the deadline, and a failed attempt is retried only while time remains
and only if it certainly did not commit. When the connection fails while the transaction
commits, the outcome is unknown: `CommitOutcomeUnknown` says so, and nothing is retried.
Work outside a deadline (relays, consumers) keeps the library's behaviour.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ParamSpec, TypeVar, cast

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import (
    ConnectionPool,
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from psycopg import Connection, Cursor
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from eungdapso_platform.db import INSERT_LEDGER, schema_sql
from eungdapso_platform.migrations import PLATFORM_MIGRATIONS, migrate
from eungdapso_schemas.envelope import Envelope
from eungdapso_schemas.events import (
    BroadcastEvent,
    ComplaintEvent,
    DirectoryPublishedV1,
    SubmissionAnsweredV1,
)

__all__ = [
    "CommitOutcomeUnknown",
    "IntegrityError",
    "LedgerEntry",
    "LedgeredPOPORecorder",
    "LedgeredPostgresRecorder",
    "Write",
    "derived_id",
    "event_id",
    "integration_event",
    "remaining_s",
    "within",
]

P = ParamSpec("P")
T = TypeVar("T")

#: Namespace for deterministic ids (event ids, aggregate ids derived from other ids).
EUNGDAPSO_NAMESPACE = uuid.UUID("5f0e4a52-6a4f-4d0e-9b1e-2b1d7c3a0e11")

#: The deadline (`time.monotonic()`) of the work at hand in this thread, if it has one.
_deadline: ContextVar[float | None] = ContextVar("eungdapso_eventstore_deadline", default=None)
#: Pause between two attempts within a deadline (the library waits 0.2 s too).
RETRY_PAUSE_S = 0.2
#: A connection whose server stops answering is given up after this long (TCP keepalives
#: while waiting for a reply, `tcp_user_timeout` while data goes unacknowledged), so a
#: network partition cannot hold a connection, and the thread using it, for the kernel's
#: default of several minutes.
DEAD_PEER_S = 10


class CommitOutcomeUnknown(OperationalError):
    """The connection failed while the transaction was being committed: the events may or
    may not be recorded. Saving the same events again is safe (a recorded one conflicts);
    saying "nothing was recorded" is not."""


def within(deadline: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `fn` with every event-store call it makes bounded by `deadline` (`time.monotonic()`)."""
    token = _deadline.set(deadline)
    try:
        return fn(*args, **kwargs)
    finally:
        _deadline.reset(token)


def remaining_s() -> float | None:
    """Time left before the deadline of the work at hand, None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class _DeadlinePool(ConnectionPool[Connection[DictRow]]):
    """The library's pool, waiting for a connection no longer than the deadline allows."""

    def getconn(self, timeout: float | None = None) -> Connection[DictRow]:
        left = remaining_s()
        if left is not None:
            timeout = max(0.0, min(self.timeout if timeout is None else timeout, left))
        return super().getconn(timeout)


def _bound_connections(datastore: PostgresDatastore) -> None:
    """Before the pool opens: connection attempts and dead peers bounded, waits for a
    connection bounded by the deadline of the work at hand."""
    pool = datastore.pool
    if isinstance(pool.kwargs, dict):
        pool.kwargs.setdefault("connect_timeout", max(1, round(pool.timeout)))
        pool.kwargs.setdefault("keepalives", 1)
        pool.kwargs.setdefault("keepalives_idle", DEAD_PEER_S // 2)
        pool.kwargs.setdefault("keepalives_interval", 1)
        pool.kwargs.setdefault("keepalives_count", DEAD_PEER_S // 2)
        pool.kwargs.setdefault("tcp_user_timeout", DEAD_PEER_S * 1000)
    if type(pool) is ConnectionPool:
        pool.__class__ = _DeadlinePool  # same state, one method more


def _undecorated(method: Callable[..., T]) -> Callable[..., T]:
    """The library method without its retry decorator (10 attempts)."""
    return cast(Callable[..., T], getattr(method, "__wrapped__", method))


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
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        _bound_connections(datastore)

    def create_table(self) -> None:
        # The library creates its own tables; the ledger is the platform's (migrations).
        kwargs: dict[str, Any] = self.datastore.pool.kwargs  # type: ignore[assignment]
        params = {k: v for k, v in kwargs.items() if k != "row_factory"}
        migrate(make_conninfo(**params), self.datastore.schema, PLATFORM_MIGRATIONS)
        super().create_table()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        deadline = _deadline.get()
        if deadline is None:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        insert: Callable[..., Sequence[int] | None] = _undecorated(PostgresApplicationRecorder.insert_events)
        while True:
            statements_done: list[bool] = []  # set when only COMMIT is left to do
            try:
                return insert(self, stored_events, _statements_done=statements_done, **kwargs)
            except (InterfaceError, OperationalError) as exc:
                if statements_done:
                    raise CommitOutcomeUnknown(f"connection failed while committing: {exc}") from exc
                if time.monotonic() + RETRY_PAUSE_S >= deadline:
                    raise
            time.sleep(RETRY_PAUSE_S)

    def select_events(self, originator_id: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        deadline = _deadline.get()
        if deadline is None:
            events: Sequence[StoredEvent] = super().select_events(originator_id, **kwargs)
            return events
        select: Callable[..., Sequence[StoredEvent]] = _undecorated(PostgresAggregateRecorder.select_events)
        while True:
            try:
                return select(self, originator_id, **kwargs)
            except (InterfaceError, OperationalError):
                if time.monotonic() + RETRY_PAUSE_S >= deadline:
                    raise
            time.sleep(RETRY_PAUSE_S)

    def _insert_events(self, curs: Cursor[DictRow], stored_events: Any, **kwargs: Any) -> None:
        left = remaining_s()
        if left is not None:
            # No statement of this transaction (the wait for the table lock included) may run
            # longer than the time left. The library sets `lock_timeout` to 0 (none); this bounds
            # the lock wait anyway.
            curs.execute(
                "SELECT set_config('statement_timeout', %s, true)", (f"{max(1, int(left * 1000))}ms",)
            )
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
        if not stored_events:
            _mark_statements_done(kwargs)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The library's last step before COMMIT: from here a failure may follow a commit.
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        _mark_statements_done(kwargs)
        return notification_ids

    def processed_among(self, ledger: str, message_ids: list[str]) -> set[str]:
        return self.processed_and_recorded(ledger, message_ids, ())[0]

    def processed_and_recorded(
        self, ledger: str, message_ids: list[str], originator_ids: Collection[uuid.UUID]
    ) -> tuple[set[str], set[uuid.UUID]]:
        """`processed_among` and `recorded_among` together: both statements sent at once on
        one connection (pipeline mode), so a consumer's batch waits one round trip, not two."""
        with self.datastore.get_connection() as conn, conn.pipeline(), conn.cursor() as ledgered:
            ledgered.execute(
                schema_sql(
                    "SELECT message_id FROM {schema}.processed_messages"
                    " WHERE consumer=%s AND message_id = ANY(%s)",
                    self.datastore.schema,
                ),
                (ledger, message_ids),
            )
            with conn.cursor() as recorded:
                if originator_ids:
                    recorded.execute(self._recorded_among, ([str(i) for i in originator_ids],), prepare=True)
                done = {row["message_id"] for row in ledgered.fetchall()}
                found = (
                    {uuid.UUID(str(row["id"])) for row in recorded.fetchall()} if originator_ids else set()
                )
        return done, found

    @cached_property
    def _recorded_among(self) -> Composed:
        return SQL(
            "SELECT o.id FROM unnest(%s::{id_type}[]) AS o(id)"
            " WHERE EXISTS (SELECT 1 FROM {schema}.{table} WHERE originator_id = o.id)"
        ).format(
            id_type=Identifier(self.datastore.originator_id_type),
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )

    def recorded_among(self, originator_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these aggregates have events recorded: one statement, however many
        (an index probe each on the table's (originator_id, originator_version) key)."""
        # One round trip, as the library reads an aggregate's events (autocommit, prepared).
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._recorded_among, ([str(i) for i in originator_ids],), prepare=True)
            return {uuid.UUID(str(row["id"])) for row in curs.fetchall()}


def _mark_statements_done(kwargs: dict[str, Any]) -> None:
    marker: list[bool] | None = kwargs.get("_statements_done")
    if marker is not None:
        marker.append(True)


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

    def processed_and_recorded(
        self, ledger: str, message_ids: list[str], originator_ids: Collection[uuid.UUID]
    ) -> tuple[set[str], set[uuid.UUID]]:
        return self.processed_among(ledger, message_ids), self.recorded_among(originator_ids)

    def recorded_among(self, originator_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        with self._database_lock:
            return {i for i in originator_ids if self._stored_events_index.get(str(i))}


class LedgeredPOPOFactory(POPOFactory):
    """The in-memory persistence module, with the ledgered recorder."""

    def application_recorder(self) -> LedgeredPOPORecorder:
        return LedgeredPOPORecorder()


#: What a service publishes: payloads that name their subject (the record key): events about
#: a complaint, intake's answers to integrators' submissions, the router's directory versions,
#: the notifier's broadcasts.
Published = ComplaintEvent | SubmissionAnsweredV1 | DirectoryPublishedV1 | BroadcastEvent


def integration_event(domain_event: Any, payload: Published, *, source: str) -> Envelope[Any]:
    """The envelope of what a recorded domain event tells other services: its id derived
    from the recorded event, and the cause (correlation, causation, trace) kept in `meta`."""
    meta: dict[str, str] = getattr(domain_event, "meta", None) or {}
    return Envelope(
        id=event_id(domain_event.originator_id, domain_event.originator_version),
        source=source,
        time=domain_event.timestamp,
        subject=payload.cloudevents_subject,
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
