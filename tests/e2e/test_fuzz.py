"""Every public REST route, fuzzed with schemathesis through a gateway of the real stack
(PostgreSQL, RabbitMQ, Redis): no request, valid or not, gets a 5xx (issue 12, finding 4).

The schema is the services' own OpenAPI (auth, chat and notify; /internal/ left out, as the
gateway never routes it), requests go to the public gateway as a logged-in user. Examples are
bounded and derandomized, so a CI run takes about a minute and repeats itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

pytestmark = [pytest.mark.stack_only, pytest.mark.timeout(900)]

EXAMPLES_PER_OPERATION = 12
NOT_PUBLIC = ("/internal", "/healthz", "/readyz", "/metrics")


def public_schema(openapis: list[dict[str, Any]]) -> dict[str, Any]:
    """One OpenAPI document of the routes the gateway serves."""
    merged: dict[str, Any] = {
        "openapi": openapis[0]["openapi"],
        "info": {"title": "Parley public API", "version": "1"},
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for doc in openapis:
        for path, item in doc.get("paths", {}).items():
            if not path.startswith(NOT_PUBLIC):
                merged["paths"][path] = item
        for kind in ("schemas", "securitySchemes"):
            merged["components"][kind].update(doc.get("components", {}).get(kind, {}))
    return merged


def fuzz_operation(operation: Any, base_url: str, token: str, mode: GenerationMode) -> list[str]:
    """Runs the operation's examples; the ones that got a 5xx (or no answer), described."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        try:
            response = case.call(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as exc:
            failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}"[:600])

    # Unsatisfiable: nothing to vary (no parameters, or no invalid value for them in this mode).
    with contextlib.suppress(Unsatisfiable):
        run()
    return failures


async def test_no_public_route_answers_5xx_to_any_input(stack: Any) -> None:
    processes = stack.stack.processes
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        openapis = [
            (await http.get(f"{processes[name].url}/openapi.json")).json()
            for name in ("auth", "chat", "notify")
        ]
    schema = schemathesis.openapi.from_dict(public_schema(openapis))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50, [op.label for op in operations]
    user = await stack.user("fuzz")
    await stack.friends(2, "fuzzf")  # some data around, so ids the fuzzer picks may exist
    assert user.access_token is not None
    gateway = stack.gateway_urls[0]

    def fuzz_all() -> list[str]:
        failures: list[str] = []
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += fuzz_operation(operation, gateway, user.access_token or "", mode)
        return failures

    failures = await asyncio.to_thread(fuzz_all)
    assert failures == [], "\n".join(failures)
