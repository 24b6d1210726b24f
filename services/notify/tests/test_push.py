"""Push to devices: registration, Web Push and FCM against a local push service that checks
what the real ones check, collapse per conversation, previews, mute, expiry and retries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from notify.config import Settings
from notify.models import Device
from parley.vapid_key import new_private_key
from parley_common.bus import Bus
from parley_common.events import NotificationRequested, SessionRevoked, svc_key, user_key
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

from .conftest import Notify
from .push_service import PushService

ALICE, BOB, CAROL = 1, 2, 3
GROUP = 7


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    async with PushService() as service:
        yield service
        assert service.refused == []  # notify never sent what a real service would refuse


@pytest.fixture
async def notify_push(
    settings: Settings,
    test_bus: Bus,
    tokens: TokenFactory,
    harness: type[Notify],
    push_service: PushService,
    tmp_path: Path,
) -> AsyncIterator[Notify]:
    account = tmp_path / "fcm.json"
    account.write_text(json.dumps(push_service.service_account()))
    apns_key = tmp_path / "AuthKey.p8"
    apns_key.write_text(push_service.apns_key_pem())
    configured = settings.model_copy(
        update={
            "vapid_private_key": new_private_key(),
            "webpush_allowed_origins": ["http://127.0.0.1:*"],
            "fcm_endpoint": push_service.url,
            "fcm_service_account_file": str(account),
            "push_retry_base_seconds": 0.01,
            "apns_endpoint": push_service.apns_url,
            "apns_key_file": str(apns_key),
            "apns_key_id": push_service.apns_key_id,
            "apns_team_id": push_service.apns_team_id,
            "apns_topic": push_service.apns_topic,
        }
    )
    notify = await harness(configured, test_bus, tokens).start()
    try:
        yield notify
    finally:
        await notify.stop()


def as_user(notify: Notify, user_id: int, sid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {notify.tokens.token(user_id, f'user{user_id}', sid=sid)}"}


async def register(notify: Notify, user_id: int, body: dict[str, Any], sid: str = "s1") -> int:
    assert notify.http
    r = await notify.http.post("/devices", json=body, headers=as_user(notify, user_id, sid))
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


async def group_with_bob(notify: Notify) -> None:
    for user_id in (ALICE, BOB, CAROL):
        await notify.wait_processed(await notify.register(user_id, f"user{user_id}"))
    env = await notify.create_group(GROUP, "Release", ALICE, [ALICE, BOB, CAROL])
    await notify.wait_processed(env)


async def test_an_offline_browser_gets_each_message_encrypted_and_collapsed(
    notify_push: Notify, push_service: PushService
) -> None:
    await group_with_bob(notify_push)
    browser = push_service.browser("bob-laptop")
    device_id = await register(
        notify_push, BOB, {"platform": "webpush", "subscription": browser.subscription()}
    )
    assert device_id == await register(
        notify_push, BOB, {"platform": "webpush", "subscription": browser.subscription()}
    )  # the same subscription again is the same device
    assert notify_push.http
    listed = (
        await notify_push.http.get("/devices", headers=as_user(notify_push, BOB, "s1"))
    ).json()
    assert [(d["id"], d["platform"], d["current_session"]) for d in listed] == [
        (device_id, "webpush", True)
    ]

    await notify_push.message(
        GROUP, 1, ALICE, [ALICE, BOB, CAROL], "Ship it?", sender_username="alice"
    )
    await wait_for(lambda: push_service.of("bob-laptop"), message="bob's push")
    (push,) = push_service.of("bob-laptop")
    assert push.payload["title"] == "alice" and push.payload["body"] == "Ship it?"
    assert push.payload["tag"] == f"conversation-{GROUP}"
    assert push.payload["data"]["conversation_id"] == GROUP
    assert push.headers["topic"] == f"conversation-{GROUP}" and push.headers["urgency"] == "high"

    # Online: the socket shows it, no push. Offline again: the next message is pushed.
    connected = await notify_push.connected("gw-1", "conn-1", BOB)
    await notify_push.wait_processed(connected)
    seen_live = await notify_push.message(
        GROUP, 2, ALICE, [ALICE, BOB, CAROL], "seen live", sender_username="alice"
    )
    await notify_push.wait_processed(seen_live)
    await notify_push.wait_processed(await notify_push.disconnected("gw-1", "conn-1", BOB))
    await notify_push.message(
        GROUP, 3, ALICE, [ALICE, BOB, CAROL], "after", sender_username="alice"
    )
    await wait_for(lambda: len(push_service.of("bob-laptop")) == 2, message="the third message")
    assert [p.payload["body"] for p in push_service.of("bob-laptop")] == ["Ship it?", "after"]


async def test_previews_off_mute_and_a_notification_push(
    notify_push: Notify, push_service: PushService
) -> None:
    await group_with_bob(notify_push)
    await register(notify_push, BOB, {"platform": "fcm", "token": "bob-phone-token"})
    change = {"push_previews": False}
    r = await notify_push.request("PUT", "/notifications/preferences", BOB, json=change)
    assert r.status_code == 200 and r.json()["push_previews"] is False

    await notify_push.message(
        GROUP,
        1,
        ALICE,
        [ALICE, BOB, CAROL],
        "@user2 secret plan",
        mentions=[BOB],
        sender_username="alice",
    )
    await wait_for(
        lambda: len(push_service.of("bob-phone-token")) == 2, message="message + mention"
    )
    bodies = sorted(p.payload["notification"]["body"] for p in push_service.of("bob-phone-token"))
    assert bodies == ["", "New message"]  # no text anywhere
    for p in push_service.of("bob-phone-token"):
        assert p.payload["android"]["collapse_key"] == f"conversation-{GROUP}"
        # The badge: unread notifications (added to the group, the mention).
        assert p.payload["android"]["notification"]["notification_count"] == 2
    assert push_service.of("bob-phone-token")[0].headers["authorization"].startswith("Bearer ")

    r = await notify_push.request(
        "PUT", "/notifications/preferences", BOB, json={"muted_conversation_ids": [GROUP]}
    )
    assert r.status_code == 200
    await notify_push.message(
        GROUP, 2, ALICE, [ALICE, BOB, CAROL], "muted", sender_username="alice"
    )
    event = NotificationRequested(
        user_ids=[BOB], type="task.assigned", title="Task for you", body="Fix it", source="tasks"
    )
    await notify_push.publish(event, [svc_key(event.EVENT_TYPE)])
    await wait_for(lambda: len(push_service.of("bob-phone-token")) == 3, message="the task push")
    task = push_service.of("bob-phone-token")[2].payload
    assert task["notification"]["title"] == "Task for you"
    assert task["data"]["type"] == "task.assigned"


async def test_an_iphone_gets_the_message_over_http2_and_goes_when_unregistered(
    notify_push: Notify, push_service: PushService
) -> None:
    await group_with_bob(notify_push)
    await register(notify_push, BOB, {"platform": "apns", "token": "bob-iphone-0001"})
    await notify_push.message(
        GROUP, 1, ALICE, [ALICE, BOB, CAROL], "On my way", sender_username="alice"
    )
    await wait_for(lambda: push_service.of("bob-iphone-0001"), message="the APNs push")
    (push,) = push_service.of("bob-iphone-0001")
    aps = push.payload["aps"]
    assert aps["alert"] == {"title": "alice", "body": "On my way"}
    assert aps["badge"] == 1 and aps["thread-id"] == f"conversation-{GROUP}"  # added to group
    assert push.headers["apns-collapse-id"] == f"conversation-{GROUP}"
    assert push.headers["apns-push-type"] == "alert"

    push_service.gone.add("bob-iphone-0001")
    await notify_push.message(GROUP, 2, ALICE, [ALICE, BOB, CAROL], "gone", sender_username="alice")

    async def devices_left() -> list[Any]:
        return list(await notify_push.db(select(Device.id).where(Device.user_id == BOB)))

    await wait_for(lambda: _equals(devices_left(), []), message="the unregistered iPhone removed")


async def test_gone_devices_are_removed_and_busy_services_retried(
    notify_push: Notify, push_service: PushService
) -> None:
    await group_with_bob(notify_push)
    laptop = push_service.browser("bob-laptop")
    await register(notify_push, BOB, {"platform": "webpush", "subscription": laptop.subscription()})
    await register(notify_push, BOB, {"platform": "fcm", "token": "bob-old-phone"})
    await register(notify_push, BOB, {"platform": "fcm", "token": "bob-new-phone"})
    push_service.gone.update({"bob-laptop", "bob-old-phone"})
    push_service.busy["bob-new-phone"] = 2

    await notify_push.message(
        GROUP, 1, ALICE, [ALICE, BOB, CAROL], "hello", sender_username="alice"
    )
    await wait_for(lambda: push_service.of("bob-new-phone"), message="the push after two 429s")
    assert push_service.attempts["bob-new-phone"] == 3

    async def tokens_left() -> list[str]:
        return [
            t for (t,) in await notify_push.db(select(Device.token).where(Device.user_id == BOB))
        ]

    await wait_for(
        lambda: _equals(tokens_left(), ["bob-new-phone"]), message="gone devices removed"
    )


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_logging_out_removes_that_sessions_devices(
    notify_push: Notify, push_service: PushService
) -> None:
    await group_with_bob(notify_push)
    await register(notify_push, BOB, {"platform": "fcm", "token": "phone-aaa"}, sid="phone-session")
    await register(
        notify_push, BOB, {"platform": "fcm", "token": "tablet-bbb"}, sid="tablet-session"
    )
    event = SessionRevoked(user_id=BOB, sid="phone-session")
    await notify_push.wait_processed(
        await notify_push.publish(event, [user_key(BOB, event.EVENT_TYPE)])
    )
    rows = await notify_push.db(select(Device.token).where(Device.user_id == BOB))
    assert [t for (t,) in rows] == ["tablet-bbb"]


async def test_bad_registrations_are_refused_and_change_nothing(
    notify_push: Notify, push_service: PushService, notify: Notify
) -> None:
    assert notify_push.http and notify.http
    headers = as_user(notify_push, BOB, "s1")
    elsewhere = push_service.browser("x").subscription() | {"endpoint": "https://evil.example/wp/1"}
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"platform": "webpush", "subscription": elsewhere}, 400, "push_endpoint_refused"),
        ({"platform": "webpush", "token": "abcdefgh12345678"}, 422, None),
        ({"platform": "fcm"}, 422, None),
        ({"platform": "sms", "token": "abcdefgh12345678"}, 422, None),
        ({"platform": "fcm", "token": "has spaces in it"}, 422, None),
    ]
    for body, status, code in cases:
        r = await notify_push.http.post("/devices", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        if code:
            assert r.json()["code"] == code
    assert await notify_push.db(select(Device.id)) == []
    # Another user's device is not yours to delete; without push settings, no key to give.
    device_id = await register(notify_push, ALICE, {"platform": "fcm", "token": "alice-phone-1"})
    r = await notify_push.http.delete(f"/devices/{device_id}", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "device_not_found"
    key = await notify_push.http.get("/devices/webpush-key", headers=headers)
    assert key.status_code == 200 and len(key.json()["public_key"]) == 87
    r = await notify.http.get("/devices/webpush-key", headers=notify.auth(BOB))
    assert r.status_code == 400 and r.json()["code"] == "push_unavailable"
    body = {"platform": "apns", "token": "abcdefgh12345678"}
    r = await notify.http.post("/devices", json=body, headers=notify.auth(BOB))
    assert r.status_code == 400 and r.json()["code"] == "push_unavailable"
