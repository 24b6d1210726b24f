"""A database that is down or out of connections answers 503 with retry_after, never 500."""

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parley_common.db import create_engine, make_sessionmaker, unit_of_work
from parley_common.errors import NotFound, install_error_handlers
from parley_common.testing.proxy import TcpProxy


def make_app(database_url: str) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    sessions = make_sessionmaker(create_engine(database_url))

    async def session() -> AsyncIterator[AsyncSession]:
        async with unit_of_work(sessions) as s:
            yield s

    @app.get("/count")
    async def count(db: Annotated[AsyncSession, Depends(session)]) -> dict[str, int]:
        return {"one": (await db.execute(text("SELECT 1"))).scalar_one()}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("Conversation not found")

    return app


async def test_database_down_is_a_retryable_503(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    url = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
    app = make_app(url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        assert (await client.get("/count")).json() == {"one": 1}
        await proxy.cut()
        response = await client.get("/count")
        assert response.status_code == 503
        assert response.json()["code"] == "unavailable"
        assert response.json()["retry_after"] >= 1
        assert "Retry-After" in response.headers
        await proxy.restore()
        assert (await client.get("/count")).status_code == 200
    await proxy.close()


async def test_service_errors_keep_their_text() -> None:
    app = make_app("sqlite+aiosqlite:///:memory:")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        response = await client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Conversation not found", "code": "not_found"}
