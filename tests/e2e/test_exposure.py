"""Nothing internal on the public port (issue 12, finding 8): neither `make run` nor a gateway of
the stack answers /metrics or /readyz there; the stack's metrics ports do."""

from __future__ import annotations

from typing import Any

import httpx


async def test_gateways_do_not_serve_metrics_or_readiness_publicly(platform: Any) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        for url in platform.gateway_urls:
            for path in ("/metrics", "/readyz"):
                r = await http.get(f"{url}{path}")
                assert r.status_code == 404 and "parley_" not in r.text, (url, path)
        if platform.stack is not None:
            for process in platform.stack.processes.values():
                r = await http.get(f"{process.metrics_url}/metrics")
                assert r.status_code == 200 and "parley_" in r.text, process.name
                assert (await http.get(f"{process.metrics_url}/readyz")).status_code == 200
