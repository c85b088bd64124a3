"""The gateway as a client meets it, over a real server (uvicorn, as `make run` serves it):
whatever the request, an RFC 9457 problem or the upstream's answer, never a plain-text 500;
headers pass through as bytes; one `date` and one `server` header; HEAD like GET."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest
import uvicorn

from eungdapso_devstack.gateway import Gateway
from eungdapso_devstack.infra import SERVICES, free_port

Scope = MutableMapping[str, Any]


async def echo(
    scope: Scope,
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """An upstream that answers what it received, and a non-ASCII (UTF-8) header if asked."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    seen = {
        "method": scope["method"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "body": body.decode("latin-1"),
    }
    payload = b"0123456789" if scope["path"].endswith("/fixed") else json.dumps(seen).encode()
    headers = [
        (b"x-method", scope["method"].encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if (b"x-want-office", b"1") in scope["headers"]:
        headers.append((b"x-office", "도시교통실".encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else payload})


async def _serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    port = free_port()
    # As `make run` serves the gateway: the edge believes no X-Forwarded-For it receives.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, proxy_headers=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # Serving, and past the first tick that sets the server's own `date` and `server` headers.
    while not (server.started and server.server_state.default_headers):
        assert not task.done(), "server did not start"
        await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def gateway_url() -> AsyncIterator[tuple[str, Gateway]]:
    upstream, upstream_task, upstream_url = await _serve(echo)
    gateway = Gateway({name: upstream_url for name in SERVICES})
    served, served_task, url = await _serve(gateway)
    try:
        yield url, gateway
    finally:
        for server, task in ((served, served_task), (upstream, upstream_task)):
            server.should_exit = True
            await task


def seen_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.json()["headers"]}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem


async def test_non_ascii_header_values_pass_through_as_bytes(gateway_url: tuple[str, Gateway]) -> None:
    url, _ = gateway_url
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post(
            "/api/v1/complaints",
            headers={
                "X-Anything": "café".encode(),
                "Idempotency-Key": "민원-1".encode(),
                "X-Want-Office": "1",
            },
            content=b"{}",
        )
    assert r.status_code == 200, r.text
    seen = seen_headers(r)
    # Byte for byte (the echo shows them as latin-1): nothing re-encoded on the way.
    assert seen["x-anything"].encode("latin-1") == "café".encode()
    assert seen["idempotency-key"].encode("latin-1") == "민원-1".encode()
    # And back: the upstream's UTF-8 header reaches the client unchanged.
    assert r.headers.raw[[k for k, _ in r.headers.raw].index(b"x-office")][1] == "도시교통실".encode()


async def test_the_client_address_is_appended_to_x_forwarded_for(gateway_url: tuple[str, Gateway]) -> None:
    """As an Ingress does: intake, trusting the gateway, limits the web form per address."""
    url, _ = gateway_url
    async with httpx.AsyncClient(base_url=url) as client:
        direct = seen_headers(await client.post("/api/v1/complaints", content=b"{}"))
        relayed = seen_headers(
            await client.post(
                "/api/v1/complaints", content=b"{}", headers={"X-Forwarded-For": "198.51.100.7"}
            )
        )
    assert direct["x-forwarded-for"] == "127.0.0.1"
    assert relayed["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"


@pytest.mark.parametrize("bad", ["%0A", "%0D", "%0D%0Ax-injected:%201", "%00", "a%0Ab"])
async def test_control_characters_in_the_path_are_a_400_problem(
    gateway_url: tuple[str, Gateway], bad: str
) -> None:
    url, _ = gateway_url
    async with httpx.AsyncClient(base_url=url) as client:
        for path in (f"/api/v1/complaints/{bad}", f"/services/router/{bad}", f"/nowhere/{bad}"):
            assert_problem(await client.get(path), 400)


async def test_paths_and_queries_reach_the_upstream_as_sent(gateway_url: tuple[str, Gateway]) -> None:
    url, _ = gateway_url
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.get("/api/v1/complaints/2026-0000001%2Fx", params={"q": "가 b"})
        assert r.json()["raw_path"] == "/api/v1/complaints/2026-0000001%2Fx"
        assert r.json()["query"] == "q=%EA%B0%80+b"
        r = await client.get("/services/router/readyz")
        assert r.json()["raw_path"] == "/readyz"


async def test_one_date_and_one_server_header(gateway_url: tuple[str, Gateway]) -> None:
    url, _ = gateway_url
    async with httpx.AsyncClient(base_url=url) as client:
        for r in (await client.get("/api/v1/complaints/2026-0000001"), await client.get("/nowhere")):
            names = [k.lower() for k, _ in r.headers.raw]
            assert names.count(b"date") == 1 and names.count(b"server") == 1, r.headers.raw
            assert names.count(b"content-length") == 1


async def test_head_through_the_gateway_keeps_the_upstream_length(gateway_url: tuple[str, Gateway]) -> None:
    url, _ = gateway_url
    async with httpx.AsyncClient(base_url=url) as client:
        head = await client.head("/api/v1/complaints/fixed")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["x-method"] == "HEAD"  # the upstream answered the HEAD itself
        assert head.headers["content-length"] == "10"
        missing = await client.head("/nowhere")
        assert missing.status_code == 404 and missing.content == b""
        assert missing.headers["content-type"] == "application/problem+json"
        assert int(missing.headers["content-length"]) > 0
        # The connection is still in step after the HEADs.
        assert (await client.get("/api/v1/complaints/2026-0000001")).status_code == 200


async def test_an_unexpected_failure_is_a_500_problem_not_plain_text(
    gateway_url: tuple[str, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, gateway = gateway_url

    async def broken(*args: object, **kwargs: object) -> httpx.Response:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway.client, "send", broken)
    async with httpx.AsyncClient(base_url=url) as client:
        assert_problem(await client.get("/api/v1/complaints/2026-0000001"), 500)


async def test_an_upload_larger_than_a_form_reaches_intake(gateway_url: tuple[str, Gateway]) -> None:
    """Photos and videos pass the gateway (it admits what intake's upload path admits);
    intake itself refuses what is too large for the path."""
    url, _ = gateway_url
    photo = bytes(range(256)) * (5 * 4096)  # 5 MiB
    async with httpx.AsyncClient(base_url=url) as client:
        r = await client.post("/api/v1/attachments", content=photo)
    assert r.status_code == 200, r.text
    assert r.json()["body"].encode("latin-1") == photo


async def ticker(
    scope: Scope,
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """An upstream event stream (like the publisher's feed) that sends one event, then the
    next only after a pause: a gateway that buffered the response would show nothing yet."""
    if scope["type"] != "http":
        return
    await receive()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    await send({"type": "http.response.body", "body": b"id: 1\ndata: first\n\n", "more_body": True})
    await asyncio.sleep(30)
    await send({"type": "http.response.body", "body": b"id: 2\ndata: second\n\n"})


async def test_an_event_stream_is_passed_on_as_it_comes_not_buffered() -> None:
    upstream, upstream_task, upstream_url = await _serve(ticker)
    served, served_task, url = await _serve(Gateway({name: upstream_url for name in SERVICES}))
    try:
        async with (
            httpx.AsyncClient() as client,
            client.stream(
                "GET", f"{url}/api/v1/complaints/feed", headers={"accept": "text/event-stream"}, timeout=5
            ) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            first = await asyncio.wait_for(anext(response.aiter_lines()), timeout=5)
            assert first == "id: 1"
    finally:
        for server, task in ((served, served_task), (upstream, upstream_task)):
            server.should_exit = True
            server.force_exit = True
            await task
