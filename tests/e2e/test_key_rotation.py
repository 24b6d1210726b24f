"""Rotating auth's signing key while users are connected (issue 18): `parley keys rotate` runs,
new logins get tokens of the new kid that both gateway replicas accept without a restart, the
sockets opened with old tokens keep receiving, and once the old key is retired its tokens are
refused everywhere. Process stack only: two gateways, auth reloading its keys every second
(E2E_ENV)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import jwt
import pytest
from sqlalchemy.engine import make_url

from auth.config import Settings
from parley import signing_keys
from parley_client import ParleyClient
from parley_client.testing import PASSWORD

from .test_session_revocation import handshake_refused, rest_status, ws

pytestmark = pytest.mark.stack_only


def kid(token: str | None) -> str:
    assert token is not None
    return str(jwt.get_unverified_header(token)["kid"])


async def login_until_signed_by(client: ParleyClient, new_kid: str, timeout: float = 15) -> None:
    """Logs in again until auth signs with `new_kid` (within its key reload interval)."""
    assert client.user is not None
    deadline = time.monotonic() + timeout
    while kid((await client.login(client.user.username, PASSWORD)).access_token) != new_kid:
        assert time.monotonic() < deadline, f"auth still signs with the old key after {timeout}s"
        await asyncio.sleep(0.2)


async def age_every_key(database_url: str, hours: int) -> None:
    """Moves the keys' creation back, as if `hours` had passed since the rotation (auth then
    retires the superseded key on its own, as it would after the tokens' lifetime)."""
    dsn = make_url(database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await conn.execute(
            "UPDATE signing_keys SET created_at = created_at - make_interval(hours => $1)", hours
        )
    finally:
        await conn.close()


async def until(check: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not after {timeout}s: {what}"
        await asyncio.sleep(0.2)


async def test_rotation_reaches_every_gateway_without_dropping_sockets(
    stack: Any, connect: Any
) -> None:
    gw1, gw2 = stack.gateway_urls
    alice, bob, carol = await stack.friends(3, "rot")
    old_token = alice.access_token
    old_kid = kid(old_token)
    sa = await connect(alice, urls=[ws(gw1)])
    sb = await connect(bob, urls=[ws(gw2)])

    printed = await signing_keys.run(stack.auth_database_url, "rotate", Settings())
    new_kid = printed.removeprefix("new signing key ")
    assert new_kid != old_kid and printed.startswith("new signing key ")
    await login_until_signed_by(carol, new_kid)

    # Both replicas take the new kid (fetched from the JWKS when first seen), on REST and
    # at the WebSocket handshake, and old and new sockets talk across them.
    for url in (gw1, gw2):
        assert await rest_status(url, carol.access_token) == 200
    sc1 = await connect(carol, urls=[ws(gw1)])
    sc2 = await connect(carol, urls=[ws(gw2)])
    ack = await sc2.ack(await sc2.send_message(None, "new key", recipient_id=alice.user.id))
    for socket in (sa, sc1):
        got = await socket.next_frame("new_message", where=lambda f: f.message.id == ack.message.id)
        assert got.message.content == "new key"
    ack = await sa.ack(await sa.send_message(None, "old key", recipient_id=bob.user.id))
    got = await sb.next_frame("new_message", where=lambda f: f.message.id == ack.message.id)
    assert got.message.content == "old key"

    # Time passes beyond the old tokens' lifetime: auth retires the old key, the gateways drop
    # it at their next JWKS refetch, and its tokens are refused while the new ones work.
    listed = await signing_keys.run(stack.auth_database_url, "list", Settings())
    assert old_kid in listed and new_kid in listed  # both verify until the old one retires
    await age_every_key(stack.auth_database_url, hours=2)

    async def old_key_refused_everywhere() -> bool:
        return all([await rest_status(url, old_token) == 401 for url in (gw1, gw2)])

    await until(old_key_refused_everywhere, "the retired key's tokens refused by both gateways")
    listed = await signing_keys.run(stack.auth_database_url, "list", Settings())
    assert old_kid not in listed and new_kid in listed
    for url in (gw1, gw2):
        assert await handshake_refused(url, old_token)
        assert await rest_status(url, carol.access_token) == 200
