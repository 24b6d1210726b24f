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
