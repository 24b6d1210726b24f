"""What a gateway needs for new sockets: each user's friends and current conversations.

Asked once per batch of sockets that open together, at every connect that the gateway cannot
answer itself. It is one plain statement on either database (one round trip on PostgreSQL,
nothing for SQLAlchemy to build): the ORM's two queries were most of chat's CPU per connect in
py-spy, and in the embedded mode (SQLite) a user's first connect went from p50 2.5 to 1.8 ms
with the statement (a reconnect, which needs no lookup: 1.1).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..conversations import repository as conv_repo
from ..friends import repository as friend_repo

_SETUPS_PG = """
SELECT
    (SELECT json_agg(json_build_array(user_low, user_high)) FROM friendships
      WHERE user_low = ANY($1::bigint[]) OR user_high = ANY($1::bigint[])),
    (SELECT json_agg(json_build_array(user_id, conversation_id))
       FROM conversation_members WHERE user_id = ANY($1::bigint[]) AND left_at IS NULL)
"""

# The same on SQLite: the ids come as one JSON array (json_each); the memberships are put in
# order after either statement.
_SETUPS_SQLITE = """
SELECT
    (SELECT json_group_array(json_array(user_low, user_high)) FROM friendships
      WHERE user_low IN (SELECT value FROM json_each(?))
         OR user_high IN (SELECT value FROM json_each(?))),
    (SELECT json_group_array(json_array(user_id, conversation_id)) FROM conversation_members
      WHERE user_id IN (SELECT value FROM json_each(?)) AND left_at IS NULL)
"""


async def friends_and_conversations(
    sessionmaker: async_sessionmaker[AsyncSession], user_ids: list[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """(user -> friend ids, sorted; user -> current conversation ids, sorted)."""
    if not user_ids:
        return {}, {}
    engine: AsyncEngine = sessionmaker.kw["bind"]
    # One statement needs no transaction: without one, no BEGIN and ROLLBACK round trips.
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            ids = orjson.dumps(user_ids).decode()
            result: Any = await conn.exec_driver_sql(_SETUPS_SQLITE, (ids, ids, ids))
        else:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            result = await conn.exec_driver_sql(_SETUPS_PG, (user_ids,))
        pairs, memberships = result.one()
    return (
        friend_repo.friends_by_user(user_ids, _rows(pairs)),
        conv_repo.conversations_by_user(user_ids, sorted(_rows(memberships), key=itemgetter(1))),
    )


def _rows(value: Any) -> list[Any]:
    # SQLAlchemy's asyncpg dialect installs JSON codecs: the aggregates usually arrive decoded.
    if isinstance(value, str | bytes):
        return list(orjson.loads(value))
    return list(value or [])
