"""`GET /api/v1/search?q=…`: answered complaints whose citizens chose disclosure, found by
Korean keywords. The query is cut into content morphemes by kiwi (as the projection cut each
redacted text and answer), so "주차했는데" finds "불법 주차"; results are ranked by PostgreSQL's
cover density over those terms, the text's matches weighing more than the answer's."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from eungdapso_platform.problems import Problem
from eungdapso_publisher.api import PublicStatus, get_queries, to_public
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_publisher.search_terms import as_query, shared_terms

router = APIRouter()


class Found(PublicStatus):
    """A complaint found: its public status, and how well it matches (higher is better)."""

    rank: float


class SearchResults(BaseModel):
    query: str
    #: The words searched for, as kiwi read the query.
    terms: list[str]
    results: list[Found]


@router.get(
    "/api/v1/search",
    response_model=SearchResults,
    summary="Search answered public complaints by Korean keywords (답변 사례 검색)",
)
async def search(
    queries: Annotated[PublicStatusQueries, Depends(get_queries)],
    q: Annotated[str, Query(min_length=1, max_length=200, description="Korean keywords")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResults:
    kiwi = await asyncio.to_thread(shared_terms)  # loads once, off the event loop
    terms = list(dict.fromkeys(await asyncio.to_thread(kiwi.of, q)))
    if not terms:
        raise Problem(
            422,
            "No words to search for",
            "The query has no word to search for (nouns, verbs, adjectives, names).",
            type_="empty-search",
        )
    rows = await queries.search(as_query(terms), limit)
    return SearchResults(
        query=q,
        terms=terms,
        results=[Found(**to_public(row).model_dump(), rank=round(float(row["rank"]), 6)) for row in rows],
    )
