"""Attachments for every channel: photos, videos, voice and documents, stored once, by content.

Every channel hands intake bytes (the web form's upload, a scanned letter) or a link
(an MMS or SNS provider's media URL, fetched with `SafeFetcher`); `Attachments` decides what
they are from the bytes themselves (`media.sniff`) and refuses what no kind allows, too
large, or unreadable. A declared type (the upload's Content-Type, the provider's) is
ignored: phones and gateways often mislabel (`application/octet-stream`, `image/jpg`), and
refusing over a label would lose a citizen's evidence; only a disagreement is logged.

A photo's original, GPS position and all (or a video's, with where it was recorded), is
personal data: it is kept in the blob store's `originals` area, which only intake reads;
the copy everyone else sees is stripped of that metadata (`media.shareable_copy`), and
`AttachmentRef.sha256` names that copy. The
`attachments` table records each stored copy (and the original it came from), so that a
complaint can only reference what was really stored (`resolve`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Request, UploadFile

from eungdapso_intake.blobstore import Area, BlobStore, blob_store, sha256_of
from eungdapso_intake.media import ALLOWED, MediaUnreadable, TooManyPixels, normalized, shareable_copy, sniff
from eungdapso_intake.ratelimit import RateLimits
from eungdapso_intake.safefetch import FetchFailed, FetchRefused, FetchTooLarge, SafeFetcher
from eungdapso_intake.settings import IntakeSettings
from eungdapso_platform.db import Database
from eungdapso_platform.logging import get_logger
from eungdapso_platform.migrations import Migration
from eungdapso_platform.problems import Problem
from eungdapso_schemas.codes import AttachmentKind
from eungdapso_schemas.events import MAX_ATTACHMENTS, AttachmentRef

log = get_logger("eungdapso.intake.attachments")

#: A component of its own ("intake.attachments", not "intake"): intake's own migrations are
#: numbered 1, 2, ... by the channel-credentials work landing in parallel, and the platform
#: requires each component's numbers to run 1, 2, 3 without gaps. Its own numbering cannot
#: collide with theirs, whichever lands first.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "intake.attachments",
        1,
        "attachments: each stored copy (by SHA-256), the original it came from, type, kind, size, uploader",
        (
            "CREATE TABLE {schema}.attachments ("
            " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),"
            " original_sha256 text NOT NULL CHECK (original_sha256 ~ '^[0-9a-f]{{64}}$'),"
            " media_type text NOT NULL,"
            " kind text NOT NULL,"
            " size_bytes bigint NOT NULL CHECK (size_bytes > 0),"
            " original_size_bytes bigint NOT NULL CHECK (original_size_bytes > 0),"
            # A client's or channel's id (`web`, `sms:twilio`), never a citizen's.
            " uploaded_by text NOT NULL,"
            " uploaded_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (sha256, original_sha256))",
            "CREATE INDEX attachments_by_original ON {schema}.attachments (original_sha256)",
        ),
    ),
)

_LABELS = {
    AttachmentKind.PHOTO: "photos (JPEG, PNG, GIF, WebP, HEIC)",
    AttachmentKind.VIDEO: "videos (MP4, QuickTime, 3GPP)",
    AttachmentKind.VOICE: "voice recordings (MP3, MP4/M4A audio, AMR, WAV, Ogg)",
    AttachmentKind.DOCUMENT: "documents (PDF, TIFF scans)",
}


class AttachmentRefused(Problem):
    """An attachment that is not taken, with the reason (an RFC 9457 problem as it stands:
    an HTTP route can let it through; a channel can read `status`, `title`, `detail`)."""

    def __init__(
        self, status: int, title: str, detail: str, *, type_: str = "attachment-refused", **extra: Any
    ) -> None:
        super().__init__(status, title, detail, type_=type_, **extra)


class MediaNotFetched(AttachmentRefused):
    """A provider's media could not be downloaded (unreachable, slow, an error status): a
    later retry may succeed, unlike the other refusals."""


@dataclass(frozen=True)
class AttachmentLimits:
    max_bytes: Mapping[AttachmentKind, int]
    max_photo_pixels: int

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> AttachmentLimits:
        return cls(
            max_bytes={
                AttachmentKind.PHOTO: settings.attachment_max_photo_bytes,
                AttachmentKind.VIDEO: settings.attachment_max_video_bytes,
                AttachmentKind.VOICE: settings.attachment_max_voice_bytes,
                AttachmentKind.DOCUMENT: settings.attachment_max_document_bytes,
            },
            max_photo_pixels=settings.attachment_max_photo_pixels,
        )

    @property
    def largest(self) -> int:
        return max(self.max_bytes.values())


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.3g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


class Attachments:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        limits: AttachmentLimits,
        *,
        fetcher: SafeFetcher | None = None,
        deadline_s: float = 5.0,
        media_workers: int = 2,
    ) -> None:
        self.db = db
        self.blobs = store
        self.limits = limits
        self.fetcher = fetcher or SafeFetcher()
        #: How long a database step may take before the caller gets 503 (as for complaints).
        self.deadline_s = deadline_s
        self._media_slots = asyncio.Semaphore(media_workers)

    @classmethod
    def from_settings(cls, settings: IntakeSettings, db: Database) -> Attachments:
        return cls(
            db,
            blob_store(settings),
            AttachmentLimits.from_settings(settings),
            fetcher=SafeFetcher(
                timeout_s=settings.attachment_fetch_timeout_s,
                allowed_hosts=frozenset(settings.attachment_fetch_allowed_hosts),
            ),
            deadline_s=settings.request_deadline_s,
        )

    async def store(self, content: bytes, *, declared_type: str | None, uploaded_by: str) -> AttachmentRef:
        """Store an attachment; the same content again gives the same reference."""
        if not content:
            raise AttachmentRefused(
                422, "Empty file", "The attachment has no content.", type_="attachment-empty"
            )
        if len(content) > self.limits.largest:
            raise _too_large(
                f"An attachment may be at most {_mib(self.limits.largest)}.", limit_bytes=self.limits.largest
            )
        media_type = sniff(content)
        kind = ALLOWED.get(media_type or "")
        if media_type is None or kind is None:
            raise _not_allowed(media_type)
        if len(content) > self.limits.max_bytes[kind]:
            limit = self.limits.max_bytes[kind]
            raise _too_large(
                f"A {kind.value} may be at most {_mib(limit)}; this one is {_mib(len(content))}.",
                limit_bytes=limit,
            )
        declared = normalized(declared_type)
        if declared not in (None, media_type, "application/octet-stream"):
            log.info(
                "declared_type_ignored", declared=declared[:80], sniffed=media_type, uploaded_by=uploaded_by
            )

        original_sha256 = await asyncio.to_thread(sha256_of, content)  # 30 MiB: off the event loop
        known = await self._copy_of(original_sha256)
        if known is not None:
            return known
        copy = await self._shareable(content, media_type, kind)
        if copy is not content:
            await self.blobs.put(Area.ORIGINALS, content)
        sha256 = await self.blobs.put(Area.SHARED, copy)
        ref = AttachmentRef(sha256=sha256, media_type=media_type, kind=kind, size_bytes=len(copy))
        async with asyncio.timeout(self.deadline_s), self.db.pool.connection(timeout=self.deadline_s) as conn:
            await conn.execute(
                self.db.sql(
                    "INSERT INTO {schema}.attachments (sha256, original_sha256, media_type, kind, size_bytes,"
                    " original_size_bytes, uploaded_by) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING"
                ),
                (sha256, original_sha256, media_type, kind.value, len(copy), len(content), uploaded_by),
            )
        log.info(
            "attachment_stored",
            sha256=sha256,
            kind=kind.value,
            media_type=media_type,
            size_bytes=len(copy),
            metadata_removed=copy is not content,
            uploaded_by=uploaded_by,
        )
        return ref

    async def _shareable(self, content: bytes, media_type: str, kind: AttachmentKind) -> bytes:
        try:
            # Decoding a photo takes a core and its pixels' memory: a few at a time.
            async with self._media_slots:
                copy = await asyncio.to_thread(
                    shareable_copy, content, media_type, max_pixels=self.limits.max_photo_pixels
                )
        except TooManyPixels as exc:
            raise _too_large(
                f"A photo may have at most {exc.limit:,} pixels.", limit_pixels=exc.limit
            ) from exc
        except MediaUnreadable as exc:
            raise AttachmentRefused(
                422,
                f"Unreadable {kind.value}",
                f"The content starts like {media_type} but cannot be read as one (damaged or incomplete?).",
                type_="attachment-unreadable",
                sniffed_type=media_type,
            ) from exc
        # Unchanged bytes (nothing to remove) are one blob, not two.
        return content if copy == content else copy

    async def _copy_of(self, original_sha256: str) -> AttachmentRef | None:
        """The copy already made of this original, if any: a repeat costs no decoding."""
        rows = await self._select("original_sha256 = %s", original_sha256)
        return rows[0] if rows else None

    async def resolve(self, sha256s: Iterable[str]) -> tuple[AttachmentRef, ...]:
        """The stored attachments a complaint references, in its order, each once; an
        unknown name is refused (422), naming it."""
        wanted = list(dict.fromkeys(sha256s))
        if len(wanted) > MAX_ATTACHMENTS:
            raise AttachmentRefused(
                422,
                "Too many attachments",
                f"A complaint may have at most {MAX_ATTACHMENTS} attachments; this one has {len(wanted)}.",
                type_="too-many-attachments",
            )
        if not wanted:
            return ()
        found = {ref.sha256: ref for ref in await self._select("sha256 = ANY(%s)", wanted)}
        unknown = [s for s in wanted if s not in found]
        if unknown:
            raise AttachmentRefused(
                422,
                "Unknown attachment",
                f"No attachment {', '.join(unknown)} was uploaded; upload each file first "
                "(POST /api/v1/attachments) and reference the sha256 it answers.",
                type_="unknown-attachment",
                unknown=unknown,
            )
        return tuple(found[s] for s in wanted)

    async def _select(self, where: str, value: object) -> list[AttachmentRef]:
        async with asyncio.timeout(self.deadline_s), self.db.pool.connection(timeout=self.deadline_s) as conn:
            cur = await conn.execute(
                self.db.sql(
                    "SELECT DISTINCT ON (sha256) sha256, media_type, kind, size_bytes"
                    f" FROM {{schema}}.attachments WHERE {where} ORDER BY sha256, uploaded_at"
                ),
                (value,),
            )
            rows = await cur.fetchall()
        return [
            AttachmentRef(
                sha256=r["sha256"],
                media_type=r["media_type"],
                kind=AttachmentKind(r["kind"]),
                size_bytes=r["size_bytes"],
            )
            for r in rows
        ]

    async def fetch(
        self, url: str, *, uploaded_by: str, auth: tuple[str, str] | None = None
    ) -> AttachmentRef:
        """Download a provider's media (MMS, SNS) and store it like an upload."""
        host = urlsplit(url).hostname or ""
        try:
            content, declared = await self.fetcher.get(url, max_bytes=self.limits.largest, auth=auth)
        except FetchTooLarge as exc:
            raise _too_large(
                f"The media at {host} is larger than {_mib(exc.limit)}.", limit_bytes=exc.limit
            ) from exc
        except FetchRefused as exc:
            log.warning("media_url_refused", host=host, reason=str(exc), uploaded_by=uploaded_by)
            raise AttachmentRefused(
                422, "Media URL refused", f"The media URL is not fetched: {exc}.", type_="media-url-refused"
            ) from exc
        except FetchFailed as exc:
            log.warning("media_not_fetched", host=host, reason=str(exc), uploaded_by=uploaded_by)
            raise MediaNotFetched(
                502,
                "Media not fetched",
                f"The media at {host} could not be downloaded: {exc}.",
                type_="media-not-fetched",
            ) from exc
        return await self.store(content, declared_type=declared, uploaded_by=uploaded_by)


