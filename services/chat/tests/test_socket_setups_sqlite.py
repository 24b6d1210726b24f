"""Socket setups on SQLite (the embedded mode's database): the same answer as on PostgreSQL
(test_friend_refusals asks chat's route there), from the one plain statement."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from chat.internal.setups import friends_and_conversations
from chat.models import Base, Conversation, Friendship, Member, User
from parley_common.db import create_engine, make_sessionmaker


async def test_friends_and_conversations_of_several_users(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        async with sessions.begin() as session:
            for uid, name in ((1, "ann"), (2, "bob"), (3, "cat"), (4, "dan")):
                session.add(
                    User(
                        id=uid,
                        username=name,
                        username_key=name,
                        email=f"{name}@example.com",
                        created_at=now,
                    )
                )
            await session.flush()
            session.add_all(
                [Friendship(user_low=1, user_high=3), Friendship(user_low=2, user_high=3)]
            )
            # Conversation ids added high to low: the answer lists them in order all the same.
            for cid in (30, 20, 10):
                session.add(Conversation(id=cid, type="group", name=f"g{cid}", created_by=3))
            await session.flush()
            session.add_all(
                [
                    Member(id=1, conversation_id=30, user_id=3),
                    Member(id=2, conversation_id=10, user_id=3),
                    Member(id=3, conversation_id=20, user_id=3, left_at=now),  # left: not listed
                    Member(id=4, conversation_id=20, user_id=1),
                ]
            )

        friends, conversations = await friends_and_conversations(sessions, [3, 1, 4, 99])

        assert friends == {3: [1, 2], 1: [3], 4: [], 99: []}
        assert conversations == {3: [10, 30], 1: [20], 4: [], 99: []}
        assert await friends_and_conversations(sessions, []) == ({}, {})
    finally:
        await engine.dispose()
