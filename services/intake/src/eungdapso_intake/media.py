"""What an attachment is, judged by its bytes, and photos without what they tell of the citizen.

`sniff` reads the content's signature (`filetype`, plus the ISO-BMFF brand for 3GPP, which
`filetype` misses); a file's name or declared type never decides. `shareable_copy` gives
the copy other services may see:
- a photo is decoded and encoded again by Pillow with the EXIF orientation applied to the
  pixels and no metadata carried over (EXIF with its GPS position, XMP, comments, text
  chunks), only what the picture needs to look the same (the colour profile, transparency,
  frame timing);
- a HEIC, which Pillow cannot decode here, keeps its pixels (and its orientation, an item
  property): its Exif and XMP items are overwritten in place (`blank_heif_metadata`);
- an MP4, QuickTime or 3GPP video (or MP4 audio) keeps its media: the boxes where phones
  write where it was recorded (`©xyz`, `loci`, Apple's `…location…` keys) become `free`
  boxes of zeros, same size, so no offset moves (`blank_recording_location`).
Anything that cannot be read is refused, never passed on with its metadata.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import filetype
from PIL import Image, ImageOps, ImageSequence

from eungdapso_schemas.codes import AttachmentKind

#: What each kind may be (media types as sniffed, after `_ALIASES`).
ALLOWED: dict[str, AttachmentKind] = {
    "image/jpeg": AttachmentKind.PHOTO,
    "image/png": AttachmentKind.PHOTO,
    "image/gif": AttachmentKind.PHOTO,
    "image/webp": AttachmentKind.PHOTO,
    "image/heic": AttachmentKind.PHOTO,
    "video/mp4": AttachmentKind.VIDEO,
    "video/quicktime": AttachmentKind.VIDEO,
    "video/3gpp": AttachmentKind.VIDEO,
    "audio/mpeg": AttachmentKind.VOICE,
    "audio/mp4": AttachmentKind.VOICE,
    "audio/amr": AttachmentKind.VOICE,
    "audio/wav": AttachmentKind.VOICE,
    "audio/ogg": AttachmentKind.VOICE,
    "application/pdf": AttachmentKind.DOCUMENT,
    # Fax and mail scans.
    "image/tiff": AttachmentKind.DOCUMENT,
}
_ALIASES = {"audio/x-wav": "audio/wav", "video/x-m4v": "video/mp4", "image/jpg": "image/jpeg"}
#: Pillow's decoder for each photo type (no other decoder is ever tried on a citizen's file).
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
#: What survives of a photo's `info`: how it looks, nothing about who took it, where or when.
_KEEP_INFO = frozenset({"icc_profile", "transparency", "duration", "loop", "background", "dpi", "gamma"})


class MediaUnreadable(ValueError):
    """The content claims a type by its signature but cannot be read as one."""


class TooManyPixels(ValueError):
    def __init__(self, pixels: int, limit: int) -> None:
        super().__init__(f"{pixels} pixels, at most {limit}")
        self.pixels = pixels
        self.limit = limit


def normalized(media_type: str | None) -> str | None:
    if not media_type:
        return None
    base = media_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def sniff(content: bytes) -> str | None:
    """The media type the content's own bytes say, or None if they say nothing we know."""
    brand = _ftyp_brand(content)
    if brand is not None and brand[:3] in {b"3gp", b"3g2"}:
        return "video/3gpp"
    guessed = filetype.guess(content)
    return normalized(guessed.mime) if guessed is not None else None


def _ftyp_brand(content: bytes) -> bytes | None:
    if len(content) >= 12 and content[4:8] == b"ftyp":
        return content[8:12]
    return None


#: Recordings in ISO-BMFF (MP4/QuickTime) containers, where phones note the location.
_ISOBMFF_RECORDINGS = frozenset({"video/mp4", "video/quicktime", "video/3gpp", "audio/mp4"})


def shareable_copy(content: bytes, media_type: str, *, max_pixels: int) -> bytes:
    """What other services may see of an attachment (see the module's docstring); the
    content itself when there is nothing to remove."""
    if ALLOWED.get(media_type) is AttachmentKind.PHOTO:
        return strip_photo(content, media_type, max_pixels=max_pixels)
    if media_type in _ISOBMFF_RECORDINGS:
        return blank_recording_location(content)
    return content


def strip_photo(content: bytes, media_type: str, *, max_pixels: int) -> bytes:
    """The photo without its metadata, orientation applied (see the module's docstring)."""
    if media_type == "image/heic":
        return blank_heif_metadata(content)
    fmt = _PILLOW_FORMATS[media_type]
    try:
        with Image.open(io.BytesIO(content), formats=[fmt]) as image:
            frames = getattr(image, "n_frames", 1) if fmt != "JPEG" else 1
            pixels = image.width * image.height * frames
            if pixels > max_pixels:
                raise TooManyPixels(pixels, max_pixels)
            out = io.BytesIO()
            if frames > 1:
                _save_animation(image, fmt, out)
            else:
                upright = ImageOps.exif_transpose(image)
                upright.info = _kept(image.info)
                upright.save(out, format=fmt, **_encoder_options(fmt, upright))
            return out.getvalue()
    except Image.DecompressionBombError as exc:
        raise TooManyPixels(max_pixels + 1, max_pixels) from exc
    except TooManyPixels:
        raise
    except Exception as exc:
        # Whatever a malformed file makes a decoder raise, it is the file's fault.
        raise MediaUnreadable(f"{media_type} could not be decoded: {type(exc).__name__}") from exc


