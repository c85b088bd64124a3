"""Generate the checked-in contract files: JSON Schemas and the AsyncAPI document.

`python -m eungdapso_schemas.export` rewrites them; `--check` fails on drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from eungdapso_schemas.events import (
    DIRECTORY_KEY,
    ComplaintEvent,
    DirectoryPublishedV1,
    Payload,
    SubmissionAnsweredV1,
    dataschema_uri,
    schema_file_stem,
)
from eungdapso_schemas.streams import CONTRACT_VERSION, DEAD_LETTER, FEEDS, PAYLOADS, STREAMS, Feed, Topic
from eungdapso_schemas.system import EXTERNAL_PARTIES

SCHEMAS_DIR = Path(__file__).resolve().parents[2]
JSONSCHEMA_DIR = SCHEMAS_DIR / "jsonschema"
ASYNCAPI_FILE = SCHEMAS_DIR / "asyncapi.yaml"

CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka binary binding: attributes as ce_* headers.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event; consumers deduplicate on it."},
        "ce_source": {"type": "string", "description": "The producing service, e.g. /eungdapso/intake"},
        "ce_type": {"type": "string", "description": "Event type with version suffix, e.g. ...received.v1"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The complaint id"},
        "ce_dataschema": {"type": "string"},
        "ce_partitionkey": {"type": "string"},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string"},
        "ce_traceparent": {"type": "string", "description": "W3C trace context"},
        "ce_tracestate": {"type": "string"},
        "content-type": {"const": "application/json"},
    },
}


def json_schema(model: type[Payload]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["$id"] = dataschema_uri(model)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["x-event-type"] = model.cloudevents_type()
    schema["examples"] = [model.example().model_dump(mode="json")]
    return schema


def _headers(model: type[Payload]) -> dict[str, Any]:
    """The CloudEvents headers of one type; only events about a complaint need a subject."""
    properties = {**CE_HEADERS["properties"], "ce_type": {"const": model.cloudevents_type()}}
    required = CE_HEADERS["required"]
    if not issubclass(model, ComplaintEvent):
        required = [h for h in required if h != "ce_subject"]
        about = {
            SubmissionAnsweredV1: "the submission's source and id",
            DirectoryPublishedV1: f"always {DIRECTORY_KEY}",
        }.get(model, "optional, free")
        properties["ce_subject"] = {"type": "string", "description": f"Not a complaint id: {about}"}
    return {**CE_HEADERS, "required": required, "properties": properties}


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "description": "The original record, unchanged, plus dlq_* headers.",
        "headers": {
            "type": "object",
            "required": ["dlq_reason", "dlq_topic", "dlq_consumer"],
            "properties": {
                h: {"type": "string"}
                for h in ("dlq_reason", "dlq_topic", "dlq_partition", "dlq_offset", "dlq_consumer")
            },
        },
        "payload": {},
    }


def _kafka_binding(topic: Topic | Feed) -> dict[str, Any]:
    return {
        "kafka": {
            "bindingVersion": "0.5.0",
            "topicConfiguration": {"retention.ms": topic.retention_ms, "cleanup.policy": ["delete"]},
        }
    }


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, generated from the stream registry: a channel per topic,
    a message per event type, a send operation for the owner and a receive operation for
    each consumer component (with the messages it takes)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for stream in STREAMS:
        channel_id = stream.name.replace(".", "_")
        for model in stream.payloads:
            messages[model.__name__] = {
                "name": model.__name__,
                "title": model.cloudevents_type(),
                "summary": (model.__doc__ or "").strip().splitlines()[0],
                "contentType": "application/json",
                "headers": _headers(model),
                "payload": {"$ref": f"./jsonschema/{schema_file_stem(model)}.json"},
                "examples": [{"name": "example", "payload": model.example().model_dump(mode="json")}],
            }
        channels[channel_id] = {
            "address": stream.name,
            "description": f"{stream.description} Owner: {stream.owner}.",
            "messages": {
                m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in stream.payloads
            },
            "bindings": _kafka_binding(stream),
        }
        how = "CloudEvents, Kafka binary mode" if stream.owner in EXTERNAL_PARTIES else "outbox relay"
        operations[f"{stream.owner}_publishes_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{stream.owner} publishes its events to {stream.name} ({how})",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m.__name__}"} for m in stream.payloads],
        }
        consumers = sorted({c for carried in stream.carries for c in carried.consumers})
        for consumer in consumers:
            taken = [c.payload.__name__ for c in stream.carries if consumer in c.consumers]
            operations[f"{consumer.replace('.', '_')}_consumes_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{consumer} consumes {', '.join(taken)} from {stream.name} "
                + (
                    "(outside the system, with consumer groups of their own)"
                    if consumer in EXTERNAL_PARTIES
                    else f"(consumer group eungdapso-{consumer}; other types are skipped by ce_type)"
                ),
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in taken],
            }
    for feed in FEEDS:
        channels[_feed_id(feed)] = _feed_channel(feed)
        operations.update(_feed_operations(feed))
    channel_id = DEAD_LETTER.name.replace(".", "_")
    messages["DeadLetter"] = _dead_letter_message()
    channels[channel_id] = {
        "address": DEAD_LETTER.name,
        "description": DEAD_LETTER.description,
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        "bindings": _kafka_binding(DEAD_LETTER),
    }
    operations["consumers_dead_letter"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "summary": "Any consumer component, for a record it cannot take (reason in dlq_reason)",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Eung-Dap-So (응답소) events",
            "version": CONTRACT_VERSION,
            "description": "Every stream, event type and consumer. One stream per owner: several event "
            "types per topic, told apart by the CloudEvents type. Generated from the stream registry "
            "by `python -m eungdapso_schemas.export`; do not edit by hand.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _feed_id(feed: Feed) -> str:
    return feed.prefix.rstrip(".").replace(".", "_") + f"_{feed.parameter}"


def _feed_channel(feed: Feed) -> dict[str, Any]:
    """A channel per family of topics, its address parametrised (`{office}`), with the Kafka
    ACLs that keep each reader to its own topic (an `x-` extension: AsyncAPI has no field for
    them)."""
    param = f"{{{feed.parameter}}}"
    return {
        "address": feed.pattern,
        "description": f"{feed.description} Owner: {feed.source.owner}; copied from {feed.source.name}.",
        "parameters": {feed.parameter: {"description": feed.parameter_description}},
        "messages": {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in feed.payloads},
        "bindings": _kafka_binding(feed),
        "x-kafka-acls": [
            {
                "principal": f"User:{feed.source.owner}",
                "resourceType": "TOPIC",
                "patternType": "PREFIXED",
                "resourceName": feed.prefix,
                "operations": ["WRITE", "CREATE", "DESCRIBE"],
                "why": f"{feed.source.owner} creates each topic when its first event comes; writes all",
            },
            {
                "principal": f"User:{feed.parameter}-{param}",
                "resourceType": "TOPIC",
                "patternType": "LITERAL",
                "resourceName": feed.pattern,
                "operations": ["READ", "DESCRIBE"],
                "why": "one topic exactly: a prefixed ACL on one code would also grant the codes that "
                "extend it (district.gangnam → district.gangnam.parking)",
            },
            {
                "principal": f"User:{feed.parameter}-{param}",
                "resourceType": "GROUP",
                "patternType": "PREFIXED",
                "resourceName": f"eungdapso-dept:{param}:",
                "operations": ["READ"],
                "why": "the reader's own consumer groups, eungdapso-dept:<office>:<anything> (':' is in no "
                "office code, so no office's prefix covers another's groups; topic names have no such "
                "character, hence the literal topic ACL)",
            },
        ],
    }


def _feed_operations(feed: Feed) -> dict[str, Any]:
    channel_id = _feed_id(feed)

    def refs() -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel_id}/messages/{m.__name__}"} for m in feed.payloads]

    operations: dict[str, Any] = {
        f"{feed.source.owner}_publishes_{channel_id}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{feed.source.owner} copies the events of {feed.source.name} to the topic of "
            f"their {feed.parameter} (a relay of its own, at least once; same ce_id as on the stream)",
            "messages": refs(),
        }
    }
    for reader in feed.readers:
        operations[f"{reader}_consume_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{reader} each read their own {feed.parameter}'s topic only (Kafka ACLs), "
            "deduplicating by ce_id (outside the system, with consumer groups of their own)",
            "messages": refs(),
        }
    return operations


def rendered() -> dict[Path, str]:
    files = {
        JSONSCHEMA_DIR / f"{schema_file_stem(m)}.json": json.dumps(
            json_schema(m), indent=2, ensure_ascii=False
        )
        + "\n"
        for m in PAYLOADS
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if checked-in files differ")
    args = parser.parse_args(argv)
    drift = []
    for path, text in rendered().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drift.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if drift:
        sys.stderr.write("schema drift, run `make schemas`: " + ", ".join(map(str, drift)) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
