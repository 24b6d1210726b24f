from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway.main import create_app
from parley_common.testing.tokens import TokenFactory

from .conftest import make_settings
from .fakes import FakeChat

Api = tuple[httpx.AsyncClient, FakeChat, TokenFactory]


class TestProxy:
    async def test_forwards_authorization_query_request_id_and_address(self, api: Api) -> None:
        client, _, _ = api
        response = await client.get(
            "/conversations?order=recent&limit=5",
            headers={"Authorization": "Bearer abc", "X-Request-ID": "req-1"},
        )
        assert response.status_code == 200
        echo = response.json()["echo"]
        assert echo == {
            "authorization": "Bearer abc",
            "x-forwarded-for": "127.0.0.1",
            "x-request-id": "req-1",
            "query": "order=recent&limit=5",
        }

    async def test_post_body_and_upstream_error_passed_through(self, api: Api) -> None:
        client, chat, tokens = api
        chat.add_conversation(10, {1})
        token = tokens.token(2)
        response = await client.post(
            "/messages",
            json={"conversation_id": 10, "content": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 404
        assert response.json()["detail"] == "Conversation not found or access denied"
        ok = await client.post(
            "/messages",
            json={"conversation_id": 10, "content": "x"},
            headers={"Authorization": f"Bearer {tokens.token(1)}"},
        )
        assert ok.status_code == 200 and ok.json()["seq"] == 1

    @pytest.mark.parametrize(
        "path", ["/internal/users/1/friends", "/users/../internal/presence", "/nothing-here"]
    )
    async def test_internal_and_unknown_paths_not_routed(self, api: Api, path: str) -> None:
        client, _, _ = api
        response = await client.get(path)
        assert response.status_code == 404
        assert "friend_ids" not in response.text

    async def test_upstream_down_is_503(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        settings = make_settings()
        app = create_app(
            settings,
            transports={"notify": httpx.MockTransport(refuse), "chat": httpx.MockTransport(refuse)},
        )
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
        ):
            response = await client.get(
                "/notifications", headers={"Origin": "http://localhost:5173"}
            )
            assert response.status_code == 503
            assert response.json()["code"] == "unavailable"
            assert response.json()["detail"].endswith("temporarily unavailable")
            assert response.headers["access-control-allow-origin"] == "http://localhost:5173"

    async def test_broken_upstream_is_502(self) -> None:
        def broken(request: httpx.Request) -> httpx.Response:
            raise httpx.RemoteProtocolError("garbage", request=request)

        app = create_app(make_settings(), transports={"chat": httpx.MockTransport(broken)})
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
        ):
            response = await client.get("/friends")
            assert response.status_code == 502 and response.json()["code"] == "bad_gateway"

    async def test_rest_rate_limit_per_address(self) -> None:
        tokens = TokenFactory()
        chat = FakeChat(__import__("parley_common.bus", fromlist=["MemoryBus"]).MemoryBus())
        app = create_app(
            make_settings(rest_rate=1, rest_burst=3),
            transports={"chat": httpx.ASGITransport(chat.app), "auth": tokens.transport()},
        )
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
        ):
            statuses = [(await client.get("/conversations")).status_code for _ in range(5)]
            assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429


class TestCors:
    async def test_preflight(self, api: Api) -> None:
        client, _, _ = api
        response = await client.options(
            "/conversations",
            headers={
                "Origin": "http://127.0.0.1:5173",
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
        assert "PATCH" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()

    async def test_foreign_origin_gets_no_cors(self, api: Api) -> None:
        client, _, _ = api
        response = await client.options(
            "/conversations",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in response.headers

    async def test_error_responses_carry_cors_and_security_headers(self, api: Api) -> None:
        client, _, _ = api
        response = await client.get("/nothing-here", headers={"Origin": "http://localhost:3000"})
        assert response.status_code == 404
        assert response.json()["detail"] == "Not Found"
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert response.headers["x-content-type-options"] == "nosniff"


class TestEdge:
    async def test_health_and_docs(self, api: Api) -> None:
        client, _, _ = api
        assert (await client.get("/health")).json() == {
            "status": "ok",
            "message": "parley running",
            "websocket_connections": 0,
        }
        assert (await client.get("/docs")).status_code == 200

    async def test_serves_web_client(self, tmp_path: Path) -> None:
        (tmp_path / "index.html").write_text("<h1>parley</h1>")
        (tmp_path / "app.js").write_text("console.log(1)")
        app = create_app(make_settings(web_root=tmp_path))
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
        ):
            index = await client.get("/")
            assert index.status_code == 200 and "parley" in index.text
            assert "javascript" in (await client.get("/app.js")).headers["content-type"]
            assert (await client.get("/../pyproject.toml")).status_code == 404
