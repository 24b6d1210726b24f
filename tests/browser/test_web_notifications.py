"""The notifications page, the notification preferences and Web Push in the web client
(issue 15), in headless Chromium against a real embedded Parley.

Most tests run against a Parley of this module's own that has a VAPID key (so Web Push is
offered) and an integration key (so a "host" product can send `task.*` notifications); one
uses the shared `parley_server`, which has no VAPID key, to check the push button is absent.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, Request, expect

from parley.integration_keys import create_key, embedded_url
from parley.stack import free_port, spawn_embedded
from parley.vapid_key import new_private_key

from .conftest import RESULTS, SERVER_ENV, _wait_healthy

pytestmark = pytest.mark.timeout(180)

LIVE = 10_000
# ms: turning push on installs and activates the service worker first (push.js waits for
# `serviceWorker.ready`); a fresh-clone CI on a slow, loaded host once needed over 10 s.
PUSH_ON = 30_000


@dataclass(frozen=True)
class PushServer:
    url: str
    host_key: str  # an integration key: the "host product" sending task.* notifications


@pytest.fixture(scope="module")
def push_server() -> Iterator[PushServer]:
    """An embedded Parley with a VAPID key (GET /devices/webpush-key answers) and an
    integration key; its own data dir; stops only the process it started."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="parley-browser-push-"))
    port = free_port()
    log = RESULTS / f"server-push-{port}.log"
    log.unlink(missing_ok=True)
    env = {**SERVER_ENV, "PARLEY_VAPID_PRIVATE_KEY": new_private_key()}
    popen = spawn_embedded(port, data_dir, log, env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, popen, log, timeout=60)
        key = asyncio.run(create_key(embedded_url(data_dir), f"tasks-{uuid.uuid4().hex[:6]}"))
        yield PushServer(url, key)
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


def names(*people: str) -> list[str]:
    suffix = uuid.uuid4().hex[:6]
    return [f"{p}_{suffix}" for p in people]


async def user_id(ui: Any, base: str, tokens: dict[str, Any]) -> int:
    return int((await ui.call(base, tokens, "GET", "/auth/me"))["id"])


async def host_notify(server: PushServer, uid: int, type_: str, title: str) -> None:
    """The host product notifies one user; retried while chat has not yet heard of the user
    (it learns of new users by event)."""
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=20) as http:
        while True:
            r = await http.post(
                "/integrations/notifications",
                headers={"Authorization": f"Bearer {server.host_key}"},
                json={"user_ids": [uid], "type": type_, "title": title, "body": f"{title}!"},
            )
            if r.status_code != 404 or time.monotonic() > deadline:
                r.raise_for_status()
                return
            await asyncio.sleep(0.2)


async def notifications_of(
    ui: Any, base: str, tokens: dict[str, Any], at_least: int, **params: Any
) -> list[dict[str, Any]]:
    """The user's notifications once notify has made at least `at_least` of them."""
    deadline = time.monotonic() + 15
    while True:
        items: list[dict[str, Any]] = await ui.call(
            base, tokens, "GET", "/notifications", params=params
        )
        if len(items) >= at_least or time.monotonic() > deadline:
            assert len(items) >= at_least, items
            return items
        await asyncio.sleep(0.2)


async def filter_count(page: Page, key: str) -> str:
    chip = tid(page, "notification-filter").and_(page.locator(f'[data-filter="{key}"]'))
    count = chip.get_by_test_id("notification-filter-count")
    return (await count.text_content() or "") if await count.count() else ""


def channel_box(page: Page, type_: str, channel: str) -> Locator:
    return page.locator(
        f'[data-testid="pref-channel"][data-type="{type_}"][data-channel="{channel}"]'
    )


def chip(page: Page, key: str) -> Locator:
    return page.locator(f'[data-testid="notification-filter"][data-filter="{key}"]')


