"""Files for upload tests, made on the spot: real images (with EXIF), a PDF, a corrupt image
and a decompression bomb (a PNG whose header claims 100 000 × 100 000 pixels)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

#: EXIF GPS latitude tag (GPSInfo IFD): what must never survive an avatar's re-encoding.
GPS_IFD = 0x8825


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 640, height: int = 480) -> bytes:
    """A JPEG carrying a camera make and a GPS position in its EXIF."""
    image = Image.new("RGB", (width, height), (20, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "ParleyCam"  # Make
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (255, 255, 255)).save(out, format="PDF")
    return out.getvalue()


def corrupt_png() -> bytes:
    return png()[:60] + b"\x00garbage" * 20


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_bomb(side: int = 100_000) -> bytes:
    """A tiny file whose header claims side × side pixels."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )
