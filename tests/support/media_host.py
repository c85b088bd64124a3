"""A provider's media host on loopback (Twilio's media URLs, SNS CDNs), for channel tests."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.provider_api import on_loopback


@dataclass
class MediaHost:
    base_url: str
    #: path → content served (anything else: 404).
    files: dict[str, bytes] = field(default_factory=dict)
    #: Basic auth the host demands, if any.
    auth: tuple[str, str] | None = None
    #: The Authorization header of each request, in order.
    seen_auth: list[str | None] = field(default_factory=list)


@contextmanager
def media_host(auth: tuple[str, str] | None = None) -> Iterator[MediaHost]:
    host = MediaHost("", auth=auth)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            given = self.headers.get("Authorization")
            host.seen_auth.append(given)
            expected = "Basic " + base64.b64encode(":".join(auth).encode()).decode() if auth else None
            content = host.files.get(self.path)
            status = 401 if expected and given != expected else 200 if content is not None else 404
            self.send_response(status)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(content or b"") if status == 200 else 0))
            self.end_headers()
            if status == 200 and content:
                self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with on_loopback(Handler) as port:
        host.base_url = f"http://localhost:{port}"
        yield host
