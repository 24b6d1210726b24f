"""Every service's migrations upgrade, downgrade and upgrade again on an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
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
