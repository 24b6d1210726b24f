"""The start-up check of the database server's settings that the hot path depends on."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from sqlalchemy import text
from structlog.testing import capture_logs

import parley_common.db as db_module
from parley_common.db import autovacuum_on, create_engine, warn_if_autovacuum_off


async def warnings_at_start(url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    engine = create_engine(url)
    try:
        with capture_logs() as logs:
            # A logger cached by an earlier test keeps that test's configuration.
            monkeypatch.setattr(db_module, "log", structlog.get_logger(db_module.__name__))
            await warn_if_autovacuum_off(engine, "chat")
    finally:
        await engine.dispose()
    return [e["event"] for e in logs if e["log_level"] == "warning"]


async def test_postgresql_without_autovacuum_is_reported_once(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as conn:
            setting = (
                await conn.execute(
                    text("SELECT setting FROM pg_settings WHERE name = 'autovacuum'")
                )
            ).scalar_one()
        assert await autovacuum_on(engine) is (setting == "on")
    finally:
        await engine.dispose()
    expected = [] if setting == "on" else ["postgres.autovacuum_off"]
    assert await warnings_at_start(pg_url, monkeypatch) == expected


async def test_sqlite_has_nothing_to_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"
    assert await warnings_at_start(url, monkeypatch) == []
