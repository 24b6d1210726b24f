"""libs/client on its own (issue 14): its wheel installs into an empty virtualenv without the
rest of Parley, and its example logs in, sends and receives against a running Parley."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from parley.stack import ROOT

UV = ["bash", str(ROOT / "scripts" / "uv.sh")]


def _run(*command: str, cwd: Path) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def _install_client(tmp: Path) -> Path:
    _run(*UV, "build", "--wheel", "--out-dir", str(tmp / "dist"), "libs/client", cwd=ROOT)
    (wheel,) = (tmp / "dist").glob("parley_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"parley_client/py.typed", "parley_client/_wire/frames.py"} <= set(names)
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    )
    assert b"parley-common" not in metadata.lower()
    _run(*UV, "venv", "-q", str(tmp / "venv"), "--python", sys.executable, cwd=tmp)
    python = tmp / "venv" / "bin" / "python"
    _run(*UV, "pip", "install", "-q", "--python", str(python), str(wheel), cwd=tmp)
    return python


async def test_installed_client_logs_in_sends_and_receives(embedded: Any, tmp_path: Path) -> None:
    python = await asyncio.to_thread(_install_client, tmp_path)
    # -I: nothing from this checkout or the environment is importable, only the venv.
    alone = await asyncio.to_thread(
        subprocess.run,
        [str(python), "-I", "-c", "import parley_common"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert alone.returncode != 0 and "parley_common" in alone.stderr
    example = ROOT / "libs" / "client" / "examples" / "chat.py"
    out = await asyncio.to_thread(
        _run, str(python), "-I", str(example), embedded.gateway(0), cwd=tmp_path
    )
    assert "received 'Hello Bob!' from alice_" in out, out