def _kept(info: dict[str | tuple[int, int], object]) -> dict[str | tuple[int, int], object]:
    return {k: v for k, v in info.items() if k in _KEEP_INFO}


def _encoder_options(fmt: str, image: Image.Image) -> dict[str, object]:
    # The encoders would otherwise pick up some metadata by themselves (JPEG: a comment).
    options: dict[str, object] = {"exif": b""}
    if icc := image.info.get("icc_profile"):
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(quality=95, comment=b"")
    elif fmt == "WEBP":
        options.update(quality=95)
    return options


def _save_animation(image: Image.Image, fmt: str, out: io.BytesIO) -> None:
    frames = []
    durations = []
    for frame in ImageSequence.Iterator(image):
        copy = frame.copy()
        durations.append(int(frame.info.get("duration", 100)))
        copy.info = _kept(frame.info)
        frames.append(copy)
    first, rest = frames[0], frames[1:]
    first.save(
        out,
        format=fmt,
        save_all=True,
        append_images=rest,
        duration=durations,
        loop=int(image.info.get("loop", 0)),
        **_encoder_options(fmt, first),
    )


# HEIF (ISO/IEC 23008-12): items live in an ISO-BMFF file; the `meta` box lists them
# (`iinf`) and says where their bytes are (`iloc`: in the file, or in the `idat` box).


class _Malformed(ValueError):
    pass


def blank_heif_metadata(content: bytes) -> bytes:
    """The HEIF file with its Exif items emptied (a valid TIFF header with no tags) and its
    XMP items blanked, in place: same length, same offsets, every image item untouched."""
    try:
        return _blank_heif_metadata(content)
    except (_Malformed, IndexError, struct.error) as exc:
        raise MediaUnreadable(f"image/heic could not be read: {exc}") from exc


def _blank_heif_metadata(content: bytes) -> bytes:
    metas = [b for b in _boxes(content, 0, len(content)) if b[0] == b"meta"]
    if len(metas) != 1:
        raise _Malformed("expected one meta box")
    _, _, payload, end = metas[0]
    children = {kind: (start, stop) for kind, _, start, stop in _boxes(content, payload + 4, end)}
    if b"iinf" not in children:
        return content  # no items listed: nothing to blank
    targets = _metadata_items(content, *children[b"iinf"])
    if not targets:
        return content
    if b"iloc" not in children:
        raise _Malformed("metadata items without locations")
    idat = children.get(b"idat")
    out = bytearray(content)
    for item_id, extents in _item_locations(content, *children[b"iloc"]):
        if item_id not in targets:
            continue
        spans = []
        for method, offset, length in extents:
            if method == 0:
                base, limit = 0, len(content)
            elif method == 1 and idat is not None:
                base, limit = idat
            else:
                raise _Malformed("metadata item stored by reference to another item")
            start = base + offset
            stop = limit if length == 0 else start + length
            if not base <= start <= stop <= limit:
                raise _Malformed("metadata item outside the file")
            spans.append((start, stop))
        _overwrite(out, spans, targets[item_id])
    return bytes(out)


#: An Exif item (4-byte offset to the TIFF header, 0) holding a TIFF header and an empty IFD.
_EMPTY_EXIF = b"\x00\x00\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x00" + b"\x00\x00\x00\x00"


def _overwrite(out: bytearray, spans: list[tuple[int, int]], kind: str) -> None:
    total = sum(stop - start for start, stop in spans)
    if kind == "exif" and total >= len(_EMPTY_EXIF):
        replacement = _EMPTY_EXIF + bytes(total - len(_EMPTY_EXIF))
    else:
        # XMP: XML whitespace (an empty packet); a tiny Exif item: zeros.
        replacement = (b" " if kind == "xmp" else b"\x00") * total
    pos = 0
    for start, stop in spans:
        out[start:stop] = replacement[pos : pos + stop - start]
        pos += stop - start


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of each box in data[start:end]."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise _Malformed("truncated box header")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _Malformed(f"box {kind!r} overruns its parent")
        yield kind, pos, pos + header, pos + size
        pos += size


def _metadata_items(data: bytes, start: int, end: int) -> dict[int, str]:
    """Item ids of the Exif and XMP items listed in `iinf`, with which they are."""
    version = data[start]
    pos = start + 4 + (2 if version == 0 else 4)  # entry count: the boxes say it too
    found: dict[int, str] = {}
    for kind, _, payload, stop in _boxes(data, pos, end):
        if kind != b"infe":
            continue
        infe_version = data[payload]
        if infe_version < 2:
            continue  # no item types before version 2: no Exif or XMP items
        pos = payload + 4
        if infe_version == 2:
            (item_id,) = struct.unpack_from(">H", data, pos)
            pos += 2
        else:
            (item_id,) = struct.unpack_from(">I", data, pos)
            pos += 4
        item_type = data[pos + 2 : pos + 6]
        if item_type == b"Exif":
            found[item_id] = "exif"
        elif item_type == b"mime":
            name_end = data.index(b"\x00", pos + 6, stop)
            content_type_end = data.find(b"\x00", name_end + 1, stop)
            content_type = data[name_end + 1 : content_type_end if content_type_end >= 0 else stop]
            if b"xmp" in content_type.lower() or b"rdf+xml" in content_type.lower():
                found[item_id] = "xmp"
    return found


