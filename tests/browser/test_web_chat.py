"""The web client in two headless Chromium contexts against a real (embedded) Parley.

Alice and Bob register, befriend, open a direct chat, exchange messages both ways live, see
typing, read ticks and presence; HTML in a message stays text. Then Bob's network drops (TCP
proxy cut + Playwright offline emulation): Alice sees him go offline and sends five messages;
Bob's network comes back, his client reconnects by itself and shows every message exactly
once, in seq order. Screenshots at each key step under test-results/browser/.

Then (issue 17) hiding a direct chat (it comes back with the next message), an admin deleting
a group (it leaves the other member's list and screen), and writing to a friend from their
profile without opening the chat.

Only the data-testid hooks of clients/web/README.md are used. Waits are Playwright
expectations with timeouts, never fixed sleeps.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, WebSocket, expect

from parley.stack import ROOT
from parley_common.testing.proxy import TcpProxy

RESULTS = ROOT / "test-results" / "browser"

PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="window.__xss=1"><b>bold?</b>'
LIVE = 10_000  # ms: a live frame through the embedded platform
RECONNECT = 30_000  # ms: backoff is capped at 30 s, the `online` event reconnects at once

pytestmark = pytest.mark.timeout(150)


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


def bubbles(page: Page, text: str | None = None) -> Locator:
    loc = tid(page, "message-bubble")
    return loc.filter(has_text=text) if text is not None else loc


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(RESULTS / f"{name}.png"))


async def register(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/")
    await tid(page, "show-register").click()
    await tid(page, "register-username").fill(username)
    await tid(page, "register-email").fill(f"{username}@example.com")
    await tid(page, "register-password").fill(PASSWORD)
    await tid(page, "register-submit").click()
    await expect(tid(page, "current-user")).to_have_text(username, timeout=LIVE)
    await expect(tid(page, "connection-status")).to_have_attribute(
        "data-state", "online", timeout=LIVE
    )


async def send(page: Page, text: str) -> None:
    """Type and press Enter; wait until the server's ack gives the bubble a seq."""
    await tid(page, "message-input").fill(text)
    await tid(page, "message-input").press("Enter")
    await expect(bubbles(page, text)).to_have_attribute(
        "data-seq", re.compile(r"^\d+$"), timeout=LIVE
    )


async def thread(page: Page) -> list[tuple[int, str]]:
    """(seq, text) of every confirmed bubble, in DOM order."""
    rows = await page.locator('[data-testid="message-bubble"][data-seq]').evaluate_all(
        """ns => ns.map(n => [n.dataset.seq,
              n.querySelector('[data-testid="message-content"]')?.textContent ?? ''])"""
    )
    return [(int(seq), text) for seq, text in rows]


class Watch:
    """Page errors and the last WebSocket frames of one page, for assertions and diagnostics."""

    def __init__(self, who: str, page: Page) -> None:
        self.who = who
        self.errors: list[str] = []
        self.frames: collections.deque[str] = collections.deque(maxlen=40)
        page.on("pageerror", lambda e: self.errors.append(f"{who}: {e}"))
        page.on("dialog", lambda d: d.accept())
        page.on("websocket", self._watch_socket)

    def _watch_socket(self, ws: WebSocket) -> None:
        ws.on("framereceived", lambda f: self.frames.append(f"<- {str(f)[:200]}"))
        ws.on("framesent", lambda f: self.frames.append(f"-> {str(f)[:200]}"))
        ws.on("close", lambda _ws: self.frames.append("-- closed"))

    def dump(self) -> str:
        return f"{self.who}'s last frames:\n  " + "\n  ".join(self.frames)


async def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": 1200, "height": 760})
    context.set_default_timeout(LIVE)
    return context, await context.new_page()


