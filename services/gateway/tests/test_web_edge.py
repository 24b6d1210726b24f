"""The edge's own answers: the web client's files and nothing outside its root, 405 with
`Allow` for the gateway's own routes, and no WebSocket origin for a Host no browser sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.main import create_app
from parley_common.testing.tokens import TokenFactory

from .conftest import make_settings


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    root = tmp_path / "web"
    (root / "guide").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_text("<h1>app</h1>")
    (root / "guide" / "index.html").write_text("<h1>guide</h1>")
    (tmp_path / "secret.txt").write_text("not for the web")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    app = create_app(make_settings(web_root=root), transports={"auth": TokenFactory().transport()})
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://chat.test") as c,
    ):
        yield c


class TestStaticFiles:
    async def test_index_files_of_the_root_and_of_a_directory(self, web: httpx.AsyncClient) -> None:
        root = await web.get("/")
        assert (root.status_code, root.text) == (200, "<h1>app</h1>")
        guide = await web.get("/guide/")
        assert (guide.status_code, guide.text) == (200, "<h1>guide</h1>")
        assert guide.headers["content-type"].startswith("text/html")

    @pytest.mark.parametrize("path", ["/empty/", "/leak.txt", "/missing.js"])
    async def test_nothing_outside_the_root_or_missing_is_served(
        self, web: httpx.AsyncClient, path: str
    ) -> None:
        r = await web.get(path)
        assert (r.status_code, r.json()["detail"]) == (404, "Not Found"), path
        assert "not for the web" not in r.text

    async def test_files_are_for_get_only(self, web: httpx.AsyncClient) -> None:
        r = await web.post("/index.html")
        assert (r.status_code, r.json()["detail"]) == (404, "Not Found")


class TestOwnRoutes:
    async def test_another_method_on_health_is_405_with_allow(self, web: httpx.AsyncClient) -> None:
        r = await web.post("/health")
        assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
        assert r.headers["allow"] == "GET"
        assert (await web.get("/health")).json()["status"] == "ok"


class TestContentSecurityPolicy:
    async def test_a_host_no_browser_sends_gets_no_websocket_origin(
        self, web: httpx.AsyncClient
    ) -> None:
        r = await web.get("/", headers={"host": "bad host"})
        connect = next(
            d.split()[1:]
            for d in r.headers["content-security-policy"].split(";")
            if d.split() and d.split()[0] == "connect-src"
        )
        assert connect == ["'self'"]
