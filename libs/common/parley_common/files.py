"""What an uploaded file is, decided by its bytes; images decoded, thumbnailed and re-encoded
with Pillow, guarded against decompression bombs. The Pillow work is CPU-bound: callers run
`inspect_image` and `square_avatar` off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps

#: Types the allowlist setting names by default: images Pillow decodes, PDF, plain text, office
#: documents (OOXML, OpenDocument and the old binary formats) and zip.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DEFAULT_ALLOWED_TYPES = sorted(
    IMAGE_TYPES
    | {
        "application/pdf",
        "text/plain",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
THUMBNAIL_PX = 320
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f"}
# Pillow's own bomb guard, process-wide: it refuses (or warns about, made an error below) any
# image past this many pixels whatever a caller's setting says.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_IMAGE_PIXELS


class InvalidImage(Exception):
    """Bytes that claim to be an image but do not decode, or decode too large (a bomb)."""


def sniff(data: bytes) -> str:
    """The media type the bytes show (never the name's or the client's word); text/plain for
    UTF-8 text without control characters; application/octet-stream when unknown."""
    kind = filetype.guess(data)
    if kind is not None:
        return str(kind.mime)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    if all(c in _TEXT_CONTROLS or unicodedata.category(c) != "Cc" for c in text):
        return "text/plain"
    return "application/octet-stream"


def clean_filename(name: str | None, fallback: str = "file") -> str:
    """The last path part, without control or format characters, at most 200 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    return name[:200] or fallback


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The decoded first frame; InvalidImage for anything corrupt or over `max_pixels`."""
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice that: a bomb here too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                # The header's size, before any pixel is decoded (a setting may be stricter
                # than the process-wide guard).
                if probe.width * probe.height > max_pixels:
                    raise InvalidImage("image too large (decompression bomb)")
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidImage("image too large (decompression bomb)") from None
    except Exception as exc:  # Pillow raises many kinds for broken data
        raise InvalidImage(f"image does not decode: {type(exc).__name__}") from None
    return image


def _encode(image: Image.Image) -> tuple[bytes, str]:
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        image.save(out, format="PNG", optimize=True)
        return out.getvalue(), "image/png"
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue(), "image/jpeg"


def inspect_image(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> ImageInfo:
    """Size and a thumbnail (at most THUMBNAIL_PX a side, upright, no metadata)."""
    image = _open(data, max_pixels)
    upright = ImageOps.exif_transpose(image)
    width, height = upright.size
    upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    thumbnail, thumbnail_type = _encode(upright)
    return ImageInfo(width, height, thumbnail, thumbnail_type)


def square_avatar(
    data: bytes, size: int = 256, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> tuple[bytes, str]:
    """Re-encoded, centre-cropped square of `size` px: EXIF (a photo's location among it) and
    every other metadata block are dropped, since nothing of the original file is copied."""
    image = ImageOps.exif_transpose(_open(data, max_pixels))
    square = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
    return _encode(square)
