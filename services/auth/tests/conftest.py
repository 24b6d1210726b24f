"""Fixtures: the auth app on PostgreSQL and Redis, driven over HTTP."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.config import Settings
from auth.main import MIGRATIONS, create_app
from parley_common.db import create_engine, migrate
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.harness import INTERNAL_TOKEN as INTERNAL_TOKEN
from parley_common.testing.harness import service_settings
from parley_common.testing.plugin import PG_URL, BusConfig

PASSWORD = "correct horse 1"


def make_settings(amqp: BusConfig | None = None, **overrides: Any) -> Settings:
    """Auth's test settings: cheap argon2, and the in-process bus unless `amqp` is given."""
    defaults: dict[str, Any] = {
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "argon2_parallelism": 1,
        "log_level": "WARNING",
        # Verification emails of the tests that do not read them: out of the checkout.
        "smtp_url": f"file://{tempfile.gettempdir()}/parley-auth-test-mail",
    }
    if amqp is None:
        defaults["amqp_url"] = f"memory://auth-test-{uuid.uuid4().hex[:8]}"
    return service_settings(Settings, amqp=amqp, **defaults | overrides)


DATA_TABLES = (
    "users, login_sessions, refresh_tokens, signing_keys, outbox, processed_events, "
    "reserved_identities"
)


@pytest.fixture(scope="session")
async def auth_db() -> AsyncIterator[AsyncEngine]:
    """One migrated PostgreSQL database for the API tests of this run (a fresh one per test
    costs seconds on a busy server); each test starts from empty tables. The migration tests
    use the `pg_url` fixture's fresh databases instead."""
    url = await create_database(PG_URL, prefix="auth_test")
    engine = create_engine(url)
    try:
        await migrate(engine, MIGRATIONS)
        yield engine
    finally:
        await engine.dispose()
        await drop_database(PG_URL, url)


@pytest.fixture
async def settings(auth_db: AsyncEngine, redis_url: str) -> Settings:
    async with auth_db.begin() as conn:
        await conn.execute(text(f"TRUNCATE {DATA_TABLES} RESTART IDENTITY CASCADE"))
    url = auth_db.url.render_as_string(hide_password=False)
    return make_settings(database_url=url, redis_url=redis_url, auto_migrate=False)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://test"
    ) as http:
        yield http


class Users:
    """Small factories over the HTTP API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def register(
        self, username: str, email: str | None = None, password: str = PASSWORD
    ) -> dict[str, Any]:
        email = email or f"{uuid.uuid4().hex[:10]}@example.com"
        r = await self.client.post(
            "/auth/register", json={"username": username, "email": email, "password": password}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        r = await self.client.post("/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def register_and_login(self, username: str) -> tuple[dict[str, Any], dict[str, str]]:
        user = await self.register(username)
        tokens = await self.login(username)
        return user, bearer(tokens["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users(client: httpx.AsyncClient) -> Users:
    return Users(client)


@pytest.fixture
def headers() -> Callable[[str], dict[str, str]]:
    return bearer
