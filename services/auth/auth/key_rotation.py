"""Auth's signing-key upkeep, every `key_reload_seconds`: rotate when a scheduled rotation is
due, retire the keys no valid token can carry any more, and sign with the newest key (so a
`parley keys rotate` reaches every running auth process without a restart)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley_common.db import utcnow

from . import keys
from .config import Settings
from .keys import KeyRing, KeyVault

log = structlog.get_logger(__name__)


def token_lifetime(settings: Settings) -> timedelta:
    """How long after a new key appears a token signed by an older one may still be valid:
    processes may sign with the old key until their next reload, and tokens live their
    lifetime after that."""
    return timedelta(minutes=settings.access_token_minutes, seconds=2 * settings.key_reload_seconds)


async def upkeep(
    sessionmaker: async_sessionmaker[AsyncSession],
    keyring: KeyRing,
    vault: KeyVault,
    settings: Settings,
) -> None:
    async with sessionmaker() as session, session.begin():
        active = await keys.active_keys(session)
        every = timedelta(days=settings.signing_key_rotation_days)
        if (
            settings.signing_key_rotation_days
            and active
            and active[0].created_at + every < utcnow()
        ):
            key = await keys.rotate(session, vault)
            log.info("signing_key.rotated", kid=key.kid, scheduled=True)
        retired = await keys.retire_superseded(session, token_lifetime=token_lifetime(settings))
        if retired:
            log.info("signing_key.retired", kids=retired)
    await keyring.load(sessionmaker)
