"""Every service's hand-written migrations build exactly the tables its models declare (on
PostgreSQL), and go down and up again on PostgreSQL and SQLite (`make run`)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from parley_common.db import create_engine, downgrade, migrate
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.plugin import PG_URL

SERVICES = ("auth", "chat", "notify")
# PostgreSQL-only indexes that only migrations create (the models also run on SQLite).
MIGRATION_ONLY = {"ix_messages_search"}


def declared(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY)


def migrations_and_metadata(service: str) -> tuple[Path, Any]:
    main = importlib.import_module(f"{service}.main")
    models = importlib.import_module(f"{service}.models")
    return main.MIGRATIONS, models.Base.metadata


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_models_and_go_down_and_up(service: str) -> None:
    migrations, metadata = migrations_and_metadata(service)
    url = await create_database(PG_URL, prefix=f"parley_migrations_{service}")
    engine = create_engine(url)
    try:
        await migrate(engine, migrations)
        async with engine.connect() as conn:
            diff: list[Any] = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"include_object": declared}), metadata
                )
            )
        assert diff == []
        await downgrade(engine, migrations)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
        await migrate(engine, migrations)
    finally:
        await engine.dispose()
        await drop_database(PG_URL, url)


@pytest.mark.parametrize("service", SERVICES)
async def test_sqlite_migrations_go_down_and_up(service: str, tmp_path: Path) -> None:
    migrations, _ = migrations_and_metadata(service)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/{service}.db")
    try:
        await migrate(engine, migrations)
        await downgrade(engine, migrations)
        await migrate(engine, migrations)
    finally:
        await engine.dispose()
