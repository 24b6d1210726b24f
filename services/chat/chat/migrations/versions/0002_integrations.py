"""Integration API: integration keys, conversations bound to a host context, idempotent system
messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "integration_keys",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_integration_keys"),
        sa.UniqueConstraint("name", name="uq_integration_keys_name"),
        sa.UniqueConstraint("key_hash", name="uq_integration_keys_key_hash"),
    )
    # add_column needs no table rebuild on SQLite; unique indexes (not constraints) likewise.
    op.add_column("conversations", sa.Column("context_type", sa.String(64), nullable=True))
    op.add_column("conversations", sa.Column("context_id", sa.String(128), nullable=True))
    op.add_column("conversations", sa.Column("context_metadata", sa.JSON(), nullable=True))
    op.create_index(
        "uq_conversations_context", "conversations", ["context_type", "context_id"], unique=True
    )
    op.create_index(
        "uq_messages_system_client_msg_id",
        "messages",
        ["conversation_id", "client_msg_id"],
        unique=True,
        postgresql_where=sa.text("sender_id IS NULL"),
        sqlite_where=sa.text("sender_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_messages_system_client_msg_id", table_name="messages")
    op.drop_index("uq_conversations_context", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("context_metadata")
        batch.drop_column("context_id")
        batch.drop_column("context_type")
    op.drop_table("integration_keys")
