"""Host notifications and per-type channel choices (issue 15).

Expand only (old replicas keep working beside new ones): a longer `type` for host-defined
dotted names, a nullable `dedupe_key` (the host's idempotency key) unique per user, and the
users' per-type channel choices as one nullable JSON column.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("type", type_=sa.String(64), existing_type=sa.String(32))
        batch.add_column(sa.Column("dedupe_key", sa.String(200), nullable=True))
    op.create_index(
        "ux_notifications_user_id_dedupe_key",
        "notifications",
        ["user_id", "dedupe_key"],
        unique=True,
    )
    with op.batch_alter_table("preferences") as batch:
        batch.add_column(sa.Column("channels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("preferences") as batch:
        batch.drop_column("channels")
    op.drop_index("ux_notifications_user_id_dedupe_key", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("dedupe_key")
        batch.alter_column("type", type_=sa.String(32), existing_type=sa.String(64))
