"""Files as citizens' phones make them, for attachment tests: photos with a GPS position,
a HEIF with an Exif item, documents and things that only pretend to be photos."""

from __future__ import annotations

import io
import random
import struct

from PIL import Image

#: Seoul City Hall, as an EXIF GPS position (degrees, minutes, seconds).
LATITUDE = (37.0, 33.0, 58.87)
LONGITUDE = (126.0, 58.0, 40.63)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "Galaxy S24"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", LATITUDE, "E", LONGITUDE
    return exif


def photo(
    fmt: str = "JPEG", size: tuple[int, int] = (64, 32), *, orientation: int = 1, noise: bool = False
) -> bytes:
    """A photo with EXIF (GPS position, camera, orientation); `noise` makes it compress badly."""
    image = Image.new("RGB", size, (180, 40, 40))
    if noise:
        image = Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, fmt, exif=gps_exif(orientation))
    return out.getvalue()


def has_gps(content: bytes) -> bool:
    with Image.open(io.BytesIO(content)) as image:
        return bool(image.getexif().get_ifd(GPS_IFD))


PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
#: The start of a Windows executable (MZ header, PE offset) and of a Linux one (ELF).
WINDOWS_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\x00\x00" + bytes(200)
)
LINUX_ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(200)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_box(kind: bytes, version: int, payload: bytes) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


def heic_with_exif(*, in_idat: bool = False) -> tuple[bytes, bytes, bytes]:
    """A minimal HEIF file: one (fake) coded image item and one Exif item with a GPS
    position; returns (file, the image item's bytes, the Exif item's bytes). `in_idat`
    stores the Exif item in the meta box's `idat` (construction method 1) instead of `mdat`."""
    image_data = b"\x00\x00\x00\x10" + bytes(range(16)) * 8  # stands for HEVC data
    exif_data = struct.pack(">I", 6) + gps_exif().tobytes()
    ftyp = _box(b"ftyp", b"heic" + struct.pack(">I", 0) + b"mif1heic")
    hdlr = _full_box(b"hdlr", 0, bytes(4) + b"pict" + bytes(12) + b"\x00")
    pitm = _full_box(b"pitm", 0, struct.pack(">H", 1))
    infe_image = _full_box(b"infe", 2, struct.pack(">HH4s", 1, 0, b"hvc1") + b"\x00")
    infe_exif = _full_box(b"infe", 2, struct.pack(">HH4s", 2, 0, b"Exif") + b"\x00")
    iinf = _full_box(b"iinf", 0, struct.pack(">H", 2) + infe_image + infe_exif)
    idat = _box(b"idat", exif_data) if in_idat else b""

    def iloc(image_offset: int, exif_offset: int) -> bytes:
        # version 1: offset 4 bytes, length 4, base offset 0, index 0; per item a method.
        entries = struct.pack(">HHHHII", 1, 0, 0, 1, image_offset, len(image_data))
        entries += struct.pack(">HHHHII", 2, 1 if in_idat else 0, 0, 1, exif_offset, len(exif_data))
        return _full_box(b"iloc", 1, bytes([0x44, 0x00]) + struct.pack(">H", 2) + entries)

    def assemble(image_offset: int, exif_offset: int) -> bytes:
        meta = _full_box(b"meta", 0, hdlr + pitm + iloc(image_offset, exif_offset) + iinf + idat)
        mdat_payload = image_data + (b"" if in_idat else exif_data)
        return ftyp + meta + _box(b"mdat", mdat_payload)

    draft = assemble(0, 0)
    mdat_start = len(draft) - len(image_data) - (0 if in_idat else len(exif_data))
    image_offset = mdat_start
    exif_offset = 0 if in_idat else mdat_start + len(image_data)
    content = assemble(image_offset, exif_offset)
    assert content[image_offset : image_offset + len(image_data)] == image_data
    return content, image_data, exif_data


#: Where a phone says a video was recorded (ISO 6709), as QuickTime and Apple's keys write it.
RECORDED_AT = b"+37.5665+126.9780+036.000/"


def video_with_location(*, iso_meta: bool = False, located: bool = True) -> tuple[bytes, bytes]:
    """A minimal MP4: the movie's `udta` with `©xyz`, a track whose `udta` has a 3GPP `loci`,
    and Apple's metadata (`meta` with `keys`/`ilst`: a make and a location); returns (file,
    the media bytes in `mdat`). `iso_meta` writes `meta` as ISO's full box, not QuickTime's."""
    media = bytes(range(256)) * 4
    place = RECORDED_AT if located else b""
    xyz = _box(b"\xa9xyz", struct.pack(">HH", len(place), 0x15C7) + place)
    loci = _full_box(b"loci", 0, struct.pack(">H", 0x15C7) + b"Seoul City Hall\x00" + bytes(13) + place)
    trak = _box(b"trak", _box(b"tkhd", bytes(84)) + (_box(b"udta", loci) if located else b""))

    def key(name: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(name), b"mdta") + name

    def item(index: int, value: bytes) -> bytes:
        return (
            struct.pack(">I", 8 + 16 + len(value))
            + struct.pack(">I", index)
            + _box(b"data", bytes(8) + value)
        )

    names = [b"com.apple.quicktime.make", b"com.apple.quicktime.location.ISO6709"]
    keys = _full_box(b"keys", 0, struct.pack(">I", len(names)) + b"".join(key(n) for n in names))
    ilst = _box(b"ilst", item(1, b"Apple") + (item(2, place) if located else b""))
    hdlr = _full_box(b"hdlr", 0, bytes(4) + b"mdta" + bytes(12) + b"\x00")
    meta_children = hdlr + keys + ilst
    meta = _full_box(b"meta", 0, meta_children) if iso_meta else _box(b"meta", meta_children)
    moov = _box(b"moov", _box(b"mvhd", bytes(100)) + (_box(b"udta", xyz) if located else b"") + trak + meta)
    ftyp = _box(b"ftyp", b"isom" + bytes(4) + b"isomiso2mp41")
    return ftyp + moov + _box(b"mdat", media), media
