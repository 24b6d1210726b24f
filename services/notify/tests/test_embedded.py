"""The embedded mode: SQLite, the in-process bus and store, emails as .eml files."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from notify.config import Settings
from notify.main import create_app
from notify.runtime import notify_runtime
from parley_common.bus import create_bus
from parley_common.events import PresenceConnected, UserRegistered, envelope, svc_key
from parley_common.testing.tokens import TokenFactory
from parley_common.testing.waiting import wait_for

from .conftest import Notify


async def test_embedded_mode_writes_eml_files_and_tracks_presence(
    tmp_path: Path, harness: type[Notify]
) -> None:
    bus_url = f"memory://notify-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/notify.db",
        amqp_url=bus_url,
        redis_url=bus_url,
        smtp_url=f"file://{tmp_path}/mail",
        email_delay_seconds=0.2,
        email_tick_seconds=0.05,
    )
    bus = create_bus(bus_url)
    notify = await harness(settings, bus, TokenFactory()).start()
    try:
        for user_id, name in ((1, "alice"), (2, "bob")):
            event = UserRegistered(
                user_id=user_id,
                username=name,
                email=f"{name}@example.com",
                created_at=datetime.now(UTC),
            )
            await notify.publish(event, [svc_key(event.EVENT_TYPE)])
        await notify.create_group(10, "Team", 1, [1, 2])
        await notify.message(10, 1, 1, [1, 2], "hello from the embedded mode")
        mail = tmp_path / "mail"
        await wait_for(lambda: mail.exists() and list(mail.glob("*.eml")), message=".eml written")
        (eml,) = mail.glob("*.eml")
        message = message_from_bytes(eml.read_bytes(), policy=default_policy)
        assert message["To"] == "bob@example.com"
        body = message.get_body(("plain",))
        assert body is not None and "hello from the embedded mode" in body.get_content()

        connected = PresenceConnected(gateway_id="gw", connection_id="c1", user_id=2)
        await bus.publish(
            svc_key(connected.EVENT_TYPE),
            envelope(connected, producer="gateway").model_dump_json().encode(),
        )
        assert notify.http
        await wait_for(
            lambda: notify_runtime(notify.app.state).parts.presence.store.is_online(2),
            message="online",
        )
        r = await notify.http.get(
            "/internal/presence",
            params={"user_ids": "2"},
            headers={"X-Parley-Service-Token": "dev-internal-token"},
        )
        assert r.json() == {"2": {"online": True, "last_seen": None}}
        r = await notify.http.get("/readyz")
        assert r.json()["checks"] == {"database": True, "store": True, "bus": True}
    finally:
        await notify.stop()
        await bus.close()


async def test_production_refuses_placeholder_unsubscribe_secret() -> None:
    import pytest

    token = "a-real-token-of-at-least-32-bytes"
    for weak in ("change-me", "dev-unsubscribe-secret", "y" * 31):
        with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
            Settings(environment="production", internal_token=token, unsubscribe_secret=weak)
    assert Settings(environment="production", internal_token=token, unsubscribe_secret="y" * 32)


async def test_metrics_are_exposed(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/n.db",
            amqp_url="memory://m",
            redis_url="memory://m",
        )
    )
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://n") as client,
    ):
        text = (await client.get("/metrics")).text
    for name in (
        "parley_emails_sent_total",
        "parley_emails_failed_total",
        "parley_emails_pending",
        "parley_users_online",
    ):
        assert name in text
