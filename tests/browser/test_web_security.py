"""The web client talks only to its own origin and runs under a CSP (issue 12, finding 7); the
account's safety in the page (issue 17), with the links read from the emails the server sent.

A link with `?api=<another origin>` (which once went to localStorage and took every later
request, tokens and the login password included, there) is ignored: the page registers, logs in
and chats through its own origin only, with the policy's `connect-src` enforced and not one CSP
violation along the way.

The banner asks to confirm the address, "send again" mails a new link, the link confirms it;
the account page lists the sessions, signs one out, then all the others; "Forgot password?"
mails a reset link, the reset page sets the password (a second use of the link is refused) and
the new password signs in. The rest of the account page: username, password, notification
preferences, the deletion dialog, sign-out. Then issue 17's routes (docs/accounts.md): the
address changes only through the link emailed to the new one, the export arrives as an emailed
download link, and a deleted account is signed out and cannot sign in again."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from parley.stack import ROOT, free_port

from .test_web_chat import LIVE, new_page, register, tid

pytestmark = pytest.mark.timeout(120)
RESULTS = ROOT / "test-results" / "browser"  # screenshots to look at (not compared)


async def test_api_origin_never_comes_from_the_url(browser: Browser, parley_server: str) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: an attacker's origin
    context, page = await new_page(browser)
    try:
        requests: list[str] = []
        violations: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        # An older client stored the origin; the page must forget it too.
        await page.goto(parley_server + "/")
        await page.evaluate(f"localStorage.setItem('parley.apiBase', '{elsewhere}')")
        await page.goto(f"{parley_server}/?api={elsewhere}")
        name = f"csp_{uuid.uuid4().hex[:8]}"
        await register(page, f"{parley_server}/?api={elsewhere}#", name)
        await expect(tid(page, "connection-status")).to_have_attribute(
            "data-state", "online", timeout=LIVE
        )
        own = urlsplit(parley_server).netloc
        foreign = [u for u in requests if urlsplit(u).netloc not in (own, "")]
        assert foreign == [], foreign
        assert await page.evaluate("localStorage.getItem('parley.apiBase')") is None
        assert violations == [], violations
    finally:
        await context.close()


async def test_every_page_carries_a_csp_without_inline_script(parley_server: str) -> None:
    async with httpx.AsyncClient(base_url=parley_server, trust_env=False) as http:
        for path in ("/", "/index.html", "/js/main.js", "/styles.css", "/nothing", "/health"):
            csp = (await http.get(path)).headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
            assert directives["default-src"] == "'self'", path
            assert directives["script-src"] == "'self'", path
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert f"ws://{urlsplit(parley_server).netloc}" in directives["connect-src"].split()


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
        await page.screenshot(path=RESULTS / "account-verified.png", full_page=True)
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
        # Deleting asks for the password first (the deletion itself: the last test here).
        await tid(pa, "delete-account-button").click()
        await expect(tid(pa, "delete-account-password")).to_be_focused()
        await pa.screenshot(path=RESULTS / "account-delete-dialog.png", full_page=True)
        await pa.keyboard.press("Escape")
        await expect(tid(pa, "delete-account-dialog")).to_be_hidden()
        await expect(tid(pa, "session-item")).to_be_visible()  # the account page stays open
        await pa.keyboard.press("Escape")
        await tid(pa, "user-menu").click()
        await expect(tid(pa, "pref-email")).not_to_be_checked()
        prefs = await ui.call(parley_server, ta, "GET", "/notifications/preferences")
        assert prefs["email_missed_messages"] is False

        await tid(pa, "logout-button").click()
        await expect(tid(pa, "login-username")).to_be_visible()
    finally:
        await ctx_a.close()


async def test_email_change_export_and_deletion(
    browser: Browser, parley_server: str, ui: Any
) -> None:
    """The three account routes of issue 17 (docs/accounts.md) through the page, with the
    links read from the emails the server sent."""
    base, name = parley_server, "dora"
    new_address = f"{name}.new@example.com"
    tokens = await ui.api_user(base, name)
    ctx, page = await ui.open_app(browser, base, tokens)
    try:
        await open_account(page)
        await tid(page, "account-email").fill(new_address)
        await tid(page, "account-email-password").fill("not my password")
        await tid(page, "email-save").click()
        await expect(tid(page, "account-status")).to_have_text("Password is incorrect")
        await expect(tid(page, "email-pending")).to_be_hidden()
        await tid(page, "account-email-password").fill(ui.PASSWORD)
        await tid(page, "email-save").click()
        await expect(tid(page, "email-pending")).to_contain_text(
            f"Confirmation sent to {new_address}"
        )
        await page.reload()  # the pending address comes back from the server (/auth/me)
        await open_account(page)
        await expect(tid(page, "email-pending")).to_contain_text(new_address)
        await expect(tid(page, "account-email")).to_have_value(f"{name}@example.com")
        link = await ui.email_link(base, new_address, "verify")
        await page.goto(base + link)
        await expect(tid(page, "verify-panel")).to_have_attribute("data-state", "done")
        await tid(page, "verify-continue").click()
        await expect(tid(page, "connection-status")).to_have_attribute("data-state", "online")
        await open_account(page)
        await expect(tid(page, "account-email")).to_have_value(new_address)
        await expect(tid(page, "email-pending")).to_be_hidden()

        await tid(page, "export-button").click()
        await expect(tid(page, "account-status")).to_have_text("We will email you a download link.")
        download = await ui.emailed(base, new_address, r"/users/me/export/[\w-]+")
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=20) as http:
            archive = await http.get(download)  # the link alone, no bearer token
        assert archive.status_code == 200, archive.text
        assert "attachment" in archive.headers["content-disposition"]
        profile = archive.json()["profile"]
        assert (profile["username"], profile["email"]) == (name, new_address)

        await tid(page, "delete-account-button").click()
        await tid(page, "delete-account-password").fill("not my password")
        await tid(page, "delete-account-confirm").click()
        await expect(tid(page, "delete-account-error")).to_have_text("Password is incorrect")
        await expect(tid(page, "connection-status")).to_have_attribute("data-state", "online")
        await tid(page, "delete-account-password").fill(ui.PASSWORD)
        await tid(page, "delete-account-confirm").click()
        await expect(tid(page, "auth-error")).to_have_text("Your account was deleted.")
        await expect(tid(page, "delete-account-dialog")).to_be_hidden()
        assert await page.evaluate("localStorage.getItem('parley.tokens')") is None

        await tid(page, "login-username").fill(name)
        await tid(page, "login-password").fill(ui.PASSWORD)
        await tid(page, "login-submit").click()
        await expect(tid(page, "auth-error")).to_have_text("Invalid credentials")
        await expect(tid(page, "connection-status")).to_be_hidden()
    finally:
        await ctx.close()
