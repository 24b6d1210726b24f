"""Issue 17 in the web client, as a user does it in Chromium against the embedded platform:
the links are read from the emails the server really sent (its mail folder).

- Recovery and account: the banner asks to confirm the address, "send again" mails a new link,
  the link confirms it (banner gone); the account page lists the sessions, signs one out, then
  all the others; "Forgot password?" mails a reset link, the reset page sets the password (a
  second use of the link is refused) and the new password signs in.
- Conversations: hiding a direct chat (it comes back with the next message), an admin deleting
  a group (it leaves the other member's list and screen), and writing to a friend from their
  profile without opening the chat.
- The rest of the account page: username, password, notification preferences, sign-out.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.timeout(120)


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


async def open_account(page: Page) -> None:
    await tid(page, "user-menu").click()
    await expect(tid(page, "session-item").first).to_be_visible()


async def test_confirm_address_sessions_and_password_reset(
    browser: Browser, parley_server: str, ui: Any
) -> None:
    base, name = parley_server, "eve"
    address = f"{name}@example.com"
    tokens = await ui.api_user(base, name)
    await ui.login(base, name)  # a second device
    ctx, page = await ui.open_app(browser, base, tokens)
    try:
        banner = tid(page, "verify-banner")
        await expect(banner).to_contain_text(address)
        await tid(page, "verify-resend").click()
        await expect(tid(page, "toast").last).to_contain_text("on its way")
        link = await ui.email_link(base, address, "verify", seen=1)  # the welcome one is void now

        await open_account(page)
        sessions = tid(page, "session-item")
        await expect(sessions).to_have_count(2)
        await expect(sessions.and_(page.locator("[data-current=true]"))).to_have_count(1)
        await expect(tid(page, "session-current")).to_have_text("this browser")
        await tid(page, "session-revoke").click()
        await expect(sessions).to_have_count(1)
        await expect(tid(page, "account-status")).to_have_text("Session signed out.")
        await ui.login(base, name)
        await ui.login(base, name)
        await page.keyboard.press("Escape")
        await open_account(page)
        await expect(sessions).to_have_count(3)
        await tid(page, "sessions-revoke-others").click()
        await expect(tid(page, "account-status")).to_have_text("Signed out 2 other sessions.")
        await expect(sessions).to_have_count(1)
        await expect(tid(page, "sessions-revoke-others")).to_be_hidden()
        assert len(await ui.call(base, tokens, "GET", "/auth/sessions")) == 1
        await page.keyboard.press("Escape")

        await page.goto(base + link)
        await expect(tid(page, "verify-status")).to_have_text(
            "Thank you: your email address is confirmed."
        )
        assert "verify=" not in page.url  # the token leaves the address bar
        await tid(page, "verify-continue").click()
        await expect(tid(page, "connection-status")).to_have_attribute("data-state", "online")
        await expect(banner).to_be_hidden()

        await tid(page, "user-menu").click()
        await tid(page, "logout-button").click()
        await tid(page, "forgot-password").click()
        await tid(page, "forgot-email").fill(address)
        await tid(page, "forgot-submit").click()
        await expect(tid(page, "forgot-status")).to_contain_text("a reset link is on its way")
        reset = await ui.email_link(base, address, "reset")
        await page.goto(base + reset)
        await tid(page, "reset-password").fill("a brand new secret")
        await tid(page, "reset-repeat").fill("a brand new secreT")
        await tid(page, "reset-submit").click()
        await expect(tid(page, "auth-error")).to_have_text("The two passwords differ.")
        await tid(page, "reset-repeat").fill("a brand new secret")
        await tid(page, "reset-submit").click()
        await expect(tid(page, "auth-error")).to_have_text(
            "Your password is changed. Sign in with the new one."
        )
        await tid(page, "login-username").fill(name)
        await tid(page, "login-password").fill("a brand new secret")
        await tid(page, "login-submit").click()
        await expect(tid(page, "connection-status")).to_have_attribute("data-state", "online")

        await page.goto(base + reset)  # once only
        await tid(page, "reset-password").fill("yet another secret")
        await tid(page, "reset-repeat").fill("yet another secret")
        await tid(page, "reset-submit").click()
        await expect(tid(page, "auth-error")).to_contain_text("expired or was already used")
        await expect(tid(page, "forgot-form")).to_be_visible()
    finally:
        await ctx.close()


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


async def test_profile_password_and_preferences(
    browser: Browser, parley_server: str, ui: Any
) -> None:
    a = "ann"
    ta = await ui.api_user(parley_server, a)
    ctx_a, pa = await ui.open_app(browser, parley_server, ta)
    try:
        await tid(pa, "user-menu").click()
        await expect(tid(pa, "account-username")).to_have_value(a)
        await expect(tid(pa, "account-email")).to_have_value(f"{a}@example.com")
        renamed = f"{a}_x"
        await tid(pa, "account-username").fill(renamed)
        await tid(pa, "profile-save").click()
        await expect(tid(pa, "account-status")).to_have_text("Profile saved.")
        await expect(tid(pa, "current-user")).to_have_text(renamed)

        await tid(pa, "account-current-password").fill("wrong password")
        await tid(pa, "account-new-password").fill("another fine password")
        await tid(pa, "password-save").click()
        await expect(tid(pa, "account-status")).to_have_text("Current password is incorrect")
        await tid(pa, "account-current-password").fill(ui.PASSWORD)
        await tid(pa, "password-save").click()
        await expect(tid(pa, "account-status")).to_contain_text("Password changed")

        await tid(pa, "pref-email").uncheck()
        await tid(pa, "prefs-save").click()
        await expect(tid(pa, "account-status")).to_have_text("Notification settings saved.")
        await expect(tid(pa, "session-item")).to_have_count(1)
        await pa.keyboard.press("Escape")
        await tid(pa, "user-menu").click()
        await expect(tid(pa, "pref-email")).not_to_be_checked()
        prefs = await ui.call(parley_server, ta, "GET", "/notifications/preferences")
        assert prefs["email_missed_messages"] is False

        await tid(pa, "logout-button").click()
        await expect(tid(pa, "login-username")).to_be_visible()
    finally:
        await ctx_a.close()
