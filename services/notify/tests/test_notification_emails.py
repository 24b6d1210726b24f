"""Emails about single notifications, for the types the user wants by email: a template per
type, the host type in the subject, one-click unsubscribe for that type, nothing once read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from notify.config import Settings
from notify.models import NotificationEmail
from notify.runtime import notify_runtime
from parley_common.bus import Bus
from parley_common.db import utcnow
from parley_common.events import NotificationRequested, UserRegistered, UserUpdated, svc_key
from parley_common.testing.smtp import SmtpCollector
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

from .conftest import Notify

ALICE, BOB = 1, 2
GROUP = 7


@pytest.fixture
async def prompt(
    settings: Settings, test_bus: Bus, tokens: TokenFactory, harness: type[Notify]
) -> AsyncIterator[Notify]:
    """Notify that emails a notification as soon as it is created (no wait for an in-app read)."""
    now = settings.model_copy(update={"notification_email_delay_seconds": 0.0})
    notify = await harness(now, test_bus, tokens).start()
    try:
        yield notify
    finally:
        await notify.stop()


async def host_notification(notify: Notify, type_: str, title: str, key: str) -> None:
    event = NotificationRequested(
        user_ids=[BOB],
        type=type_,
        title=title,
        body="Fix the sink <today>",
        link="https://tasks.example.com/t/42",
        data={},
        idempotency_key=key,
        source="tasks",
    )
    await notify.wait_processed(await notify.publish(event, [svc_key(event.EVENT_TYPE)]))


async def queued(notify: Notify) -> list[tuple[str, str]]:
    rows = await notify.db(select(NotificationEmail.type, NotificationEmail.status))
    return [(t, s) for t, s in rows]


def parts(message: Any) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


async def test_a_host_notification_is_emailed_and_its_type_can_be_unsubscribed(
    prompt: Notify, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    await prompt.wait_processed(await prompt.register(BOB, "bob"))
    await host_notification(prompt, "task.assigned", "Task assigned to you", "t-1")

    await wait_for(lambda: len(collector.messages) == 1, timeout=10, message="the email")
    (email,) = collector.messages
    assert email["To"] == "bob@example.com"
    assert email["Subject"] == "[task.assigned] Task assigned to you"
    text, html = parts(email)
    assert text.startswith("Hi bob,") and "https://tasks.example.com/t/42" in text
    assert '"Fix the sink <today>"' in text and "Fix the sink &lt;today&gt;" in html
    assert "you chose email for task.assigned notifications" in text
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = email["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://parley.test/notifications/unsubscribe?")
    assert "type=task.assigned" in unsubscribe

    # The mail client's one-click POST (RFC 8058) turns off this type's email only.
    url = urlsplit(unsubscribe)
    assert prompt.http
    r = await prompt.http.post(f"{url.path}?{url.query}")
    assert r.status_code == 200, r.text
    prefs = (await prompt.get("/notifications/preferences", BOB)).json()
    assert prefs["channels"]["task.assigned"]["email"] is False
    assert prefs["channels"]["host"]["email"] is True
    assert prefs["email_missed_messages"] is True

    # A token for one type does not unsubscribe from another.
    forged = f"{url.path}?{url.query.replace('task.assigned', 'task.due_soon')}"
    assert (await prompt.http.post(forged)).status_code == 400

    await host_notification(prompt, "task.assigned", "Another task", "t-2")
    await host_notification(prompt, "task.due_soon", "Task due in 24 h", "t-3")
    await wait_for(lambda: len(collector.messages) == 2, timeout=10, message="the second email")
    assert collector.messages[1]["Subject"] == "[task.due_soon] Task due in 24 h"
    await notify_runtime(prompt.app.state).parts.sender.send_due()
    assert len(collector.messages) == 2
    assert ("task.assigned", "pending") not in await queued(prompt)


async def test_built_in_types_are_emailed_only_when_chosen(
    prompt: Notify, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    for user_id, name in ((ALICE, "alice"), (BOB, "bob")):
        await prompt.wait_processed(await prompt.register(user_id, name))
    await prompt.wait_processed(await prompt.create_group(GROUP, "Release", ALICE, [ALICE, BOB]))
    await prompt.wait_processed(
        await prompt.message(GROUP, 1, ALICE, [ALICE, BOB], "@bob hi", mentions=[BOB])
    )
    assert await queued(prompt) == []  # mentions: in-app and push by default, no email

    change = {"channels": {"mention": {"email": True, "in_app": False}}}
    r = await prompt.request("PUT", "/notifications/preferences", BOB, json=change)
    assert r.status_code == 200, r.text
    await prompt.wait_processed(
        await prompt.message(
            GROUP,
            2,
            ALICE,
            [ALICE, BOB],
            "@bob the notes?",
            mentions=[BOB],
            sender_username="alice",
        )
    )
    await wait_for(lambda: len(collector.messages) == 1, timeout=10, message="the mention email")
    (email,) = collector.messages
    assert email["Subject"] == "alice mentioned you"
    text, _ = parts(email)
    assert '"@bob the notes?"' in text
    assert f"http://parley.test/?conversation={GROUP}" in text
    assert "you chose email for mentions" in text
    # Email only: the mention is not in the in-app list.
    listed = (await prompt.get("/notifications", BOB, params={"type": "mention"})).json()
    assert [n["body"] for n in listed] == ["@bob hi"]


async def test_read_in_app_before_the_delay_is_not_emailed(
    notify: Notify, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    await notify.wait_processed(await notify.register(BOB, "bob"))
    await host_notification(notify, "task.commented", "New comment", "c-1")
    await host_notification(notify, "task.commented", "Another comment", "c-2")
    assert await queued(notify) == [("task.commented", "pending")] * 2
    listed = (await notify.get("/notifications", BOB)).json()
    first = next(n for n in listed if n["title"] == "New comment")
    r = await notify.request("POST", f"/notifications/{first['id']}/read", BOB)
    assert r.status_code == 200

    sender = notify_runtime(notify.app.state).parts.sender
    await sender.send_due()  # within the delay (60 s by default): nothing goes out yet
    assert collector.messages == []
    real_clock = sender.clock
    sender.clock = lambda: real_clock() + timedelta(minutes=2)
    await sender.send_due()
    # The service's own sender loop reads the same clock and may be the one that sends it.
    await wait_for(lambda: collector.messages, timeout=10, message="the email")

    async def settled() -> list[str] | None:
        states = sorted(s for _, s in await queued(notify))
        return states if "pending" not in states else None

    assert await wait_for(settled, timeout=10, message="the queue settled") == ["cancelled", "sent"]
    assert [m["Subject"] for m in collector.messages] == ["[task.commented] Another comment"]


async def test_an_unconfirmed_address_gets_no_email(
    prompt: Notify, smtp: tuple[SmtpCollector, int]
) -> None:
    collector, _ = smtp
    unconfirmed = UserRegistered(
        user_id=BOB,
        username="bob",
        email="bob@example.com",
        created_at=utcnow(),
        email_verified=False,
    )
    await prompt.wait_processed(await prompt.publish(unconfirmed, [svc_key("user.registered")]))
    await host_notification(prompt, "task.assigned", "Task for you", "u-1")
    await notify_runtime(prompt.app.state).parts.sender.send_due()
    assert collector.messages == []
    assert await queued(prompt) == [("task.assigned", "cancelled")]
    # Confirmed since (auth's user.updated after the link): emails flow again.
    confirmed = UserUpdated(**unconfirmed.model_dump() | {"email_verified": True})
    await prompt.wait_processed(await prompt.publish(confirmed, [svc_key("user.updated")]))
    await host_notification(prompt, "task.assigned", "Another task", "u-2")
    await wait_for(lambda: len(collector.messages) == 1, timeout=10, message="the email")
