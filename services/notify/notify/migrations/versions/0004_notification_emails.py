"""Emails for notifications, per the user's channel choices (issue 15).

Expand only: a new table, which older replicas never read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_emails",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("notification_id", BigId, nullable=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification_emails"),
        sa.UniqueConstraint("notification_id", name="uq_notification_emails_notification_id"),
    )
    op.create_index(
        "ix_notification_emails_status_due_at", "notification_emails", ["status", "due_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_notification_emails_status_due_at", table_name="notification_emails")
    op.drop_table("notification_emails")
