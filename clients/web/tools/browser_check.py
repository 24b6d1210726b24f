"""Drive the web client in headless Chromium against a running Parley.

    .venv/bin/python clients/web/tools/browser_check.py --base http://127.0.0.1:8000 [--shots /tmp]

Two users in two browser contexts: register, friend request and accept, a
direct chat (send, live delivery, typing, read ticks, reply, reaction, edit,
delete, HTML stays text), reload and history, a group (create, rename,
members), notifications bell, message search, and a phone-sized layout.
Screenshots are written to --shots. Uses only the data-testid hooks listed in
clients/web/README.md. Needs playwright (in the workspace venv) and a Chromium
(default /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

XSS = '<img src=x onerror="window.__xss=1"><b>bold?</b>'


def tid(page: Page, name: str):
    return page.get_by_test_id(name)


def register(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base + "/")
    tid(page, "show-register").click()
    tid(page, "register-username").fill(username)
    tid(page, "register-email").fill(f"{username}@example.com")
    tid(page, "register-password").fill(password)
    tid(page, "register-submit").click()
    expect(tid(page, "current-user")).to_have_text(username, timeout=10000)
    expect(tid(page, "connection-status")).to_have_attribute("data-state", "online", timeout=10000)


def step(name: str) -> None:
    print(f"  ok  {name}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument("--shots", default="/tmp")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    base = args.base.rstrip("/")
    shots = Path(args.shots)
    suffix = uuid.uuid4().hex[:6]
    alice_name, bob_name, carol_name = f"alice_{suffix}", f"bob_{suffix}", f"carol_{suffix}"
    password = "correct horse battery"
    errors: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        ctx_a = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx_b = browser.new_context(viewport={"width": 1280, "height": 800})
        a, b = ctx_a.new_page(), ctx_b.new_page()
        alice_frames: list[str] = []
        a.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda f: alice_frames.append(str(f)[:240])),
        )
        for who, page in (("alice", a), ("bob", b)):
            page.on("pageerror", lambda e, who=who: errors.append(f"{who}: {e}"))
            page.on("dialog", lambda d: d.accept())

        register(a, base, alice_name, password)
        register(b, base, bob_name, password)
        step("register and sign in (two users), socket online")

        # Bob asks Alice to be friends; Alice accepts live.
        tid(b, "tab-friends").click()
        tid(b, "friend-search-input").fill(alice_name[:8])
        result = tid(b, "friend-search-result").filter(has_text=alice_name)
        result.get_by_test_id("send-friend-request").click()
        tid(a, "tab-friends").click()
        req = tid(a, "friend-request-item").filter(has_text=bob_name)
        expect(req).to_be_visible(timeout=10000)
        req.get_by_test_id("request-accept").click()
        friend_b_on_a = tid(a, "friend-item").filter(has_text=bob_name)
        expect(friend_b_on_a).to_be_visible(timeout=10000)
        expect(friend_b_on_a.get_by_test_id("online-dot")).to_have_attribute(
            "data-online", "true", timeout=10000
        )
        step("friend request sent, received live, accepted; online dot")

        # Alice opens a direct chat and writes.
        friend_b_on_a.get_by_test_id("start-dm").click()
        expect(tid(a, "chat-title")).to_have_text(bob_name)
        tid(a, "message-input").fill("Hello Bob!")
        tid(a, "message-input").press("Enter")
        bubble = tid(a, "message-bubble").filter(has_text="Hello Bob!")
        expect(bubble).to_have_attribute("data-seq", re.compile(r"^\d+$"), timeout=10000)
        expect(bubble).to_have_attribute("data-status", "sent")
        step("send with Enter: optimistic bubble confirmed by ack (data-seq)")

        # Bob sees the conversation appear with an unread badge, live.
        tid(b, "tab-chats").click()
        conv_b = tid(b, "conversation-item").filter(has_text=alice_name)
        expect(conv_b).to_be_visible(timeout=10000)
        expect(conv_b.get_by_test_id("unread-badge")).to_have_text("1", timeout=10000)
        step("new conversation and unread badge arrive live")
        conv_b.click()
        expect(tid(b, "message-bubble").filter(has_text="Hello Bob!")).to_be_visible()
        expect(conv_b.get_by_test_id("unread-badge")).to_have_count(0)
        # Alice sees the read tick.
        expect(bubble.get_by_test_id("read-ticks")).to_have_attribute(
            "data-state", "read", timeout=10000
        )
        step("open conversation marks read; sender's tick turns to read")

        # Typing indicator.
        tid(b, "message-input").press_sequentially("typing something", delay=20)
        expect(tid(a, "typing-indicator")).to_have_text(f"{bob_name} is typing…", timeout=10000)
        tid(b, "message-input").fill("")
        step("typing indicator shows on the other side")

        # Shift+Enter makes a newline; HTML is shown as text.
        tid(b, "message-input").fill("line one")
        tid(b, "message-input").press("Shift+Enter")
        tid(b, "message-input").press_sequentially("line two")
        tid(b, "message-input").press("Enter")
        multi = tid(a, "message-bubble").filter(has_text="line two")
        expect(multi).to_be_visible(timeout=10000)
        assert "line one\nline two" in multi.get_by_test_id("message-content").inner_text()
        tid(b, "message-input").fill(XSS)
        tid(b, "send-button").click()
        x = tid(a, "message-bubble").filter(has_text="bold?")
        expect(x).to_be_visible(timeout=10000)
        assert x.get_by_test_id("message-content").inner_text() == XSS
        assert x.locator("img").count() == 0 and x.locator("b").count() == 0
        assert a.evaluate("window.__xss") is None
        step("Shift+Enter newline; HTML in a message renders as text")

        # Reply, reaction, edit, delete (Alice on Bob's message and her own).
        seq = tid(a, "message-bubble").filter(has_text="line two").get_attribute("data-seq")
        target = a.locator(f'[data-testid="message-bubble"][data-seq="{seq}"]')
        target.hover()
        target.get_by_test_id("reply-button").click()
        expect(tid(a, "reply-preview")).to_be_visible()
        tid(a, "message-input").fill("a reply")
        tid(a, "message-input").press("Enter")
        reply = tid(b, "message-bubble").filter(has_text="a reply")
        expect(reply.get_by_test_id("reply-quote")).to_contain_text("line two", timeout=10000)
        target.hover()
        target.get_by_test_id("react-button").click()
        target.locator('[data-testid="react-option"][data-emoji="👍"]').click()
        expect(
            b.locator(f'[data-testid="message-bubble"][data-seq="{seq}"]').get_by_test_id(
                "reaction-chip"
            )
        ).to_have_text("👍 1", timeout=10000)
        mine = tid(a, "message-bubble").filter(has_text="Hello Bob!")
        mine.hover()
        mine.get_by_test_id("edit-button").click()
        tid(a, "message-input").fill("Hello Bob! (edited)")
        tid(a, "message-input").press("Enter")
        expect(tid(b, "message-bubble").filter(has_text="Hello Bob! (edited)")).to_be_visible(
            timeout=10000
        )
        reply_a = tid(a, "message-bubble").filter(has_text="a reply")
        reply_a.hover()
        reply_a.get_by_test_id("delete-button").click()
        expect(tid(b, "message-deleted")).to_have_count(1, timeout=10000)
        step("reply, reaction, edit and delete propagate live")
        a.screenshot(path=str(shots / "web-desktop-alice.png"))
        b.screenshot(path=str(shots / "web-desktop-bob.png"))

        # Many messages, then reload: history pages back in seq order.
        for i in range(60):
            tid(b, "message-input").fill(f"bulk {i:02d}")
            tid(b, "message-input").press("Enter")
        expect(tid(b, "message-bubble").filter(has_text="bulk 59")).to_have_attribute(
            "data-seq", re.compile(r"\d+"), timeout=20000
        )
        expect(tid(a, "message-bubble").filter(has_text="bulk 59")).to_be_visible(timeout=20000)
        a.reload()
        tid(a, "conversation-item").filter(has_text=bob_name).click()
        expect(tid(a, "message-bubble").filter(has_text="bulk 59")).to_be_visible(timeout=10000)
        for _ in range(10):
            a.get_by_test_id("message-list").evaluate("n => n.parentElement.scrollTop = 0")
            time.sleep(0.4)
            if a.locator(f'[data-testid="message-bubble"][data-seq="{seq}"]').count():
                break
        expect(a.locator(f'[data-testid="message-bubble"][data-seq="{seq}"]')).to_be_visible(
            timeout=5000
        )
        seqs = [
            int(s)
            for s in a.locator('[data-testid="message-bubble"][data-seq]').evaluate_all(
                "ns => ns.map(n => n.dataset.seq)"
            )
        ]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), seqs
        step(
            f"reload, infinite scroll upward loads older pages; {len(seqs)} bubbles in seq order, no duplicates"
        )

        # Group: create with Bob, rename, members panel.
        ctx_c = browser.new_context(viewport={"width": 1280, "height": 800})
        c = ctx_c.new_page()
        c.on("pageerror", lambda e: errors.append(f"carol: {e}"))
        carol_frames: list[str] = []
        c.on(
            "websocket",
            lambda ws: ws.on("framereceived", lambda f: carol_frames.append(str(f)[:300])),
        )
        register(c, base, carol_name, password)
        tid(c, "tab-friends").click()
        tid(c, "friend-search-input").fill(alice_name)
        tid(c, "friend-search-result").filter(has_text=alice_name).get_by_test_id(
            "send-friend-request"
        ).click()
        tid(a, "tab-friends").click()
        creq = tid(a, "friend-request-item").filter(has_text=carol_name)
        expect(creq).to_be_visible(timeout=10000)
        creq.get_by_test_id("request-accept").click()
        expect(tid(a, "friend-item").filter(has_text=carol_name)).to_be_visible(timeout=10000)
        tid(a, "tab-chats").click()
        tid(a, "new-group-button").click()
        tid(a, "group-name-input").fill("Weekend plans")
        tid(a, "group-member-option").filter(has_text=bob_name).locator("input").check()
        tid(a, "create-group-submit").click()
        expect(tid(a, "chat-title")).to_have_text("Weekend plans", timeout=10000)
        tid(a, "message-input").fill("Group hello")
        tid(a, "message-input").press("Enter")
        expect(tid(b, "conversation-item").filter(has_text="Weekend plans")).to_be_visible(
            timeout=10000
        )
        tid(a, "members-button").click()
        expect(tid(a, "member-item")).to_have_count(2, timeout=10000)
        tid(a, "add-member-select").select_option(label=carol_name)
        tid(a, "add-member-submit").click()
        expect(tid(a, "member-item")).to_have_count(3, timeout=10000)
        tid(a, "rename-input").fill("Weekend plans 🎉")
        tid(a, "rename-submit").click()
        try:
            expect(tid(a, "chat-title")).to_have_text("Weekend plans 🎉", timeout=10000)
        except AssertionError:
            print(
                "members-error:",
                a.locator("#members-error").inner_text(),
                "| input:",
                tid(a, "rename-input").input_value(),
            )
            raise
        a.keyboard.press("Escape")
        expect(tid(a, "members-panel")).not_to_be_visible()
        expect(tid(a, "chat-title")).to_have_text("Weekend plans 🎉", timeout=10000)
        expect(tid(b, "conversation-item").filter(has_text="Weekend plans 🎉")).to_be_visible(
            timeout=10000
        )
        tid(c, "tab-chats").click()
        expect(tid(c, "conversation-item").filter(has_text="Weekend plans 🎉")).to_be_visible(
            timeout=10000
        )
        step("group: create, add member, rename propagate; Escape closes the panel")

        # Admin actions: kick Carol (her list drops the group live), hand admin to Bob, leave.
        tid(a, "members-button").click()
        tid(a, "member-item").filter(has_text=carol_name).get_by_test_id("kick-button").click()
        expect(tid(a, "member-item")).to_have_count(2, timeout=10000)
        try:
            expect(tid(c, "conversation-item").filter(has_text="Weekend plans")).to_have_count(
                0, timeout=10000
            )
        except AssertionError:
            print("carol's last frames:", *carol_frames[-12:], sep="\n  ")
            raise
        tid(a, "member-item").filter(has_text=bob_name).get_by_test_id("make-admin-button").click()
        expect(tid(a, "member-item").filter(has_text=bob_name)).to_have_attribute(
            "data-role", "admin", timeout=10000
        )
        expect(tid(a, "kick-button")).to_have_count(0)
        tid(a, "leave-button").click()
        try:
            expect(tid(a, "conversation-item").filter(has_text="Weekend plans")).to_have_count(
                0, timeout=10000
            )
        except AssertionError:
            print(
                "alice's list:",
                tid(a, "conversation-item").evaluate_all(
                    "ns => ns.map(n => n.dataset.conversationId + ' ' + n.textContent)"
                ),
            )
            print("alice's last frames:", *alice_frames[-15:], sep="\n  ")
            raise
        expect(tid(b, "conversation-item").filter(has_text="Weekend plans")).to_have_count(1)
        step("kick (live removal for the kicked user), transfer admin, leave")

        # Notifications bell (Carol was added to a group / friend accepted).
        bell = tid(c, "notification-bell")
        expect(tid(c, "notification-count")).to_be_visible(timeout=10000)
        bell.click()
        expect(tid(c, "notification-item").first).to_be_visible(timeout=10000)
        tid(c, "notifications-read-all").click()
        expect(tid(c, "notification-count")).to_be_hidden(timeout=10000)
        c.keyboard.press("Escape")
        step("notifications bell shows a count, lists items, mark all read")

        # Search.
        tid(b, "search-button").click()
        tid(b, "search-input").fill("edited")
        expect(tid(b, "search-result").first).to_be_visible(timeout=10000)
        tid(b, "search-result").first.click()
        expect(tid(b, "chat-title")).to_have_text(alice_name)
        step("message search finds and opens the conversation")

        # Sign out and back in with the login form (username, then email).
        tid(b, "user-menu").click()
        tid(b, "logout-button").click()
        expect(tid(b, "login-submit")).to_be_visible()
        tid(b, "login-username").fill(bob_name)
        tid(b, "login-password").fill("wrong password")
        tid(b, "login-submit").click()
        expect(tid(b, "auth-error")).to_have_text("Invalid credentials", timeout=10000)
        tid(b, "login-username").fill(f"{bob_name}@example.com")
        tid(b, "login-password").fill(password)
        tid(b, "login-password").press("Enter")
        expect(tid(b, "current-user")).to_have_text(bob_name, timeout=10000)
        expect(tid(b, "conversation-name").filter(has_text=alice_name)).to_be_visible(timeout=10000)
        expect(tid(b, "chat-title")).to_be_hidden()
        step("sign out, wrong password error, sign in with email")

        # Phone-sized layout: list first, then the chat with a back button.
        a.set_viewport_size({"width": 390, "height": 800})
        expect(tid(a, "conversation-list")).to_be_visible()
        a.screenshot(path=str(shots / "web-phone-list.png"))
        tid(a, "conversation-item").filter(has_text=bob_name).click()
        expect(tid(a, "message-input")).to_be_visible()
        expect(tid(a, "conversation-list")).to_be_hidden()
        a.screenshot(path=str(shots / "web-phone-chat.png"))
        tid(a, "back-button").click()
        expect(tid(a, "conversation-list")).to_be_visible()
        expect(tid(a, "message-input")).to_be_hidden()
        step("phone width: list and chat switch, back button")

        browser.close()

    if errors:
        print("page errors:", *errors, sep="\n  ")
        return 1
    print("all browser checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
