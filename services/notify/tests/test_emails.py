"""Missed-message emails: batching, cancelling by reading, mute and opt-out, unsubscribe, restart."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

from sqlalchemy import select

from notify.models import EmailItem, PendingEmail, User
from notify.runtime import notify_runtime
from parley_common.testing.smtp import SmtpCollector
from parley_common.testing.waiting import wait_for

from .conftest import Notify

ALICE, BOB, GROUP = 1, 2, 10


async def setup_pair(notify: Notify) -> None:
    """alice and bob registered, both in the group "Team <1>"."""
    await notify.register(ALICE, "alice")
    await notify.register(BOB, "bob")
    env = await notify.create_group(GROUP, "Team <1>", ALICE, [ALICE, BOB])
    await notify.wait_processed(env)
    await wait_for(
        lambda: notify.db(select(User.id).where(User.id == BOB)), message="bob projected"
    )


async def emails_for(notify: Notify, user_id: int, status: str | None = None) -> list[PendingEmail]:
    query = select(PendingEmail).where(PendingEmail.user_id == user_id)
    if status:
        query = query.where(PendingEmail.status == status)
    return [row[0] for row in await notify.db(query)]


async def all_settled(notify: Notify, user_id: int) -> bool:
    """No email pending and every item of the user's in a sent email."""
    if await emails_for(notify, user_id, "pending"):
        return False
    items = await notify.db(select(EmailItem.email_id).where(EmailItem.user_id == user_id))
    return all(email_id is not None for (email_id,) in items)


