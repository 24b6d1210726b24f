"""Attachments: upload, attach to a message, download as a member, refusals, deletion from
storage; the same tests on file:// and on s3:// (a real moto server process)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chat.runtime import chat_runtime
from parley_common.testing import samples
from parley_common.testing.factories import make_group, make_user, send_message
from parley_common.testing.s3 import S3Server
from parley_common.testing.waiting import wait_for

if TYPE_CHECKING:
    from conftest import Chat


@pytest.fixture(params=["file", "s3"])
def storage_settings(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server
) -> dict[str, Any]:
    if request.param == "file":
        return {"storage_url": f"file://{tmp_path}/uploads"}
    return s3_server.settings()


@pytest.fixture
async def chat(start_chat: Any, storage_settings: dict[str, Any]) -> Chat:
    chat: Chat = await start_chat(**storage_settings)
    return chat


async def upload(
    chat: Chat, user: int, data: bytes, name: str = "file.bin", content_type: str = "x/y"
) -> Any:
    return await chat.call("POST", "/attachments", user, files={"file": (name, data, content_type)})


async def uploaded(chat: Chat, user: int, data: bytes, name: str = "file.bin") -> dict[str, Any]:
    r = await upload(chat, user, data, name)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def group_of_three(chat: Chat) -> tuple[int, int, int, int]:
    a, b, c = [await make_user(chat, i, n) for i, n in ((1, "alice"), (2, "bob"), (3, "carol"))]
    cid = (await make_group(chat, a, [b, c], name="g"))["id"]
    return a, b, c, cid


class TestUploadAndAttach:
    async def test_image_end_to_end(self, chat: Chat) -> None:
        a, b, c, cid = await group_of_three(chat)
        outsider = await make_user(chat, 4, "mallory")
        image = samples.png(640, 480)
        up = await uploaded(chat, a, image, "..\\..\\etc/holiday.png")
        assert up["filename"] == "holiday.png" and up["content_type"] == "image/png"
        assert (up["width"], up["height"], up["size"]) == (640, 480, len(image))
        assert up["url"] == f"/attachments/{up['id']}"
        assert up["thumbnail_url"] == f"/attachments/{up['id']}/thumbnail"
        # Before it is attached: its uploader's alone.
        assert (await chat.call("GET", up["url"], a)).content == image
        assert (await chat.call("GET", up["url"], b)).status_code == 404

        m = await send_message(chat, a, cid, "", attachment_ids=[up["id"]], client_msg_id="m1")
        assert m["type"] == "image" and m["content"] == ""
        assert [x["id"] for x in m["attachments"]] == [up["id"]]
        again = await send_message(chat, a, cid, "", attachment_ids=[up["id"]], client_msg_id="m1")
        assert again["id"] == m["id"]  # a retried send is the same send

        await chat.settle()
        created = [
            e.data["message"]
            for _, e in chat.events.of_type("message.created")
            if e.data["message"]["id"] == m["id"]
        ]
        assert created[0]["attachments"][0]["content_type"] == "image/png"
        page = await chat.ok("GET", f"/messages/conversation/{cid}", b)
        assert page[-1]["attachments"] == m["attachments"] and page[-1]["type"] == "image"

        r = await chat.call("GET", up["url"], b)
        assert r.status_code == 200 and r.content == image
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        assert r.headers["content-disposition"].startswith("inline;")
        thumb = await chat.call("GET", up["thumbnail_url"], c)
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        for who in (outsider, 999):
            assert (await chat.call("GET", up["url"], who)).status_code == 404
            assert (await chat.call("GET", up["thumbnail_url"], who)).status_code == 404
        # A kicked member sees it no more.
        await chat.ok("DELETE", f"/conversations/{cid}/members/{c}", a)
        assert (await chat.call("GET", up["url"], c)).status_code == 404

    async def test_file_message(self, chat: Chat) -> None:
        a, b, _, cid = await group_of_three(chat)
        doc = await uploaded(chat, a, samples.pdf(), "report.pdf")
        pic = await uploaded(chat, a, samples.png(), "p.png")
        assert doc["content_type"] == "application/pdf" and doc["thumbnail_url"] is None
        assert doc["width"] is None
        m = await send_message(chat, a, cid, "both", attachment_ids=[pic["id"], doc["id"]])
        assert m["type"] == "file" and [x["id"] for x in m["attachments"]] == [pic["id"], doc["id"]]
        r = await chat.call("GET", doc["url"], b)
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("attachment;")
        assert (await chat.call("GET", doc["url"] + "/thumbnail", b)).status_code == 404
        text = await uploaded(chat, a, "héllo\n".encode(), "notes.exe")
        assert text["content_type"] == "text/plain"

    async def test_attach_refusals_change_nothing(self, chat: Chat) -> None:
        a, b, _, cid = await group_of_three(chat)
        mine = await uploaded(chat, a, samples.png())
        theirs = await uploaded(chat, b, samples.png())
        body = {"conversation_id": cid, "content": ""}
        for ids, status in (
            ([theirs["id"]], 404),
            ([12345], 404),
            ([mine["id"], mine["id"]], 400),
            (list(range(1, 12)), 400),
            ([], 422),  # no content and nothing attached
        ):
            r = await chat.call("POST", "/messages", a, json=body | {"attachment_ids": ids})
            assert r.status_code == status, (ids, r.text)
        # Nothing was attached by those: both uploads are still their owners' to attach.
        page = await chat.ok("GET", f"/messages/conversation/{cid}", a)
        assert all(not m["attachments"] for m in page)
        await send_message(chat, a, cid, "", attachment_ids=[mine["id"]])
        await send_message(chat, b, cid, "", attachment_ids=[theirs["id"]])
        r = await chat.call("POST", "/messages", a, json=body | {"attachment_ids": [mine["id"]]})
        assert r.status_code == 404  # attached already

    async def test_websocket_send_path(self, chat: Chat) -> None:
        a, b, _, cid = await group_of_three(chat)
        up = await uploaded(chat, a, samples.png())
        r = await chat.client.post(
            "/internal/messages",
            headers={"X-Parley-Service-Token": "test-internal-token"},
            json={
                "sends": [
                    {
                        "sender_id": b,
                        "conversation_id": cid,
                        "content": "",
                        "attachment_ids": [up["id"]],
                    },
                    {
                        "sender_id": a,
                        "conversation_id": cid,
                        "content": "",
                        "attachment_ids": [up["id"]],
                    },
                ]
            },
        )
        first, second = r.json()["results"]
        assert first["error"]["status"] == 404
        assert second["message"]["type"] == "image"
        assert second["message"]["attachments"][0]["id"] == up["id"]


class TestRefusedUploads:
    async def test_too_large(self, start_chat: Any, storage_settings: dict[str, Any]) -> None:
        chat: Chat = await start_chat(max_upload_bytes=4096, **storage_settings)
        a = await make_user(chat, 1, "alice")
        r = await upload(chat, a, b"x" * 200_000)
        assert r.status_code == 413  # over the multipart allowance: refused from the stream
        r = await upload(chat, a, b"x" * 5000)
        assert r.status_code == 413  # over the file limit itself

    async def test_type_and_content(self, chat: Chat) -> None:
        a = await make_user(chat, 1, "alice")
        exe = b"MZ\x90\x00" + b"\x00" * 200
        for data, status in (
            (exe, 415),
            (b"\x00\x01\x02\x03binary", 415),
            (samples.corrupt_png(), 422),
            (samples.png_bomb(), 422),
        ):
            r = await upload(chat, a, data, "x.png", "image/png")
            assert r.status_code == status, (status, r.text)
        r = await chat.call("POST", "/attachments", a, data={"nofile": "x"})
        assert r.status_code == 422


class TestRemoval:
    async def test_deleting_the_message_deletes_the_files(self, chat: Chat) -> None:
        a, b, _, cid = await group_of_three(chat)
        up = await uploaded(chat, a, samples.png())
        m = await send_message(chat, a, cid, "look", attachment_ids=[up["id"]])
        storage = chat_runtime(chat.app.state).parts.storage
        key = f"attachments/{(await _key(chat, up['id']))}"
        assert await storage.exists(key) and await storage.exists(key + "-thumb")
        await chat.ok("DELETE", f"/messages/{m['id']}", a)
        await wait_for(lambda: _gone(storage, key), timeout=10, message="object deleted")
        assert not await storage.exists(key + "-thumb")
        assert (await chat.call("GET", up["url"], b)).status_code == 404
        page = await chat.ok("GET", f"/messages/conversation/{cid}", b)
        assert page[-1]["deleted"] and page[-1]["attachments"] == []

    async def test_unattached_uploads_expire(
        self, start_chat: Any, storage_settings: dict[str, Any]
    ) -> None:
        chat: Chat = await start_chat(unattached_upload_seconds=0, **storage_settings)
        a = await make_user(chat, 1, "alice")
        up = await uploaded(chat, a, samples.png())
        key = f"attachments/{(await _key(chat, up['id']))}"
        parts = chat_runtime(chat.app.state).parts
        await parts.sweeper.sweep()
        assert not await parts.storage.exists(key)
        assert (await chat.call("GET", up["url"], a)).status_code == 404


async def _key(chat: Chat, attachment_id: int) -> str:
    from chat.models import Attachment

    async with chat_runtime(chat.app.state).sessionmaker() as session:
        row = await session.get(Attachment, attachment_id)
        assert row is not None
        return row.storage_key.removeprefix("attachments/")


async def _gone(storage: Any, key: str) -> bool:
    return not await storage.exists(key)
