"""What a user expects of a chat app, checked in headless Chromium against a real (embedded)
Parley (issue 19): each test sets its people up over REST (fast), then acts and looks as a user.

Waits are Playwright expectations with timeouts, never fixed sleeps.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, FloatRect, Locator, Page, expect

pytestmark = pytest.mark.timeout(150)

LIVE = 10_000
# Resolves after two animation frames: scroll events queued before it have been handled.
FRAMES = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


def names(*people: str) -> list[str]:
    suffix = uuid.uuid4().hex[:6]
    return [f"{p}_{suffix}" for p in people]


async def pair(
    ui: Any, base: str, friends: bool = True
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    a, b = names("ann", "bob")
    ta, tb = await ui.api_user(base, a), await ui.api_user(base, b)
    if friends:
        await ui.befriend(base, ta, tb, b)
    return a, b, ta, tb


async def direct(ui: Any, base: str, ta: dict[str, Any], tb: dict[str, Any]) -> int:
    me_b = await ui.call(base, tb, "GET", "/auth/me")
    conv = await ui.call(
        base, ta, "POST", "/conversations", json={"type": "direct", "member_user_ids": [me_b["id"]]}
    )
    return int(conv["id"])


def boxes_overlap(a: FloatRect, b: FloatRect) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


class TestRegistration:
    async def test_every_problem_shown_at_once(self, browser: Browser, parley_server: str) -> None:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        try:
            await page.goto(parley_server + "/")
            await tid(page, "show-register").click()
            await tid(page, "register-username").fill("x")
            await tid(page, "register-email").fill("not-an-email")
            await tid(page, "register-password").fill("short")
            await tid(page, "register-submit").click()
            for field in ("username", "email", "password"):
                await expect(tid(page, f"register-{field}-error")).to_be_visible()
                await expect(tid(page, f"register-{field}")).to_have_attribute(
                    "aria-invalid", "true"
                )
            await expect(tid(page, "auth-error")).to_have_text(
                "Please fix the 3 fields marked below."
            )
            # Fixing one field clears its message on the next try and keeps the others.
            await tid(page, "register-email").fill("fine@example.com")
            await tid(page, "register-submit").click()
            await expect(tid(page, "register-email-error")).to_be_hidden()
            await expect(tid(page, "register-username-error")).to_be_visible()
        finally:
            await context.close()


class TestFriendRequests:
    async def test_sent_state_everywhere_with_cancel(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        a, b, ta, tb = await pair(ui, parley_server, friends=False)
        ctx_a, pa = await ui.open_app(browser, parley_server, ta)
        ctx_b, pb = await ui.open_app(browser, parley_server, tb)
        try:
            await tid(pa, "tab-friends").click()
            await tid(pa, "friend-search-input").fill(b)
            result = tid(pa, "friend-search-result").filter(has_text=b)
            await result.get_by_test_id("send-friend-request").click()
            # The result now says so, the sent list has it, and a new search agrees.
            await expect(result.get_by_test_id("request-sent")).to_have_text("Requested")
            await expect(result.get_by_test_id("cancel-request")).to_be_focused()  # focus kept
            sent = tid(pa, "sent-request-item").filter(has_text=b)
            await expect(sent).to_be_visible()
            await tid(pa, "friend-search-input").fill("")
            await tid(pa, "friend-search-input").fill(b)
            await expect(result.get_by_test_id("request-sent")).to_be_visible()
            await expect(result.get_by_test_id("send-friend-request")).to_have_count(0)

            # Cancel from the sent list: gone there and from the receiver's list after a reload.
            await sent.get_by_test_id("cancel-request").click()
            await expect(tid(pa, "sent-request-item")).to_have_count(0)
            await expect(result.get_by_test_id("send-friend-request")).to_be_visible()
            await pb.reload()
            # Live delivery below needs Bob's new socket up (`connected`), as open_app waits.
            await expect(tid(pb, "connection-status")).to_have_attribute("data-state", "online")
            await tid(pb, "tab-friends").click()
            await expect(tid(pb, "friend-request-item")).to_have_count(0)

            # Ask again; Bob accepts live: Ann's result turns into "Message", her sent list empties.
            await result.get_by_test_id("send-friend-request").click()
            await expect(result.get_by_test_id("request-sent")).to_be_visible()
            request = tid(pb, "friend-request-item").filter(has_text=a)
            await expect(request).to_be_visible(timeout=LIVE)
            await request.get_by_test_id("request-accept").click()
            await expect(result.get_by_test_id("start-dm")).to_be_visible(timeout=LIVE)
            await expect(tid(pa, "sent-request-item")).to_have_count(0)
            await expect(tid(pa, "friend-item").filter(has_text=b)).to_be_visible()

            # A toast sits in a corner: it covers neither the chat header nor the composer.
            await tid(pa, "friend-item").filter(has_text=b).get_by_test_id("start-dm").click()
            await expect(tid(pa, "chat-title")).to_have_text(b)
            (c,) = names("cy")
            tc = await ui.api_user(parley_server, c)
            await ui.call(parley_server, tc, "POST", "/friends/request", json={"username": a})
            toast = tid(pa, "toast").filter(has_text=f"{c} sent you a friend request")
            await expect(toast).to_be_visible()
            toast_box = await toast.bounding_box()
            for region in ("chat-title", "message-input", "members-button", "message-list"):
                box = await tid(pa, region).bounding_box()
                assert box and toast_box and not boxes_overlap(toast_box, box), region
        finally:
            await ctx_a.close()
            await ctx_b.close()


class TestConversation:
    async def test_composer_empty_state_counter_links_and_url(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        a, b, ta, tb = await pair(ui, parley_server)
        cid = await direct(ui, parley_server, ta, tb)
        ctx_a, pa = await ui.open_app(browser, parley_server, ta)
        ctx_b, pb = await ui.open_app(browser, parley_server, tb)
        try:
            await ui.open_chat(pa, b)
            await expect(pa).to_have_url(re.compile(rf"#/c/{cid}$"))
            status = tid(pa, "history-status")
            await expect(status).to_have_text("No messages yet. Say hello!")
            await ui.send(pa, "first words")
            await expect(status).not_to_have_text("No messages yet. Say hello!")
            await ui.open_chat(pb, a)

            # The counter: 5,000 characters are kept, shown in red, and not sent.
            box = tid(pa, "message-input")
            await box.fill("x" * 5000)
            counter = tid(pa, "char-counter")
            await expect(counter).to_be_visible()
            await expect(counter).to_have_attribute("data-state", "over")
            await expect(counter).to_contain_text("1,000 too many")
            assert len(await box.input_value()) == 5000
            await expect(tid(pa, "send-button")).to_be_disabled()
            await box.press("Enter")
            assert len(await box.input_value()) == 5000
            await box.fill("y" * 3900)
            await expect(counter).to_have_attribute("data-state", "warn")
            await expect(tid(pa, "send-button")).to_be_enabled()
            await box.fill("")
            await expect(counter).to_be_hidden()

            # Shift+Enter is a new line; Enter sends both lines as one message.
            await box.press_sequentially("line one")
            await box.press("Shift+Enter")
            await box.press_sequentially("line two")
            assert await box.input_value() == "line one\nline two"
            await box.press("Enter")
            await expect(tid(pb, "message-content").filter(has_text="line two")).to_be_visible()

            # Links: http(s) only, new tab, no referrer; nothing else becomes markup.
            text = "see https://example.com/a?b=1. and javascript:alert(1) <b>bold</b>"
            await ui.send(pa, text)
            bubble = tid(pb, "message-bubble").filter(has_text="javascript:alert")
            await expect(bubble).to_have_count(1, timeout=LIVE)
            links = bubble.get_by_test_id("message-link")
            await expect(links).to_have_count(1)
            await expect(links).to_have_attribute("href", "https://example.com/a?b=1")
            await expect(links).to_have_attribute("rel", "noopener noreferrer")
            await expect(links).to_have_attribute("target", "_blank")
            await expect(bubble.get_by_test_id("message-content")).to_have_text(text)
            assert await bubble.locator("b").count() == 0

            # Bob hears about new messages politely.
            await expect(tid(pb, "announcer")).to_contain_text(f"{a}: see https://example.com")

            # Up in an empty composer edits my last message.
            await ui.send(pa, "typo hree")
            await box.press("ArrowUp")
            await expect(tid(pa, "reply-preview")).to_have_attribute("data-mode", "edit")
            await expect(box).to_have_value("typo hree")
            await box.fill("typo here")
            await box.press("Enter")
            await expect(tid(pb, "message-content").filter(has_text="typo here")).to_be_visible()

            # Reload keeps the conversation (URL per conversation).
            await pa.reload()
            await expect(tid(pa, "chat-title")).to_have_text(b, timeout=LIVE)
            await expect(tid(pa, "message-content").filter(has_text="first words")).to_be_visible()
        finally:
            await ctx_a.close()
            await ctx_b.close()

    async def test_back_forward_switcher_and_one_escape(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        _a, b, ta, tb = await pair(ui, parley_server)
        (c,) = names("cat")
        tc = await ui.api_user(parley_server, c)
        await ui.befriend(parley_server, ta, tc, c)
        first = await direct(ui, parley_server, ta, tb)
        second = await direct(ui, parley_server, ta, tc)
        ctx_a, pa = await ui.open_app(browser, parley_server, ta)
        try:
            await ui.open_chat(pa, b)
            await ui.open_chat(pa, c)
            await expect(pa).to_have_url(re.compile(rf"#/c/{second}$"))
            await pa.go_back()
            await expect(tid(pa, "chat-title")).to_have_text(b)
            await expect(pa).to_have_url(re.compile(rf"#/c/{first}$"))
            await pa.go_forward()
            await expect(tid(pa, "chat-title")).to_have_text(c)

            # Ctrl+K: type part of a name, Enter opens it; Escape closes in one press.
            await pa.keyboard.press("Control+k")
            await expect(tid(pa, "switcher-dialog")).to_be_visible()
            await expect(tid(pa, "switcher-input")).to_be_focused()
            await tid(pa, "switcher-input").fill(b[:5])
            await expect(tid(pa, "switcher-item")).to_have_count(1)
            await tid(pa, "switcher-input").press("Enter")
            await expect(tid(pa, "switcher-dialog")).to_be_hidden()
            await expect(tid(pa, "chat-title")).to_have_text(b)
            await pa.keyboard.press("Control+k")
            await tid(pa, "switcher-input").fill("zz")
            await pa.keyboard.press("Escape")
            await expect(tid(pa, "switcher-dialog")).to_be_hidden()

            # The search dialog: one Escape closes it even with text in its search field.
            await tid(pa, "search-button").click()
            await tid(pa, "search-input").fill("hello")
            await pa.keyboard.press("Escape")
            await expect(tid(pa, "search-dialog")).to_be_hidden()
            await expect(tid(pa, "chat-title")).to_have_text(b)  # and the chat stays open
        finally:
            await ctx_a.close()

    async def test_unread_badge_divider_viewers_and_last_seen(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        a, b, ta, tb = await pair(ui, parley_server)
        cid = await direct(ui, parley_server, ta, tb)
        ctx_a, pa = await ui.open_app(browser, parley_server, ta)
        ctx_b, pb = await ui.open_app(browser, parley_server, tb)
        try:
            await ui.open_chat(pb, a)
            await ui.send(pb, "read this")
            await ui.open_chat(pa, b)
            await expect(tid(pa, "message-content").filter(has_text="read this")).to_be_visible()
            # Both look at it: each sees the other in "viewing now".
            await expect(tid(pa, "viewer")).to_have_attribute("aria-label", b, timeout=LIVE)
            await expect(tid(pb, "viewer")).to_have_attribute("aria-label", a, timeout=LIVE)
            # Ann leaves the chat (Escape on phones, here: the other tab); Bob writes three more.
            await pa.go_back()
            await expect(pa.locator("#chat-empty")).to_be_visible()
            await expect(tid(pb, "viewers")).to_be_hidden(timeout=LIVE)
            for i in range(3):
                await ui.send(pb, f"unread {i}")
            badge = tid(pa, "conversation-item").filter(has_text=b).get_by_test_id("unread-badge")
            await expect(badge).to_have_text("3", timeout=LIVE)
            box = await badge.bounding_box()
            assert box and box["width"] <= box["height"] + 8, box  # round, not a stretched pill
            # Opening it shows "New messages" right above the first unread one.
            await ui.open_chat(pa, b)
            divider = tid(pa, "unread-divider")
            await expect(divider).to_have_text("New messages")
            following = await divider.evaluate(
                "d => d.nextElementSibling.querySelector('[data-testid=message-content]').textContent"
            )
            assert following == "unread 0"
            await expect(pa).to_have_url(re.compile(rf"#/c/{cid}$"))
            # Relative time in the list, the full time on hover.
            when = tid(pa, "conversation-item").filter(has_text=b).locator("time")
            await expect(when).to_have_text("just now")
            await expect(when).to_have_attribute("title", re.compile(r"\d{4}"))

            # Bob goes away: Ann sees "last seen" in the header and in her friend list.
            await ctx_b.close()
            await expect(tid(pa, "chat-presence")).to_contain_text(
                "last seen just now", timeout=LIVE
            )
            await tid(pa, "tab-friends").click()
            friend = tid(pa, "friend-item").filter(has_text=b)
            await expect(friend.get_by_test_id("last-seen")).to_have_text("Last seen just now")
        finally:
            await ctx_a.close()
            await ctx_b.close()


class TestMentionsAndEmoji:
    async def test_mention_autocomplete_highlight_and_notification(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        a, b, ta, tb = await pair(ui, parley_server)
        (c,) = names("cy")
        tc = await ui.api_user(parley_server, c)
        await ui.befriend(parley_server, ta, tc, c)
        ids = [(await ui.call(parley_server, t, "GET", "/auth/me"))["id"] for t in (tb, tc)]
        await ui.call(
            parley_server,
            ta,
            "POST",
            "/conversations",
            json={"type": "group", "name": "Trip", "member_user_ids": ids},
        )
        ctx_a, pa = await ui.open_app(browser, parley_server, ta)
        ctx_b, pb = await ui.open_app(browser, parley_server, tb)
        try:
            await ui.open_chat(pa, "Trip")
            box = tid(pa, "message-input")
            await box.press_sequentially("hi @")
            options = tid(pa, "mention-option")
            await expect(options).to_have_count(2)  # the other two members, not me
            # The textarea is the list's combobox: the highlighted option is its active descendant.
            await expect(box).to_have_attribute("aria-expanded", "true")
            ids = [await o.get_attribute("id") for o in await options.all()]
            await expect(box).to_have_attribute("aria-activedescendant", ids[0] or "?")
            await box.press("ArrowDown")
            await expect(box).to_have_attribute("aria-activedescendant", ids[1] or "?")
            await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
            await box.press("ArrowUp")
            await box.press_sequentially(b[:3])
            await expect(options).to_have_count(1)
            await box.press("Enter")  # picks the highlighted member, does not send
            await expect(box).to_have_value(f"hi @{b} ")
            await expect(box).to_have_attribute("aria-expanded", "false")
            await expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
            await box.press_sequentially("and @")
            await options.filter(has_text=c).click()  # the mouse works too
            await expect(box).to_have_value(f"hi @{b} and @{c} ")
            await box.press_sequentially("look")
            await box.press("Enter")
            text = f"hi @{b} and @{c} look"

            # Bob's copy is highlighted for him, with his name marked.
            bubble = tid(pb, "message-bubble").filter(has_text="look")
            await tid(pb, "tab-chats").click()
            await tid(pb, "conversation-item").filter(has_text="Trip").click()
            await expect(bubble).to_have_attribute("data-mentions-me", "true", timeout=LIVE)
            await expect(bubble.get_by_test_id("mention")).to_have_count(2)
            await expect(bubble.locator(".mention.me")).to_have_text(f"@{b}")
            await expect(bubble.get_by_test_id("message-content")).to_have_text(text)

            # The mention notification opens the message.
            await tid(pb, "notification-bell").click()
            item = tid(pb, "notification-item").filter(has_text=f"{a} mentioned you")
            await expect(item).to_be_visible(timeout=LIVE)
            await item.click()
            await expect(tid(pb, "notifications-panel")).to_be_hidden()
            await expect(tid(pb, "chat-title")).to_have_text("Trip")
            await expect(bubble).to_be_in_viewport()

            # Emoji: the composer's picker inserts at the caret, searchable by name.
            await tid(pb, "emoji-button").click()
            await expect(tid(pb, "emoji-picker")).to_be_visible()
            await tid(pb, "emoji-search").fill("tada")
            await tid(pb, "emoji-option").first.click()
            await expect(tid(pb, "emoji-picker")).to_be_hidden()
            await expect(tid(pb, "message-input")).to_have_value("🎉")
            await expect(tid(pb, "message-input")).to_be_focused()
            # ...and reactions take any emoji through "More reactions".
            await bubble.locator(".bubble").click()
            await bubble.get_by_test_id("react-button").click()
            await bubble.get_by_test_id("react-more").click()
            await tid(pb, "emoji-search").fill("fire")
            await tid(pb, "emoji-search").press("Enter")
            chip = tid(pa, "message-bubble").filter(has_text="look").get_by_test_id("reaction-chip")
            await expect(chip).to_have_attribute("data-emoji", "🔥", timeout=LIVE)
            # Escape closes the picker in one press.
            await tid(pb, "emoji-button").click()
            await pb.keyboard.press("Escape")
            await expect(tid(pb, "emoji-picker")).to_be_hidden()
        finally:
            await ctx_a.close()
            await ctx_b.close()


class TestPhoneWidth:
    async def test_reading_position_survives_a_resize(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        _a, b, ta, tb = await pair(ui, parley_server)
        cid = await direct(ui, parley_server, ta, tb)
        for i in range(40):
            await ui.call(
                parley_server,
                tb,
                "POST",
                "/messages",
                json={
                    "conversation_id": cid,
                    "content": f"message number {i}\n" + "words " * (i % 7 * 8),
                },
            )
        ctx_a, pa = await ui.open_app(browser, parley_server, ta)
        try:
            await ui.open_chat(pa, b)
            target = tid(pa, "message-bubble").filter(has_text="message number 20")
            await expect(target).to_have_count(1)
            await target.evaluate("n => n.scrollIntoView({block: 'start'})")
            await expect(target).to_be_in_viewport()
            await pa.evaluate(FRAMES)
            await pa.set_viewport_size({"width": 390, "height": 844})
            await expect(tid(pa, "back-button")).to_be_visible()
            await expect(target).to_be_in_viewport()
            await pa.set_viewport_size({"width": 1280, "height": 800})
            await expect(target).to_be_in_viewport()
            # At the bottom it stays at the bottom.
            last = tid(pa, "message-bubble").filter(has_text="message number 39")
            await last.scroll_into_view_if_needed()
            await pa.evaluate(FRAMES)  # the page has handled that scroll before the resize
            await pa.set_viewport_size({"width": 390, "height": 844})
            await expect(last).to_be_in_viewport()
        finally:
            await ctx_a.close()
