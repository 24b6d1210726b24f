"""Usernames unique by their confusable skeleton (TR39): a lookalike of a taken name is taken.

Existing users get their skeleton; when two existing names already look alike, the later
account keeps its name and gets a skeleton made unique with its id (it stays loginable; only
new names are held to the rule).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from auth.confusables import skeleton

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(256), nullable=True))
    users = sa.table(
        "users",
        sa.column("id", sa.BigInteger),
        sa.column("username_key", sa.String),
        sa.column("username_skeleton", sa.String),
    )
    connection = op.get_bind()
    taken: set[str] = set()
    for user_id, username_key in connection.execute(
        sa.select(users.c.id, users.c.username_key).order_by(users.c.id)
    ):
        key = skeleton(username_key)
        if key in taken:
            key = f"{key}#{user_id}"
        taken.add(key)
        connection.execute(
            users.update().where(users.c.id == user_id).values(username_skeleton=key)
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_skeleton", existing_type=sa.String(256), nullable=False)
        batch.create_unique_constraint("uq_users_username_skeleton", ["username_skeleton"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username_skeleton", type_="unique")
        batch.drop_column("username_skeleton")
