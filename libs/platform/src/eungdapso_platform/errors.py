"""What counts as infrastructure trouble: retried (consumers) or answered 503 (HTTP)."""

from __future__ import annotations

import psycopg
from aiokafka.errors import KafkaError
from eventsourcing import persistence as es_persistence


def is_transient(exc: BaseException) -> bool:
    """Database or broker unavailable: worth retrying, never the message's fault."""
    return isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.InterfaceError
        | es_persistence.OperationalError
        | es_persistence.InterfaceError
        | KafkaError
        | OSError
        | TimeoutError,
    )
