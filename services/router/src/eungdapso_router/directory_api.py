"""`GET /api/v1/directory`: the organisation directory the router routes by now: its version
in the event store and its offices (optionally of one district or level). Public data (names
of offices), read-only: it changes only through `python -m eungdapso_router directory publish`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from eungdapso_router.directory_store import LiveDirectory
from eungdapso_schemas.codes import District, OfficeLevel

router = APIRouter()


class OfficeAnswer(BaseModel):
    code: str
    ko: str
    en: str
    level: OfficeLevel
    district: District | None
    parent: str | None
    roles: list[str]
    serves: list[District]
    aliases: list[str]
    local_government: bool
    generic_name: bool
    #: Subject codes (eungdapso_schemas.subjects) the office takes.
    subjects: list[str]


class DirectoryAnswer(BaseModel):
    #: Version in the router's event store; null while the router has not read the store yet
    #: (it then routes by the edition it was packaged with).
    version: int | None
    edition: str
    content_hash: str
    published_at: datetime | None
    offices: list[OfficeAnswer]


@router.get("/api/v1/directory", response_model=DirectoryAnswer, tags=["directory"])
def directory(
    request: Request, district: District | None = None, level: OfficeLevel | None = None
) -> DirectoryAnswer:
    live: LiveDirectory = request.app.state.directory
    published = live.published
    current = published.directory if published is not None else live.current
    offices = [
        OfficeAnswer.model_validate(o)
        for o in current.as_json()
        if (district is None or o["district"] == district.value)
        and (level is None or o["level"] == level.value)
    ]
    return DirectoryAnswer(
        version=published.version if published is not None else None,
        edition=current.edition,
        content_hash=current.content_hash,
        published_at=published.published_at if published is not None else None,
        offices=offices,
    )
