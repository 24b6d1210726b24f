"""The hand-written migration upgrades and downgrades on an empty PostgreSQL database, and
matches the models."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auth.main import MIGRATIONS
from auth.models import Base
from parley_common.db import create_engine, downgrade, migrate

TABLES = {"users", "login_sessions", "refresh_tokens", "signing_keys", "outbox", "processed_events"}


class TestMigrations:
    async def test_upgrade_matches_models_then_downgrade(self, pg_url: str) -> None:
        engine = create_engine(pg_url)
        try:
            await migrate(engine, MIGRATIONS)
            async with engine.connect() as conn:
                tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
                diff: list[Any] = await conn.run_sync(
                    lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
                )
            assert tables >= TABLES
            assert diff == []

            await downgrade(engine, MIGRATIONS)
            async with engine.connect() as conn:
                tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert tables <= {"alembic_version"}

            await migrate(engine, MIGRATIONS)  # and up again
        finally:
            await engine.dispose()

    async def test_sqlite(self, tmp_path: Any) -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/auth.db")
        try:
            await migrate(engine, MIGRATIONS)
            await downgrade(engine, MIGRATIONS)
            await migrate(engine, MIGRATIONS)
        finally:
            await engine.dispose()
