"""One storage contract, on file:// and on s3:// (a real moto server process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley_common.storage import (
    FileStorage,
    ObjectNotFound,
    S3Storage,
    Storage,
    StorageSettings,
    check_key,
    create_storage,
)
from parley_common.testing.s3 import S3Server


@pytest.fixture(params=["file", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server
) -> AsyncIterator[Storage]:
    if request.param == "file":
        settings = StorageSettings(storage_url=f"file://{tmp_path}/uploads")
    else:
        settings = StorageSettings(**s3_server.settings())
    store = create_storage(settings)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


class TestContract:
    async def test_put_get_delete(self, storage: Storage) -> None:
        assert await storage.ping()
        await storage.put("attachments/abc", b"\x00\x01bytes", "application/octet-stream")
        assert await storage.exists("attachments/abc")
        assert await storage.get("attachments/abc") == b"\x00\x01bytes"
        await storage.put("attachments/abc", b"again", "text/plain")
        assert await storage.get("attachments/abc") == b"again"
        await storage.delete("attachments/abc")
        assert not await storage.exists("attachments/abc")
        with pytest.raises(ObjectNotFound):
            await storage.get("attachments/abc")
        await storage.delete("attachments/abc")  # deleting twice is fine

    async def test_missing(self, storage: Storage) -> None:
        with pytest.raises(ObjectNotFound):
            await storage.get("attachments/none")
        assert not await storage.exists("attachments/none")

    @pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "a//b", ""])
    async def test_keys_cannot_escape(self, storage: Storage, key: str) -> None:
        with pytest.raises(ValueError):
            await storage.put(key, b"x", "text/plain")


class TestUrls:
    def test_kinds(self) -> None:
        assert isinstance(create_storage(StorageSettings(storage_url="file://var/x")), FileStorage)
        s3 = create_storage(StorageSettings(storage_url="s3://bucket/some/prefix"))
        assert isinstance(s3, S3Storage)
        assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
        with pytest.raises(ValueError):
            create_storage(StorageSettings(storage_url="ftp://x"))

    def test_check_key(self) -> None:
        assert check_key("avatars/u1/abc.jpg") == "avatars/u1/abc.jpg"
