"""Hidden direct chats (issue 17): a member's `hidden_seq`.

Expand only: a nullable column; older replicas list hidden chats as before.

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


def upgrade() -> None:
    with op.batch_alter_table("conversation_members") as batch:
        batch.add_column(sa.Column("hidden_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_members") as batch:
        batch.drop_column("hidden_seq")
