"""Avatars: the users projection keeps each user's avatar URL (from user.updated), and a group
its own avatar's storage key.

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


def upgrade() -> None:
    op.add_column("users", sa.Column("avatar_url", sa.String(300), nullable=True))
    op.add_column("conversations", sa.Column("avatar_key", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("avatar_key")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("avatar_url")
