"""RFC 9457 problem details for every HTTP entry point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import get_logger

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://eungdapso.seoul.go.kr/problems/"
log = get_logger("eungdapso.http")


class Problem(Exception):
    """A problem answer; `extra` are extension members of the body, `headers` go on the
    response (`Retry-After` with a 429 or 503, `WWW-Authenticate` with a 401)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_ if type_ == "about:blank" else PROBLEM_BASE + type_
        self.headers = dict(headers or {})
        self.extra = extra


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        **problem.extra,
    }
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem_response(
                request,
                Problem(400, "Malformed JSON", "The request body is not valid JSON.", type_="malformed-json"),
            )
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            request,
            Problem(
                422,
                "Invalid request",
                f"Check these fields: {fields}",
                type_="validation-error",
                errors=errors,
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(
            exc.status_code, "HTTP error"
        )
        return problem_response(request, Problem(exc.status_code, title, str(exc.detail)))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            log.warning("unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
            response = problem_response(
                request,
                Problem(
                    503,
                    "Temporarily unavailable",
                    "The service cannot reach its database or broker right now. "
                    "Retry with the same Idempotency-Key: nothing is ever recorded twice.",
                    type_="unavailable",
                ),
            )
            response.headers["Retry-After"] = "5"
            return response
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(
            request,
            Problem(
                500,
                "Internal error",
                "The request could not be completed. Retry it with the same Idempotency-Key: "
                "a complaint is never recorded twice.",
            ),
        )
