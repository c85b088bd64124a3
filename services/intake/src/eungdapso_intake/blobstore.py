"""Where attachments' bytes live: content-addressed blobs, named by their SHA-256.

Two areas: `shared` holds the copies other services may see (photos without their
metadata); `originals` holds what the citizen sent, personal data that only intake reads
(DESIGN.md, "Personal data"). A name says what the bytes are, so a write is idempotent
(the same content always lands under the same name, and writing it again changes
nothing) and a reader can check what it got.

`LocalBlobStore` keeps them in a directory (`make run`: `.run/attachments`); a write goes to
a temporary file in the target directory, is flushed to disk, then renamed over the name,
so a reader never sees half a blob, even after a crash. `S3BlobStore` keeps them in any
S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...); boto3 is synchronous, so its calls run
in worker threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from eungdapso_intake.settings import IntakeSettings


class Area(StrEnum):
    #: Copies any service may read (what an `AttachmentRef` names).
    SHARED = "shared"
    #: What the citizen sent, metadata and all: personal data, intake only.
    ORIGINALS = "originals"


class BlobNotFound(LookupError):
    pass


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class BlobStore(Protocol):
    async def put(self, area: Area, content: bytes) -> str:
        """Store `content`; returns its SHA-256 (hex), the name it is found under."""
        ...

    async def get(self, area: Area, sha256: str) -> bytes: ...

    async def exists(self, area: Area, sha256: str) -> bool: ...


def _checked(sha256: str) -> str:
    # A name comes from outside (a complaint's reference) only after the table vouched for
    # it; still, never let anything but 64 hex digits reach a path or a key.
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("a blob name is 64 lower-case hex digits")
    return sha256


class LocalBlobStore:
    """Blobs as files: `<root>/<area>/<ab>/<abcdef…>` (two hex digits fan the files out)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, area: Area, sha256: str) -> Path:
        name = _checked(sha256)
        return self.root / area.value / name[:2] / name

    async def put(self, area: Area, content: bytes) -> str:
        return await asyncio.to_thread(self._put, area, content)

    def _put(self, area: Area, content: bytes) -> str:
        sha256 = sha256_of(content)
        target = self.path(area, sha256)
        if target.is_file() and target.stat().st_size == len(content):
            return sha256  # the same name is the same content: already there
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(target.parent)
        return sha256

    async def get(self, area: Area, sha256: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(area, sha256).read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    async def exists(self, area: Area, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(area, sha256).is_file)


def _fsync_directory(directory: Path) -> None:
    """The rename survives a power cut only once the directory itself is on disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3BlobStore:
    """Blobs as objects `<prefix><area>/<sha256>` in one bucket of an S3-compatible store.

    An object is written whole by one PUT or not at all, so writes are atomic as they are;
    the same content is the same key, so they are idempotent."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: SecretStr | None = None,
        addressing_style: Literal["auto", "path", "virtual"] = "path",
        timeout_s: float = 30.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        secret = secret_access_key.get_secret_value() if secret_access_key is not None else None
        # boto3 clients are thread-safe (sessions are not): one client, many worker threads.
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            # None for both: the default chain (environment, web identity on Kubernetes, ...).
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret or None,
            config=Config(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": addressing_style},
            ),
        )

    @classmethod
    def from_url(cls, url: str, settings: IntakeSettings) -> S3BlobStore:
        """`s3://bucket/optional/prefix`, with the endpoint and credentials of `settings`."""
        parts = urlsplit(url)
        return cls(
            bucket=parts.netloc,
            prefix=parts.path,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            addressing_style=settings.s3_addressing_style,
        )

    def key(self, area: Area, sha256: str) -> str:
        return f"{self.prefix}{area.value}/{_checked(sha256)}"

    async def put(self, area: Area, content: bytes) -> str:
        return await asyncio.to_thread(self._put, area, content)

    def _put(self, area: Area, content: bytes) -> str:
        sha256 = sha256_of(content)
        self.client.put_object(Bucket=self.bucket, Key=self.key(area, sha256), Body=content)
        return sha256

    async def get(self, area: Area, sha256: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            answer = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=self.key(area, sha256)
            )
        except ClientError as exc:
            if _not_found(exc):
                raise BlobNotFound(sha256) from None
            raise
        body: bytes = await asyncio.to_thread(answer["Body"].read)
        return body

    async def exists(self, area: Area, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self.key(area, sha256))
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise
        return True


def _not_found(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def blob_store(settings: IntakeSettings) -> BlobStore:
    """The store `BLOB_STORE_URL` names (`s3://…`, `file://…`); without it, a directory:
    `ATTACHMENTS_DIR`, by default `<RUN_DIR>/attachments` (`.run/attachments`)."""
    url = settings.blob_store_url
    if url.startswith("s3://"):
        return S3BlobStore.from_url(url, settings)
    if url.startswith("file://"):
        return LocalBlobStore(Path(urlsplit(url).path))
    return LocalBlobStore(settings.attachments_dir or settings.run_dir / "attachments")