def text_of(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def without_channels(prefs: dict[str, Any]) -> dict[str, Any]:
    """The preferences of PROTOCOL.md's base (per-type channels and push previews are tested
    on their own)."""
    return {k: v for k, v in prefs.items() if k not in ("channels", "push_previews")}


class TestMissedMessageEmail:
    async def test_one_email_batches_three_messages(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        await setup_pair(notify)
        for seq, content in enumerate(["hello bob", "are you there?", "<b>bold</b> & more"], 1):
            await notify.message(GROUP, seq, ALICE, [ALICE, BOB], content, sender_username="alice")

        await wait_for(lambda: len(collector.messages) == 1, message="the email")
        await wait_for(lambda: all_settled(notify, BOB), message="nothing left pending")
        assert len(collector.messages) == 1
        message = collector.messages[0]
        assert message["To"] == "bob@example.com"
        assert "3 unread messages" in message["Subject"]
        text, html = text_of(message)
        for needle in (
            "alice: hello bob",
            "alice: are you there?",
            "alice: <b>bold</b> & more",
            "Team <1>",
            "http://parley.test/?conversation=10",
        ):
            assert needle in text
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html and "<b>bold</b>" not in html
        assert "Team &lt;1&gt;" in html
        assert "/notifications/unsubscribe?token=" in message["List-Unsubscribe"]
        sent = await emails_for(notify, BOB, "sent")
        assert len(sent) == 1 and not await emails_for(notify, ALICE)

    async def test_attachments_without_text_say_what_was_sent(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        await setup_pair(notify)

        def attachment(i: int, content_type: str) -> dict[str, Any]:
            return {
                "id": i,
                "filename": f"f{i}",
                "content_type": content_type,
                "size": 1,
                "url": f"/attachments/{i}",
            }

        photo = [attachment(1, "image/png")]
        await notify.message(
            GROUP,
            1,
            ALICE,
            [ALICE, BOB],
            "",
            sender_username="alice",
            attachments=photo,
            type_="image",
        )
        files = [attachment(2, "application/pdf"), attachment(3, "image/png")]
        await notify.message(
            GROUP,
            2,
            ALICE,
            [ALICE, BOB],
            "",
            sender_username="alice",
            attachments=files,
            type_="file",
        )
        await wait_for(lambda: len(collector.messages) == 1, message="the email")
        text, _ = text_of(collector.messages[0])
        assert "alice: sent a photo" in text and "alice: sent 2 files" in text

    async def test_reading_before_the_delay_cancels_the_email(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        await setup_pair(notify)
        r = await notify.request(
            "PUT", "/notifications/preferences", BOB, json={"email_delay_minutes": 0.5}
        )
        assert r.status_code == 200 and r.json()["email_delay_minutes"] == 0.5
        await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "one")
        await notify.message(GROUP, 2, ALICE, [ALICE, BOB], "two")
        await wait_for(lambda: _items(notify, BOB, 2), message="both queued")
        assert len(await emails_for(notify, BOB, "pending")) == 1

        await notify.read(BOB, GROUP, 2)
        await wait_for(lambda: emails_for(notify, BOB, "cancelled"), message="email cancelled")
        assert not await emails_for(notify, BOB, "pending")
        assert collector.messages == []

    async def test_later_messages_never_push_the_email_back(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        """The email is due one delay after the first missed message, however many follow."""
        await setup_pair(notify)
        await notify.request(
            "PUT", "/notifications/preferences", BOB, json={"email_delay_minutes": 0.5}
        )
        await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "first")
        await wait_for(lambda: _items(notify, BOB, 1), message="queued")
        (first,) = await emails_for(notify, BOB, "pending")
        for seq in (2, 3, 4):
            await notify.message(GROUP, seq, ALICE, [ALICE, BOB], f"message {seq}")
            await wait_for(partial(_items, notify, BOB, seq), message="queued")
        (pending,) = await emails_for(notify, BOB, "pending")
        assert pending.id == first.id and pending.due_at == first.due_at
        assert abs((first.due_at - first.created_at).total_seconds() - 30) < 1

    async def test_partly_read_sends_only_the_unread(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        await setup_pair(notify)
        await notify.request(
            "PUT", "/notifications/preferences", BOB, json={"email_delay_minutes": 2 / 60}
        )
        for seq in (1, 2, 3):
            await notify.message(GROUP, seq, ALICE, [ALICE, BOB], f"message {seq}")
        await wait_for(lambda: _items(notify, BOB, 3), message="queued")
        await notify.wait_processed(await notify.read(BOB, GROUP, 2))
        await wait_for(lambda: len(collector.messages) == 1, message="the email")
        text, _ = text_of(collector.messages[0])
        assert "message 3" in text and "message 1" not in text and "message 2" not in text

    async def test_muted_conversation_and_email_off_send_nothing(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        carol = 3
        await notify.register(carol, "carol")
        await setup_pair(notify)
        r = await notify.request(
            "PUT", "/notifications/preferences", BOB, json={"muted_conversation_ids": [GROUP]}
        )
        assert r.json()["muted_conversation_ids"] == [GROUP]
        r = await notify.request(
            "PUT", "/notifications/preferences", carol, json={"email_missed_messages": False}
        )
        assert without_channels(r.json()) == {
            "email_missed_messages": False,
            "email_delay_minutes": 1 / 60,
            "digest": "off",
            "muted_conversation_ids": [],
        }
        env = await notify.message(GROUP, 1, ALICE, [ALICE, BOB, carol], "nobody gets this")
        await notify.wait_processed(env)
        assert not await emails_for(notify, BOB) and not await emails_for(notify, carol)
        assert not await notify.db(select(EmailItem.id))
        assert collector.messages == []

    async def test_online_recipient_gets_no_email(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        await setup_pair(notify)
        await notify.connected("gw-1", "bob-socket", BOB)
        await wait_for(
            lambda: notify_runtime(notify.app.state).parts.presence.store.is_online(BOB),
            message="bob online",
        )
        await notify.wait_processed(await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "hi"))
        assert not await emails_for(notify, BOB)

    async def test_unsubscribe_link_works_without_login(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        await setup_pair(notify)
        await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "hello")
        await wait_for(lambda: len(collector.messages) == 1, message="the email")
        text, _ = text_of(collector.messages[0])
        match = re.search(r"http://parley\.test(/notifications/unsubscribe\?token=\S+)", text)
        assert match, text

        bad = await notify.get("/notifications/unsubscribe", params={"token": "2.forged"})
        assert bad.status_code == 400
        other = await notify.get(
            "/notifications/unsubscribe",
            params={"token": "1" + match.group(1).split("=", 1)[1][1:]},
        )
        assert other.status_code == 400  # bob's signature does not work for alice
        r = await notify.get(match.group(1))  # no Authorization header
        assert r.status_code == 200
        assert r.json() == {
            "status": "ok",
            "message": "You have been unsubscribed from email notifications",
        }
        prefs = await notify.get("/notifications/preferences", BOB)
        assert prefs.json()["email_missed_messages"] is False

        env = await notify.message(GROUP, 2, ALICE, [ALICE, BOB], "after unsubscribing")
        await notify.wait_processed(env)
        assert not await emails_for(notify, BOB, "pending")
        assert len(collector.messages) == 1

    async def test_smtp_failure_is_retried(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        collector.fail_next = 2
        await setup_pair(notify)
        await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "eventually")
        await wait_for(lambda: len(collector.messages) == 1, message="the email after retries")
        await wait_for(lambda: all_settled(notify, BOB), message="settled")
        (sent,) = await emails_for(notify, BOB, "sent")
        assert sent.attempts == 3 and len(collector.messages) == 1


class TestRestart:
    async def test_email_scheduled_before_a_restart_is_sent_once(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        collector, _ = smtp
        await setup_pair(notify)
        await notify.request(
            "PUT", "/notifications/preferences", BOB, json={"email_delay_minutes": 2 / 60}
        )
        await notify.message(GROUP, 1, ALICE, [ALICE, BOB], "before the restart")
        await wait_for(lambda: emails_for(notify, BOB, "pending"), message="scheduled")
        await notify.stop()  # well before the 2 s delay
        assert collector.messages == []

        await notify.start()  # a new app on the same database
        await wait_for(lambda: len(collector.messages) == 1, message="sent after the restart")
        await wait_for(lambda: all_settled(notify, BOB), message="settled")
        assert len(collector.messages) == 1
        assert len(await emails_for(notify, BOB, "sent")) == 1


async def _items(notify: Notify, user_id: int, count: int) -> bool:
    rows = await notify.db(select(EmailItem.id).where(EmailItem.user_id == user_id))
    return len(rows) == count


class TestDailyDigest:
    async def test_one_digest_per_user_past_the_digest_hour(
        self, notify: Notify, smtp: tuple[SmtpCollector, int]
    ) -> None:
        """Bob and Carol chose the daily digest and missed three messages; Carol then read them.
        Past the digest hour Bob gets exactly one digest with all three, Carol nothing; a day
        later still nothing more."""
        collector, _ = smtp
        carol = 3
        await notify.register(ALICE, "alice")
        await notify.register(BOB, "bob")
        await notify.register(carol, "carol")
        await notify.wait_processed(
            await notify.create_group(GROUP, "Team <1>", ALICE, [ALICE, BOB, carol])
        )
        for user_id in (BOB, carol):
            r = await notify.request(
                "PUT", "/notifications/preferences", user_id, json={"digest": "daily"}
            )
            assert r.status_code == 200 and r.json()["digest"] == "daily"
        for seq in (1, 2, 3):
            await notify.message(
                GROUP, seq, ALICE, [ALICE, BOB, carol], f"news {seq}", sender_username="alice"
            )
        await wait_for(lambda: _items(notify, BOB, 3), message="bob's items")
        await notify.wait_processed(await notify.read(carol, GROUP, 3))
        (pending,) = await emails_for(notify, BOB, "pending")
        assert pending.kind == "digest" and pending.due_at.hour == notify.settings.digest_hour_utc

        sender = notify_runtime(notify.app.state).parts.sender
        await sender.send_due()  # before the digest hour: nothing is due
        assert collector.messages == []

        real_clock = sender.clock
        sender.clock = lambda: real_clock() + timedelta(days=1, minutes=1)
        await wait_for(lambda: len(collector.messages) == 1, message="bob's digest")
        await wait_for(lambda: all_settled(notify, BOB), message="bob's digest sent")
        sender.clock = lambda: real_clock() + timedelta(days=2, minutes=1)
        await sender.send_due()
        assert len(collector.messages) == 1
        (digest,) = collector.messages
        assert digest["To"] == "bob@example.com"
        assert digest["Subject"] == "Your daily Parley summary: 3 unread messages"
        text, _ = text_of(digest)
        assert all(f"alice: news {seq}" in text for seq in (1, 2, 3))
        assert not await emails_for(notify, carol, "sent")
