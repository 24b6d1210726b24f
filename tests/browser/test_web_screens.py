"""Every screen of the web client, looked at: at desktop (1280×800) and phone (390×844) width
each screen is checked with axe-core and saved as a full-page screenshot under
test-results/screens/ in the light and the dark theme (no serious or critical violation in
either), and each screenshot is compared with the committed reference in tests/browser/screens/
(`<screen>-<width>.png`, `<screen>-<width>-dark.png`; a small tolerance for anti-aliasing).

After an intended visual change, update the references with one command and review the diff:

    make screenshots    # = PARLEY_UPDATE_SCREENSHOTS=1 pytest tests/browser/test_web_screens.py

Deterministic on purpose: this module has its own fresh server, so the people have fixed names
(and so fixed ids and avatar colours); times, toasts and the caret are hidden in the
screenshots, animations are off, and every live state shown (online dots, read ticks, viewers,
counts) is waited for before a shot.
"""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any, Literal

import pytest
from axe_playwright_python.async_playwright import Axe
from PIL import Image, ImageChops
from playwright.async_api import Browser, Locator, Page, expect

from parley.stack import ROOT

pytestmark = pytest.mark.timeout(300)

REFERENCES = ROOT / "tests" / "browser" / "screens"
OUT = ROOT / "test-results" / "screens"
UPDATE = os.environ.get("PARLEY_UPDATE_SCREENSHOTS") == "1"
# A pixel counts as changed when a channel moves by more than THRESHOLD; a screen fails when
# more than TOLERANCE of its pixels changed (a changed word is well above it).
THRESHOLD = 40
TOLERANCE = 0.001
# Hidden while a shot is taken. Through the CSSOM, since the page's Content-Security-Policy
# refuses the <style> element Playwright's `style=` option would add.
HIDE = "time, .card-time, .toasts"
HIDING = """([selector, on]) => {
  for (const n of document.querySelectorAll(selector)) n.style.visibility = on ? 'hidden' : '';
}"""
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LIVE = 10_000


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


