"""The body of every service's migrations/env.py: run online against the given connection."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection


def run(target_metadata: MetaData, default_url: str) -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _run_with(connection, target_metadata)
        return
    asyncio.run(_run_standalone(target_metadata, default_url))


def _run_with(connection: Connection, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(target_metadata: MetaData, default_url: str) -> None:
    from .db import create_engine

    url: Any = context.config.get_main_option("sqlalchemy.url") or default_url
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run_with, target_metadata)
    await engine.dispose()
