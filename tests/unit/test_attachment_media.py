"""Attachments without a database: what a file is (by its content), photos without their
metadata, the limits, and the refusals that come before anything is stored."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from eungdapso_intake.attachments import AttachmentLimits, AttachmentRefused, Attachments
from eungdapso_intake.blobstore import Area, LocalBlobStore, sha256_of
from eungdapso_intake.media import (
    MediaUnreadable,
    TooManyPixels,
    blank_heif_metadata,
    shareable_copy,
    sniff,
    strip_photo,
)
from eungdapso_platform.db import Database
from eungdapso_schemas.codes import AttachmentKind
from eungdapso_schemas.events import MAX_ATTACHMENTS
from tests.support.media import (
    GPS_IFD,
    LINUX_ELF,
    PDF,
    RECORDED_AT,
    WINDOWS_EXE,
    gps_exif,
    has_gps,
    heic_with_exif,
    photo,
    video_with_location,
)

LIMITS = AttachmentLimits(
    max_bytes={
        AttachmentKind.PHOTO: 4000,
        AttachmentKind.VIDEO: 8000,
        AttachmentKind.VOICE: 2000,
        AttachmentKind.DOCUMENT: 3000,
    },
    max_photo_pixels=1_000_000,
)


@pytest.fixture
def attachments(tmp_path: Path) -> Attachments:
    # Every refusal here comes before the database: the pool is never opened.
    return Attachments(Database("host=127.0.0.1 port=9", "intake"), LocalBlobStore(tmp_path), LIMITS)


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    payload = major + bytes(4) + b"".join(compatible)
    return struct.pack(">I4s", 8 + len(payload), b"ftyp") + payload + bytes(64)


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (photo("JPEG"), "image/jpeg"),
        (photo("PNG"), "image/png"),
        (photo("GIF"), "image/gif"),
        (photo("WEBP"), "image/webp"),
        (heic_with_exif()[0], "image/heic"),
        (PDF, "application/pdf"),
        (photo("TIFF"), "image/tiff"),
        (ftyp(b"isom", b"isom", b"mp42"), "video/mp4"),
        (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (ftyp(b"3gp4", b"isom", b"3gp4"), "video/3gpp"),
        (ftyp(b"M4A ", b"M4A ", b"isom"), "audio/mp4"),
        (b"#!AMR\n" + bytes(64), "audio/amr"),
        (b"ID3\x04\x00" + bytes(64), "audio/mpeg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), "audio/wav"),
        (b"OggS\x00\x02" + bytes(64), "audio/ogg"),
        (WINDOWS_EXE, "application/x-msdownload"),
        (LINUX_ELF, "application/x-executable"),
        (b"just some text, named photo.jpg", None),
    ],
)
def test_the_type_is_what_the_content_says(content: bytes, media_type: str | None) -> None:
    assert sniff(content) == media_type


async def test_a_declared_type_or_name_never_decides(attachments: Attachments) -> None:
    """An executable declared `image/jpeg` (uploaded as `cat.jpg`) is refused as what it is."""
    with pytest.raises(AttachmentRefused) as refused:
        await attachments.store(WINDOWS_EXE, declared_type="image/jpeg", uploaded_by="web")
    assert refused.value.status == 415
    assert refused.value.extra["sniffed_type"] == "application/x-msdownload"
    assert "application/x-msdownload" in refused.value.detail
    with pytest.raises(AttachmentRefused) as unknown:
        await attachments.store(b"hello", declared_type="image/png", uploaded_by="web")
    assert unknown.value.status == 415 and "no type we recognise" in unknown.value.detail


def test_a_jpeg_loses_its_gps_position_and_keeps_its_orientation() -> None:
    # 64x32 pixels, EXIF orientation 6: shown rotated by 90°, i.e. 32 wide and 64 high.
    original = photo("JPEG", (64, 32), orientation=6)
    assert has_gps(original)
    copy = strip_photo(original, "image/jpeg", max_pixels=10**6)
    with Image.open(io.BytesIO(copy)) as image:
        assert image.format == "JPEG"
        assert not image.getexif().get_ifd(GPS_IFD)
        assert len(image.getexif()) == 0, "no EXIF at all: camera, time and orientation are gone too"
        assert image.size == (32, 64), "the orientation is applied to the pixels"
    assert b"Galaxy S24" not in copy and b"Exif" not in copy


@pytest.mark.parametrize(("fmt", "media_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_other_photo_types_lose_their_metadata_too(fmt: str, media_type: str) -> None:
    original = photo(fmt)
    assert has_gps(original)
    copy = strip_photo(original, media_type, max_pixels=10**6)
    with Image.open(io.BytesIO(copy)) as image:
        assert image.format == fmt and not image.getexif()
    assert b"Galaxy S24" not in copy


def test_an_animation_keeps_its_frames_and_loses_its_comment() -> None:
    frames = [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0, comment=b"at home"
    )
    copy = strip_photo(out.getvalue(), "image/gif", max_pixels=10**6)
    with Image.open(io.BytesIO(copy)) as image:
        assert image.n_frames == 3
    assert b"at home" not in copy


@pytest.mark.parametrize("in_idat", [False, True], ids=["exif-in-mdat", "exif-in-idat"])
def test_a_heic_loses_its_exif_item_and_keeps_its_image(in_idat: bool) -> None:
    original, image_data, exif_data = heic_with_exif(in_idat=in_idat)
    copy = blank_heif_metadata(original)
    assert len(copy) == len(original) and sniff(copy) == "image/heic"
    assert exif_data in original and exif_data not in copy
    assert b"Galaxy S24" not in copy and image_data in copy
    assert strip_photo(original, "image/heic", max_pixels=10**6) == copy
    # What is left of the Exif item reads as EXIF without a single tag.
    start = copy.index(b"\x00\x00\x00\x00MM\x00\x2a") + 4
    empty = Image.Exif()
    empty.load(copy[start : start + 14])
    assert len(empty) == 0


def test_an_unreadable_photo_is_refused_not_passed_on() -> None:
    damaged = photo("JPEG")[:40]
    with pytest.raises(MediaUnreadable):
        strip_photo(damaged, "image/jpeg", max_pixels=10**6)
    with pytest.raises(MediaUnreadable):
        blank_heif_metadata(heic_with_exif()[0][:60])


def test_a_photo_with_too_many_pixels_is_refused_before_decoding() -> None:
    big = photo("PNG", (2000, 1000))
    with pytest.raises(TooManyPixels):
        strip_photo(big, "image/png", max_pixels=1_000_000)


async def test_size_limits_per_kind(attachments: Attachments) -> None:
    noisy = photo("PNG", (40, 40), noise=True)  # about 4.8 kB: over the photo limit of 4000
    assert sniff(noisy) == "image/png" and 4000 < len(noisy) < 8000
    with pytest.raises(AttachmentRefused) as photo_refused:
        await attachments.store(noisy, declared_type=None, uploaded_by="web")
    assert photo_refused.value.status == 413 and "photo may be at most" in photo_refused.value.detail
    assert photo_refused.value.extra["limit_bytes"] == 4000

    with pytest.raises(AttachmentRefused) as too_large_for_any:
        await attachments.store(PDF + bytes(9000), declared_type=None, uploaded_by="web")
    assert too_large_for_any.value.status == 413

    with pytest.raises(AttachmentRefused) as document_refused:
        await attachments.store(PDF + bytes(3500), declared_type=None, uploaded_by="web")
    assert document_refused.value.status == 413 and "document" in document_refused.value.detail

    with pytest.raises(AttachmentRefused) as empty:
        await attachments.store(b"", declared_type="image/jpeg", uploaded_by="web")
    assert empty.value.status == 422


async def test_a_complaint_may_reference_at_most_max_attachments(attachments: Attachments) -> None:
    many = [f"{i:064x}" for i in range(MAX_ATTACHMENTS + 1)]
    with pytest.raises(AttachmentRefused) as refused:
        await attachments.resolve(many)
    assert refused.value.status == 422 and str(MAX_ATTACHMENTS) in refused.value.detail
    assert await attachments.resolve([]) == ()


async def test_the_local_store_names_blobs_by_content_and_writes_them_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    content = b"%PDF-1.4 a scanned letter"
    name = await store.put(Area.SHARED, content)
    assert name == sha256_of(content)
    path = store.path(Area.SHARED, name)
    assert path.read_bytes() == content and path.parent.name == name[:2]
    first_write = path.stat().st_mtime_ns
    assert await store.put(Area.SHARED, content) == name
    assert path.stat().st_mtime_ns == first_write, "the same content is not written again"
    assert await store.exists(Area.SHARED, name) and not await store.exists(Area.ORIGINALS, name)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".incoming-")]
    with pytest.raises(ValueError):
        store.path(Area.SHARED, "../../etc/passwd")


def test_gps_exif_helper_really_carries_a_position() -> None:
    # The fixture the other tests trust: a JPEG made with it reads back with GPS.
    assert dict(gps_exif().get_ifd(GPS_IFD))


@pytest.mark.parametrize("iso_meta", [False, True], ids=["quicktime-meta", "iso-meta"])
def test_a_video_loses_where_it_was_recorded_and_keeps_its_media(iso_meta: bool) -> None:
    original, media = video_with_location(iso_meta=iso_meta)
    assert original.count(RECORDED_AT) == 3
    copy = shareable_copy(original, "video/mp4", max_pixels=1)
    assert len(copy) == len(original) and sniff(copy) == "video/mp4"
    assert RECORDED_AT not in copy and b"Seoul City Hall" not in copy
    assert media in copy and b"Apple" in copy, "only the location goes: the media and the make stay"
    assert copy.count(b"free") == 3


def test_a_recording_without_a_location_is_shared_as_it_is() -> None:
    original, _ = video_with_location(located=False)
    assert shareable_copy(original, "video/mp4", max_pixels=1) is original
    assert shareable_copy(PDF, "application/pdf", max_pixels=1) is PDF


def test_a_recording_whose_boxes_cannot_be_read_is_refused() -> None:
    original, _ = video_with_location()
    moov = original.index(b"moov") - 4
    broken = (
        original[:moov] + b"\x00\x00\xff\xffmoov" + original[moov + 8 :]
    )  # moov claims more than there is
    with pytest.raises(MediaUnreadable):
        shareable_copy(broken, "video/mp4", max_pixels=1)
