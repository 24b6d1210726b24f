"""Attachments end to end (issue 16), in both modes (the stack stores them in S3, the embedded
mode as files): upload through the gateway, attach to a WebSocket send, receive the
`new_message` with the attachment on another replica, download as a member; an outsider and a
kicked member get 404; deleting the message removes the file."""

from __future__ import annotations

import asyncio
import io
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from parley_client import ParleyError
from parley_common.testing import samples
from parley_common.testing.waiting import wait_for

from .test_protocol import group_of


class TestAttachments:
    async def test_upload_attach_receive_download(self, platform: Any, connect: Any) -> None:
        (alice, bob, carol), (sa, sb, sc), conv = await group_of(platform, connect, 3)
        outsider = await platform.user("out")
        photo = samples.jpeg_with_exif(800, 600)
        up = await alice.upload_attachment(photo, "holiday.jpg", "application/octet-stream")
        assert up.content_type == "image/jpeg" and (up.width, up.height) == (800, 600)

        cmid = await sa.send_message(conv.id, "", attachment_ids=[up.id])
        sent = (await sa.ack(cmid)).message
        assert sent.type == "image" and sent.attachments[0].id == up.id
        frame = await sb.next_frame("new_message", where=lambda f: f.message.id == sent.id)
        received = frame.message.attachments[0]
        assert received.url == f"/attachments/{up.id}"

        assert await bob.download(received.url) == photo
        assert received.thumbnail_url is not None
        thumb = await carol.download(received.thumbnail_url)
        assert thumb[:2] == b"\xff\xd8"  # a JPEG
        async with httpx.AsyncClient(base_url=platform.gateway(1), trust_env=False) as http:
            r = await http.get(
                received.url, headers={"Authorization": f"Bearer {bob.access_token}"}
            )
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in r.headers["content-security-policy"]
            assert r.headers["content-disposition"].startswith("inline;")

        for who in (outsider,):
            with pytest.raises(ParleyError) as refused:
                await who.download(received.url)
            assert refused.value.status == 404
        await alice.kick_member(conv.id, carol.user.id)
        await sc.next_frame("kicked_from_conversation")
        with pytest.raises(ParleyError) as refused:
            await carol.download(received.url)
        assert refused.value.status == 404

        # A PDF is a file message, served as a download.
        doc = await bob.upload_attachment(samples.pdf(), "notes.pdf")
        message = await bob.send_message(conv.id, "the notes", attachment_ids=[doc.id])
        assert message.type == "file"
        await sa.next_frame("new_message", where=lambda f: f.message.id == message.id)
        assert (await alice.download(doc.url))[:5] == b"%PDF-"

        # Deleting the message takes its files out of storage.
        await alice.request("DELETE", f"/messages/{sent.id}")

        async def gone() -> bool:
            try:
                await bob.download(received.url)
            except ParleyError as exc:
                return exc.status == 404
            return False

        await wait_for(gone, timeout=15, message="deleted message's attachment gone")

    async def test_refusals(self, platform: Any) -> None:
        alice = await platform.user("up")
        with pytest.raises(ParleyError) as refused:
            await alice.upload_attachment(b"MZ\x90\x00" + b"\x00" * 100, "setup.png")
        assert refused.value.status == 415
        with pytest.raises(ParleyError) as refused:
            await alice.upload_attachment(samples.png_bomb(), "bomb.png")
        assert refused.value.status == 422
        # Over 25 MiB: 413 from the declared length, before a byte of the body is sent.
        url = urlsplit(platform.gateway(0))
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(
            (
                "POST /attachments HTTP/1.1\r\n"
                f"Host: {url.netloc}\r\n"
                f"Authorization: Bearer {alice.access_token}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {26 * 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        async with asyncio.timeout(30):
            status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] == b"413", status_line

    async def test_avatars(self, platform: Any) -> None:
        alice, bob = await platform.friends(2)
        me = await alice.set_avatar(samples.jpeg_with_exif(500, 300))
        assert me.avatar_url is not None and me.avatar_url.startswith(f"/users/{alice.user.id}/")
        avatar = await bob.download(me.avatar_url)
        image = Image.open(io.BytesIO(avatar))
        assert image.size == (256, 256) and not image.getexif()

        async def projected() -> bool:  # auth's user.updated reached chat
            return [f.avatar_url for f in await bob.friends()] == [me.avatar_url]

        await wait_for(projected, timeout=15, message="avatar_url in bob's friends")
        assert (await alice.remove_avatar()).avatar_url is None
        with pytest.raises(ParleyError) as refused:
            await bob.download(me.avatar_url)
        assert refused.value.status == 404
