"""Announce the blocks made before block.created existed, so that notify's new block projection
knows them too (consent: nothing from a user you blocked reaches you). One outbox row each,
published by the relay like any event; notify's inbox makes a repeat harmless.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import uuid

import sqlalchemy as sa
from alembic import op

from parley_common.db import UTCDateTime, utcnow
from parley_common.events import BlockCreated, envelope, svc_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    blocks = sa.table(
        "blocks", sa.column("blocker_id", sa.BigInteger), sa.column("blocked_id", sa.BigInteger)
    )
    outbox = sa.table(
        "outbox",
        sa.column("event_id", sa.Uuid),
        sa.column("event_type", sa.String),
        sa.column("routing_key", sa.String),
        sa.column("payload", sa.Text),
        sa.column("created_at", UTCDateTime),
        sa.column("available_at", UTCDateTime),
        sa.column("attempts", sa.Integer),
    )
    connection = op.get_bind()
    now = utcnow()
    rows = []
    for blocker_id, blocked_id in connection.execute(
        sa.select(blocks.c.blocker_id, blocks.c.blocked_id)
    ):
        event = BlockCreated(blocker_id=blocker_id, blocked_id=blocked_id)
        env = envelope(event, producer="chat", event_id=uuid.uuid4())
        rows.append(
            {
                "event_id": env.id,
                "event_type": env.type,
                "routing_key": svc_key(env.type),
                "payload": env.model_dump_json(),
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
        )
    if rows:
        op.bulk_insert(outbox, rows)


def downgrade() -> None:
    pass  # the announcements are events already sent; nothing to take back