class TestNotificationsPage:
    async def test_filters_read_delete_and_live(
        self, browser: Browser, push_server: PushServer, ui: Any
    ) -> None:
        base = push_server.url
        a, b = names("ann", "bob")
        ta, tb = await ui.api_user(base, a), await ui.api_user(base, b)
        await ui.befriend(base, ta, tb, b)  # ann: "bob accepted your friend request"
        ann = await user_id(ui, base, ta)
        group = await ui.call(
            base,
            tb,
            "POST",
            "/conversations",
            json={"type": "group", "name": "Crew", "member_user_ids": [ann]},
        )  # ann: added to a group
        await ui.call(
            base,
            tb,
            "POST",
            "/messages",
            json={
                "conversation_id": group["id"],
                "content": f"@{a} look",
                "client_msg_id": str(uuid.uuid4()),
            },
        )  # ann: a mention
        for type_, title in [
            ("task.assigned", "Fix the sink"),
            ("task.assigned", "Paint"),
            ("task.done", "Roof done"),
        ]:
            await host_notify(push_server, ann, type_, title)
        everything = await notifications_of(ui, base, ta, 6)
        types = {n["type"] for n in everything}
        assert {
            "mention",
            "added_to_group",
            "friend_accepted",
            "task.assigned",
            "task.done",
        } <= types

        ctx, page = await ui.open_app(browser, base, ta)
        try:
            await expect(tid(page, "notification-count")).to_have_text(str(len(everything)))
            await tid(page, "notification-bell").click()
            await expect(tid(page, "notification-item")).to_have_count(len(everything))
            # One filter per kind, each with its unread count (from by_type).
            for key, n in [
                ("all", len(everything)),
                ("mention", 1),
                ("friends", 1),
                ("groups", 1),
                ("task.", 3),
            ]:
                await expect(chip(page, key)).to_be_visible()
                assert await filter_count(page, key) == str(n), key
            await expect(chip(page, "task.")).to_contain_text("Task")

            await chip(page, "task.").click()
            await expect(chip(page, "task.")).to_have_attribute("aria-pressed", "true")
            items = tid(page, "notification-item")
            await expect(items).to_have_count(3)
            for t in await items.evaluate_all("els => els.map(e => e.dataset.type)"):
                assert t.startswith("task."), t

            # Mark one read.
            first = items.first
            fid = await first.get_attribute("data-notification-id")
            await (
                page.locator(f'li:has([data-notification-id="{fid}"])')
                .get_by_test_id("notification-read")
                .click()
            )
            await expect(first).to_have_attribute("data-read", "true")
            await expect(first).to_be_focused()  # the re-rendered list keeps the focus
            await expect(
                chip(page, "task.").get_by_test_id("notification-filter-count")
            ).to_have_text("2")
            await expect(tid(page, "notification-count")).to_have_text(str(len(everything) - 1))
            counts = await ui.call(base, ta, "GET", "/notifications/unread-count")
            assert sum(v for k, v in counts["by_type"].items() if k.startswith("task.")) == 2

            # Delete an unread one.
            second = items.nth(1)
            sid = await second.get_attribute("data-notification-id")
            third_id = await items.nth(2).get_attribute("data-notification-id")
            await (
                page.locator(f'li:has([data-notification-id="{sid}"])')
                .get_by_test_id("notification-delete")
                .click()
            )
            await expect(items).to_have_count(2)
            await expect(page.locator(f'[data-notification-id="{sid}"]')).to_have_count(0)
            await expect(page.locator(f'[data-notification-id="{third_id}"]')).to_be_focused()
            left = await ui.call(base, ta, "GET", "/notifications", params={"type": "task."})
            assert int(sid or 0) not in {n["id"] for n in left} and len(left) == 2

            # Mark the visible ones read: only this filter's.
            await expect(tid(page, "notifications-read-all")).to_have_text("Mark these read")
            await tid(page, "notifications-read-all").click()
            await expect(items.and_(page.locator('[data-read="false"]'))).to_have_count(0)
            await expect(
                chip(page, "task.").get_by_test_id("notification-filter-count")
            ).to_have_count(0)
            assert await filter_count(page, "mention") == "1"
            counts = await ui.call(base, ta, "GET", "/notifications/unread-count")
            assert not any(k.startswith("task.") for k in counts["by_type"]), counts
            assert counts["by_type"].get("mention") == 1
            await expect(tid(page, "notification-count")).to_have_text(str(counts["count"]))

            # Live: a task notification shows at the top of this filter; a mention is only counted.
            await host_notify(push_server, ann, "task.comment", "New comment")
            await expect(items.first).to_contain_text("New comment", timeout=LIVE)
            await expect(items.first).to_have_attribute("data-read", "false")
            await expect(items).to_have_count(3)
            await ui.call(
                base,
                tb,
                "POST",
                "/messages",
                json={
                    "conversation_id": group["id"],
                    "content": f"again @{a}",
                    "client_msg_id": str(uuid.uuid4()),
                },
            )
            await expect(
                chip(page, "mention").get_by_test_id("notification-filter-count")
            ).to_have_text("2", timeout=LIVE)
            await expect(items).to_have_count(3)
            await chip(page, "mention").click()
            await expect(items).to_have_count(2)
            await expect(items.first).to_contain_text(f"{b} mentioned you")
            await expect(tid(page, "notifications-read-all")).to_have_text("Mark these read")
            await chip(page, "all").click()
            await expect(tid(page, "notifications-read-all")).to_have_text("Mark all read")
            await tid(page, "notifications-read-all").click()
            await expect(tid(page, "notification-count")).to_be_hidden()
            counts = await ui.call(base, ta, "GET", "/notifications/unread-count")
            assert counts["count"] == 0
        finally:
            await ctx.close()

    async def test_links_of_pushes_and_emails_open_in_the_app(
        self, browser: Browser, push_server: PushServer, ui: Any
    ) -> None:
        """notify's links (`/?conversation=<id>`, `/?view=friends`) open what they name."""
        base = push_server.url
        a, b = names("ann", "bob")
        ta, tb = await ui.api_user(base, a), await ui.api_user(base, b)
        await ui.befriend(base, ta, tb, b)
        bob = await user_id(ui, base, tb)
        conv = await ui.call(
            base, ta, "POST", "/conversations", json={"type": "direct", "member_user_ids": [bob]}
        )
        ctx, page = await ui.open_app(browser, base, ta)
        try:
            await page.goto(f"{base}/?conversation={conv['id']}")
            await expect(tid(page, "chat-title")).to_have_text(b)
            assert page.url == f"{base}/#/c/{conv['id']}"
            await page.goto(f"{base}/?view=friends")
            await expect(tid(page, "tab-friends")).to_have_attribute("aria-selected", "true")
            await expect(tid(page, "friend-item")).to_have_count(1)
            assert "?" not in page.url
        finally:
            await ctx.close()


