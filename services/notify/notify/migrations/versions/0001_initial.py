"""Notify's initial schema: projections, notifications, preferences, pending emails, outbox, inbox.

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
        sa.Column("id", BigId, autoincrement=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_table(
        "friendships",
        sa.Column("user_low", BigId, nullable=False),
        sa.Column("user_high", BigId, nullable=False),
        sa.PrimaryKeyConstraint("user_low", "user_high", name="pk_friendships"),
    )
    op.create_index("ix_friendships_user_high", "friendships", ["user_high"])
    op.create_table(
        "conversations",
        sa.Column("id", BigId, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_table(
        "memberships",
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "read_cursors",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("last_read_seq", BigId, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "conversation_id", name="pk_read_cursors"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500), nullable=True),
        sa.Column("is_read", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("conversation_id", BigId, nullable=True),
        sa.Column("seq", BigId, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_user_id_id", "notifications", ["user_id", "id"])
    op.create_table(
        "preferences",
        sa.Column("user_id", BigId, autoincrement=False),
        sa.Column("email_missed_messages", sa.Boolean(), nullable=False),
        sa.Column("email_delay_seconds", sa.Float(), nullable=True),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("muted_conversation_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_preferences"),
    )
    op.create_table(
        "pending_emails",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pending_emails"),
    )
    op.create_index(
        "uq_pending_emails_user_pending",
        "pending_emails",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_pending_emails_status_due_at", "pending_emails", ["status", "due_at"])
    op.create_table(
        "email_items",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("sender_username", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column(
            "email_id",
            BigId,
            sa.ForeignKey("pending_emails.id", name="fk_email_items_email_id_pending_emails"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_email_items"),
    )
    op.create_index(
        "uq_email_items_user_id_message_id", "email_items", ["user_id", "message_id"], unique=True
    )
    op.create_index("ix_email_items_user_id_email_id", "email_items", ["user_id", "email_id"])
    create_event_tables()


def downgrade() -> None:
    drop_event_tables()
    for table in (
        "email_items",
        "pending_emails",
        "preferences",
        "notifications",
        "read_cursors",
        "memberships",
        "conversations",
        "friendships",
        "users",
    ):
        op.drop_table(table)
