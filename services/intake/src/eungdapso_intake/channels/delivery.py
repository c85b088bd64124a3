"""What every provider's delivery goes through on its way to a complaint (SMS gateways, X,
Facebook): its media fetched into attachments, its words made to fit, the one intake
command, and answers a provider acts on (200 for a redelivery, so it stops retrying; 503
when nothing could be recorded, so it retries)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from eungdapso_intake.services import (
    ComplaintIntake,
    Idempotency,
    OutcomeUnknown,
    ReceiveComplaint,
    SubmissionFailed,
    SubmissionResult,
)
from eungdapso_platform.logging import get_logger
from eungdapso_platform.problems import Problem, problem_response
from eungdapso_schemas.events import MAX_ATTACHMENTS, AttachmentRef

log = get_logger("eungdapso.intake.channels")

M = TypeVar("M", bound=BaseModel)
#: The longest complaint text intake keeps (`ComplaintBody`).
MAX_TEXT = 4000
#: The text of a message that carried media and no words: still a message to the city.
MEDIA_ONLY = "(본문 없이 사진·첨부만 보냄)"


class MediaFetcher(Protocol):
    """`eungdapso_intake.attachments.Attachments`: downloads provider media (SSRF guards,
    size cap, timeout) and stores it as an attachment."""

    async def fetch(
        self, url: str, *, uploaded_by: str, auth: tuple[str, str] | None = None
    ) -> AttachmentRef: ...


async def fetch_media(
    request: Request, urls: Iterable[str], *, uploaded_by: str, auth: tuple[str, str] | None = None
) -> tuple[AttachmentRef, ...]:
    """The media a message carried, as attachments. Media that cannot be fetched (gone,
    too large, refused) never costs the citizen their complaint: it is recorded without it."""
    wanted = list(dict.fromkeys(urls))[:MAX_ATTACHMENTS]
    if not wanted:
        return ()
    store: MediaFetcher | None = getattr(request.app.state, "attachments", None)
    if store is None:
        log.warning("media_not_kept", count=len(wanted), reason="no attachment store")
        return ()
    results = await asyncio.gather(
        *(store.fetch(url, uploaded_by=uploaded_by, auth=auth) for url in wanted), return_exceptions=True
    )
    kept = {r.sha256: r for r in results if isinstance(r, AttachmentRef)}
    failed = [getattr(r, "title", type(r).__name__) for r in results if isinstance(r, BaseException)]
    if failed:
        log.warning("media_not_kept", count=len(failed), reasons=sorted(set(map(str, failed))))
    return tuple(kept.values())


def complaint_text(words: str | None, *, media: int) -> str | None:
    """What the complaint says: the message's words, cut to what intake keeps (a long DM is
    kept in part rather than lost), or a note that it carried media alone; None if empty."""
    text = (words or "").strip()
    if not text:
        return MEDIA_ONLY if media else None
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True)
class ChannelMessage:
    """One message of a delivery, checked and turned into the command before anything of
    the delivery is recorded (bad input records nothing)."""

    command: ReceiveComplaint
    idempotency: Idempotency
    #: Who brought the media in (`sms:twilio`, `sns:eungdapso.x`): never the citizen's ids.
    uploaded_by: str
    #: Provider media to fetch into attachments, and the credentials it needs.
    media: tuple[str, ...] = ()
    media_auth: tuple[str, str] | None = None


async def record(request: Request, message: ChannelMessage) -> SubmissionResult:
    """Fetch the message's media and record it, once per message id; raises
    `SubmissionFailed` (answer `redeliver_later`)."""
    command = message.command
    if message.media:
        attachments = await fetch_media(
            request, message.media, uploaded_by=message.uploaded_by, auth=message.media_auth
        )
        command = command.model_copy(update={"attachments": attachments})
    intake: ComplaintIntake = request.app.state.intake
    return await intake.submit(command, message.idempotency)


def command_of(**fields: Any) -> ReceiveComplaint:
    """The command, or a 422 naming what does not fit (the wire models check most of it)."""
    return parse_model(ReceiveComplaint, fields)


def redeliver_later(request: Request, failure: SubmissionFailed) -> Response:
    """503: the provider delivers the message again, and its message id makes that safe."""
    may_be = isinstance(failure, OutcomeUnknown)
    problem = Problem(
        503,
        "Outcome unknown" if may_be else "Temporarily unavailable",
        ("The complaint may or may not have been recorded" if may_be else "Nothing was recorded")
        + ": the database could not be reached in time. Deliver the same message again later; "
        "its message id makes a redelivery safe (never recorded twice).",
        type_="outcome-unknown" if may_be else "unavailable",
    )
    answer = problem_response(request, problem)
    answer.headers["Retry-After"] = "5"
    return answer


def parse_json(model: type[M], body: bytes) -> M:
    """A delivery's body, once its signature is checked, validated like any request body
    (400 for malformed JSON, 422 naming each bad field)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None


def refusals(forbidden: str, not_found: str, invalid: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for the answers every channel route may give besides its own."""
    said = {
        403: forbidden,
        404: not_found,
        422: f"{invalid}; nothing recorded",
        503: "Not recorded (or outcome unknown): deliver the message again",
    }
    return {status: {"description": f"{text} (RFC 9457 problem)"} for status, text in said.items()}


def request_body(model: type[BaseModel], media_type: str = "application/json") -> dict[str, Any]:
    """OpenAPI for a body the route reads raw (its signature covers the exact bytes)."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"requestBody": {"required": True, "content": {media_type: {"schema": inline(schema)}}}}
