"""Fixtures: the auth app on a fresh PostgreSQL database and Redis, driven over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from auth.config import Settings
from auth.main import create_app

INTERNAL_TOKEN = "test-internal-token"
PASSWORD = "correct horse 1"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "amqp_url": f"memory://auth-test-{uuid.uuid4().hex[:8]}",
        "argon2_time_cost": 1,
        "argon2_memory_cost": 1024,
        "argon2_parallelism": 1,
        "internal_token": INTERNAL_TOKEN,
        "log_json": False,
        "log_level": "WARNING",
        "outbox_poll_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(pg_url: str, redis_url: str) -> Settings:
    return make_settings(database_url=pg_url, redis_url=redis_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
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
