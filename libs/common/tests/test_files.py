"""Type sniffing, file names, image decoding guards and avatar re-encoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from parley_common.files import (
    InvalidImage,
    clean_filename,
    inspect_image,
    sniff,
    square_avatar,
)
from parley_common.testing import samples


class TestSniff:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (samples.png(), "image/png"),
            (samples.jpeg_with_exif(), "image/jpeg"),
            (samples.pdf(), "application/pdf"),
            ("plain text, ünïcode\n".encode(), "text/plain"),
            (b"\x00\x01\x02binary", "application/octet-stream"),
            (b"\xff\xfe not utf-8", "application/octet-stream"),
        ],
    )
    def test_types(self, data: bytes, expected: str) -> None:
        assert sniff(data) == expected


class TestFilename:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("../../etc/passwd", "passwd"),
            ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
            ("re\x00port\x1b[31m.pdf", "report[31m.pdf"),
            ("bidi\u202egnp.exe", "bidignp.exe"),
            ("", "file"),
            ("..", "file"),
            (None, "file"),
            ("a" * 300, "a" * 200),
        ],
    )
    def test_clean(self, name: str | None, expected: str) -> None:
        assert clean_filename(name) == expected


class TestImages:
    def test_thumbnail(self) -> None:
        info = inspect_image(samples.png(1000, 500))
        assert (info.width, info.height) == (1000, 500)
        thumb = Image.open(io.BytesIO(info.thumbnail))
        assert thumb.size == (320, 160)

    @pytest.mark.parametrize("data", [samples.corrupt_png(), samples.png_bomb(), b"not an image"])
    def test_refused(self, data: bytes) -> None:
        with pytest.raises(InvalidImage):
            inspect_image(data)

    def test_pixel_limit(self) -> None:
        with pytest.raises(InvalidImage):
            inspect_image(samples.png(200, 200), max_pixels=10_000)

    def test_avatar_is_square_without_exif(self) -> None:
        original = samples.jpeg_with_exif(640, 480)
        assert Image.open(io.BytesIO(original)).getexif().get(0x010F) == "ParleyCam"
        data, content_type = square_avatar(original, size=256)
        avatar = Image.open(io.BytesIO(data))
        assert content_type == "image/jpeg" and avatar.size == (256, 256)
        assert not avatar.getexif() and b"ParleyCam" not in data
        assert "exif" not in avatar.info
