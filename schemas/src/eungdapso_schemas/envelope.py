"""The event envelope: CloudEvents 1.0 in the Kafka binary content mode.

Attributes travel as `ce_*` headers, the payload as the JSON record value, and the
subject as the record key (and `ce_partitionkey`): for an event about a complaint its id,
so one complaint's events stay in one partition and in order. An integrator's submission
has no complaint yet: its `ce_subject` is optional (`Envelope.subject` is then None).
Extensions used: `correlationid`, `causationid` and the distributed-tracing
`traceparent`/`tracestate`.
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

from eungdapso_schemas.events import ComplaintEvent, Payload, SubmissionAnsweredV1, dataschema_uri

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
    #: What the event is about, and its record key; None only where the contract allows it.
    subject: str | None
    data: P
    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def type(self) -> str:
        return self.data.cloudevents_type()


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
        "datacontenttype": CONTENT_TYPE,
        "dataschema": dataschema_uri(type(envelope.data)),
    }
    if envelope.subject is not None:
        attributes["subject"] = attributes["partitionkey"] = envelope.subject
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


#: Bounds on what a producer may put in the CloudEvents attributes: every id ends up in a
#: consumer's ledger or a read model's index, where an oversized value would fail the
#: whole batch (a btree entry is at most ~2.7 kB).
MAX_ID_CHARS = 256
MAX_SOURCE_CHARS = 256
#: A subject other than a complaint id (a submission's source and id).
MAX_SUBJECT_CHARS = MAX_SOURCE_CHARS + 1 + MAX_ID_CHARS
MAX_TRACESTATE_CHARS = 512
#: Kafka's default message.max.bytes; a larger value is refused before it is parsed.
MAX_VALUE_BYTES = 1_048_576
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_CORRELATION = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
#: Only these headers are the contract; any other (a vendor's binary trace header, ...) is
#: left alone, whatever bytes it holds.
_CONTRACT_HEADER = re.compile(r"^(ce_[a-z0-9]{1,20}|content-type)$")


def contract_headers(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    """The CloudEvents headers of a record, as text; other headers are ignored."""
    found: dict[str, str] = {}
    for name, raw in headers:
        if not isinstance(name, str) or not _CONTRACT_HEADER.match(name):
            continue
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        try:
            found[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ContractViolation(f"header {name} is not UTF-8 text") from None
    return found


def _check_attributes(h: dict[str, str]) -> None:
    if "ce_specversion" not in h:
        raise ContractViolation("not a CloudEvent: header ce_specversion is missing")
    if h["ce_specversion"] != "1.0":
        raise ContractViolation(f"unsupported CloudEvents specversion {h['ce_specversion'][:20]!r}")
    for required in ("ce_id", "ce_source", "ce_type", "ce_time"):
        if not h.get(required):
            raise ContractViolation(f"malformed CloudEvent: header {required} is missing")
    about_a_complaint = _about_a_complaint(h["ce_type"])
    if about_a_complaint and not h.get("ce_subject"):
        raise ContractViolation("malformed CloudEvent: header ce_subject is missing")
    if len(h["ce_id"]) > MAX_ID_CHARS or not _PRINTABLE.match(h["ce_id"]):
        raise ContractViolation(f"ce_id must be 1-{MAX_ID_CHARS} printable ASCII characters")
    if len(h["ce_source"]) > MAX_SOURCE_CHARS:
        raise ContractViolation(f"ce_source is longer than {MAX_SOURCE_CHARS} characters")
    if not _TYPE_WITH_VERSION.match(h["ce_type"]) or len(h["ce_type"]) > 200:
        raise ContractViolation(f"event type {h['ce_type'][:200]!r} has no version suffix .vN")
    if about_a_complaint and not _UUID.match(h["ce_subject"]):
        raise ContractViolation("ce_subject must be the complaint id (a UUID)")
    if len(h.get("ce_subject", "")) > MAX_SUBJECT_CHARS:
        raise ContractViolation(f"ce_subject is longer than {MAX_SUBJECT_CHARS} characters")
    if "ce_causationid" in h and len(h["ce_causationid"]) > MAX_ID_CHARS:
        raise ContractViolation(f"ce_causationid is longer than {MAX_ID_CHARS} characters")
    if "ce_correlationid" in h and not _CORRELATION.match(h["ce_correlationid"]):
        raise ContractViolation("ce_correlationid must be 1-128 characters of [A-Za-z0-9._:-]")
    if "ce_traceparent" in h and not _TRACEPARENT.match(h["ce_traceparent"]):
        raise ContractViolation("ce_traceparent is not a W3C traceparent")
    if "ce_tracestate" in h and len(h["ce_tracestate"]) > MAX_TRACESTATE_CHARS:
        raise ContractViolation(f"ce_tracestate is longer than {MAX_TRACESTATE_CHARS} characters")


def decode(headers: Iterable[tuple[str, bytes]], key: bytes | None, value: bytes | None) -> Envelope[Payload]:
    """Parse and validate a record; raise ContractViolation saying what is wrong.

    Whatever a producer sends, this either returns a valid envelope or raises
    ContractViolation: it never raises anything else (a consumer dead-letters the record
    and moves on, so no record can stop a partition).
    """
    try:
        return _decode(headers, key, value)
    except ContractViolation:
        raise
    except RecursionError:
        raise ContractViolation("record value is nested too deeply") from None
    except Exception as exc:  # the SDK raises its own exception types for bad attributes
        raise ContractViolation(f"malformed CloudEvent: {type(exc).__name__}: {str(exc)[:300]}") from None


def _about_a_complaint(ce_type: str) -> bool:
    """Events about a complaint (and unknown types, refused later) carry its id as subject."""
    from eungdapso_schemas.streams import payload_type

    model = payload_type(ce_type)
    return model is None or issubclass(model, ComplaintEvent)


def event_type_of(headers: Iterable[tuple[str, bytes]]) -> str | None:
    """The `ce_type` header, read without decoding anything else (to skip unhandled types)."""
    for name, raw in headers:
        if name == "ce_type":
            try:
                return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            except UnicodeDecodeError:
                return None
    return None


def _decode(
    headers: Iterable[tuple[str, bytes]], key: bytes | None, value: bytes | None
) -> Envelope[Payload]:
    from eungdapso_schemas.streams import payload_type

    text_headers = contract_headers(headers)
    _check_attributes(text_headers)
    if value is not None and len(value) > MAX_VALUE_BYTES:
        raise ContractViolation(f"record value is larger than {MAX_VALUE_BYTES} bytes")
    try:
        json.loads(value or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ContractViolation(f"record value is not valid JSON: {exc}") from exc
    header_map = {name: text.encode() for name, text in text_headers.items()}
    try:
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""), _FORMAT
        )
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractViolation(f"malformed CloudEvent: {str(exc)[:300]}") from exc

    model = payload_type(event.get_type())
    if model is None:
        raise ContractViolation(f"unknown event type {event.get_type()!r}")
    data = event.get_data()
    if not isinstance(data, dict):
        raise ContractViolation("event data is not a JSON object")
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:10]
        )
        raise ContractViolation(f"{event.get_type()} payload invalid: {problems}"[:2000]) from exc
    time = event.get_time()
    if time is None:
        raise ContractViolation("ce_time is missing")
    subject = event.get_subject() or None
    if isinstance(payload, ComplaintEvent):
        if subject is None:
            raise ContractViolation("ce_subject (the complaint id) is missing")
        if payload.cloudevents_subject != subject.lower():
            raise ContractViolation("ce_subject is not the complaint_id of the payload")
    if isinstance(payload, SubmissionAnsweredV1) and payload.cloudevents_subject != subject:
        raise ContractViolation("ce_subject is not the source and id of the submission answered")

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