class Looker:
    """Runs axe in both themes and compares a screenshot, collecting every problem."""

    def __init__(self, width: str) -> None:
        self.width = width
        self.axe = Axe()
        self.problems: list[str] = []
        OUT.mkdir(parents=True, exist_ok=True)

    async def axe_check(self, page: Page, screen: str, scheme: str) -> None:
        results = await self.axe.run(page)
        for v in results.response["violations"]:
            if v["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in v["nodes"]][:5]
                self.problems.append(
                    f"axe {screen} {self.width} {scheme}: {v['id']} ({v['impact']}) {targets}"
                )

    async def look(self, page: Page, screen: str) -> None:
        """Checks and compares the screen in the light theme, then in the dark one."""
        themes: tuple[tuple[Literal["light", "dark"], str], ...] = (
            ("light", ""),
            ("dark", "-dark"),
        )
        for scheme, suffix in themes:
            await page.emulate_media(color_scheme=scheme)
            await self.axe_check(page, screen, scheme)
            await self.compare(page, f"{screen}-{self.width}{suffix}")
        await page.emulate_media(color_scheme="light")

    async def compare(self, page: Page, name: str) -> None:
        await page.evaluate(HIDING, [HIDE, True])
        png = await page.screenshot(full_page=True, animations="disabled", caret="hide")
        await page.evaluate(HIDING, [HIDE, False])
        (OUT / f"{name}.png").write_bytes(png)
        reference = REFERENCES / f"{name}.png"
        if UPDATE:
            REFERENCES.mkdir(parents=True, exist_ok=True)
            reference.write_bytes(png)
            return
        if not reference.exists():
            self.problems.append(f"{name}: no reference image; run `make screenshots`")
            return
        want = Image.open(reference).convert("RGB")
        got = Image.open(io.BytesIO(png)).convert("RGB")
        if want.size != got.size:
            self.problems.append(f"{name}: size {got.size}, reference {want.size}")
            return
        mask = (
            ImageChops.difference(want, got)
            .convert("L")
            .point(lambda v: 255 if v > THRESHOLD else 0)
        )
        changed = mask.histogram()[255]
        if changed > TOLERANCE * want.width * want.height:
            mask.save(OUT / f"{name}-diff.png")
            self.problems.append(
                f"{name}: {changed} pixels differ from the reference "
                f"(see test-results/screens/{name}.png and {name}-diff.png)"
            )


async def setup_people(ui: Any, base: str) -> dict[str, Any]:
    """ana (the one we look at), ben (her friend, online), cleo (asked ana), dora (ana asked)."""
    t = {n: await ui.api_user(base, n) for n in ("ana", "ben", "cleo", "dora")}
    await ui.befriend(base, t["ana"], t["ben"], "ben")
    await ui.call(base, t["cleo"], "POST", "/friends/request", json={"username": "ana"})
    await ui.call(base, t["ana"], "POST", "/friends/request", json={"username": "dora"})
    ben = await ui.call(base, t["ben"], "GET", "/auth/me")
    await ui.call(
        base,
        t["ana"],
        "POST",
        "/conversations",
        json={"type": "group", "name": "Weekend", "member_user_ids": [ben["id"]]},
    )
    direct = await ui.call(
        base,
        t["ana"],
        "POST",
        "/conversations",
        json={"type": "direct", "member_user_ids": [ben["id"]]},
    )
    for who, text in (
        ("ben", "Hi @ana, the plan is at https://example.com/plan"),
        ("ana", "Great, see you there"),
        ("ben", "Bring a jacket, it will be cold.\nAnd snacks!"),
        ("ana", "Will do 👍"),
    ):
        await ui.call(
            base,
            t[who],
            "POST",
            "/messages",
            json={"conversation_id": direct["id"], "content": text},
        )
    return t


async def signed_out_screens(
    browser: Browser, base: str, looker: Looker, size: tuple[int, int]
) -> None:
    context = await browser.new_context(
        viewport={"width": size[0], "height": size[1]}, locale="en-GB", timezone_id="UTC"
    )
    page = await context.new_page()
    try:
        await page.goto(base + "/")
        await expect(tid(page, "login-username")).to_be_visible()
        await looker.look(page, "sign-in")
        await tid(page, "show-register").click()
        await tid(page, "register-submit").click()  # every field's problem at once
        await expect(tid(page, "register-password-error")).to_be_visible()
        await looker.look(page, "register")
        await tid(page, "show-login").click()
        await tid(page, "forgot-password").click()
        await expect(tid(page, "forgot-email")).to_be_focused()
        await looker.look(page, "forgot-password")
        await page.goto(base + "/?reset=" + "x" * 43)  # the emailed link's page
        await expect(tid(page, "reset-password")).to_be_focused()
        await looker.look(page, "reset-password")
    finally:
        await context.close()


async def notifications_settled(ui: Any, base: str, tokens: dict[str, Any]) -> int:
    """Waits until notify has made Ana's mention notification; returns her unread count."""
    for _ in range(100):
        items = await ui.call(base, tokens, "GET", "/notifications")
        if any(n["type"] == "mention" for n in items):
            return int((await ui.call(base, tokens, "GET", "/notifications/unread-count"))["count"])
        await asyncio.sleep(0.1)  # polling a condition with a deadline, not a fixed wait
    raise AssertionError("no mention notification for ana within 10 s")


async def mention_read(ui: Any, base: str, tokens: dict[str, Any]) -> None:
    """Waits until notify has marked the mention read (Ana opened the chat it is in)."""
    for _ in range(100):
        items = await ui.call(base, tokens, "GET", "/notifications")
        if all(n["is_read"] for n in items if n["type"] == "mention"):
            return
        await asyncio.sleep(0.1)  # polling a condition with a deadline, not a fixed wait
    raise AssertionError("ana's mention notification not marked read within 10 s")


async def app_screens(
    page: Page, looker: Looker, phone: bool, unread: int, total: int, settle: Any
) -> None:
    await expect(tid(page, "notification-count")).to_have_text(str(unread), timeout=LIVE)
    ben = tid(page, "conversation-item").filter(has_text="ben")
    await expect(ben.get_by_test_id("online-dot")).to_have_attribute("data-online", "true")
    await page.locator("body").click(position={"x": 1, "y": 1})  # nothing hovered or focused
    await looker.look(page, "chats")

    await tid(page, "tab-friends").click()
    await expect(tid(page, "sent-request-item")).to_have_count(1)
    await expect(tid(page, "friend-request-item")).to_have_count(1)
    await looker.look(page, "friends")
    await tid(page, "friend-profile").click()
    await expect(tid(page, "person-presence")).to_have_text("Online")
    await looker.look(page, "friend-profile")
    await page.keyboard.press("Escape")
    await tid(page, "tab-chats").click()

    await ben.click()
    await expect(tid(page, "chat-title")).to_have_text("ben")
    await expect(tid(page, "viewer")).to_have_attribute("aria-label", "ben", timeout=LIVE)
    last = tid(page, "message-bubble").filter(has_text="Will do")
    await expect(last.get_by_test_id("read-ticks")).to_have_attribute(
        "data-state", "read", timeout=LIVE
    )
    await tid(page, "message-input").fill("Also @b")
    await expect(tid(page, "mention-option")).to_have_count(1)
    await looker.look(page, "chat")
    await tid(page, "message-input").fill("")

    await tid(page, "emoji-button").click()
    await expect(tid(page, "emoji-picker")).to_be_visible()
    await looker.look(page, "emoji-picker")
    await page.keyboard.press("Escape")
    if phone:  # the sidebar (search, bell, account) is the other pane on phones
        await tid(page, "back-button").click()

    await tid(page, "search-button").click()
    await tid(page, "search-input").fill("plan")
    await expect(tid(page, "search-result")).to_have_count(1, timeout=LIVE)
    await looker.look(page, "search")
    await page.keyboard.press("Escape")

    await tid(page, "conversation-item").filter(has_text="Weekend").click()
    await expect(tid(page, "chat-title")).to_have_text("Weekend")
    await tid(page, "members-button").click()
    await expect(tid(page, "member-item")).to_have_count(2)
    await looker.look(page, "group-members")
    await page.keyboard.press("Escape")
    if phone:
        await tid(page, "back-button").click()

    await settle()  # the panel loads the list when it opens: let it be the final one
    await tid(page, "notification-bell").click()
    await expect(tid(page, "notification-item")).to_have_count(total, timeout=LIVE)
    await looker.look(page, "notifications")
    await page.keyboard.press("Escape")

    await tid(page, "user-menu").click()
    await expect(tid(page, "pref-digest")).to_be_visible()
    await expect(tid(page, "session-item")).to_have_count(1)
    await looker.look(page, "account")
    # Further down the same page: the per-type channels (push stays hidden: no VAPID key here).
    await expect(tid(page, "pref-channel-row")).to_have_count(6)
    await tid(page, "prefs-save").scroll_into_view_if_needed()
    await looker.look(page, "notification-settings")
    await page.keyboard.press("Escape")

    await tid(page, "new-group-button").click()
    await expect(tid(page, "group-member-option")).to_have_count(1)
    await looker.look(page, "new-group")
    await page.keyboard.press("Escape")

    await page.keyboard.press("Control+k")
    await expect(tid(page, "switcher-item")).to_have_count(2)
    await looker.look(page, "switcher")
    await page.keyboard.press("Escape")


async def test_every_screen_accessible_and_as_referenced(
    browser: Browser, parley_server: str, ui: Any
) -> None:
    tokens = await setup_people(ui, parley_server)
    # Ben is online and looking at the direct chat, so Ana sees him there.
    ctx_ben, ben = await ui.open_app(browser, parley_server, tokens["ben"])
    await ui.open_chat(ben, "ana")
    problems: list[str] = []
    try:
        for width, size in WIDTHS.items():
            looker = Looker(width)
            await signed_out_screens(browser, parley_server, looker, size)
            unread = await notifications_settled(ui, parley_server, tokens["ana"])
            total = len(await ui.call(parley_server, tokens["ana"], "GET", "/notifications"))
            ctx, page = await ui.open_app(
                browser, parley_server, tokens["ana"], width=size[0], height=size[1]
            )
            try:
                await app_screens(
                    page,
                    looker,
                    width == "phone",
                    unread,
                    total,
                    lambda: mention_read(ui, parley_server, tokens["ana"]),
                )
            finally:
                await ctx.close()
            problems += looker.problems
    finally:
        await ctx_ben.close()
    assert not problems, "\n".join(problems)
