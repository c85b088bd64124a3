"""Every Kafka topic, who publishes to it and who consumes it.

Services subscribe through this registry and the AsyncAPI document is generated
from it, so the document cannot name a topic the code does not use.
"""

from __future__ import annotations

from dataclasses import dataclass

from eungdapso_schemas.events import ComplaintAssignedV1, ComplaintReceivedV1, Payload


@dataclass(frozen=True)
class Topic:
    name: str
    payload: type[Payload] | None
    description: str
    publishers: tuple[str, ...]
    subscribers: tuple[str, ...]
    #: Kept forever by default: read models are rebuilt, and audits replayed, from here.
    retention_ms: int = -1

    def kafka_configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}


COMPLAINT_RECEIVED = Topic(
    name="eungdapso.complaint.received",
    payload=ComplaintReceivedV1,
    description="A complaint entered through any channel (key: complaint id).",
    publishers=("intake",),
    subscribers=("router", "publisher"),
)
COMPLAINT_ASSIGNED = Topic(
    name="eungdapso.complaint.assigned",
    payload=ComplaintAssignedV1,
    description="The router assigned a complaint to an office (key: complaint id).",
    publishers=("router",),
    subscribers=("publisher",),
)
DEAD_LETTER = Topic(
    name="eungdapso.deadletter",
    payload=None,
    description=(
        "Messages a consumer could not parse or validate, unchanged, with the reason in the "
        "`dlq_reason` header and their origin in `dlq_topic`, `dlq_partition`, `dlq_offset`, "
        "`dlq_consumer`."
    ),
    publishers=("router", "publisher"),
    subscribers=(),
)

ALL_TOPICS: tuple[Topic, ...] = (COMPLAINT_RECEIVED, COMPLAINT_ASSIGNED, DEAD_LETTER)


def topic_for_payload(model: type[Payload]) -> Topic:
    for topic in ALL_TOPICS:
        if topic.payload is model:
            return topic
    raise LookupError(f"no topic carries {model.__name__}")
