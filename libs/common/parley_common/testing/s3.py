"""A real S3-compatible server for the tests: moto in server mode, started as a local process
(`python -m moto.server`) on a free port, once per test session. Tests of the s3:// storage
path talk HTTP to it through aiobotocore like a deployment talks to S3 or MinIO; each test
uses a bucket of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def settings(self, bucket: str | None = None) -> dict[str, Any]:
        """Storage settings (`PARLEY_STORAGE_*` as keyword arguments) for a fresh bucket."""
        return {
            "storage_url": f"s3://{bucket or 'parley-test-' + uuid.uuid4().hex[:12]}",
            "storage_endpoint_url": self.endpoint_url,
            "storage_region": REGION,
            "storage_access_key_id": ACCESS_KEY,
            "storage_secret_access_key": SECRET_KEY,
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(log_path: str | None = None) -> tuple[subprocess.Popen[bytes], S3Server]:
    port = _free_port()
    log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - the process keeps it
    process = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the moto S3 server exited with {process.returncode}")
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the moto S3 server did not answer within 30 s") from None
            time.sleep(0.1)
    return process, S3Server(endpoint)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server process for the session."""
    process, server = start_server()
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
