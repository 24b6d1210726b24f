"""Presence from the gateways' events: sockets, heartbeats, and what friends are told."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import REGISTRY

from notify.config import Settings
from notify.runtime import notify_runtime
from parley_common.bus import Bus
from parley_common.testing.harness import INTERNAL_TOKEN
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

from .conftest import Notify, Observer

INTERNAL = {"X-Parley-Service-Token": INTERNAL_TOKEN}


async def internal_presence(notify: Notify, *ids: int) -> dict[str, Any]:
    assert notify.http
    r = await notify.http.get(
        "/internal/presence", params={"user_ids": ",".join(map(str, ids))}, headers=INTERNAL
    )
    assert r.status_code == 200, r.text
    presence: dict[str, Any] = r.json()
    return presence


def changes(observer: Observer, user_id: int) -> list[tuple[str, bool]]:
    """The user's transitions in the `presence.changes` events notify published (routing key,
    online)."""
    return [
        (key, change["online"])
        for key, env in observer.of_type("presence.changes")
        for change in env.data["changes"]
        if change["user_id"] == user_id
    ]


async def friends_ready(notify: Notify, user_id: int, friend_id: int) -> None:
    async def visible() -> bool:
        r = await notify.get("/presence", user_id, params={"user_ids": str(friend_id)})
        return str(friend_id) in r.json()

    await wait_for(visible, message="friendship projected")


class TestPresence:
    async def test_two_sockets_stay_online_until_both_close(
        self, notify: Notify, observer: Observer
    ) -> None:
        await notify.befriend(1, 2)
        await friends_ready(notify, 2, 1)

        await notify.connected("gw-a", "c1", 1)
        await notify.connected("gw-a", "c2", 1)
        await notify.heartbeat("gw-a")
        await wait_for(
            lambda: changes(observer, 1) == [("gw.presence.changes", True)],
            message="online sent to the friend",
        )
        assert (await internal_presence(notify, 1))["1"]["online"] is True
        assert REGISTRY.get_sample_value("parley_users_online") == 1

        await notify.disconnected("gw-a", "c1", 1)
        await wait_for(lambda: _sockets(notify, 1, 1), message="one socket left")
        assert (await internal_presence(notify, 1))["1"]["online"] is True

        await notify.disconnected("gw-a", "c2", 1)
        await wait_for(lambda: len(changes(observer, 1)) == 2, message="offline sent")
        assert changes(observer, 1) == [
            ("gw.presence.changes", True),
            ("gw.presence.changes", False),
        ]
        state = (await internal_presence(notify, 1))["1"]
        assert state["online"] is False and state["last_seen"] is not None
        assert REGISTRY.get_sample_value("parley_users_online") == 0
        offline = observer.of_type("presence.changes")[-1][1].data["changes"][-1]
        assert offline["user_id"] == 1 and offline["last_seen"] is not None

    async def test_silent_gateway_makes_its_users_offline(
        self, short_ttl: Notify, observer: Observer
    ) -> None:
        notify = short_ttl
        await notify.befriend(5, 6)
        await friends_ready(notify, 6, 5)
        await notify.connected("gw-dead", "c9", 5)
        await wait_for(
            lambda: changes(observer, 5) == [("gw.presence.changes", True)], message="online"
        )
        # No heartbeat any more: within the TTL (1 s in tests) plus a reap tick, 5 is offline.
        await wait_for(lambda: len(changes(observer, 5)) == 2, timeout=5, message="offline by TTL")
        assert changes(observer, 5)[1] == ("gw.presence.changes", False)
        assert (await internal_presence(notify, 5))["5"]["online"] is False

    async def test_heartbeats_keep_a_gateway_alive(
        self, settings: Settings, test_bus: Bus, tokens: TokenFactory
    ) -> None:
        # A 3 s TTL, each heartbeat once a fifth of it has passed: 2.4 s of margin before the key
        # would expire (with 1 s and a heartbeat at half, a CI run under full load missed it).
        ttl = settings.model_copy(update={"presence_gateway_ttl_seconds": 3.0})
        notify = await Notify(ttl, test_bus, tokens).start()
        try:
            await notify.connected("gw-live", "c1", 7)
            await wait_for(lambda: _online(notify, 7), message="online")
            ttl_ms = 3000
            started = time.monotonic()
            while time.monotonic() - started <= 3.0:  # past one TTL in all
                await wait_for(
                    lambda: _ttl_left(notify, "gw-live", below=ttl_ms * 0.8), message="aging"
                )
                await notify.heartbeat("gw-live")
                await wait_for(
                    lambda: _ttl_left(notify, "gw-live", above=ttl_ms * 0.9), message="beat"
                )
                await notify_runtime(notify.app.state).parts.presence.reap_once()
                assert await _online(notify, 7)
        finally:
            await notify.stop()

    async def test_strangers_cannot_see_and_replays_change_nothing(
        self, notify: Notify, observer: Observer
    ) -> None:
        await notify.befriend(11, 12)
        await friends_ready(notify, 12, 11)
        await notify.connected("gw-b", "c1", 11)
        await notify.connected("gw-b", "c1", 11)  # a replayed event changes nothing
        await notify.connected("gw-b", "c2", 13)
        await wait_for(lambda: changes(observer, 11), message="online")
        await wait_for(lambda: changes(observer, 13), message="13 online")

        r = await notify.get("/presence", 13, params={"user_ids": "11,12"})
        assert r.status_code == 200 and r.json() == {}
        r = await notify.get("/presence", 12, params={"user_ids": "11,13"})
        assert set(r.json()) == {"11"} and r.json()["11"]["online"] is True
        # For the gateways, which tell each user's connected friends (and only them).
        assert changes(observer, 11) == [("gw.presence.changes", True)]

    async def test_a_burst_of_sockets_is_announced_in_few_events(
        self, notify: Notify, observer: Observer
    ) -> None:
        for start in range(0, 200, 25):  # 25 at a time: they arrive together, as in a burst
            await asyncio.gather(
                *(notify.connected("gw-c", f"burst{i}", 1000 + i) for i in range(start, start + 25))
            )
        await wait_for(
            lambda: len({u for u in range(1000, 1200) if changes(observer, u)}) == 200,
            message="200 users online",
        )
        assert all(
            changes(observer, u) == [("gw.presence.changes", True)] for u in range(1000, 1200)
        )
        assert len(observer.of_type("presence.changes")) < 100

    async def test_presence_requires_auth_and_service_token(self, notify: Notify) -> None:
        assert notify.http
        r = await notify.http.get("/presence", params={"user_ids": "1"})
        assert r.status_code == 401 and r.json()["detail"] == "Not authenticated"
        r = await notify.http.get("/internal/presence", params={"user_ids": "1"})
        assert r.status_code == 403
        r = await notify.get("/presence", 1, params={"user_ids": "x"})
        assert r.status_code == 400


async def _online(notify: Notify, user_id: int) -> bool:
    return await notify_runtime(notify.app.state).parts.presence.store.is_online(user_id)


async def _sockets(notify: Notify, user_id: int, count: int) -> bool:
    prefix = notify.settings.presence_key_prefix
    return (
        int(
            await notify_runtime(notify.app.state).parts.presence.store._r.hlen(
                f"{prefix}u:{user_id}"
            )
        )
        == count
    )


async def _ttl_left(
    notify: Notify, gateway_id: str, *, below: float | None = None, above: float | None = None
) -> bool:
    prefix = notify.settings.presence_key_prefix
    left = int(
        await notify_runtime(notify.app.state).parts.presence.store._r.pttl(
            f"{prefix}alive:{gateway_id}"
        )
    )
    if left < 0:
        return False
    return (below is None or left < below) and (above is None or left > above)
