"""Signing keys: sealed at rest, rotated without a restart (old tokens keep working until the
old key is retired), and the encryption key itself rotated (issue 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.fernet import InvalidToken
from fastapi import FastAPI
from sqlalchemy import select

from auth import key_rotation, keys
from auth.config import Settings
from auth.main import create_app
from auth.models import SigningKey
from auth.runtime import auth_runtime
from parley.signing_keys import run
from parley_common.db import utcnow

from .conftest import Users, bearer

KEK = "k" * 48


@pytest.fixture
def kek_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"key_encryption_key": KEK})


async def stored_keys(app: FastAPI) -> list[SigningKey]:
    async with auth_runtime(app.state).sessionmaker() as session:
        return list(await session.scalars(select(SigningKey).order_by(SigningKey.created_at)))


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def upkeep(app: FastAPI, settings: Settings) -> None:
    parts = auth_runtime(app.state).parts
    vault = keys.KeyVault(settings.key_encryption_key, settings.previous_key_encryption_keys)
    await key_rotation.upkeep(auth_runtime(app.state).sessionmaker, parts.keyring, vault, settings)


@pytest.fixture
async def app_with_kek(kek_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(kek_settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


async def test_rotation_reaches_the_running_service_and_old_tokens_live_out_their_time(
    app_with_kek: FastAPI, kek_settings: Settings
) -> None:
    app, settings = app_with_kek, kek_settings
    (first,) = await stored_keys(app)
    assert first.private_key_pem.startswith("fernet:") and "PRIVATE" not in first.private_key_pem
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as http:
        users = Users(http)
        await users.register("ana")
        before = await users.login("ana")
        assert kid_of(before["access_token"]) == first.kid

        url = settings.database_url
        assert (await run(url, "rotate", settings)).startswith("new signing key ")
        await upkeep(app, settings)  # what auth does every key_reload_seconds
        after = await users.login("ana")
        new_kid = kid_of(after["access_token"])
        assert new_kid != first.kid
        jwks = (await http.get("/.well-known/jwks.json")).json()
        assert {k["kid"] for k in jwks["keys"]} == {first.kid, new_kid}
        for tokens in (before, after):
            r = await http.get("/users/me", headers=bearer(tokens["access_token"]))
            assert r.status_code == 200
        assert await run(url, "retire", settings) == "nothing to retire yet"
        listed = (await run(url, "list", settings)).splitlines()
        assert [line.split("\t")[0] for line in listed] == [new_kid, first.kid]

        # Once every token the old key signed has expired, it leaves the JWKS.
        async with auth_runtime(app.state).sessionmaker() as session, session.begin():
            lifetime = key_rotation.token_lifetime(settings)
            retired = await keys.retire_superseded(
                session, token_lifetime=lifetime, now=utcnow() + lifetime + timedelta(seconds=1)
            )
        assert retired == [first.kid]
        jwks = (await http.get("/.well-known/jwks.json")).json()
        assert [k["kid"] for k in jwks["keys"]] == [new_kid]


async def test_plaintext_keys_are_sealed_and_the_encryption_key_can_change(
    settings: Settings,
) -> None:
    # A database from before encryption at rest: its key is plain PEM.
    plain = settings.model_copy(update={"key_encryption_key": "a" * 40})
    app = create_app(plain)
    async with LifespanManager(app):
        (key,) = await stored_keys(app)
        async with auth_runtime(app.state).sessionmaker() as session, session.begin():
            row = await session.get(SigningKey, key.kid)
            assert row is not None
            row.private_key_pem = keys.KeyVault("a" * 40).open(row.private_key_pem)
    app = create_app(plain)
    async with LifespanManager(app):
        (key,) = await stored_keys(app)
        assert key.private_key_pem.startswith("fernet:")  # sealed at the next start

    # A new encryption key, the old one still listed: auth starts, rotate re-seals.
    moved = settings.model_copy(
        update={"key_encryption_key": "b" * 40, "previous_key_encryption_keys": ["a" * 40]}
    )
    await run(moved.database_url, "rotate", moved)
    only_new = settings.model_copy(update={"key_encryption_key": "b" * 40})
    app = create_app(only_new)
    async with LifespanManager(app):
        assert len(await stored_keys(app)) == 2
    # Without the right key, auth refuses to start rather than sign with nothing.
    with pytest.raises(InvalidToken):
        async with LifespanManager(
            create_app(settings.model_copy(update={"key_encryption_key": "c" * 40}))
        ):
            pass
