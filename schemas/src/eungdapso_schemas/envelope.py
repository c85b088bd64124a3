"""The event envelope: CloudEvents 1.0 in the Kafka binary content mode.

Attributes travel as `ce_*` headers, the payload as the JSON record value, and the
complaint id as the record key (and `ce_partitionkey`), so one complaint's events
stay in one partition and in order. Extensions used:
`correlationid`, `causationid` and the distributed-tracing `traceparent`/`tracestate`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from eungdapso_schemas.events import Payload, dataschema_uri, payload_for

P = TypeVar("P", bound=Payload)

_TYPE_WITH_VERSION = re.compile(r"^(?P<type>[a-z0-9.\-_]+)\.v(?P<version>[0-9]{1,3})$")
_FORMAT = JSONFormat()
CONTENT_TYPE = "application/json"


class ContractViolation(ValueError):
    """A message that does not honour the event contract; the text is the reason."""


@dataclass(frozen=True)
class Envelope(Generic[P]):
    id: str
    source: str
    time: datetime
    subject: str
    data: P
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def type(self) -> str:
        return f"{self.data.event_type}.v{self.data.schema_version}"


@dataclass(frozen=True)
class KafkaRecord:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def encode(envelope: Envelope[Any]) -> KafkaRecord:
    attributes: dict[str, Any] = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "specversion": "1.0",
        "time": envelope.time,
        "subject": envelope.subject,
        "datacontenttype": CONTENT_TYPE,
        "dataschema": dataschema_uri(type(envelope.data)),
        "partitionkey": envelope.subject,
    }
    for name, value in (
        ("correlationid", envelope.correlation_id),
        ("causationid", envelope.causation_id),
        ("traceparent", envelope.traceparent),
        ("tracestate", envelope.tracestate),
    ):
        if value:
            attributes[name] = value
    event = CloudEvent(attributes=attributes, data=envelope.data.model_dump(mode="json"))
    message = ce_kafka.to_binary(event, _FORMAT)
    key = message.key.encode() if isinstance(message.key, str) else (message.key or b"")
    return KafkaRecord(key=key, value=message.value, headers=list(message.headers.items()))


def decode(headers: Iterable[tuple[str, bytes]], key: bytes | None, value: bytes | None) -> Envelope[Payload]:
    """Parse and validate a record; raise ContractViolation saying what is wrong."""
    header_map: dict[str, bytes] = {}
    for name, raw in headers:
        header_map[name] = raw if isinstance(raw, bytes) else str(raw).encode()
    if "ce_specversion" not in header_map:
        raise ContractViolation("not a CloudEvent: header ce_specversion is missing")
    if header_map["ce_specversion"] != b"1.0":
        raise ContractViolation(f"unsupported CloudEvents specversion {header_map['ce_specversion']!r}")
    for required in ("ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"):
        if not header_map.get(required):
            raise ContractViolation(f"malformed CloudEvent: header {required} is missing")
    try:
        json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractViolation(f"record value is not valid JSON: {exc}") from exc
    try:
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""), _FORMAT
        )
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractViolation(f"malformed CloudEvent: {exc}") from exc
    except Exception as exc:  # the SDK raises its own exception types for bad attributes
        raise ContractViolation(f"malformed CloudEvent: {type(exc).__name__}: {exc}") from exc

    match = _TYPE_WITH_VERSION.match(event.get_type())
    if match is None:
        raise ContractViolation(f"event type {event.get_type()!r} has no version suffix .vN")
    model = payload_for(match["type"], int(match["version"]))
    if model is None:
        raise ContractViolation(f"unknown event type {event.get_type()!r}")
    data = event.get_data()
    if not isinstance(data, dict):
        raise ContractViolation("event data is not a JSON object")
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ContractViolation(f"{event.get_type()} payload invalid: {problems}") from exc
    time = event.get_time()
    if time is None:
        raise ContractViolation("ce_time is missing")
    subject = event.get_subject()
    if not subject:
        raise ContractViolation("ce_subject (the complaint id) is missing")

    def ext(name: str) -> str | None:
        v = event.get_extension(name)
        return str(v) if v is not None else None

    return Envelope(
        id=event.get_id(),
        source=event.get_source(),
        time=time,
        subject=subject,
        data=payload,
        correlation_id=ext("correlationid"),
        causation_id=ext("causationid"),
        traceparent=ext("traceparent"),
        tracestate=ext("tracestate"),
    )
