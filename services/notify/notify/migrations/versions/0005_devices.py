"""Push: users' devices, and whether pushes show message text (issue 15).

Expand only: a new table and a nullable column, which older replicas never read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("token", sa.String(1000), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=True),
        sa.Column("app_version", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
    )
    op.create_index("uq_devices_platform_token", "devices", ["platform", "token"], unique=True)
    op.create_index("ix_devices_user_id", "devices", ["user_id"])
    with op.batch_alter_table("preferences") as batch:
        batch.add_column(sa.Column("push_previews", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("preferences") as batch:
        batch.drop_column("push_previews")
    op.drop_index("ix_devices_user_id", table_name="devices")
    op.drop_index("uq_devices_platform_token", table_name="devices")
    op.drop_table("devices")
