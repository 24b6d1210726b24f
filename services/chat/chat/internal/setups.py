"""What a gateway needs for new sockets: each user's friends and current conversations.

Asked once per batch of sockets that open together, at every connect that the gateway cannot
answer itself. On PostgreSQL it is one plain statement (one round trip, nothing for SQLAlchemy
to build: the ORM's two queries were most of chat's CPU per connect in py-spy); SQLite (the
embedded mode) runs the repositories' queries.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..conversations import repository as conv_repo
from ..friends import repository as friend_repo

_SETUPS_PG = """
SELECT
    (SELECT json_agg(json_build_array(user_low, user_high)) FROM friendships
      WHERE user_low = ANY($1::bigint[]) OR user_high = ANY($1::bigint[])),
    (SELECT json_agg(json_build_array(user_id, conversation_id) ORDER BY conversation_id)
       FROM conversation_members WHERE user_id = ANY($1::bigint[]) AND left_at IS NULL)
"""


async def friends_and_conversations(
    sessionmaker: async_sessionmaker[AsyncSession], user_ids: list[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(user -> friend ids, sorted; user -> current conversation ids, sorted)."""
    if not user_ids:
        return {}, {}
    engine: AsyncEngine = sessionmaker.kw["bind"]
    if engine.dialect.name != "postgresql":
        async with sessionmaker() as session:
            return (
                await friend_repo.friend_ids_of_many(session, user_ids),
                await conv_repo.conversation_ids_of_many(session, user_ids),
            )
    # One statement needs no transaction: without one, no BEGIN and ROLLBACK round trips.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        result: Any = await conn.exec_driver_sql(_SETUPS_PG, (user_ids,))
        pairs, memberships = result.one()
    return (
        friend_repo.friends_by_user(user_ids, _rows(pairs)),
        conv_repo.conversations_by_user(user_ids, _rows(memberships)),
    )


def _rows(value: Any) -> list[Any]:
    # SQLAlchemy's asyncpg dialect installs JSON codecs: the aggregates usually arrive decoded.
    if isinstance(value, str | bytes):
        return list(orjson.loads(value))
    return list(value or [])