def _too_large(detail: str, **limit: int) -> AttachmentRefused:
    return AttachmentRefused(413, "Attachment too large", detail, type_="attachment-too-large", **limit)


def _not_allowed(media_type: str | None) -> AttachmentRefused:
    what = f"is {media_type}" if media_type else "is of no type we recognise"
    return AttachmentRefused(
        415,
        "Attachment type not allowed",
        f"Judged by its content, the file {what}. Allowed: {'; '.join(_LABELS.values())}.",
        type_="attachment-type-not-allowed",
        sniffed_type=media_type,
    )


# HTTP: the upload every web or app client uses before submitting a complaint that
# references what it uploaded.

router = APIRouter()


@router.post(
    "/api/v1/attachments",
    status_code=201,
    response_model=AttachmentRef,
    summary="Upload an attachment (photo, video, voice, document) to reference in a complaint",
    responses={
        413: {"description": "Too large for its kind (RFC 9457 problem)"},
        429: {"description": "Too many uploads from this address; retry after `Retry-After` (RFC 9457)"},
        415: {
            "description": "Not an allowed type, judged by the content; names the type found "
            "(RFC 9457 problem)"
        },
        422: {"description": "No file, an empty one, or an unreadable photo (RFC 9457 problem)"},
    },
)
async def upload_attachment(
    request: Request,
    file: Annotated[
        UploadFile | None, File(description="The attachment (multipart form field `file`)")
    ] = None,
) -> AttachmentRef:
    if file is None:
        raise AttachmentRefused(
            422,
            "No file",
            "Send the attachment as a multipart/form-data field named 'file'.",
            type_="attachment-missing",
        )
    # Anonymous like the web form, so limited per address like it: nobody fills the store.
    limits: RateLimits = request.app.state.rate_limits
    await limits.enforce(
        request,
        f"upload:{limits.client_address(request)}",
        limits.upload_rate_per_minute,
        what="uploads from one address",
    )
    attachments: Attachments = request.app.state.attachments
    # Uploads are recorded as the web's, like its complaints.
    return await attachments.store(await file.read(), declared_type=file.content_type, uploaded_by="web")
