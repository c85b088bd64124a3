"""What every service's domain model is built on (`eventsourcing`).

- `RecordedAggregate`: aggregates whose events carry their cause (`meta`: actor,
  correlation id, causation id, trace context) taken from the context the command runs in
  (an HTTP request, a consumed message), not passed through every constructor.
- `DomainError`: a command refused by an aggregate's rules; entry points turn it into a
  clear answer (HTTP 409/422) or a recorded refusal, never a crash.
- Typed events: explicit event classes with typed fields; codes are `StrEnum`s and value
  objects pydantic models, stored through registered transcodings so that an event read
  back from the store has the same types it was recorded with.
"""

from __future__ import annotations

import contextvars
import getpass
import socket
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Transcoder, Transcoding
from pydantic import BaseModel

from eungdapso_platform.errors import DomainError
from eungdapso_platform.tracing import causation_id_var, correlation_id_var, current_trace_headers
from eungdapso_schemas import codes
from eungdapso_schemas.events import (
    AttachmentRef,
    Citizen,
    FirstContactResolution,
    Office,
    Place,
    ReplyAddress,
)

__all__ = [
    "DomainError",
    "EventSourcedApplication",
    "RecordedAggregate",
    "acting_as",
    "command_line_actor",
    "current_metadata",
]

actor_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Events recorded inside carry `actor` (who: a citizen via a channel, a component, a
    staff member) with the correlation and causation ids of the work at hand."""
    token = actor_var.set(actor)
    try:
        yield
    finally:
        actor_var.reset(token)


def command_line_actor() -> str:
    """Who runs a command-line tool (`cli:<user>@<host>`), for the record of what it changes."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def current_metadata() -> dict[str, str]:
    """What every recorded event keeps about its cause: who, and which request/trace/message."""
    meta = {"actor": actor_var.get() or "system", **current_trace_headers()}
    if (cid := correlation_id_var.get()) is not None:
        meta["correlation_id"] = cid
    if (cause := causation_id_var.get()) is not None:
        meta["causation_id"] = cause
    return meta


class RecordedAggregate(Aggregate):
    """Base aggregate: every event it records carries `meta` from the context."""

    class Event(Aggregate.Event):
        meta: dict[str, str]

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _create(cls, event_class: Any, *, id: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("meta", current_metadata())
        return super()._create(event_class, id=id, **kwargs)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        kwargs.setdefault("meta", current_metadata())
        super().trigger_event(event_class, **kwargs)


class EnumTranscoding(Transcoding):
    def __init__(self, enum_type: type[Enum]) -> None:
        self.type = enum_type
        self.name = f"enum:{enum_type.__name__}"

    def encode(self, obj: Any) -> Any:
        return obj.value

    def decode(self, data: Any) -> Any:
        return self.type(data)


class ModelTranscoding(Transcoding):
    def __init__(self, model_type: type[BaseModel]) -> None:
        self.type = model_type
        self.name = f"model:{model_type.__name__}"

    def encode(self, obj: Any) -> Any:
        return obj.model_dump(mode="json")

    def decode(self, data: Any) -> Any:
        return self.type.model_validate(data)  # type: ignore[attr-defined]


class TypedJSONTranscoder(JSONTranscoder):
    """The library's JSON transcoder, except that registered types that JSON would take as
    plain values (a `StrEnum` is a `str`) are tagged too, so they come back as themselves."""

    def encode(self, obj: Any) -> bytes:
        return super().encode(self._tag(obj))

    def _tag(self, obj: Any) -> Any:
        transcoding = self.types.get(type(obj))
        if transcoding is not None and isinstance(obj, Enum | BaseModel):
            return {"_type_": transcoding.name, "_data_": transcoding.encode(obj)}
        if isinstance(obj, dict):
            return {k: self._tag(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self._tag(v) for v in obj]
        return obj


#: Types every service's events may hold: the shared codes and value objects.
SHARED_TYPES: tuple[type, ...] = (
    codes.Channel,
    codes.Kind,
    codes.MessageClass,
    codes.Field,
    codes.District,
    codes.Language,
    codes.OfficeLevel,
    codes.Disclosure,
    codes.AttachmentKind,
    codes.ReplyMedium,
    Place,
    Citizen,
    Office,
    AttachmentRef,
    ReplyAddress,
    FirstContactResolution,
)


class EventSourcedApplication(Application[UUID]):
    """A service's event store. Subclasses add their own types to `transcoded_types`."""

    transcoded_types: ClassVar[tuple[type, ...]] = ()

    def find(self, aggregate_id: UUID) -> Any:
        """The aggregate with this id as recorded, or None."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def recorded_among(self, aggregate_ids: Collection[UUID]) -> set[UUID]:
        """Which of these aggregates are recorded (have events), in one query."""
        if not aggregate_ids:
            return set()
        recorder: Any = self.recorder  # the platform's recorders (eventstore.py)
        found: set[UUID] = recorder.recorded_among(aggregate_ids)
        return found

    def construct_transcoder(self) -> Transcoder:
        transcoder = TypedJSONTranscoder()
        self.register_transcodings(transcoder)
        named: dict[str, type] = {}
        for type_ in (*SHARED_TYPES, *self.transcoded_types):
            transcoding: Transcoding
            if isinstance(type_, type) and issubclass(type_, Enum):
                transcoding = EnumTranscoding(type_)
            elif isinstance(type_, type) and issubclass(type_, BaseModel):
                transcoding = ModelTranscoding(type_)
            else:
                raise TypeError(f"no transcoding for {type_!r}: use an Enum or a pydantic model")
            # Stored values are tagged by class name: a second class of the same name would
            # silently decode the first one's values as itself.
            if named.setdefault(transcoding.name, type_) is not type_:
                raise TypeError(
                    f"{type_!r} and {named[transcoding.name]!r} are both stored as {transcoding.name!r}"
                )
            transcoder.register(transcoding)
        return transcoder
