"""Host notifications (notification.requested from chat's integration API) and the per-type
channel choices that decide whether they are stored."""

from __future__ import annotations

from typing import Any

from parley_common.events import NotificationRequested, svc_key

from .conftest import Notify

ALICE, BOB, CAROL, STRANGER = 1, 2, 3, 99


async def request(notify: Notify, user_ids: list[int], type_: str, key: str | None) -> None:
    event = NotificationRequested(
        user_ids=user_ids,
        type=type_,
        title=f"{type_} for you",
        body="Fix the sink",
        link="https://tasks.example.com/t/42",
        data={"task_id": 42},
        idempotency_key=key,
        source="tasks",
    )
    await notify.wait_processed(await notify.publish(event, [svc_key(event.EVENT_TYPE)]))


async def listed(notify: Notify, user_id: int, **params: Any) -> list[dict[str, Any]]:
    r = await notify.get("/notifications", user_id, params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()
    return items


async def test_one_notification_per_user_and_key(notify: Notify) -> None:
    for user_id, name in ((ALICE, "alice"), (BOB, "bob")):
        await notify.wait_processed(await notify.register(user_id, name))
    await request(notify, [ALICE, BOB, STRANGER], "task.assigned", "task-42")
    await request(notify, [ALICE, BOB], "task.assigned", "task-42")  # the host retried
    await request(notify, [BOB], "task.due_soon", None)
    await request(notify, [BOB], "task.due_soon", None)  # no key: each request counts

    (mine,) = await listed(notify, ALICE)
    assert mine["type"] == "task.assigned" and mine["title"] == "task.assigned for you"
    assert mine["link"] == "https://tasks.example.com/t/42" and mine["data"] == {"task_id": 42}
    assert [n["type"] for n in await listed(notify, BOB, type="task.")] == [
        "task.due_soon",
        "task.due_soon",
        "task.assigned",
    ]
    assert len(await listed(notify, BOB, type="task.assigned")) == 1
    assert await listed(notify, BOB, type="task") == await listed(notify, BOB, type="task.")
    assert await listed(notify, BOB, type="job.") == []
    counts = (await notify.get("/notifications/unread-count", BOB)).json()
    assert counts == {"count": 3, "by_type": {"task.assigned": 1, "task.due_soon": 2}}
    assert (await notify.get("/notifications", BOB, params={"type": "Task!"})).status_code == 422


async def test_in_app_choice_per_type_and_for_every_host_type(notify: Notify) -> None:
    for user_id, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
        await notify.wait_processed(await notify.register(user_id, name))
    # Alice: no task.assigned in the app. Bob: no host notification at all, but job.accepted.
    r = await notify.request(
        "PUT",
        "/notifications/preferences",
        ALICE,
        json={"channels": {"task.assigned": {"in_app": False}}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["channels"]["task.assigned"] == {"in_app": False, "email": True, "push": True}
    assert r.json()["channels"]["mention"] == {"in_app": True, "email": False, "push": True}
    r = await notify.request(
        "PUT",
        "/notifications/preferences",
        BOB,
        json={"channels": {"host": {"in_app": False}, "job.accepted": {"in_app": True}}},
    )
    assert r.status_code == 200, r.text
    await request(notify, [ALICE, BOB, CAROL], "task.assigned", "t1")
    await request(notify, [ALICE, BOB, CAROL], "job.accepted", "j1")
    assert [n["type"] for n in await listed(notify, ALICE)] == ["job.accepted"]
    assert [n["type"] for n in await listed(notify, BOB)] == ["job.accepted"]
    assert [n["type"] for n in await listed(notify, CAROL)] == ["job.accepted", "task.assigned"]

    # null returns a channel to its default; an unknown type name is refused.
    r = await notify.request(
        "PUT",
        "/notifications/preferences",
        ALICE,
        json={"channels": {"task.assigned": {"in_app": None}}},
    )
    assert r.json()["channels"].get("task.assigned") is None
    for bad in ({"bogus": {"in_app": False}}, {"task.assigned": {"sms": True}}):
        r = await notify.request("PUT", "/notifications/preferences", ALICE, json={"channels": bad})
        assert r.status_code == 422, bad
