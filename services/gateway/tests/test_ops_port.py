"""/metrics and /readyz are not served on the public port (issue 12, finding 8): only on the
metrics port, which the cluster reaches and the ingress does not."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from gateway.main import create_app
from parley.stack import free_port
from parley_common.testing.tokens import TokenFactory

from .conftest import make_settings


async def test_public_port_has_no_metrics_or_readiness() -> None:
    app = create_app(make_settings(), transports={"auth": TokenFactory().transport()})
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as public,
    ):
        for path in ("/metrics", "/readyz"):
            r = await public.get(path)
            assert r.status_code == 404 and "parley_" not in r.text, path
        assert (await public.get("/healthz")).status_code == 200  # liveness is harmless


async def test_metrics_port_serves_metrics_readiness_and_health() -> None:
    port = free_port()
    app = create_app(
        make_settings(metrics_port=port), transports={"auth": TokenFactory().transport()}
    )
    async with LifespanManager(app), httpx.AsyncClient(trust_env=False) as http:
        base = f"http://127.0.0.1:{port}"
        metrics = await http.get(f"{base}/metrics")
        assert metrics.status_code == 200 and "parley_ws_connections" in metrics.text
        ready = await http.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"bus": True}
        assert (await http.get(f"{base}/healthz")).json()["status"] == "ok"
        assert (await http.get(f"{base}/conversations")).status_code == 404
        assert (await http.post(f"{base}/metrics")).status_code == 405
    async with httpx.AsyncClient(trust_env=False) as http:
        try:
            await http.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            raise AssertionError("the metrics port outlived the app")
        except httpx.ConnectError:
            pass
