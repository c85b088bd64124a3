"""Downloading a URL that came from outside (a provider's media link) without letting it
reach inside the network (SSRF).

Only http and https. Every connection, the first and each redirect's, resolves the host
itself and connects to an address it checked, so a name cannot resolve to a public address
for the check and to a private one for the connection (DNS rebinding): loopback, private,
link-local (the cloud metadata service at 169.254.169.254), multicast, reserved and
unspecified addresses are refused, unless the host is in the allowlist. Proxies from the
environment are not used (they would connect on our behalf, unchecked). The body is read
as a stream and abandoned once it passes the size cap; the whole download has a deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import anyio
import httpcore
import httpx

from eungdapso_platform.logging import get_logger

log = get_logger("eungdapso.intake.fetch")

MAX_REDIRECTS = 5


class FetchRefused(Exception):
    """The URL may not be fetched (scheme, address); retrying will not help."""


class FetchTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class FetchFailed(Exception):
    """The server did not give the content (unreachable, timeout, an error status)."""


class BlockedAddress(FetchRefused):
    pass


def forbidden(address: str) -> bool:
    """True for every address that is not a public unicast one."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses it resolved and checked itself."""

    def __init__(self, allowed_hosts: frozenset[str]) -> None:
        self.allowed_hosts = allowed_hosts
        self.backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if host.lower() in self.allowed_hosts:
            return await self.backend.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses or any(forbidden(a) for a in addresses):
            raise BlockedAddress(f"{host} resolves to an address that is not public")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.backend.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise httpcore.ConnectError(f"cannot connect to {host}: {error}")

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allowed_hosts: frozenset[str]) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend; its pool, rebuilt around ours (TLS still checks
        # the certificate against the URL's host name, not the address connected to).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_CheckedBackend(allowed_hosts),
            max_connections=10,
        )


@dataclass(frozen=True)
class SafeFetcher:
    timeout_s: float = 20.0
    #: Host names connected to without the address check (tests, trusted internal hosts).
    allowed_hosts: frozenset[str] = frozenset()

    async def get(
        self, url: str, *, max_bytes: int, auth: tuple[str, str] | None = None
    ) -> tuple[bytes, str | None]:
        """The body of `url` (at most `max_bytes`) and its declared Content-Type."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchRefused(f"not a URL: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise FetchRefused("only http and https URLs are fetched")
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._get(parsed, max_bytes, auth)
        except TimeoutError as exc:
            raise FetchFailed(f"no complete answer within {self.timeout_s:g} s") from exc

    async def _get(
        self, url: httpx.URL, max_bytes: int, auth: tuple[str, str] | None
    ) -> tuple[bytes, str | None]:
        transport = _CheckedTransport(self.allowed_hosts)
        # httpx drops the credentials when a redirect leaves the origin (a provider's media
        # link often redirects to a signed storage URL).
        async with httpx.AsyncClient(
            transport=transport,
            timeout=self.timeout_s,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            trust_env=False,
            auth=auth,
        ) as client:
            try:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise FetchFailed(f"answered {response.status_code}")
                    length = response.headers.get("content-length", "")
                    if length.isdigit() and int(length) > max_bytes:
                        raise FetchTooLarge(max_bytes)
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchTooLarge(max_bytes)
                    return bytes(body), response.headers.get("content-type")
            except httpx.TooManyRedirects as exc:
                raise FetchFailed(f"more than {MAX_REDIRECTS} redirects") from exc
            except httpx.UnsupportedProtocol as exc:
                raise FetchRefused("redirected to a URL that is not http or https") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"{type(exc).__name__}: {exc}") from exc
