"""Open data: a month's statistics as JSON or CSV (README, "Statistics and open data")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from eungdapso_platform.problems import Problem
from eungdapso_publisher.statistics import MONTH_PATTERN, Dimension, StatisticsReport, as_csv
from eungdapso_publisher.statistics_projection import StatisticsQueries

router = APIRouter()
CSV = "text/csv"
JSON = "application/json"

Month = Annotated[
    str, Query(pattern=MONTH_PATTERN, max_length=7, description="A calendar month in Asia/Seoul, YYYY-MM")
]
By = Annotated[Dimension, Query(description="One row per office, district, field, channel, or the city")]


async def get_statistics(request: Request) -> StatisticsQueries:
    queries: StatisticsQueries = request.app.state.statistics
    return queries


def preferred(accept: str | None) -> str:
    """JSON or CSV, whichever `Accept` prefers (JSON on a tie or without the header)."""
    if not accept:
        return JSON
    weights = {JSON: -1.0, CSV: -1.0}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for candidate in weights:
            if media.lower() in (candidate, candidate.split("/")[0] + "/*", "*/*"):
                weights[candidate] = max(weights[candidate], q)
    best = max(weights, key=lambda m: (weights[m], m == JSON))
    if weights[best] <= 0:
        raise Problem(
            406,
            "Not acceptable",
            "The statistics are served as application/json or text/csv.",
            type_="not-acceptable",
        )
    return best


def _csv(report: StatisticsReport) -> Response:
    return Response(
        as_csv(report),
        media_type="text/csv; charset=utf-8; header=present",
        headers={
            "Content-Disposition": f'inline; filename="statistics-{report.month}-{report.by.value}.csv"'
        },
    )


@router.get(
    "/api/v1/statistics",
    response_model=StatisticsReport,
    summary="A month's statistics by office, district, field, channel or the city (JSON or CSV)",
    responses={200: {"content": {CSV: {}}}, 406: {"description": "Neither JSON nor CSV acceptable"}},
)
async def statistics(
    request: Request,
    month: Month,
    queries: Annotated[StatisticsQueries, Depends(get_statistics)],
    by: By = Dimension.CITY,
) -> Response:
    media = preferred(request.headers.get("accept"))
    report = await queries.report(month, by)
    if media == CSV:
        return _csv(report)
    return JSONResponse(report.model_dump(mode="json"))


@router.get(
    "/api/v1/statistics.csv",
    summary="A month's statistics as CSV (columns as in the JSON rows)",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
)
async def statistics_csv(
    month: Month,
    queries: Annotated[StatisticsQueries, Depends(get_statistics)],
    by: By = Dimension.CITY,
) -> Response:
    return _csv(await queries.report(month, by))


@router.get("/api/v1/statistics/schema", summary="JSON Schema of the statistics (every figure defined)")
async def statistics_schema() -> JSONResponse:
    schema: dict[str, Any] = StatisticsReport.model_json_schema()
    return JSONResponse(schema, media_type="application/schema+json")
