"""GeoReport v2 wire formats: XML (required by the spec) and JSON (its Spark-convention
mirror), chosen by the path's suffix (`services.xml`, `services.json`), and the spec's
error format (`<errors><error><code/><description/></error></errors>`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree as ET  # only writes XML: parsing untrusted XML needs defusedxml
from zoneinfo import ZoneInfo

from fastapi import Response

SEOUL = ZoneInfo("Asia/Seoul")


class Format(StrEnum):
    JSON = "json"
    XML = "xml"

    @property
    def media_type(self) -> str:
        return "application/json; charset=utf-8" if self is Format.JSON else "text/xml; charset=utf-8"

    @classmethod
    def of_path(cls, path: str, accept: str = "") -> Format:
        """The format a path asks for; for one without a known suffix (an error on a path
        that does not exist) JSON if the client accepts it before XML, else XML."""
        for fmt in cls:
            if path.endswith(f".{fmt.value}"):
                return fmt
        return Format.JSON if "json" in accept and "xml" not in accept else Format.XML


#: XML element of each item of a list, by the list's element (the spec's plurals).
_ITEM = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "service_requests_updates": "request_update",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def w3c(moment: datetime) -> str:
    """W3C datetime with its offset (the spec requires one), in Seoul time."""
    return moment.astimezone(SEOUL).isoformat(timespec="seconds")


def _scalar(value: Any) -> Any:
    if isinstance(value, datetime):
        return w3c(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _scalar(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_scalar(value))


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, Mapping):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list | tuple):
        for child in value:
            element.append(_element(_ITEM[name], child))
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, value: Any) -> bytes:
    body: bytes = ET.tostring(_element(root, value), encoding="unicode").encode()
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def to_json(value: Any) -> bytes:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":")).encode()


def answer(
    fmt: Format, root: str, value: Mapping[str, Any] | Sequence[Any], *, status: int = 200
) -> Response:
    """`value` as the spec shapes it: in XML under `root` (lists item by item), in JSON
    as is (a list is a bare array, an object a bare object)."""
    content = to_json(value) if fmt is Format.JSON else to_xml(root, value)
    return Response(content, status_code=status, media_type=fmt.media_type)


def errors(
    fmt: Format, status: int, descriptions: Iterable[str], *, headers: Mapping[str, str] | None = None
) -> Response:
    """The spec's error answer: one `{code, description}` per error, HTTP status `status`."""
    listed = [{"code": status, "description": d} for d in descriptions]
    response = answer(fmt, "errors", listed, status=status)
    response.headers.update(headers or {})
    return response
