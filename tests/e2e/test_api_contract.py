"""The gateway serves the public API's contract (issue 14): the OpenAPI document at
/openapi.json is docs/openapi.json, /docs renders it from the gateway's own files, wrong
methods get 405 with `Allow`, and server frames match docs/asyncapi.json."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from parley.stack import ROOT
from parley_common.testing.asyncapi_frames import FrameChecker

# The first e2e module in name order: its first test waits for the stack and the embedded
# process to start (five interpreters at once, measured by coverage).
pytestmark = pytest.mark.timeout(400)

COMMITTED = json.loads((ROOT / "docs" / "openapi.json").read_text())


async def test_gateway_serves_the_committed_document(platform: Any) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway(0), trust_env=False) as http:
        served = await http.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == COMMITTED, "the services' documents and docs/openapi.json differ"


async def test_docs_page_uses_only_the_gateways_files(platform: Any) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway(0), trust_env=False) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert "http" not in page.text.replace("<html", "")  # nothing from elsewhere
        for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "init.js"):
            answer = await http.get(f"/docs/{asset}")
            assert answer.status_code == 200, asset
            assert len(answer.content) > 50
        assert (await http.get("/docs/../pyproject.toml")).status_code == 404
        assert (await http.get("/docs/other.js")).status_code == 404


async def test_wrong_methods_get_405_with_allow(platform: Any) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway(0), trust_env=False) as http:
        health = await http.post("/health")
        assert health.status_code == 405
        assert health.headers["allow"] == "GET"
        assert health.json()["code"] == "method_not_allowed"
        # Three routes serve /users/me (GET, PUT, DELETE): the Allow header names each.
        me = await http.patch("/users/me")
        assert me.status_code == 405
        assert sorted(me.headers["allow"].split(", ")) == ["DELETE", "GET", "PUT"]
        trace = await http.request("TRACE", "/friends")
        assert trace.status_code == 405
        assert "GET" in trace.headers["allow"]


async def test_received_frames_are_checked_against_asyncapi(
    platform: Any, connect: Any, frame_checker: FrameChecker
) -> None:
    user = await platform.user("frames")
    before = frame_checker.checked
    await connect(user)  # returns once `connected` (and the presence frames) arrived
    assert frame_checker.checked > before
    assert frame_checker.failures == []
