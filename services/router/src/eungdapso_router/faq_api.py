"""`GET /api/v1/faq?q=...&limit=`: citizens search the standard answers before filing.

The index (kiwi and 215 answers) loads once, in a worker thread when the service starts
(`warm`), or on the first search if that came first; searching runs in a worker thread too,
so a search never holds up the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from eungdapso_platform.problems import Problem
from eungdapso_router.faq import FaqIndex

router = APIRouter()

MAX_QUERY_CHARS = 200
MAX_LIMIT = 20


class FaqIndexHolder:
    """The process's FAQ index, loaded at most once whoever asks first."""

    def __init__(self) -> None:
        self._index: FaqIndex | None = None
        self._lock = threading.Lock()

    def get(self) -> FaqIndex:
        with self._lock:
            if self._index is None:
                self._index = FaqIndex.load()
            return self._index

    async def warm(self) -> None:
        await asyncio.to_thread(self.get)


class FaqHit(BaseModel):
    id: str
    question: str
    answer: str
    subject: str
    #: The office that answers for the matter (`district.*.<role>`: the citizen's district).
    office: str
    source: str
    score: float
    matched_terms: list[str]


class FaqResults(BaseModel):
    query: str
    results: list[FaqHit]


@router.get(
    "/api/v1/faq",
    response_model=FaqResults,
    summary="Search the standard answers (Korean, ranked by morphology)",
    responses={422: {"description": "Empty or too long query, or a limit out of range (RFC 9457 problem)"}},
)
async def search_faq(
    request: Request,
    q: Annotated[str, Query(description=f"What the citizen asks, 1-{MAX_QUERY_CHARS} characters")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 5,
) -> FaqResults:
    query = q.strip()
    if not query:
        raise Problem(422, "Empty query", "Give the question to search for in `q`.", type_="faq-query")
    if len(query) > MAX_QUERY_CHARS:
        raise Problem(
            422,
            "Query too long",
            f"`q` has {len(query)} characters; search with at most {MAX_QUERY_CHARS}.",
            type_="faq-query",
        )
    holder: FaqIndexHolder = request.app.state.faq
    index = await asyncio.to_thread(holder.get)
    found = await asyncio.to_thread(index.search, query, limit)
    return FaqResults(
        query=query,
        results=[
            FaqHit(
                id=e.id,
                question=e.question,
                answer=e.answer,
                subject=e.subject,
                office=e.office,
                source=e.source,
                score=score,
                matched_terms=list(matched),
            )
            for e, score, matched in found
        ],
    )
