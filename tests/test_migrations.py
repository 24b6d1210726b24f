"""Every service's migrations upgrade, downgrade and upgrade again on an empty database, and
build exactly the tables its models declare."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.migrate import DATABASE_SERVICES, migrations_dir
from parley_common.db import create_engine, downgrade, migrate


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


@pytest.mark.parametrize("service", DATABASE_SERVICES)
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_upgrade_downgrade_upgrade(
    service: str, backend: str, pg_url: str, tmp_path: Path
) -> None:
    url = pg_url if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(url)
    try:
        await migrate(engine, migrations_dir(service))
        tables = await _tables(engine)
        assert {"outbox", "processed_events", "alembic_version"} <= tables
        await downgrade(engine, migrations_dir(service))
        assert await _tables(engine) <= {"alembic_version"}
        await migrate(engine, migrations_dir(service))
        assert await _tables(engine) == tables
    finally:
        await engine.dispose()


# PostgreSQL-only indexes that only migrations create (the models also run on SQLite).
MIGRATION_ONLY = {"ix_messages_search"}


def declared(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY)


@pytest.mark.parametrize("service", DATABASE_SERVICES)
async def test_migrations_build_what_the_models_declare(service: str, pg_url: str) -> None:
    metadata = importlib.import_module(f"{service}.models").Base.metadata
    engine = create_engine(pg_url)
    try:
        await migrate(engine, migrations_dir(service))
        async with engine.connect() as conn:
            diff: list[Any] = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"include_object": declared}), metadata
                )
            )
        assert diff == []
    finally:
        await engine.dispose()
