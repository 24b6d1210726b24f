"""What auth runs on beyond the shared runtime (keys, password hashing, login throttling), and
typed access to it."""

from __future__ import annotations

import functools
from typing import cast

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from parley_common.email_transport import create_transport
from parley_common.events import Envelope, ExportContributed, svc_key
from parley_common.jwt_verify import JWTVerifier
from parley_common.logging import configure_logging
from parley_common.loops import Loop
from parley_common.runtime import Runtime, runtime_of
from parley_common.storage import create_storage

from . import exports, key_rotation, keys, retention
from .config import Settings
from .keys import KeyRing, KeyVault
from .mailer import Mailer
from .passwords import PasswordHasher
from .service import AuthContext
from .throttle import LoginThrottle

AuthRuntime = Runtime[Settings, AuthContext]


async def build(rt: AuthRuntime) -> AuthContext:
    settings = rt.settings
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    vault = KeyVault(settings.key_encryption_key, settings.previous_key_encryption_keys)
    keyring = KeyRing(vault)
    await keyring.load(rt.sessionmaker)
    sessionmaker = rt.sessionmaker
    key_upkeep = Loop(
        "signing-keys",
        functools.partial(key_rotation.upkeep, sessionmaker, keyring, vault, settings),
        settings.key_reload_seconds,
    )
    rt.add_step("signing_keys", key_upkeep.start, key_upkeep.stop)

    async def serve_jwks(_: httpx.Request) -> httpx.Response:
        async with sessionmaker() as session:
            return httpx.Response(200, json=await keys.jwks(session))

    # Auth verifies its own tokens exactly as every other service does, reading the JWKS
    # straight from its database instead of over the network.
    jwks_http = httpx.AsyncClient(transport=httpx.MockTransport(serve_jwks))
    rt.verifier = JWTVerifier(
        "http://auth.local/.well-known/jwks.json",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        key_max_age_seconds=settings.jwks_max_age_seconds,
        http=jwks_http,
    )
    rt.add_step("jwks_http", stop=jwks_http.aclose)
    rt.purges.extend(retention.purges(settings))
    mailer = Mailer(create_transport(settings.smtp_url, timeout=20.0))
    rt.add_step("mailer", stop=mailer.drain)
    storage = create_storage(settings)
    rt.add_step("storage", storage.start, storage.close)
    ctx = AuthContext(
        settings=settings,
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        ),
        keyring=keyring,
        throttle=LoginThrottle(
            rt.store,
            max_per_user=settings.login_max_failures_per_user,
            max_per_address=settings.login_max_failures_per_address,
            window_seconds=settings.login_failure_window_seconds,
        ),
        outbox=rt.outbox,
        mailer=mailer,
        store=rt.store,
        storage=storage,
        sessionmaker=rt.sessionmaker,
    )

    async def export_contributed(session: AsyncSession, env: Envelope) -> None:
        await exports.on_contributed(ctx, session, env)

    rt.add_consumer(
        queue="auth.events",
        bindings=[svc_key(ExportContributed.EVENT_TYPE)],
        handlers={ExportContributed.EVENT_TYPE: export_contributed},
    )
    return ctx


def auth_runtime(state: State) -> AuthRuntime:
    return cast(AuthRuntime, runtime_of(state))
