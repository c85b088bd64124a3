"""A provider's HTTP API on loopback (an SMS gateway, X, Facebook's Graph API) for the
notifier's adapter tests: it records every request and answers what the test scripted."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering (a provider that hangs).
    delay_s: float = 0.0


@dataclass
class ProviderApi:
    base_url: str = ""
    seen: list[Seen] = field(default_factory=list)
    #: Answers to give, in order; when none is left, `default` answers.
    script: list[Answer] = field(default_factory=list)
    default: Callable[[Seen], Answer] = lambda seen: Answer(200, {"id": f"sent-{seen.path}"})


@contextmanager
def provider_api() -> Iterator[ProviderApi]:
    api = ProviderApi()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            seen = Seen(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or b"null")
            )
            with lock:
                api.seen.append(seen)
                answer = api.script.pop(0) if api.script else api.default(seen)
            if answer.delay_s:
                threading.Event().wait(answer.delay_s)
            payload = json.dumps(answer.body).encode() if answer.body is not None else b""
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with on_loopback(Handler) as port:
        api.base_url = f"http://127.0.0.1:{port}/"
        yield api


@contextmanager
def on_loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """An HTTP server on a free loopback port (its port), serving in a thread until the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