class TestPreferences:
    async def test_channels_previews_and_delay_saved_sending_only_changes(
        self, browser: Browser, push_server: PushServer, ui: Any
    ) -> None:
        base = push_server.url
        (a,) = names("ann")
        ta = await ui.api_user(base, a)
        # A host type chosen before shows as its own row.
        await ui.call(
            base,
            ta,
            "PUT",
            "/notifications/preferences",
            json={"channels": {"task.assigned": {"push": False}}},
        )
        ctx, page = await ui.open_app(browser, base, ta)
        sent: list[dict[str, Any]] = []

        def record(request: Request) -> None:
            if request.method == "PUT" and request.url.endswith("/notifications/preferences"):
                sent.append(json.loads(request.post_data or "{}"))

        page.on("request", record)
        try:
            await tid(page, "user-menu").click()
            rows = tid(page, "pref-channel-row")
            await expect(rows.and_(page.locator('[data-type="host"]'))).to_have_count(1)
            await expect(rows.and_(page.locator('[data-type="mention"]'))).to_have_count(1)
            task_push = page.locator(
                '[data-testid="pref-channel"][data-type="task.assigned"][data-channel="push"]'
            )
            await expect(task_push).not_to_be_checked()

            def box(type_: str, channel: str) -> Locator:
                return channel_box(page, type_, channel)

            await expect(box("host", "email")).to_be_checked()
            await expect(box("mention", "email")).not_to_be_checked()
            await expect(tid(page, "pref-previews")).to_be_checked()

            # Nothing changed: nothing sent.
            await tid(page, "prefs-save").click()
            await expect(tid(page, "account-status")).to_have_text("Nothing to save.")
            # A bad delay is refused before sending.
            await tid(page, "pref-delay").fill("-5")
            await tid(page, "prefs-save").click()
            await expect(tid(page, "account-status")).to_contain_text("0 to 10080 minutes")
            await expect(tid(page, "pref-delay")).to_have_attribute("aria-invalid", "true")
            assert sent == []

            await tid(page, "pref-delay").fill("15")
            await box("host", "email").uncheck()
            await box("mention", "email").check()
            await box("task.assigned", "push").check()
            await tid(page, "pref-previews").uncheck()
            await tid(page, "prefs-save").click()
            await expect(tid(page, "account-status")).to_have_text("Notification settings saved.")
            assert sent == [
                {
                    "email_delay_minutes": 15,
                    "push_previews": False,
                    "channels": {
                        "host": {"email": False},
                        "mention": {"email": True},
                        "task.assigned": {"push": True},
                    },
                }
            ], sent
            prefs = await ui.call(base, ta, "GET", "/notifications/preferences")
            assert prefs["channels"]["host"]["email"] is False
            assert prefs["channels"]["mention"]["email"] is True
            assert prefs["channels"]["task.assigned"]["push"] is True
            assert prefs["push_previews"] is False and prefs["email_delay_minutes"] == 15

            # Reopened, the page shows what the server has.
            await page.keyboard.press("Escape")
            await tid(page, "user-menu").click()
            await expect(box("host", "email")).not_to_be_checked()
            await expect(tid(page, "pref-previews")).not_to_be_checked()
            await expect(tid(page, "pref-delay")).to_have_value("15")
        finally:
            await ctx.close()


