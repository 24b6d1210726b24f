"""Chat's initial schema: users projection, friends, blocks, conversations, messages, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from parley_common.migration_ops import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("username_key", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_index("ix_users_username_key", "users", ["username_key"])

    op.create_table(
        "friend_requests",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column(
            "requester_id",
            BigId,
            sa.ForeignKey("users.id", name="fk_friend_requests_requester_id_users"),
            nullable=False,
        ),
        sa.Column(
            "receiver_id",
            BigId,
            sa.ForeignKey("users.id", name="fk_friend_requests_receiver_id_users"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("responded_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_friend_requests"),
    )
    op.create_index("ix_friend_requests_requester_id", "friend_requests", ["requester_id"])
    op.create_index("ix_friend_requests_receiver_id", "friend_requests", ["receiver_id"])
    op.create_index("ix_friend_requests_pair", "friend_requests", ["requester_id", "receiver_id"])

    op.create_table(
        "friendships",
        sa.Column(
            "user_low",
            BigId,
            sa.ForeignKey("users.id", name="fk_friendships_user_low_users"),
            nullable=False,
        ),
        sa.Column(
            "user_high",
            BigId,
            sa.ForeignKey("users.id", name="fk_friendships_user_high_users"),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_low", "user_high", name="pk_friendships"),
    )
    op.create_index("ix_friendships_user_high", "friendships", ["user_high"])

    op.create_table(
        "blocks",
        sa.Column(
            "blocker_id",
            BigId,
            sa.ForeignKey("users.id", name="fk_blocks_blocker_id_users"),
            nullable=False,
        ),
        sa.Column(
            "blocked_id",
            BigId,
            sa.ForeignKey("users.id", name="fk_blocks_blocked_id_users"),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name="pk_blocks"),
    )
    op.create_index("ix_blocks_blocked_id", "blocks", ["blocked_id"])

    op.create_table(
        "conversations",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("private_pair_key", sa.String(64), nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_activity_at", TS, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("allow_member_add", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("allow_member_rename", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("private_pair_key", name="uq_conversations_private_pair_key"),
    )

    op.create_table(
        "conversation_members",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column(
            "conversation_id",
            BigId,
            sa.ForeignKey(
                "conversations.id", name="fk_conversation_members_conversation_id_conversations"
            ),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            BigId,
            sa.ForeignKey("users.id", name="fk_conversation_members_user_id_users"),
            nullable=False,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("left_at", TS, nullable=True),
        sa.Column("left_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_read_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("read_at", TS, nullable=True),
        sa.Column("last_delivered_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_members"),
        sa.UniqueConstraint(
            "conversation_id", "user_id", name="uq_conversation_members_conversation_id_user_id"
        ),
    )
    op.create_index("ix_conversation_members_user_id", "conversation_members", ["user_id"])

    op.create_table(
        "messages",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column(
            "conversation_id",
            BigId,
            sa.ForeignKey("conversations.id", name="fk_messages_conversation_id_conversations"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", BigId, nullable=True),
        sa.Column("sender_username", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("client_msg_id", sa.String(128), nullable=True),
        sa.Column("reply_to", BigId, nullable=True),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("edited_at", TS, nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("kind", sa.String(64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_id_seq"),
        sa.UniqueConstraint(
            "conversation_id",
            "sender_id",
            "client_msg_id",
            name="uq_messages_conversation_id_sender_id_client_msg_id",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Full-text search over the language-neutral 'simple' configuration (PROTOCOL.md).
        op.execute(
            "CREATE INDEX ix_messages_search ON messages USING gin (to_tsvector('simple', content))"
        )

    op.create_table(
        "reactions",
        sa.Column(
            "message_id",
            BigId,
            sa.ForeignKey("messages.id", name="fk_reactions_message_id_messages"),
            nullable=False,
        ),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("emoji", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("message_id", "user_id", "emoji", name="pk_reactions"),
    )

    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    for table in (
        "reactions",
        "messages",
        "conversation_members",
        "conversations",
        "blocks",
        "friendships",
        "friend_requests",
        "users",
    ):
        op.drop_table(table)
