"""Open311 conformance helpers: the official GeoReport v2 schemas, and XML read the way
FixMyStreet's client reads it (XML::Simple with the list elements forced to arrays)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from defusedxml import ElementTree
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

ROOT = Path(__file__).resolve().parents[2]
#: The copies the tests run with (a fresh clone has no ../shared), and their originals.
SCHEMAS = ROOT / "tests" / "conformance" / "open311-georeport-v2"
SHARED_SCHEMAS = ROOT.parent / "shared" / "conformance" / "open311-georeport-v2"
SCHEMA_FILES = ("request.json", "requests.json", "service.json", "services.json", "service-definition.json")

#: FixMyStreet's `_get_xml_object`: these elements are lists, whatever their count.
LISTS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "service_requests_updates": "request_update",
    "endpoints": "endpoint",
    "formats": "format",
}


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


@cache
def _registry() -> Registry[Any]:
    resources = [
        (name, Resource.from_contents(_load(name), default_specification=DRAFT7)) for name in SCHEMA_FILES
    ]
    return Registry().with_resources(resources)


def validate(value: Any, schema_file: str) -> None:
    """Raise unless `value` is valid against one of the official schema files."""
    validator = jsonschema.Draft7Validator(
        _load(schema_file), registry=_registry(), format_checker=jsonschema.FormatChecker()
    )
    validator.validate(value)


def validate_swagger(value: Any, definition: str) -> None:
    """Raise unless `value` is an array of the swagger document's `definition` (the answers
    of POST requests and GET tokens, which have no schema file of their own)."""
    swagger = _load("swagger.json")
    schema = {"type": "array", "minItems": 1, "items": swagger["definitions"][definition]}
    jsonschema.Draft7Validator(schema).validate(value)


def xml_value(content: bytes) -> tuple[str, Any]:
    """The root element's name and its content as plain values, lists where FixMyStreet
    forces them; empty elements are None (XML::Simple's `SuppressEmpty => undef`)."""
    root = ElementTree.fromstring(content)
    assert content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return root.tag, _value(root)


def _value(element: Any) -> Any:
    children = list(element)
    if element.tag in LISTS:
        assert all(c.tag == LISTS[element.tag] for c in children), element.tag
        return [_value(c) for c in children]
    if not children:
        return element.text
    return {c.tag: _value(c) for c in children}


def as_xml_text(value: Any) -> Any:
    """A JSON answer as its XML twin reads: every scalar a string, booleans `true`/`false`,
    null an empty element (None)."""
    if isinstance(value, dict):
        return {k: as_xml_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_xml_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return None
    return str(value)
