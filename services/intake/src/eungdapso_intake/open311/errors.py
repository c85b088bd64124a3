"""Errors under /open311/ in the spec's format; everywhere else intake answers RFC 9457.

The platform's handlers decide every error (their status, text, `Retry-After`, logging);
under /open311/ their problem is then re-rendered the Open311 way, in the format the path
asks for. Statuses follow the spec: 400 for a bad or missing parameter (FastAPI's 422
included), 403 for a missing or bad `api_key` (401 included), 404 for what does not exist.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from eungdapso_intake.open311.render import Format, errors
from eungdapso_platform.problems import Problem

PREFIX = "/open311/"
Handler = Callable[[Request, Any], Response | Awaitable[Response]]

#: Spec status for a platform status (anything else is kept: 404, 405, 413, 429, 503, ...).
_SPEC_STATUS = {422: 400, 401: 403}
#: The problem's headers that still mean something in an Open311 answer.
_KEPT_HEADERS = ("retry-after",)


class Invalid(Problem):
    """400 with one Open311 error per bad or missing parameter."""

    def __init__(self, wrong: Sequence[tuple[str, str]]) -> None:
        listed = [{"field": name, "message": message} for name, message in wrong]
        super().__init__(
            400,
            "Invalid request",
            "Check these parameters: " + ", ".join(sorted({name for name, _ in wrong})),
            type_="validation-error",
            errors=listed,
        )


def install_error_format(app: FastAPI) -> None:
    """Wrap the app's problem handlers (call after `create_app`, before serving)."""
    for exc_class in (Problem, RequestValidationError, StarletteHTTPException, Exception):
        app.exception_handlers[exc_class] = _scoped(app.exception_handlers[exc_class])


def _scoped(platform: Handler) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handler(request: Request, exc: Any) -> Response:
        answered = platform(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        if not request.url.path.startswith(PREFIX):
            return response
        return as_open311(request, response)

    return handler


def as_open311(request: Request, problem: Response) -> Response:
    try:
        body: dict[str, Any] = json.loads(bytes(problem.body))
    except ValueError:
        body = {}
    status = _SPEC_STATUS.get(problem.status_code, problem.status_code)
    descriptions = [
        f"{_parameter(e.get('field', ''))}: {e.get('message', 'invalid')}" for e in body.get("errors", ())
    ] or [_described(problem.status_code, str(body.get("detail") or body.get("title") or "error"))]
    headers = {k: v for k, v in problem.headers.items() if k.lower() in _KEPT_HEADERS}
    fmt = Format.of_path(request.url.path, request.headers.get("accept", ""))
    return errors(fmt, status, descriptions, headers=headers)


def _described(status: int, detail: str) -> str:
    """Starlette's bare 404/405 texts, said usefully for an Open311 client."""
    if status == 404 and detail == "Not Found":
        return "No such Open311 resource: GET /open311/v2/discovery.xml lists the endpoint."
    if status == 405 and detail == "Method Not Allowed":
        return "Method not allowed here: only POST requests.{xml,json} takes a POST; every other path is GET."
    return detail


def _parameter(field: str) -> str:
    """`query.start_date` → `start_date`: Open311 clients know parameters, not locations."""
    for location in ("query.", "path.", "header.", "form."):
        if field.startswith(location):
            return field.removeprefix(location)
    return field
