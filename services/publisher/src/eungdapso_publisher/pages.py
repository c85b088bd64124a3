"""The citizen pages and the live board (issue 10), at the base URL's `/`: server-rendered
shells in Korean or English whose scripts call the public APIs (intake's form and uploads,
the router's FAQ, the publisher's status, search, feed and statistics, the notifier's
follow API, the rating API). Nothing here reads personal data: the follow page gets the
citizen's own text and answer from the notifier with the key only the citizen holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from eungdapso_platform.web import STATIC_DIR, Pages
from eungdapso_schemas.events import RECEIPT_NO_PATTERN

router = APIRouter(include_in_schema=False)
pages = Pages("eungdapso_publisher")
#: The shared assets (layout, scripts, vendored Leaflet and Chart.js, the district map).
static = StaticFiles(directory=STATIC_DIR)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return pages.render(request, "home.html")


@router.get("/file", response_class=HTMLResponse)
async def file_a_complaint(request: Request) -> HTMLResponse:
    return pages.render(request, "file.html")


@router.get("/follow/", response_class=HTMLResponse)
async def follow_lookup(request: Request) -> HTMLResponse:
    return pages.render(request, "follow.html", receipt_no=None)


@router.get("/follow/{receipt_no}", response_class=HTMLResponse)
async def follow(
    request: Request, receipt_no: Annotated[str, Path(pattern=RECEIPT_NO_PATTERN, max_length=20)]
) -> HTMLResponse:
    return pages.render(request, "follow.html", receipt_no=receipt_no)


@router.get("/rate", response_class=HTMLResponse)
async def rate(request: Request) -> HTMLResponse:
    return pages.render(request, "rate.html")


@router.get("/board", response_class=HTMLResponse)
async def board(request: Request) -> HTMLResponse:
    return pages.render(request, "board.html")
