"""The public feeds of status changes: server-sent events (`GET /api/v1/feed`) and Atom
(`GET /api/v1/feed.atom`).

Both read the projection's change log (`public_changes`), whose ids only grow and become
visible in order, so an SSE client that reconnects with `Last-Event-ID: N` gets every change
after N exactly once, nothing before. One poller per process reads the log while anyone
listens and fans each change out to every listener's queue (200 listeners cost one query per
poll, not 200). A listener that falls `feed_queue` changes behind is dropped: it reconnects
and resumes from its last id, so it loses nothing.

Each change's data is the complaint's public view at that moment (`projection.public_view`):
the same whitelist as the status API, never personal data.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from eungdapso_platform.logging import get_logger
from eungdapso_platform.problems import Problem
from eungdapso_publisher.api import get_queries
from eungdapso_publisher.projection import PublicStatusQueries
from eungdapso_publisher.settings import PublisherSettings

log = get_logger("eungdapso.publisher.feed")
router = APIRouter()
ATOM_NS = "http://www.w3.org/2005/Atom"
#: An SSE client reconnects after this long (milliseconds) when the stream drops.
RETRY_MS = 2000
Change = dict[str, Any]


class _Dropped(Exception):
    """The listener fell too far behind."""


class Listener:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize=size)

    def offer(self, change: Change) -> bool:
        try:
            self.queue.put_nowait(change)
            return True
        except asyncio.QueueFull:
            return False

    def drop(self) -> None:
        """End the listener's stream: it resumes from the last change it was sent."""
        self.queue.get_nowait()  # room for the end mark; the client gets that change on resume
        self.queue.put_nowait(None)


class FeedHub:
    """Polls the change log while anyone listens and hands every change to each listener."""

    def __init__(self, queries: PublicStatusQueries, settings: PublisherSettings) -> None:
        self.queries = queries
        self.settings = settings
        self.listeners: set[Listener] = set()
        self.last_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def subscribe(self) -> Listener:
        listener = Listener(self.settings.feed_queue)
        self.listeners.add(listener)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="publisher-feed-poller")
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _poll(self) -> None:
        if self.last_id is None:
            self.last_id = await self.queries.last_change_id()
        while self.listeners:
            try:
                changes = await self.queries.changes_after(self.last_id, self.settings.feed_page)
            except Exception as exc:  # the database away: listeners wait, the poll retries
                log.warning("feed_poll_failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")
                await asyncio.sleep(1.0)
                continue
            for change in changes:
                change["sse"] = sse(change)  # encoded once for every listener
                for listener in list(self.listeners):
                    if not listener.offer(change):
                        self.listeners.discard(listener)
                        listener.drop()
                self.last_id = int(change["change_id"])
            if len(changes) < self.settings.feed_page:
                await asyncio.sleep(self.settings.feed_poll_s)
        self._task = None


def get_hub(request: Request) -> FeedHub:
    hub: FeedHub = request.app.state.feed
    return hub


def sse(change: Change) -> bytes:
    public = change["public"]
    data = public if isinstance(public, str) else json.dumps(public, ensure_ascii=False, default=str)
    # One line of JSON: a newline in the data would end the event early.
    data = data.replace("\n", " ").replace("\r", " ")
    return f"id: {change['change_id']}\nevent: status\ndata: {data}\n\n".encode()


def _last_event_id(header: str | None, query: int | None) -> int:
    value = header if header is not None else (None if query is None else str(query))
    if value is None or value == "":
        return -1  # no resume point: from now on
    if not value.isdigit() or len(value) > 19:
        raise Problem(
            422,
            "Invalid Last-Event-ID",
            "Last-Event-ID is the id of the last event received: a non-negative integer.",
            type_="invalid-last-event-id",
        )
    return int(value)


async def _stream(hub: FeedHub, request: Request, after: int) -> AsyncIterator[bytes]:
    listener = hub.subscribe()  # before reading the log: nothing falls between the two
    settings = hub.settings
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        if after < 0:
            after = await hub.queries.last_change_id()
        # Catch up from the log, page by page; what the hub hands over meanwhile is skipped
        # when it is not newer than what was sent.
        while True:
            page = await hub.queries.changes_after(after, settings.feed_page)
            for change in page:
                yield sse(change)
                after = int(change["change_id"])
            if len(page) < settings.feed_page:
                break
        while True:
            try:
                handed: Change | None = await asyncio.wait_for(
                    listener.queue.get(), timeout=settings.feed_heartbeat_s
                )
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": heartbeat\n\n"
                continue
            # What else is waiting goes out in the same write (a burst costs one send, not one per change).
            batch = [handed]
            while not listener.queue.empty():
                batch.append(listener.queue.get_nowait())
            out: list[bytes] = []
            for item in batch:
                if item is None:
                    break  # dropped for falling behind: the client resumes from `after`
                if int(item["change_id"]) > after:
                    out.append(item["sse"])
                    after = int(item["change_id"])
            if out:
                yield b"".join(out)
            if None in batch:
                return
    finally:
        hub.unsubscribe(listener)


@router.get(
    "/api/v1/feed",
    summary="Server-sent events of public status changes (실시간 처리현황)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def feed(
    request: Request,
    hub: Annotated[FeedHub, Depends(get_hub)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62, description="resume after this id")] = None,
) -> StreamingResponse:
    start = _last_event_id(last_event_id, after)
    return StreamingResponse(
        _stream(hub, request, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _summary(public: dict[str, Any]) -> str:
    parts = [f"{public['receipt_no']}: {public['status']}"]
    if public.get("office"):
        parts.append(str(public["office"].get("name") or public["office"].get("code")))
    if public.get("district"):
        parts.append(str(public["district"]))
    return " · ".join(parts)


def atom(changes: list[Change], base_url: str) -> bytes:
    """An Atom 1.0 document (RFC 4287) of the changes, newest first."""
    ET.register_namespace("", ATOM_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            child.text = text
        return child

    root = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "ko"})
    el(root, "id", "urn:eungdapso:publisher:feed")
    el(root, "title", "응답소 처리현황 (Eung-Dap-So public status changes)")
    newest = max((c["at"] for c in changes), default=datetime(2026, 1, 1, tzinfo=UTC))
    el(root, "updated", _rfc3339(newest))
    author = el(root, "author")
    el(author, "name", "서울특별시 응답소")
    el(root, "link", rel="self", href=f"{base_url}api/v1/feed.atom", type="application/atom+xml")
    for change in changes:
        public = change["public"] if isinstance(change["public"], dict) else json.loads(change["public"])
        entry = el(root, "entry")
        el(entry, "id", f"urn:eungdapso:change:{change['change_id']}")
        el(entry, "title", _summary(public))
        el(entry, "updated", _rfc3339(change["at"]))
        el(entry, "link", rel="alternate", href=f"{base_url}api/v1/complaints/{public['receipt_no']}")
        el(entry, "category", term=str(change["status"]))
        content = el(entry, "content", json.dumps(public, ensure_ascii=False, default=str))
        content.set("type", "text")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@router.get(
    "/api/v1/feed.atom",
    summary="Atom feed of the latest public status changes",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
async def feed_atom(
    request: Request,
    queries: Annotated[PublicStatusQueries, Depends(get_queries)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    changes = await queries.latest_changes(limit)
    return Response(atom(changes, str(request.base_url)), media_type="application/atom+xml")
