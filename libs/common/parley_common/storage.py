"""Object storage for uploaded files, chosen by URL like every other backend.

- `file://DIR` (`make run`): one file per object under DIR, written atomically (a temporary
  file renamed into place); nothing to install.
- `s3://BUCKET[/PREFIX]` (services mode): any S3-compatible store (AWS S3, MinIO, ...) through
  aiobotocore, with the endpoint, region and credentials from `StorageSettings`.

Keys are the services' own (`attachments/<uuid>`), never a client's file name; a key with
path parts that could leave the storage's root is refused all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import structlog
from pydantic import BaseModel, Field
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)*$")


class StorageSettings(BaseModel):
    """Mixed into the settings of the services that store files (chat, auth)."""

    storage_url: str = Field(
        default="file://var/uploads",
        description="Where uploads are stored: file://DIR, or s3://BUCKET[/PREFIX] (S3-compatible).",
    )
    storage_endpoint_url: str = Field(
        default="",
        description="The S3 endpoint (MinIO: http://minio:9000); empty: AWS's for the region.",
    )
    storage_region: str = Field(default="us-east-1", description="The S3 region.")
    storage_access_key_id: str = Field(
        default="", description="S3 access key id; empty: the default credential chain."
    )
    # Not a secret_field: empty is right where the platform gives credentials (an IAM role).
    storage_secret_access_key: str = Field(
        default="", repr=False, description="S3 secret access key."
    )


class ObjectNotFound(Exception):
    pass


class Storage(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; ObjectNotFound when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Removes the object; a missing one is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def ping(self) -> bool: ...


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"invalid storage key {key!r}")
    return key


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def start(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def ping(self) -> bool:
        return await asyncio.to_thread(self.root.is_dir)


class S3Storage:
    def __init__(self, bucket: str, prefix: str, settings: StorageSettings) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._settings = settings
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def start(self) -> None:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        s = self._settings
        options: dict[str, Any] = {"region_name": s.storage_region}
        if s.storage_endpoint_url:
            options["endpoint_url"] = s.storage_endpoint_url
        if s.storage_access_key_id:
            options["aws_access_key_id"] = s.storage_access_key_id
            options["aws_secret_access_key"] = s.storage_secret_access_key
        config = AioConfig(
            connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
        )
        self._client = await self._stack.enter_async_context(
            get_session().create_client("s3", config=config, **options)
        )
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except self._client.exceptions.ClientError as exc:
            if _status(exc) != 404:
                raise
            # A fresh MinIO (compose) or test server: make the bucket; a real deployment's
            # bucket exists and is never created by the service.
            await self._client.create_bucket(Bucket=self.bucket)

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )

    async def get(self, key: str) -> bytes:
        try:
            response = await self._client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._client.exceptions.NoSuchKey:
            raise ObjectNotFound(key) from None
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, key: str) -> None:
        await self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def exists(self, key: str) -> bool:
        try:
            await self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self._client.exceptions.ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    async def ping(self) -> bool:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
        except Exception:
            return False
        return True


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def create_storage(settings: StorageSettings) -> Storage:
    """The storage a URL names: file://DIR or s3://BUCKET[/PREFIX]."""
    url = settings.storage_url
    if url.startswith("file://"):
        return FileStorage(Path(url.removeprefix("file://")))
    parts = urlsplit(url)
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(parts.netloc, parts.path, settings)
    raise ValueError(f"PARLEY_STORAGE_URL must be file://DIR or s3://BUCKET, not {url!r}")


_deleting: set[asyncio.Task[None]] = set()


def delete_after_commit(session: AsyncSession, storage: Storage, *keys: str) -> None:
    """Deletes the objects once the session commits (never when it rolls back): an object
    replaced or removed in a transaction stays until the transaction is sure. A failed deletion
    leaves an orphan object, logged; nothing refers to it."""
    wanted = [k for k in keys if k]
    if not wanted:
        return

    async def delete() -> None:
        for key in wanted:
            try:
                await storage.delete(key)
            except Exception:
                log.warning("storage.delete_failed", key=key, exc_info=True)

    def spawn(_session: object) -> None:
        task = asyncio.get_running_loop().create_task(delete())
        _deleting.add(task)
        task.add_done_callback(_deleting.discard)

    sa_event.listen(session.sync_session, "after_commit", spawn, once=True)