async def test_direct_chat_live_and_offline_catch_up(
    browser: Browser, parley_server: str, proxy: TcpProxy
) -> None:
    suffix = uuid.uuid4().hex[:6]
    alice, bob = f"alice_{suffix}", f"bob_{suffix}"
    ctx_a, a = await new_page(browser)
    # Bob's page (REST and WebSocket, same origin) goes through the proxy the test can cut.
    ctx_b, b = await new_page(browser)
    watch_a, watch_b = Watch("alice", a), Watch("bob", b)
    bob_base = f"http://127.0.0.1:{proxy.port}"
    try:
        await register(a, parley_server, alice)
        await register(b, bob_base, bob)

        # Friends: Alice finds Bob and asks; Bob gets the request live and accepts.
        await tid(a, "tab-friends").click()
        await tid(a, "friend-search-input").fill(bob)
        result = tid(a, "friend-search-result").filter(has_text=bob)
        await result.get_by_test_id("send-friend-request").click()
        await tid(b, "tab-friends").click()
        request = tid(b, "friend-request-item").filter(has_text=alice)
        await expect(request).to_be_visible(timeout=LIVE)
        await request.get_by_test_id("request-accept").click()

        # Presence: each sees the other online.
        bob_on_a = tid(a, "friend-item").filter(has_text=bob)
        alice_on_b = tid(b, "friend-item").filter(has_text=alice)
        await expect(bob_on_a.get_by_test_id("online-dot")).to_have_attribute(
            "data-online", "true", timeout=LIVE
        )
        await expect(alice_on_b.get_by_test_id("online-dot")).to_have_attribute(
            "data-online", "true", timeout=LIVE
        )
        await shot(a, "01-alice-friends-online")

        # Alice opens a direct chat and writes first.
        await bob_on_a.get_by_test_id("start-dm").click()
        await expect(tid(a, "chat-title")).to_have_text(bob)
        await expect(tid(a, "chat-presence")).to_have_attribute("data-online", "true")
        await send(a, "Hello Bob!")
        hello = bubbles(a, "Hello Bob!")
        await expect(hello).to_have_attribute("data-status", "sent")

        # Bob sees the conversation arrive live and opens it: Alice's tick turns to read.
        await tid(b, "tab-chats").click()
        conv_b = tid(b, "conversation-item").filter(has_text=alice)
        await expect(conv_b).to_be_visible(timeout=LIVE)
        await conv_b.click()
        await expect(bubbles(b, "Hello Bob!")).to_have_count(1, timeout=LIVE)
        await expect(hello.get_by_test_id("read-ticks")).to_have_attribute(
            "data-state", "read", timeout=LIVE
        )

        # Typing: Bob types, Alice sees the indicator.
        await tid(b, "message-input").press_sequentially("typing something", delay=20)
        await expect(tid(a, "typing-indicator")).to_have_text(f"{bob} is typing…", timeout=LIVE)
        await shot(a, "02-alice-sees-typing")

        # Bob answers; Alice answers back; each message appears live on the other side.
        await tid(b, "message-input").fill("")
        await send(b, "Hi Alice, Bob here")
        await expect(bubbles(a, "Hi Alice, Bob here")).to_have_count(1, timeout=LIVE)
        await send(a, "Nice to meet you")
        await expect(bubbles(b, "Nice to meet you")).to_have_count(1, timeout=LIVE)
        await expect(bubbles(a, "Nice to meet you").get_by_test_id("read-ticks")).to_have_attribute(
            "data-state", "read", timeout=LIVE
        )

        # HTML in a message renders as text, never as markup.
        await send(a, XSS)
        hostile = bubbles(b, "bold?")
        await expect(hostile).to_have_count(1, timeout=LIVE)
        await expect(hostile.get_by_test_id("message-content")).to_have_text(XSS)
        assert await hostile.locator("img").count() == 0
        assert await hostile.locator("b").count() == 0
        assert await b.evaluate("window.__xss") is None
        assert await a.evaluate("window.__xss") is None
        await shot(a, "03-alice-chat")
        await shot(b, "03-bob-chat")

        # Bob's network drops: the proxy severs his sockets and refuses new ones, and the
        # browser context is offline too.
        await proxy.cut()
        await ctx_b.set_offline(True)
        await expect(tid(b, "connection-status")).not_to_have_attribute(
            "data-state", "online", timeout=LIVE
        )
        await expect(tid(a, "chat-presence")).to_have_attribute(
            "data-online", "false", timeout=LIVE
        )
        # Offline friends show when they were last seen (issue 19).
        await expect(tid(a, "chat-presence")).to_have_text(re.compile(r"^last seen "))

        # Alice writes five messages while Bob is away: acked, but not delivered.
        missed = [f"while you were away #{i}" for i in range(1, 6)]
        for text in missed:
            await send(a, text)
        await expect(bubbles(a, missed[-1]).get_by_test_id("read-ticks")).to_have_attribute(
            "data-state", "sent"
        )
        await expect(bubbles(b, "while you were away")).to_have_count(0)
        await shot(a, "04-alice-bob-offline")
        await shot(b, "04-bob-offline")

        # Bob's network comes back; his client reconnects by itself and catches up.
        await proxy.restore()
        await ctx_b.set_offline(False)
        await expect(tid(b, "connection-status")).to_have_attribute(
            "data-state", "online", timeout=RECONNECT
        )
        for text in missed:
            await expect(bubbles(b, text)).to_have_count(1, timeout=LIVE)
        await expect(tid(a, "chat-presence")).to_have_attribute("data-online", "true", timeout=LIVE)
        # Bob has the conversation on screen, so the catch-up is read.
        await expect(bubbles(a, missed[-1]).get_by_test_id("read-ticks")).to_have_attribute(
            "data-state", "read", timeout=LIVE
        )
        # A live message after the catch-up: anything the resume replay could still
        # duplicate has arrived before it on the same socket.
        await send(a, "welcome back")
        await expect(bubbles(b, "welcome back")).to_have_count(1, timeout=LIVE)

        for text in missed:
            await expect(bubbles(b, text)).to_have_count(1)
        rows_b = await thread(b)
        seqs = [seq for seq, _ in rows_b]
        assert all(x < y for x, y in itertools.pairwise(seqs)), (
            f"Bob's bubbles not in strictly increasing seq order: {seqs}"
        )
        texts_b = [text for _, text in rows_b]
        expected = [
            "Hello Bob!",
            "Hi Alice, Bob here",
            "Nice to meet you",
            XSS,
            *missed,
            "welcome back",
        ]
        assert texts_b == expected, texts_b
        # Both sides hold the same thread, seq for seq.
        assert await thread(a) == rows_b
        # Every bubble on Bob's side is confirmed (no pending duplicates without a seq).
        await expect(bubbles(b)).to_have_count(len(expected))
        await shot(b, "05-bob-back-caught-up")
        await shot(a, "05-alice-after-catch-up")

        assert not watch_a.errors and not watch_b.errors, watch_a.errors + watch_b.errors
    except BaseException:
        for page, who in ((a, "alice"), (b, "bob")):
            with contextlib.suppress(Exception):
                await shot(page, f"failed-{who}")
        print(watch_a.dump())
        print(watch_b.dump())
        raise
    finally:
        await ctx_a.close()
        await ctx_b.close()


