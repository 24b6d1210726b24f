"""`make migrate`: apply each service's Alembic migrations.

`python -m parley.migrate` migrates auth, chat and notify at the URLs from
`PARLEY_<SERVICE>_DATABASE_URL` (default: a local PostgreSQL database `parley_<service>`);
`python -m parley.migrate chat` migrates one service at `PARLEY_DATABASE_URL` when set (the
way a deployment's migration job runs it).

`--wait` migrates nothing: it waits until the database has this code's newest revision (or a
later one, which a newer release's migration job applied) and fails after `--timeout` seconds.
The Kubernetes Deployments run it as an init container, so a new replica starts only after its
migration job has finished, whatever order `kubectl apply` created them in.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import time
from pathlib import Path

import asyncpg
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

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


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def schema_is_ready(service: str, url: str) -> bool:
    """Whether the database at `url` has `service`'s newest revision or one this code does not
    know (a newer release's: migrations are additive, so this code runs on it)."""
    script = ScriptDirectory(str(migrations_dir(service)))
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(_current_revision)
    except (OSError, asyncpg.PostgresError):
        return False  # the database is not there yet
    finally:
        await engine.dispose()
    if current is None:
        return False
    known = {rev.revision for rev in script.walk_revisions()}
    return current == script.get_current_head() or current not in known


async def wait_for_schema(service: str, url: str, timeout: float, poll: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not await schema_is_ready(service, url):
        if time.monotonic() > deadline:
            raise SystemExit(f"{service}: the database is not migrated after {timeout:.0f}s")
        await asyncio.sleep(poll)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parley migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("services", nargs="*", help="auth, chat, notify (default: all three)")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="migrate nothing; wait until the database has this code's newest revision",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds --wait waits")
    args = parser.parse_args(argv)
    services = args.services or list(DATABASE_SERVICES)
    if unknown := set(services) - set(DATABASE_SERVICES):
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    settings = StackSettings()
    for service in services:
        # One service named and PARLEY_DATABASE_URL set: that is its database.
        single = settings.database_url if len(services) == 1 else None
        url = single or settings.database_url_for(service)
        if args.wait:
            asyncio.run(wait_for_schema(service, url, args.timeout))
            print(f"{service}: the database is migrated")
            continue
        asyncio.run(ensure_database(url))
        asyncio.run(migrate_service(service, url))
        print(f"{service}: migrated {make_url(url).render_as_string(hide_password=True)}")


if __name__ == "__main__":
    main()
