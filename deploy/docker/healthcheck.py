"""Container health check: GET /healthz on the port of the uvicorn running as PID 1.

Reads `--port N` from PID 1's command line (default 8000), so one HEALTHCHECK fits every
service's command. python:3.11-slim has no curl; the standard library is enough.
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path


def _port() -> int:
    if len(sys.argv) > 1:
        return int(sys.argv[1])
    try:
        args = Path("/proc/1/cmdline").read_bytes().split(b"\0")
    except OSError:
        return 8000
    for i, arg in enumerate(args):
        if arg == b"--port" and i + 1 < len(args):
            return int(args[i + 1])
        if arg.startswith(b"--port="):
            return int(arg.split(b"=", 1)[1])
    return 8000


def main() -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{_port()}/healthz", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except Exception as exc:  # any failure means unhealthy
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
