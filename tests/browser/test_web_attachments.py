"""Attachments and avatars in the web client (issue 16), in headless Chromium against a real
(embedded) Parley: Ann attaches an image and a PDF (upload progress, then send); Bob sees the
image preview and the file card and downloads the PDF; a non-member gets nothing (404) for
either; Ann sets her picture in the account dialog and Bob sees it beside her messages.

Waits are Playwright expectations with timeouts, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, FilePayload, Locator, Page, expect

pytestmark = pytest.mark.timeout(150)

LIVE = 10_000
BLOB = re.compile(r"^blob:")


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


def png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(out, format="PNG")
    return out.getvalue()


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (255, 255, 255)).save(out, format="PDF")
    return out.getvalue()


IMAGE_SHOWN = """() => [...document.querySelectorAll('[data-testid="attachment-image"]')]
    .some((img) => img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:'))"""


async def test_image_and_pdf_between_two_users(
    browser: Browser, parley_server: str, ui: Any
) -> None:
    suffix = uuid.uuid4().hex[:6]
    ann, bob, eve = f"ann_{suffix}", f"bob_{suffix}", f"eve_{suffix}"
    ta, tb, te = [await ui.api_user(parley_server, n) for n in (ann, bob, eve)]
    await ui.befriend(parley_server, ta, tb, bob)
    me_b = await ui.call(parley_server, tb, "GET", "/auth/me")
    await ui.call(
        parley_server,
        ta,
        "POST",
        "/conversations",
        json={"type": "direct", "member_user_ids": [me_b["id"]]},
    )
    context_a, page_a = await ui.open_app(browser, parley_server, ta)
    context_b, page_b = await ui.open_app(browser, parley_server, tb)
    try:
        await ui.open_chat(page_a, bob)
        await ui.open_chat(page_b, ann)

        # An image, picked with the attach button's file input: uploaded at once, then sent.
        await tid(page_a, "attach-input").set_input_files(
            files=[FilePayload(name="sunset.png", mimeType="image/png", buffer=png((250, 120, 30)))]
        )
        item = tid(page_a, "upload-item")
        await expect(item).to_have_attribute("data-status", "done", timeout=LIVE)
        await expect(item).to_contain_text("sunset.png")
        await tid(page_a, "message-input").press("Enter")
        await expect(tid(page_a, "attachment-tray")).to_be_hidden()
        mine = tid(page_a, "message-bubble").filter(has=tid(page_a, "attachment-image")).last
        await expect(mine).to_have_attribute("data-seq", "1", timeout=LIVE)

        theirs = tid(page_b, "message-bubble").filter(has=tid(page_b, "attachment-image"))
        await expect(theirs).to_have_count(1, timeout=LIVE)
        await expect(theirs.get_by_test_id("attachment-image")).to_have_attribute(
            "alt", "sunset.png"
        )
        await page_b.wait_for_function(IMAGE_SHOWN, timeout=LIVE)

        # A PDF with a caption: a file card with its name; Bob downloads it.
        await tid(page_a, "attach-input").set_input_files(
            files=[FilePayload(name="notes.pdf", mimeType="application/pdf", buffer=pdf())]
        )
        await expect(tid(page_a, "upload-item")).to_have_attribute("data-status", "done")
        await tid(page_a, "message-input").fill("the notes")
        await tid(page_a, "message-input").press("Enter")
        card = tid(page_b, "attachment-file")
        await expect(card).to_have_count(1, timeout=LIVE)
        await expect(card.get_by_test_id("attachment-name")).to_have_text("notes.pdf")
        await expect(tid(page_b, "message-bubble").filter(has=card)).to_contain_text("the notes")
        async with page_b.expect_download() as download_info:
            await card.get_by_test_id("attachment-download").click()
        download = await download_info.value
        assert download.suggested_filename == "notes.pdf"
        saved = await asyncio.to_thread(Path(await download.path()).read_bytes)
        assert saved[:5] == b"%PDF-"

        # A refused type stays in the tray with the server's reason, and is never sent.
        await tid(page_a, "attach-input").set_input_files(
            files=[FilePayload(name="tool.png", mimeType="image/png", buffer=b"MZ" + b"\x00" * 64)]
        )
        refused = tid(page_a, "upload-item")
        await expect(refused).to_have_attribute("data-status", "failed", timeout=LIVE)
        await expect(refused).to_contain_text("not allowed")
        await tid(page_a, "upload-cancel").click()
        await expect(tid(page_a, "attachment-tray")).to_be_hidden()

        # Someone outside the conversation gets nothing for either file.
        messages = await ui.call(
            parley_server,
            tb,
            "GET",
            f"/messages/conversation/{await _conversation(ui, parley_server, tb)}",
        )
        urls = [a["url"] for m in messages for a in m["attachments"]]
        assert len(urls) == 2
        # In Eve's own browser: no conversation to see, and the files' URLs give her nothing.
        context_e, page_e = await ui.open_app(browser, parley_server, te)
        try:
            await expect(tid(page_e, "conversation-item")).to_have_count(0)
            statuses = await page_e.evaluate(
                """async (urls) => {
                    const token = JSON.parse(localStorage.getItem('parley.tokens')).access_token;
                    const out = [];
                    for (const url of urls) {
                        const r = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
                        out.push(r.status);
                    }
                    return out;
                }""",
                urls,
            )
            assert statuses == [404, 404]
        finally:
            await context_e.close()
        async with httpx.AsyncClient(base_url=parley_server, trust_env=False) as http:
            for url in urls + [u + "/thumbnail" for u in urls]:
                r = await http.get(url, headers={"Authorization": f"Bearer {te['access_token']}"})
                assert r.status_code == 404, (url, r.status_code)
                assert (await http.get(url)).status_code == 401

        # Ann's picture: set in the account dialog, shown beside her name in Bob's list.
        await tid(page_a, "user-menu").click()
        await tid(page_a, "avatar-input").set_input_files(
            files=[FilePayload(name="me.png", mimeType="image/png", buffer=png((20, 160, 90)))]
        )
        await expect(tid(page_a, "account-status")).to_have_text("Picture saved.", timeout=LIVE)
        await expect(tid(page_a, "account-avatar").locator("img")).to_have_attribute("src", BLOB)
        me_a = await ui.call(parley_server, ta, "GET", "/auth/me")
        assert me_a["avatar_url"]
    finally:
        await context_a.close()
        await context_b.close()


async def _conversation(ui: Any, base: str, tokens: dict[str, Any]) -> int:
    (conv,) = await ui.call(base, tokens, "GET", "/conversations")
    return int(conv["id"])


async def test_group_picture_and_blocking(browser: Browser, parley_server: str, ui: Any) -> None:
    """The admin sets and removes a group's picture in Details (the other member's list follows
    live, and they may not change it); then she blocks a friend from his profile: her messages
    to him are refused with the server's words, until she unblocks him on the account page."""
    suffix = uuid.uuid4().hex[:6]
    gia, hal = f"gia_{suffix}", f"hal_{suffix}"
    tg, th = [await ui.api_user(parley_server, n) for n in (gia, hal)]
    await ui.befriend(parley_server, tg, th, hal)
    me_h = await ui.call(parley_server, th, "GET", "/auth/me")
    group = await ui.call(
        parley_server,
        tg,
        "POST",
        "/conversations",
        json={"type": "group", "name": f"Club {suffix}", "member_user_ids": [me_h["id"]]},
    )
    await ui.call(
        parley_server, tg, "POST", "/messages", json={"recipient_id": me_h["id"], "content": "hi"}
    )
    context_g, page_g = await ui.open_app(browser, parley_server, tg)
    context_h, page_h = await ui.open_app(browser, parley_server, th)
    club = f'[data-testid="conversation-item"][data-conversation-id="{group["id"]}"]'
    try:
        await ui.open_chat(page_g, f"Club {suffix}")
        await tid(page_g, "members-button").click()
        status = tid(page_g, "group-avatar-status")
        await tid(page_g, "group-avatar-input").set_input_files(
            files=[FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"hello")]
        )
        await expect(status).to_have_text(re.compile("notes.txt is not a picture"))
        await tid(page_g, "group-avatar-input").set_input_files(
            files=[FilePayload(name="club.png", mimeType="image/png", buffer=png((40, 90, 200)))]
        )
        await expect(status).to_have_text("Picture saved.", timeout=LIVE)
        await expect(tid(page_g, "group-avatar").locator("img")).to_have_attribute("src", BLOB)
        await expect(page_g.locator("#chat-avatar img")).to_have_attribute("src", BLOB)
        # Hal's list shows it at once (conversation_updated); he sees it but has no buttons.
        await expect(page_h.locator(f"{club} img")).to_have_attribute("src", BLOB, timeout=LIVE)
        await ui.open_chat(page_h, f"Club {suffix}")
        await tid(page_h, "members-button").click()
        await expect(tid(page_h, "group-avatar").locator("img")).to_have_attribute("src", BLOB)
        await expect(tid(page_h, "group-avatar-choose")).to_be_hidden()
        await expect(tid(page_h, "group-avatar-status")).to_have_text(
            "Only the group’s admin can change its picture."
        )
        await tid(page_g, "group-avatar-remove").click()  # the confirm() is accepted
        await expect(status).to_have_text("Picture removed.", timeout=LIVE)
        await expect(page_h.locator(f"{club} img")).to_have_count(0, timeout=LIVE)
        got = await ui.call(parley_server, tg, "GET", f"/conversations/{group['id']}")
        assert got["avatar_url"] is None
        await page_g.keyboard.press("Escape")

        # Block from the profile: no longer friends, and a message is refused in his words.
        await tid(page_g, "tab-friends").click()
        friend = tid(page_g, "friend-item").filter(has_text=hal)
        await friend.get_by_test_id("friend-profile").click()
        await tid(page_g, "person-block").click()
        await expect(tid(page_g, "person-relation")).to_have_text(re.compile(f"You blocked {hal}"))
        await expect(tid(page_g, "person-unblock")).to_be_visible()
        await expect(friend).to_have_count(0)
        await tid(page_g, "person-message-input").fill("can you read this?")
        await tid(page_g, "person-send").click()
        await expect(tid(page_g, "person-error")).to_have_text("You cannot message this user")
        await page_g.keyboard.press("Escape")
        await ui.open_chat(page_g, hal)
        await expect(tid(page_g, "blocked-notice")).to_contain_text(f"You blocked {hal}")
        await tid(page_g, "message-input").fill("still blocked?")
        await tid(page_g, "message-input").press("Enter")
        failed = tid(page_g, "message-bubble").filter(has_text="still blocked?")
        await expect(failed.get_by_test_id("read-ticks")).to_have_text(
            "! not sent: You cannot message this user", timeout=LIVE
        )

        # Unblock on the account page: the chat works again.
        await tid(page_g, "user-menu").click()
        blocked = tid(page_g, "blocked-item")
        await expect(blocked).to_have_attribute("data-user-id", str(me_h["id"]))
        await blocked.get_by_test_id("blocked-unblock").click()
        await expect(tid(page_g, "blocked-list")).to_have_text("You have not blocked anyone.")
        await expect(tid(page_g, "account-status")).to_have_text(f"{hal} is unblocked.")
        await page_g.keyboard.press("Escape")
        await expect(tid(page_g, "blocked-notice")).to_be_hidden()
        await ui.send(page_g, "unblocked now")
        await expect(tid(page_h, "conversation-item").filter(has_text=gia)).to_contain_text(
            "unblocked now", timeout=LIVE
        )
    finally:
        await context_g.close()
        await context_h.close()
