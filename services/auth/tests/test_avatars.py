"""Avatars: set (re-encoded square, EXIF gone), served to signed-in users, replaced and removed
from storage; refusals. On file:// and on s3:// (moto's server process)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from PIL import Image
from sqlalchemy import select

from auth.config import Settings
from auth.main import create_app
from auth.models import OUTBOX
from auth.runtime import auth_runtime
from parley_common.testing import samples
from parley_common.testing.s3 import S3Server
from parley_common.testing.waiting import wait_for

from .conftest import Users


@pytest.fixture(params=["file", "s3"])
async def app(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, s3_server: S3Server
) -> AsyncIterator[Any]:
    storage = (
        {"storage_url": f"file://{tmp_path}/uploads"}
        if request.param == "file"
        else s3_server.settings()
    )
    application = create_app(settings.model_copy(update=storage))
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


async def put_avatar(client: httpx.AsyncClient, h: dict[str, str], data: bytes) -> httpx.Response:
    return await client.put(
        "/users/me/avatar", headers=h, files={"file": ("me.jpg", data, "image/jpeg")}
    )


class TestAvatars:
    async def test_set_serve_replace_remove(
        self, app: Any, client: httpx.AsyncClient, users: Users
    ) -> None:
        me, h = await users.register_and_login("alice")
        _, other = await users.register_and_login("bob")
        assert (await client.get("/users/me", headers=h)).json()["avatar_url"] is None

        r = await put_avatar(client, h, samples.jpeg_with_exif(640, 480))
        assert r.status_code == 200, r.text
        url = r.json()["avatar_url"]
        assert url.startswith(f"/users/{me['id']}/avatar?v=")
        assert (await client.get("/users/me", headers=h)).json()["avatar_url"] == url

        served = await client.get(url, headers=other)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["x-content-type-options"] == "nosniff"
        image = Image.open(io.BytesIO(served.content))
        assert image.size == (256, 256)
        assert not image.getexif() and b"ParleyCam" not in served.content
        assert (await client.get(url)).status_code == 401

        storage = auth_runtime(app.state).parts.storage
        first_key = "avatars/users/{}/{}".format(me["id"], url.rsplit("=", 1)[1])
        assert await storage.exists(first_key)
        r = await put_avatar(client, h, samples.png(300, 100))
        second = r.json()["avatar_url"]
        assert second != url
        await wait_for(lambda: _gone(storage, first_key), timeout=10, message="old avatar gone")

        r = await client.delete("/users/me/avatar", headers=h)
        assert r.status_code == 200 and r.json()["avatar_url"] is None
        second_key = "avatars/users/{}/{}".format(me["id"], second.rsplit("=", 1)[1])
        await wait_for(lambda: _gone(storage, second_key), timeout=10, message="avatar gone")
        assert (await client.get(second, headers=other)).status_code == 404

        async with auth_runtime(app.state).sessionmaker() as session:
            payloads = (await session.scalars(select(OUTBOX.c.payload).order_by(OUTBOX.c.id))).all()
        updates = [p for p in payloads if '"user.updated"' in p]
        assert len(updates) == 3 and url in updates[0] and '"avatar_url":null' in updates[2]

    async def test_refusals(self, app: Any, client: httpx.AsyncClient, users: Users) -> None:
        _, h = await users.register_and_login("alice")
        for data, status in (
            (samples.pdf(), 415),
            (b"hello", 415),
            (samples.corrupt_png(), 422),
            (samples.png_bomb(), 422),
        ):
            r = await put_avatar(client, h, data)
            assert r.status_code == status, (status, r.text)
        assert (await client.get("/users/me", headers=h)).json()["avatar_url"] is None
        assert (await client.get("/users/999/avatar", headers=h)).status_code == 404


async def _gone(storage: Any, key: str) -> bool:
    return not await storage.exists(key)
