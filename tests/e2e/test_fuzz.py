"""Every public REST route, fuzzed by schemathesis with `--checks all` through a gateway of the
real stack (PostgreSQL, RabbitMQ, Redis), from the document the gateway serves at
/openapi.json (issues 12 and 14): no 5xx, every status and header documented, responses match
their schemas, schema-valid input accepted (or refused by a documented rule of the data),
schema-invalid input refused, wrong methods answered 405 with `Allow`.

Bounded and deterministic (EXAMPLES per operation and phase, no random seed), so a run takes a
minute or two and repeats itself. Settings: schemathesis.toml and schemathesis_hooks.py beside
this file, with why.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest

from parley_common.testing.coverage import untraced_env

pytestmark = [pytest.mark.stack_only, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
# Per operation, deterministic; 5 keeps the run near a minute within CI's 15-minute budget.
EXAMPLES = 5


def run_schemathesis(gateway: str, token: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """In `cwd`: schemathesis keeps a cache (.schemathesis/) in its working directory."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{gateway}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--generation-deterministic",
        "--header",
        f"Authorization: Bearer {token}",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    # Not traced by `make test`'s coverage (it measures the services, not the fuzzer): traced,
    # hypothesis and schemathesis ran at about half speed in CI.
    env = {
        **untraced_env(dict(os.environ)),
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        # Its session must survive the run (schemathesis_hooks.map_path_parameters).
        "PARLEY_FUZZ_SESSION_ID": str(
            jwt.decode(token, options={"verify_signature": False})["sid"]
        ),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=840, check=False, cwd=cwd
    )


OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


async def test_public_api_passes_every_schemathesis_check(stack: Any, tmp_path: Path) -> None:
    user = await stack.user("fuzz")
    await stack.friends(2, "fuzzf")  # some data around, so ids the fuzzer picks may exist
    assert user.access_token is not None
    result = await asyncio.to_thread(
        run_schemathesis, stack.gateway_urls[0], user.access_token, tmp_path
    )
    output = result.stdout + result.stderr
    summary = output[output.find("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    operations = sum(
        method in {"get", "put", "post", "delete", "patch"}
        for item in json.loads(OPENAPI.read_text())["paths"].values()
        for method in item
    )
    assert f"Tested: {operations}" in summary, output[-4000:]  # every operation of the document
    assert result.returncode == 0, output[-20000:]
