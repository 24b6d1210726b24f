"""Every service's migrations upgrade, downgrade and upgrade again on an empty database, and
build exactly the tables its models declare."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from parley.migrate import DATABASE_SERVICES, migrations_dir, schema_is_ready, wait_for_schema
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


async def test_wait_passes_only_once_the_schema_has_this_codes_revision(pg_url: str) -> None:
    """`parley.migrate --wait` (the Kubernetes init container): not before the migration job
    ran, not on an older revision, yes at head or at a newer release's revision."""
    engine = create_engine(pg_url)
    script = migrations_dir("notify")
    try:
        assert not await schema_is_ready("notify", pg_url)
        await migrate(engine, script, "0006")
        assert not await schema_is_ready("notify", pg_url)
        with pytest.raises(SystemExit, match="not migrated after"):
            await wait_for_schema("notify", pg_url, timeout=0.1, poll=0.05)
        await migrate(engine, script)
        await wait_for_schema("notify", pg_url, timeout=5)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999_next'"))
        assert await schema_is_ready("notify", pg_url)
    finally:
        await engine.dispose()