async def test_hide_delete_and_write_from_profile(
    browser: Browser, parley_server: str, ui: Any
) -> None:
    base = parley_server
    t = {n: await ui.api_user(base, n) for n in ("ada", "bob", "cid")}
    await ui.befriend(base, t["ada"], t["bob"], "bob")
    await ui.befriend(base, t["ada"], t["cid"], "cid")
    bob = await ui.call(base, t["bob"], "GET", "/auth/me")
    direct = await ui.call(
        base, t["ada"], "POST", "/messages", json={"recipient_id": bob["id"], "content": "hi bob"}
    )
    await ui.call(
        base,
        t["ada"],
        "POST",
        "/conversations",
        json={"type": "group", "name": "Trip", "member_user_ids": [bob["id"]]},
    )
    ctx_a, pa = await ui.open_app(browser, base, t["ada"])
    ctx_b, pb = await ui.open_app(browser, base, t["bob"])
    try:
        await ui.open_chat(pa, "bob")
        await tid(pa, "members-button").click()
        await expect(tid(pa, "remove-conversation-button")).to_have_text("Hide chat")
        await tid(pa, "remove-conversation-button").click()  # the confirm() is accepted
        items = tid(pa, "conversation-item")
        await expect(items.filter(has_text="bob")).to_have_count(0)
        await expect(pa.locator("#chat-empty")).to_be_visible()
        await ui.call(
            base,
            t["bob"],
            "POST",
            "/messages",
            json={"conversation_id": direct["conversation_id"], "content": "still there?"},
        )
        await expect(items.filter(has_text="bob")).to_contain_text("still there?")

        await ui.open_chat(pb, "Trip")
        await ui.open_chat(pa, "Trip")
        await tid(pa, "members-button").click()
        await expect(tid(pa, "remove-conversation-button")).to_have_text("Delete group")
        await tid(pa, "remove-conversation-button").click()
        await expect(items.filter(has_text="Trip")).to_have_count(0)
        await expect(tid(pb, "conversation-item").filter(has_text="Trip")).to_have_count(0)
        await expect(pb.locator("#chat-empty")).to_be_visible()
        await expect(tid(pb, "toast").last).to_have_text("ada deleted Trip")

        await tid(pa, "tab-friends").click()
        await tid(pa, "friend-item").filter(has_text="cid").get_by_test_id("friend-profile").click()
        await expect(tid(pa, "person-name")).to_have_text("cid")
        await tid(pa, "person-message-input").fill("hello from your profile")
        await tid(pa, "person-send").click()
        await expect(tid(pa, "toast").last).to_have_text("Sent to cid.")
        await expect(tid(pa, "person-dialog")).to_be_hidden()
        await tid(pa, "tab-chats").click()
        await expect(items.filter(has_text="cid")).to_contain_text("You: hello from your profile")
        await expect(pa.locator("#chat-empty")).to_be_visible()  # no chat was opened
        cid_convs = await ui.call(base, t["cid"], "GET", "/conversations")
        assert [c["last_message"]["content"] for c in cid_convs] == ["hello from your profile"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", pa.url)
    finally:
        await ctx_a.close()
        await ctx_b.close()
