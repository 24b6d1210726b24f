"""Async SQLAlchemy helpers shared by the services: engine, declarative base, sessions, migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from sqlalchemy import DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .sqlite_inline import inline_creator

log = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_for(session: AsyncSession) -> Any:
    """`insert` with ON CONFLICT for the session's database: both backends have it, under
    dialect-specific constructs (PostgreSQL's when the session is unbound)."""
    dialect = session.bind.dialect.name if session.bind else "postgresql"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def like_escaped(value: str) -> str:
    """`value` taken literally inside a LIKE pattern written with `escape="\\"`."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: What a service's `Base` maps timestamps to (always UTC-aware, also on SQLite).
TYPE_ANNOTATION_MAP: dict[Any, Any] = {datetime: UTCDateTime}


def new_metadata() -> MetaData:
    """A service's own metadata, with the shared naming convention. A service declares
    `class Base(DeclarativeBase)` with it and TYPE_ANNOTATION_MAP (a class statement, so that
    type checkers know its models)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        # One connection, statements run inline (parley_common.sqlite_inline says why). An
        # in-memory database already has a single connection (SQLAlchemy's StaticPool).
        path = _sqlite_path(url)
        pool: dict[str, Any] = (
            {} if path == ":memory:" else {"pool_size": 1, "max_overflow": 0, "pool_timeout": 120}
        )
        engine = create_async_engine(
            url,
            echo=echo,
            async_creator=inline_creator(path),
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            **pool,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it was a round trip per checkout (every request, every send batch). A
    # connection found dead fails its request with a retryable 503 and makes the pool drop
    # every connection older than the failure, so a database restart costs one such answer.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # JSON columns and json_agg results: orjson is several times faster than json.
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_path(url: str) -> str:
    return url.split("///", 1)[-1] if "///" in url else ":memory:"


def _ensure_sqlite_dir(url: str) -> None:
    path = _sqlite_path(url)
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL never corrupts the database and survives a crash of the process; only
    # a power loss may undo the last commits. FULL (the default) syncs the disk on every commit,
    # which made SQLite the embedded mode's largest cost per message.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One request's unit of work: commit when the block ends, roll back when it raises, except
    for errors marked `commit_anyway` (auth: a detected refresh-token reuse must stay revoked).
    Service code never commits or rolls back; outbox rows wake their relay after the commit
    (`Outbox.wake_after_commit`)."""
    async with maker() as session:
        try:
            yield session
        except BaseException as exc:
            if getattr(exc, "commit_anyway", False):
                await session.commit()
            else:
                await session.rollback()
            raise
        await session.commit()


def run_migrations_sync(
    connection: Connection, script_location: str, revision: str = "head"
) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(engine: AsyncEngine, script_location: str | Path, revision: str = "head") -> None:
    """Apply a service's Alembic migrations through an async engine."""
    async with engine.begin() as conn:
        await conn.run_sync(run_migrations_sync, str(script_location), revision)


def downgrade_sync(connection: Connection, script_location: str, revision: str = "base") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def downgrade(
    engine: AsyncEngine, script_location: str | Path, revision: str = "base"
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(downgrade_sync, str(script_location), revision)


async def autovacuum_on(engine: AsyncEngine) -> bool:
    """Whether the server runs autovacuum (SQLite has nothing to vacuum: True)."""
    if engine.dialect.name != "postgresql":
        return True
    async with engine.connect() as conn:
        return bool((await conn.execute(text("SHOW autovacuum"))).scalar_one() == "on")


async def warn_if_autovacuum_off(engine: AsyncEngine, service: str) -> None:
    """Says once, at start, that the server runs without autovacuum. The hot statements are
    prepared once per connection and PostgreSQL replans them only when ANALYZE refreshes a
    table's statistics: without autovacuum, plans costed on small tables stay as the tables
    grow (sends slowed by 40 % within a minute in bench-chat), and sent outbox rows and other
    deleted rows are never vacuumed (docs/operations.md#postgresql)."""
    if not await autovacuum_on(engine):
        log.warning(
            "postgres.autovacuum_off",
            service=service,
            hint="turn autovacuum on (the default), or ANALYZE and VACUUM on a schedule",
        )


async def ping(engine: AsyncEngine, timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
