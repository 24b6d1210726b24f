"""Account deletion, data export and confirmed email changes (issue 17).

Expand only: a tombstone mark and a pending address on users, the names and addresses of
deleted accounts held back for a grace period (hashed), and data exports.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("pending_email", sa.String(320), nullable=True))
    op.add_column("users", sa.Column("deleted_at", TS, nullable=True))
    op.create_table(
        "reserved_identities",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("release_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name="pk_reserved_identities"),
    )
    op.create_index("ix_reserved_identities_release_at", "reserved_identities", ["release_at"])
    op.create_table(
        "data_exports",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parts", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_data_exports"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_data_exports_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name="uq_data_exports_token_hash"),
    )
    op.create_index("ix_data_exports_user_id", "data_exports", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_data_exports_user_id", table_name="data_exports")
    op.drop_table("data_exports")
    op.drop_index("ix_reserved_identities_release_at", table_name="reserved_identities")
    op.drop_table("reserved_identities")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("pending_email")
