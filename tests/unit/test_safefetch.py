"""Fetching a provider's media URL never reaches inside the network (SSRF), whatever the URL
or its redirects say, and never reads more than the cap or longer than the deadline. A
real HTTP server on loopback stands for the provider; loopback is refused unless the host
is in the allowlist, which is how the tests reach it at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from eungdapso_intake.attachments import AttachmentLimits, AttachmentRefused, Attachments
from eungdapso_intake.blobstore import LocalBlobStore
from eungdapso_intake.safefetch import FetchFailed, FetchRefused, FetchTooLarge, SafeFetcher, forbidden
from eungdapso_platform.db import Database
from eungdapso_schemas.codes import AttachmentKind
from tests.support.media import photo

PHOTO = photo("JPEG")
MIB = 1024 * 1024


class Provider(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Provider.requests.append(self.path)
        if self.path == "/photo.jpg":
            self._answer(200, PHOTO, "image/jpeg")
        elif self.path == "/private.jpg":
            if self.headers.get("authorization", "").startswith("Basic "):
                self._answer(200, PHOTO, "application/octet-stream")
            else:
                self._answer(401, b"who are you", "text/plain")
        elif self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/endless":  # no Content-Length: the cap must hold as it streams
            self.send_response(200)
            self.end_headers()
            for _ in range(64):
                self.wfile.write(bytes(64 * 1024))
        elif self.path == "/declared-large":
            self.send_response(200)
            self.send_header("Content-Length", str(50 * MIB))
            self.end_headers()
            self.wfile.write(bytes(1024))
        elif self.path == "/slow":
            time.sleep(3)
            self._answer(200, PHOTO, "image/jpeg")
        else:
            self._answer(404, b"", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def provider() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    Provider.requests.clear()


TRUSTING = SafeFetcher(timeout_s=5, allowed_hosts=frozenset({"localhost"}))


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
     "fe80::1", "fc00::1", "224.0.0.1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "240.0.0.1"],
)  # fmt: skip
def test_every_address_that_is_not_public_is_forbidden(address: str) -> None:
    assert forbidden(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "211.43.1.1", "2001:4860:4860::8888"])
def test_public_addresses_are_not(address: str) -> None:
    assert not forbidden(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/photo.jpg",
        "http://localhost:{port}/photo.jpg",  # a name that resolves to loopback
        "http://[::1]:{port}/photo.jpg",
        "http://[::ffff:127.0.0.1]:{port}/photo.jpg",
        "http://0.0.0.0:{port}/photo.jpg",
        "http://10.0.0.1/photo.jpg",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://224.0.0.1/photo.jpg",
    ],
)
async def test_private_loopback_link_local_and_multicast_addresses_are_refused(
    provider: int, url: str
) -> None:
    with pytest.raises(FetchRefused, match="not public"):
        await SafeFetcher(timeout_s=5).get(url.format(port=provider), max_bytes=MIB)
    assert Provider.requests == []


@pytest.mark.parametrize(
    "url",
    ["ftp://localhost/photo.jpg", "file:///etc/passwd", "gopher://localhost:70/", "not a url", "http://"],
)
async def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    with pytest.raises(FetchRefused):
        await TRUSTING.get(url, max_bytes=MIB)


async def test_an_allowlisted_host_is_fetched_even_on_loopback(provider: int) -> None:
    content, declared = await TRUSTING.get(f"http://localhost:{provider}/photo.jpg", max_bytes=MIB)
    assert content == PHOTO and declared == "image/jpeg"


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1:{port}/photo.jpg", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"],
)
async def test_a_redirect_cannot_lead_inside(provider: int, target: str) -> None:
    """The allowlisted host redirects to an address that is not (127.0.0.1 is not `localhost`
    for the allowlist) or to another scheme: refused, never followed."""
    url = f"http://localhost:{provider}/redirect?to={target.format(port=provider)}"
    with pytest.raises(FetchRefused):
        await TRUSTING.get(url, max_bytes=MIB)
    assert Provider.requests == [f"/redirect?to={target.format(port=provider)}"]


async def test_credentials_are_sent_to_the_provider(provider: int) -> None:
    url = f"http://localhost:{provider}/private.jpg"
    content, declared = await TRUSTING.get(url, max_bytes=MIB, auth=("AC123", "token"))
    assert content == PHOTO and declared == "application/octet-stream"
    with pytest.raises(FetchFailed, match="401"):
        await TRUSTING.get(url, max_bytes=MIB)


async def test_the_size_cap_holds_while_streaming_and_before_reading(provider: int) -> None:
    with pytest.raises(FetchTooLarge):
        await TRUSTING.get(f"http://localhost:{provider}/endless", max_bytes=MIB)
    with pytest.raises(FetchTooLarge):
        await TRUSTING.get(f"http://localhost:{provider}/declared-large", max_bytes=MIB)


async def test_a_slow_provider_fails_within_the_deadline(provider: int) -> None:
    started = time.monotonic()
    with pytest.raises(FetchFailed):
        await SafeFetcher(timeout_s=0.5, allowed_hosts=frozenset({"localhost"})).get(
            f"http://localhost:{provider}/slow", max_bytes=MIB
        )
    assert time.monotonic() - started < 2


async def test_attachments_fetch_answers_a_refused_url_as_a_problem(provider: int, tmp_path: Path) -> None:
    limits = AttachmentLimits(max_bytes=dict.fromkeys(AttachmentKind, MIB), max_photo_pixels=10**6)
    attachments = Attachments(Database("host=127.0.0.1 port=9", "intake"), LocalBlobStore(tmp_path), limits)
    with pytest.raises(AttachmentRefused) as refused:
        await attachments.fetch("http://169.254.169.254/latest/meta-data/", uploaded_by="sms:test")
    assert refused.value.status == 422 and refused.value.type.endswith("media-url-refused")
    with pytest.raises(AttachmentRefused) as loopback:
        await attachments.fetch(f"http://127.0.0.1:{provider}/photo.jpg", uploaded_by="sms:test")
    assert loopback.value.status == 422
    assert Provider.requests == []