def _item_locations(data: bytes, start: int, end: int) -> Iterator[tuple[int, list[tuple[int, int, int]]]]:
    """Each item of `iloc`: its id and extents as (construction method, offset, length)."""
    version = data[start]
    pos = start + 4
    sizes, more = data[pos], data[pos + 1]
    offset_size, length_size = sizes >> 4, sizes & 0x0F
    base_offset_size = more >> 4
    index_size = more & 0x0F if version in (1, 2) else 0
    pos += 2
    count, pos = _uint(data, pos, 2 if version < 2 else 4)
    for _ in range(count):
        item_id, pos = _uint(data, pos, 2 if version < 2 else 4)
        method = 0
        if version in (1, 2):
            method, pos = _uint(data, pos, 2)
            method &= 0x0F
        reference, pos = _uint(data, pos, 2)
        base_offset, pos = _uint(data, pos, base_offset_size)
        extent_count, pos = _uint(data, pos, 2)
        extents = []
        for _ in range(extent_count):
            _, pos = _uint(data, pos, index_size)
            offset, pos = _uint(data, pos, offset_size)
            length, pos = _uint(data, pos, length_size)
            extents.append((method, base_offset + offset, length))
        if pos > end:
            raise _Malformed("iloc overruns its box")
        if reference == 0:  # the data is in this file (another value: in another file)
            yield item_id, extents


def _uint(data: bytes, pos: int, size: int) -> tuple[int, int]:
    if size not in (0, 2, 4, 8):
        raise _Malformed(f"field of {size} bytes")
    if pos + size > len(data):
        raise _Malformed("truncated")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


#: Boxes of a `udta` that say where a recording was made (QuickTime `©xyz`, 3GPP `loci`).
_LOCATION_BOXES = frozenset({b"\xa9xyz", b"loci"})


def blank_recording_location(content: bytes) -> bytes:
    """The MP4/QuickTime/3GPP file with its location boxes turned into `free` boxes."""
    try:
        out = bytearray(content)
        for kind, _, payload, end in _boxes(content, 0, len(content)):
            if kind == b"moov":
                _blank_in_movie(content, out, payload, end)
        return content if out == content else bytes(out)
    except (_Malformed, IndexError, ValueError, struct.error) as exc:
        raise MediaUnreadable(f"the recording's boxes could not be read: {exc}") from exc


def _blank_in_movie(data: bytes, out: bytearray, start: int, end: int) -> None:
    """Walk `moov`, its tracks and their user data and metadata (never the media itself)."""
    for kind, box, payload, stop in _boxes(data, start, end):
        if kind in (b"trak", b"udta"):
            _blank_in_movie(data, out, payload, stop)
        elif kind in _LOCATION_BOXES:
            _free(out, box, stop)
        elif kind == b"meta":
            _blank_location_keys(data, out, *_meta_children(data, payload, stop))


def _meta_children(data: bytes, payload: int, end: int) -> tuple[int, int]:
    # ISO's `meta` is a full box (4 bytes of version and flags before its children);
    # QuickTime's is not: the first child (`hdlr`) tells which.
    return (payload, end) if data[payload + 4 : payload + 8] == b"hdlr" else (payload + 4, end)


def _blank_location_keys(data: bytes, out: bytearray, start: int, end: int) -> None:
    """Apple's metadata: `keys` names entries by index (1-based), `ilst` holds one box per
    entry whose type is that index; those whose key mentions a location are blanked."""
    children = list(_boxes(data, start, end))
    location: set[int] = set()
    for kind, _, payload, stop in children:
        if kind == b"keys":
            (count,) = struct.unpack_from(">I", data, payload + 4)
            pos = payload + 8
            for index in range(1, count + 1):
                (size,) = struct.unpack_from(">I", data, pos)
                if size < 8 or pos + size > stop:
                    raise _Malformed("key overruns keys")
                if b"location" in data[pos + 8 : pos + size].lower():
                    location.add(index)
                pos += size
    for kind, _, payload, stop in children:
        if kind == b"ilst":
            for item_kind, item, _, item_end in _boxes(data, payload, stop):
                if int.from_bytes(item_kind, "big") in location or item_kind in _LOCATION_BOXES:
                    _free(out, item, item_end)


def _free(out: bytearray, box: int, end: int) -> None:
    """Turn the box at `box` into a `free` box of zeros, keeping its size (and header form)."""
    header = 16 if int.from_bytes(out[box : box + 4], "big") == 1 else 8
    out[box + 4 : box + 8] = b"free"
    out[box + header : end] = bytes(end - box - header)
