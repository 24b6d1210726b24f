"""Retention in auth: published outbox rows after 7 days, refresh tokens after they expired,
ended sessions after 30 days; live ones stay (docs/operations.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from auth.config import Settings
from auth.main import create_app
from auth.models import OUTBOX, LoginSession, RefreshToken
from auth.runtime import auth_runtime
from parley_common.db import utcnow
from parley_common.retention import DELETED
from parley_common.testing.waiting import wait_for

from .conftest import Users


@pytest.fixture
async def small_batches(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"retention_batch_size": 2}))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


async def counts(app: FastAPI) -> dict[str, int]:
    async with auth_runtime(app.state).sessionmaker() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in (
                ("outbox", OUTBOX),
                ("refresh_tokens", RefreshToken.__table__),
                ("login_sessions", LoginSession.__table__),
            )
        }


async def test_old_rows_go_and_live_ones_stay(small_batches: FastAPI) -> None:
    app = small_batches
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        users = Users(http)
        for name in ("ana", "ben", "cleo", "dan", "eve"):
            await users.register(name)
        tokens = [await users.login(name) for name in ("ana", "ben")]
        r = await http.post("/auth/logout", json={"refresh_token": tokens[1]["refresh_token"]})
        assert r.status_code == 200

    async def all_published() -> bool:
        async with auth_runtime(app.state).sessionmaker() as session:
            pending = await session.scalar(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None))
            )
        return pending == 0

    await wait_for(all_published, message="the outbox relayed")
    before = await counts(app)
    assert before == {"outbox": 6, "refresh_tokens": 2, "login_sessions": 2}
    retention = auth_runtime(app.state).retention
    assert retention is not None
    deleted_before = DELETED.labels("auth", "outbox")._value.get()

    retention.clock = lambda: utcnow() + timedelta(days=1)
    assert (await retention.run_once())["outbox"] == 0  # nothing a week old yet

    retention.clock = lambda: utcnow() + timedelta(days=10)
    deleted = await retention.run_once()
    assert deleted["outbox"] == 6  # in batches of 2
    assert await counts(app) == {"outbox": 0, "refresh_tokens": 2, "login_sessions": 2}
    assert DELETED.labels("auth", "outbox")._value.get() == deleted_before + 6

    # A month on: both sessions are over (one logged out, one never refreshed again).
    retention.clock = lambda: utcnow() + timedelta(days=32)
    await retention.run_once()
    assert await counts(app) == {"outbox": 0, "refresh_tokens": 0, "login_sessions": 0}
