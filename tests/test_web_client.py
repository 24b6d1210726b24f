"""The web client's own unit tests (`node --test` in clients/web) run with every `make test`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_web_client_node_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "the web client's tests need Node.js: `apt-get install nodejs` (.ci/run does it)"
    result = subprocess.run(
        [node, "--test"],
        cwd=ROOT / "clients" / "web",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # node's summary: at least one test ran, none failed.
    assert "# fail 0" in output and "# pass 0" not in output, output[-2000:]
