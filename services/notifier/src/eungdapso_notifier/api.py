"""The notifier's API under `/api/v1/notifications` (keys with scopes, keys.py):

- `PUT /api/v1/notifications/preferences`: a citizen's opt-out and language, by their address;
- `PUT /api/v1/notifications/emergency-sms`: a citizen opts in to emergency SMS for districts
  (none: the whole city); `POST .../emergency-sms/opt-out` forgets their number;
- `GET /api/v1/notifications/callbacks`: the open callback tasks (120 callers who asked to be
  called back with the answer), oldest first; `POST .../callbacks/{task_id}/done` closes one;
- `GET /api/v1/notifications/citizen-page/{receipt_no}`: the notices a complaint's citizen
  page shows.

Answers are RFC 9457 problems on bad input (422), a missing or wrong key (401/403), an
unknown task (404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from eungdapso_notifier.keys import Scope, require
from eungdapso_notifier.preferences import EmergencySms, Preference, Preferences
from eungdapso_notifier.providers.sms import domestic_number
from eungdapso_platform.credentials import Client
from eungdapso_platform.db import Database
from eungdapso_platform.logging import get_logger
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import District, Language
from eungdapso_schemas.events import RECEIPT_NO_PATTERN

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
log = get_logger("eungdapso.notifier.api")

Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
ReceiptNo = Annotated[str, Path(pattern=RECEIPT_NO_PATTERN)]


class PreferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The phone number or e-mail address the citizen is reached at (never stored in clear).
    address: Address
    opted_out: bool
    language: Language | None = None


class PreferenceOut(BaseModel):
    opted_out: bool
    language: Language | None


#: A phone number as the complaint's citizen gives it (e.g. `010-1234-5678`, `+82 10 ...`).
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=7, max_length=20)]


class EmergencySmsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone
    #: The districts whose alerts the citizen wants; none: the whole city.
    districts: Annotated[list[District], Field(max_length=25)] = Field(default_factory=list)
    language: Language = Language.KO


class EmergencySmsOut(BaseModel):
    #: The citizen's opaque reference (what broadcasts' events name; never the number).
    subscriber: str
    districts: list[District]
    language: Language


class EmergencySmsOptOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: Phone


class CallbackTask(BaseModel):
    task_id: UUID
    complaint_id: UUID
    receipt_no: str
    phone: str
    language: Language
    script: str
    created_at: datetime


class CallbackDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[str, StringConstraints(pattern=r"^(reached|no_answer|wrong_number)$")]


class PageEntry(BaseModel):
    stage: str
    language: Language
    subject: str
    body: str
    at: datetime


def _db(request: Request) -> Database:
    db: Database = request.app.state.parts.db
    return db


@router.put("/preferences", response_model=PreferenceOut, summary="Set a citizen's opt-out and language")
async def set_preference(
    request: Request,
    body: PreferenceIn,
    client: Annotated[Client[Scope], Depends(require(Scope.PREFERENCES))],
) -> PreferenceOut:
    preferences: Preferences = request.app.state.preferences
    await preferences.set(
        body.address, Preference(body.opted_out, body.language), request.app.state.clock.now()
    )
    log.info("preference_set", opted_out=body.opted_out, language=body.language)  # no address
    return PreferenceOut(opted_out=body.opted_out, language=body.language)


@router.put("/emergency-sms", response_model=EmergencySmsOut, summary="Opt a citizen in to emergency SMS")
async def opt_in_emergency_sms(
    request: Request,
    body: EmergencySmsIn,
    client: Annotated[Client[Scope], Depends(require(Scope.PREFERENCES))],
) -> EmergencySmsOut:
    if domestic_number(body.phone) is None:
        raise Problem(422, "Not a Korean mobile number", "Emergency SMS go to Korean numbers only.")
    subscribers: EmergencySms = request.app.state.emergency_sms
    districts = sorted(set(body.districts))
    key = await subscribers.opt_in(body.phone, districts, body.language, request.app.state.clock.now())
    log.info("emergency_sms_opted_in", subscriber=key, districts=districts)  # no number
    return EmergencySmsOut(subscriber=key, districts=districts, language=body.language)


@router.post("/emergency-sms/opt-out", status_code=204, summary="Opt a citizen out of emergency SMS")
async def opt_out_emergency_sms(
    request: Request,
    body: EmergencySmsOptOut,
    client: Annotated[Client[Scope], Depends(require(Scope.PREFERENCES))],
) -> None:
    subscribers: EmergencySms = request.app.state.emergency_sms
    if not await subscribers.opt_out(body.phone):
        raise Problem(404, "Not opted in", "This number is not opted in to emergency SMS.", type_="not-found")
    log.info("emergency_sms_opted_out")


@router.get("/callbacks", response_model=list[CallbackTask], summary="Open callback tasks, oldest first")
async def open_callbacks(
    request: Request, client: Annotated[Client[Scope], Depends(require(Scope.CALLBACKS))]
) -> list[dict[str, Any]]:
    db = _db(request)

    async def read(conn: Any) -> list[dict[str, Any]]:
        cursor = await conn.execute(
            db.sql(
                "SELECT task_id, complaint_id, receipt_no, phone, language, script, created_at"
                " FROM {schema}.callback_tasks WHERE done_at IS NULL ORDER BY created_at LIMIT 500"
            )
        )
        return list(await cursor.fetchall())

    return await db.run(read)


@router.post("/callbacks/{task_id}/done", status_code=204, summary="Close a callback task")
async def callback_done(
    request: Request,
    task_id: UUID,
    body: CallbackDone,
    client: Annotated[Client[Scope], Depends(require(Scope.CALLBACKS))],
) -> None:
    db = _db(request)
    async with db.transaction() as conn:
        cursor = await conn.execute(
            db.sql(
                "UPDATE {schema}.callback_tasks SET done_at = %s, done_by = %s, outcome = %s"
                " WHERE task_id = %s AND done_at IS NULL RETURNING task_id"
            ),
            (request.app.state.clock.now(), client.name, body.outcome, task_id),
        )
        if await cursor.fetchone() is None:
            raise Problem(404, "No open callback task", f"no open callback task {task_id}", type_="not-found")
    log.info("callback_done", task_id=str(task_id), outcome=body.outcome)


@router.get(
    "/citizen-page/{receipt_no}", response_model=list[PageEntry], summary="The notices a citizen page shows"
)
async def citizen_page(
    request: Request,
    receipt_no: ReceiptNo,
    client: Annotated[Client[Scope], Depends(require(Scope.CITIZEN_PAGE))],
) -> list[dict[str, Any]]:
    db = _db(request)

    async def read(conn: Any) -> list[dict[str, Any]]:
        cursor = await conn.execute(
            db.sql(
                "SELECT stage, language, subject, body, at FROM {schema}.citizen_page"
                " WHERE receipt_no = %s ORDER BY at"
            ),
            (receipt_no,),
        )
        return list(await cursor.fetchall())

    return await db.run(read)
