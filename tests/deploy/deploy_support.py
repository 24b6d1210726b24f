"""What the deployment files must agree with: the services, their ports and their settings."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from parley_common.settings import BaseServiceSettings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# docs/DEVELOPING.md, "Ports and URLs"
PORTS = {"gateway": 8000, "auth": 8001, "chat": 8002, "notify": 8003}
PROBE_PATHS = {"/healthz", "/readyz"}


def settings_class(service: str) -> type[BaseServiceSettings]:
    """The service's own Settings class (services/<service>/<service>/config.py).

    If a service's config module ever goes missing, map it here, explicitly, to
    parley_common.settings.BaseServiceSettings with a comment saying why; never skip.
    """
    module = importlib.import_module(f"{service}.config")
    cls: type[BaseServiceSettings] = module.Settings
    return cls


def setting_fields(service: str) -> set[str]:
    return set(settings_class(service).model_fields)


def unknown_parley_settings(service: str, env_names: list[str] | set[str]) -> set[str]:
    """PARLEY_* names that are not a field of the service's Settings."""
    fields = setting_fields(service)
    return {
        name
        for name in env_names
        if name.startswith("PARLEY_") and name.removeprefix("PARLEY_").lower() not in fields
    }


def load_settings(
    service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> BaseServiceSettings:
    """Settings built from exactly `env` (no .env file, no other PARLEY_* of this process)."""
    for name in list(os.environ):
        if name.startswith("PARLEY_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_class(service)(_env_file=None)


def run(cmd: list[str], *, cwd: Path = REPO, stdin: str | None = None) -> str:
    """Run a tool; a failure shows its whole output."""
    proc = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout


def tool(name: str, *fallbacks: str) -> str:
    for candidate in (name, *fallbacks):
        found = shutil.which(candidate)
        if found:
            return found
    raise AssertionError(f"{name} is not installed; the deploy tests need it (see docs/deploy.md)")
