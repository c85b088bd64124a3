"""What a failure is: the infrastructure's (retried for as long as it lasts, answered 503)
or the data's (one record's fault: dead-lettered after a few attempts, never an outage).

psycopg puts every server error class in its own exception type, but it classes some data
errors as `OperationalError` (SQLSTATE class 54, "program limit exceeded", e.g. an index
row that is too large): the SQLSTATE, not the exception class, says what a failure is.
"""

from __future__ import annotations

from enum import Enum

import psycopg
from aiokafka.errors import KafkaError
from eventsourcing import persistence as es_persistence


class DomainError(Exception):
    """A command an aggregate refuses by its rules (the text says which rule). Deterministic:
    the same message would be refused again, so it is the data's fault, not an outage."""


class Fault(Enum):
    INFRASTRUCTURE = "infrastructure"
    DATA = "data"
    UNKNOWN = "unknown"


#: SQLSTATE classes of an unavailable or overloaded database: retry.
_INFRASTRUCTURE_SQLSTATE_CLASSES = {
    "08",  # connection exception
    "40",  # transaction rollback (serialization failure, deadlock): retrying is the cure
    "53",  # insufficient resources (disk full, out of memory, too many connections)
    "55",  # object not in prerequisite state (lock not available)
    "57",  # operator intervention (admin shutdown, cannot connect now, query canceled)
    "58",  # system error (I/O)
    "42",  # undefined table/column, privilege: a deployment fault, never one record's
    "25",  # invalid transaction state (e.g. read-only replica after failover)
}
#: SQLSTATE classes that mean this data cannot be stored, however often it is tried.
_DATA_SQLSTATE_CLASSES = {
    "22",  # data exception (value too long, invalid text, out of range, ...)
    "23",  # integrity constraint violation
    "54",  # program limit exceeded (index row size, too many columns, ...)
}


def _sqlstate(exc: BaseException) -> str | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return state
        current = current.__cause__ or current.__context__
    return None


def classify(exc: BaseException) -> Fault:
    if isinstance(exc, DomainError):
        return Fault.DATA
    state = _sqlstate(exc)
    if state is not None:
        if state[:2] in _DATA_SQLSTATE_CLASSES:
            return Fault.DATA
        if state[:2] in _INFRASTRUCTURE_SQLSTATE_CLASSES:
            return Fault.INFRASTRUCTURE
        return Fault.UNKNOWN
    if isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.InterfaceError
        | es_persistence.OperationalError
        | es_persistence.InterfaceError
        | KafkaError
        | OSError
        | TimeoutError,
    ):
        # No SQLSTATE: the connection itself failed (or the broker, or the network).
        return Fault.INFRASTRUCTURE
    if isinstance(exc, RecursionError | UnicodeError | ValueError | TypeError | KeyError):
        return Fault.DATA
    return Fault.UNKNOWN


def is_transient(exc: BaseException) -> bool:
    """Database or broker unavailable: worth retrying, never the message's fault."""
    return classify(exc) is Fault.INFRASTRUCTURE
