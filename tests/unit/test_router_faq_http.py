"""`GET /api/v1/faq` on the router's real app: ranked JSON, and RFC 9457 problems for bad
input (never a 5xx)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from faststream.kafka import KafkaBroker

from eungdapso_platform.service import Overrides
from eungdapso_router.bootstrap import bootstrap
from eungdapso_router.settings import RouterSettings
from eungdapso_schemas.system import ingress_routes


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = bootstrap(RouterSettings(), Overrides(in_memory_ledger=True, broker=KafkaBroker()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as c:
        yield c


async def test_search_answers_ranked_entries(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/faq", params={"q": "대형폐기물 스티커 어디서 사요", "limit": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "대형폐기물 스티커 어디서 사요"
    assert 1 <= len(body["results"]) <= 3
    first = body["results"][0]
    assert first["id"] == "faq-bulky-waste-02"
    assert first["office"] == "district.*.cleaning" and first["answer"] and first["matched_terms"]
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("params", "title"),
    [
        ({"q": "   "}, "Empty query"),
        ({}, "Empty query"),
        ({"q": "가" * 201}, "Query too long"),
        ({"q": "여권", "limit": "0"}, "Invalid request"),
        ({"q": "여권", "limit": "500"}, "Invalid request"),
        ({"q": "여권", "limit": "many"}, "Invalid request"),
    ],
)
async def test_bad_input_is_a_problem(client: httpx.AsyncClient, params: dict[str, str], title: str) -> None:
    r = await client.get("/api/v1/faq", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == title


def test_the_gateway_sends_faq_to_the_router() -> None:
    owners = [name for route, name in ingress_routes() if route.matches("/api/v1/faq")]
    assert owners[0] == "router"
