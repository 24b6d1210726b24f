"""`make migrate`: apply each service's Alembic migrations.

`python -m parley.migrate` migrates auth, chat and notify at the URLs from
`PARLEY_<SERVICE>_DATABASE_URL` (default: a local PostgreSQL database `parley_<service>`);
`python -m parley.migrate chat` migrates one service at `PARLEY_DATABASE_URL` when set (the
way a deployment's migration job runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from parley_common.db import create_engine, migrate

from .stack_settings import StackSettings

DATABASE_SERVICES = ("auth", "chat", "notify")


def database_url_for(service: str) -> str:
    return StackSettings().database_url_for(service)


def migrations_dir(service: str) -> Path:
    package = importlib.import_module(service)
    return Path(package.__file__ or "").parent / "migrations"


async def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` when it does not exist yet."""
    u = make_url(url)
    if not u.drivername.startswith("postgresql"):
        return
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", u.database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


async def migrate_service(service: str, url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine, migrations_dir(service))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parley migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("services", nargs="*", help="auth, chat, notify (default: all three)")
    args = parser.parse_args(argv)
    services = args.services or list(DATABASE_SERVICES)
    if unknown := set(services) - set(DATABASE_SERVICES):
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    settings = StackSettings()
    for service in services:
        # One service named and PARLEY_DATABASE_URL set: that is its database.
        single = settings.database_url if len(services) == 1 else None
        url = single or settings.database_url_for(service)
        asyncio.run(ensure_database(url))
        asyncio.run(migrate_service(service, url))
        print(f"{service}: migrated {make_url(url).render_as_string(hide_password=True)}")


if __name__ == "__main__":
    main()