# A stand-in for the browser's push service: headless Chromium has none to subscribe with,
# so PushManager answers with a fixed subscription on an endpoint the server accepts (FCM's).
FAKE_PUSH = """
(() => {
  const sub = {
    endpoint: 'https://fcm.googleapis.com/fcm/send/parley-browser-test',
    options: { applicationServerKey: null },
    toJSON() { return { endpoint: this.endpoint, expirationTime: null,
      keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
              auth: 'tBHItJI5svbpez7KI4CCXg' } }; },
    async unsubscribe() { active = null; window.__parleyUnsubscribed = true; return true; },
  };
  let active = null;
  PushManager.prototype.getSubscription = async function () { return active; };
  PushManager.prototype.subscribe = async function (options) {
    window.__parleySubscribeOptions = { userVisibleOnly: options.userVisibleOnly,
      keyLength: new Uint8Array(options.applicationServerKey).length };
    active = sub;
    return sub;
  };
})();
"""


class TestWebPush:
    async def test_no_push_button_without_a_vapid_key(
        self, browser: Browser, parley_server: str, ui: Any
    ) -> None:
        (a,) = names("ann")
        ta = await ui.api_user(parley_server, a)
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await ui.call(parley_server, ta, "GET", "/devices/webpush-key")
        assert refused.value.response.json()["code"] == "push_unavailable"
        ctx, page = await ui.open_app(browser, parley_server, ta)
        try:
            await tid(page, "user-menu").click()
            await expect(tid(page, "prefs-form")).to_be_visible()
            await expect(tid(page, "pref-channel-row").first).to_be_visible()
            await expect(tid(page, "push-section")).to_be_hidden()
            await expect(tid(page, "push-enable")).to_be_hidden()
            # Never a permission prompt on its own.
            assert await page.evaluate("Notification.permission") == "default"
        finally:
            await ctx.close()

    async def test_enable_and_turn_off_push(
        self, browser: Browser, push_server: PushServer, ui: Any
    ) -> None:
        base = push_server.url
        (a,) = names("ann")
        ta = await ui.api_user(base, a)
        ctx, page = await ui.open_app(browser, base, ta)
        try:
            assert await page.evaluate("Notification.permission") == "default"  # no prompt on load
            await ctx.grant_permissions(["notifications"], origin=base)
            await page.add_init_script(FAKE_PUSH)
            await page.reload()
            await expect(tid(page, "connection-status")).to_have_attribute("data-state", "online")
            await tid(page, "user-menu").click()
            await expect(tid(page, "push-enable")).to_be_visible()
            await expect(tid(page, "push-disable")).to_be_hidden()
            await tid(page, "push-enable").click()
            await expect(tid(page, "account-status")).to_have_text(
                "Push notifications are on for this browser.", timeout=PUSH_ON
            )
            await expect(tid(page, "push-disable")).to_be_visible()
            await expect(tid(page, "push-enable")).to_be_hidden()
            # The real service worker is registered and active at the root.
            scope = await page.evaluate(
                "navigator.serviceWorker.ready.then(r => r.active && r.scope)"
            )
            assert scope == base + "/"
            options = await page.evaluate("window.__parleySubscribeOptions")
            assert options == {"userVisibleOnly": True, "keyLength": 65}  # the VAPID public key
            devices = await ui.call(base, ta, "GET", "/devices")
            assert [d["platform"] for d in devices] == ["webpush"]

            # Reopened, it still says on; turning it off deletes the device and unsubscribes.
            await page.keyboard.press("Escape")
            await tid(page, "user-menu").click()
            await expect(tid(page, "push-disable")).to_be_visible()
            await tid(page, "push-disable").click()
            await expect(tid(page, "account-status")).to_have_text(
                "Push notifications are off for this browser."
            )
            await expect(tid(page, "push-enable")).to_be_visible()
            assert await ui.call(base, ta, "GET", "/devices") == []
            assert await page.evaluate("window.__parleyUnsubscribed") is True
        finally:
            await ctx.close()
