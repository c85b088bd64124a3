"""Staff pages (issue 10, point 6): an office's inbox, the triage desk and the review queue
after low ratings. The pages are shells; every case they show comes from the APIs behind
the office (casework) or staff (router) key the person enters, which stays in the browser
tab (sessionStorage) and goes only to this origin."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from eungdapso_platform.web import Pages

router = APIRouter(include_in_schema=False)
pages = Pages("eungdapso_casework")


@router.get("/staff/", response_class=HTMLResponse)
async def inbox(request: Request) -> HTMLResponse:
    return pages.render(request, "staff_inbox.html")


@router.get("/staff/triage", response_class=HTMLResponse)
async def triage(request: Request) -> HTMLResponse:
    return pages.render(request, "staff_triage.html")


@router.get("/staff/reviews", response_class=HTMLResponse)
async def reviews(request: Request) -> HTMLResponse:
    return pages.render(request, "staff_reviews.html")
