"""Avatars in chat: a group's own (admins set and remove it, members see it), and users'
avatar URLs from auth's user.updated in members, friends and conversation objects."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from chat.runtime import chat_runtime
from parley_common.bus import Delivery
from parley_common.events import UserUpdated, envelope, svc_key
from parley_common.runtime import runtime_of
from parley_common.testing import samples
from parley_common.testing.factories import make_direct, make_group, make_user
from parley_common.testing.waiting import wait_for

if TYPE_CHECKING:
    from conftest import Chat


@pytest.fixture
async def chat(start_chat: Any, tmp_path: Path) -> Chat:
    chat: Chat = await start_chat(storage_url=f"file://{tmp_path}/uploads")
    return chat


async def put_avatar(chat: Chat, user: int, cid: int, data: bytes) -> Any:
    return await chat.call(
        "PUT", f"/conversations/{cid}/avatar", user, files={"file": ("a.jpg", data, "image/jpeg")}
    )


class TestGroupAvatar:
    async def test_admin_sets_members_see(self, chat: Chat) -> None:
        a, b, c = [await make_user(chat, i, n) for i, n in ((1, "alice"), (2, "bob"), (3, "carol"))]
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        r = await put_avatar(chat, b, cid, samples.jpeg_with_exif())
        assert r.status_code == 403  # not an admin
        assert (await put_avatar(chat, c, cid, samples.png())).status_code == 404  # not a member
        assert (await put_avatar(chat, a, cid, samples.pdf())).status_code == 415
        assert (await put_avatar(chat, a, cid, samples.png_bomb())).status_code == 422

        r = await put_avatar(chat, a, cid, samples.jpeg_with_exif(800, 400))
        assert r.status_code == 200, r.text
        url = r.json()["avatar_url"]
        assert url.startswith(f"/conversations/{cid}/avatar?v=")
        assert (await chat.ok("GET", f"/conversations/{cid}", b))["avatar_url"] == url
        served = await chat.call("GET", url, b)
        assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"
        image = Image.open(io.BytesIO(served.content))
        assert image.size == (256, 256) and not image.getexif()
        assert b"ParleyCam" not in served.content
        assert (await chat.call("GET", url, c)).status_code == 404

        await chat.settle()
        updated = [e.data for _, e in chat.events.of_type("conversation.updated")]
        assert updated[-1]["avatar_url"] == url

        storage = chat_runtime(chat.app.state).parts.storage
        key = f"avatars/conversations/{cid}/{url.rsplit('=', 1)[1]}"
        assert await storage.exists(key)
        r = await chat.call("DELETE", f"/conversations/{cid}/avatar", a)
        assert r.status_code == 200 and r.json()["avatar_url"] is None
        await wait_for(lambda: _gone(storage, key), timeout=10, message="avatar deleted")
        assert (await chat.call("GET", url, b)).status_code == 404

    async def test_direct_chats_have_none(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        from parley_common.testing.factories import make_friends

        await make_friends(chat, a, b)
        cid = (await make_direct(chat, a, b))["id"]
        assert (await put_avatar(chat, a, cid, samples.png())).status_code == 400


class TestUserAvatars:
    async def test_projected_from_user_updated(self, chat: Chat) -> None:
        a, b = await make_user(chat, 1, "alice"), await make_user(chat, 2, "bob")
        cid = (await make_group(chat, a, [b], name="g"))["id"]
        url = "/users/2/avatar?v=abc"
        env = envelope(
            UserUpdated(
                user_id=b,
                username="bob",
                email="bob@example.com",
                created_at=datetime.now(UTC),
                avatar_url=url,
            ),
            producer="auth",
        )
        delivery = Delivery(svc_key(env.type), env.model_dump_json().encode(), str(env.id))
        await runtime_of(chat.app.state).consumers[0].handle(delivery)
        members = await chat.ok("GET", f"/conversations/{cid}/members", a)
        assert {m["id"]: m["avatar_url"] for m in members} == {a: None, b: url}
        conv = await chat.ok("GET", f"/conversations/{cid}", a)
        assert {m["user"]["id"]: m["user"]["avatar_url"] for m in conv["members"]} == {
            a: None,
            b: url,
        }
        friends = await chat.ok("GET", "/friends", a)
        assert friends[0]["avatar_url"] == url


async def _gone(storage: Any, key: str) -> bool:
    return not await storage.exists(key)
