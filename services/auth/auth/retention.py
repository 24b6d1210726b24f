"""What auth deletes beyond its outbox and inbox (parley_common.retention): refresh tokens a day
after they expired, and login sessions that ended (revoked, or every token long expired) more
than `revoked_session_retention_days` ago, with their tokens; reserved names of deleted accounts
once released, and expired data exports."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, func, select

from parley_common.retention import Purge

from .config import Settings
from .models import Base, DataExport, LoginSession, RefreshToken, ReservedIdentity

GRACE = timedelta(days=1)


def purges(settings: Settings) -> list[Purge]:
    tokens = Base.metadata.tables[RefreshToken.__tablename__]
    sessions = Base.metadata.tables[LoginSession.__tablename__]
    kept = timedelta(days=settings.revoked_session_retention_days)
    # A session whose newest possible refresh token has expired can never be used again.
    dead_after = timedelta(days=settings.refresh_token_days) + GRACE
    last_use = func.coalesce(sessions.c.last_used_at, sessions.c.created_at)
    no_tokens = ~exists(select(tokens.c.id).where(tokens.c.session_id == sessions.c.id))
    reserved = Base.metadata.tables[ReservedIdentity.__tablename__]
    data_exports = Base.metadata.tables[DataExport.__tablename__]
    return [
        # A deleted account's name and address are free again after their grace period.
        Purge(reserved, lambda now: reserved.c.release_at < now, key="key_hash"),
        # Expired export rows (their stored parts are deleted with the user's next export or
        # the account; see docs/accounts.md).
        Purge(data_exports, lambda now: data_exports.c.expires_at < now - GRACE),
        Purge(tokens, lambda now: tokens.c.expires_at < now - GRACE),
        Purge(
            tokens,
            lambda now: tokens.c.session_id.in_(
                select(sessions.c.id).where(sessions.c.revoked_at < now - kept)
            ),
            name="refresh_tokens",
        ),
        Purge(
            sessions,
            lambda now: (
                no_tokens & ((sessions.c.revoked_at < now - kept) | (last_use < now - dead_after))
            ),
        ),
    ]
