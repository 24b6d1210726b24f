"""Writes docs/openapi.json: the public API as the gateway serves it at /openapi.json, built
in-process from the services' apps (`make docs`; tests/test_docs.py checks it is current)."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from gateway.openapi import SERVICES, gateway_document, public_document

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "openapi.json"


def _app(service: str) -> Any:
    """The service's app with default settings; its lifespan (databases, bus) never runs."""
    settings = importlib.import_module(f"{service}.config").Settings()
    return importlib.import_module(f"{service}.main").create_app(settings)


def build() -> dict[str, Any]:
    services = {name: _app(name).openapi() for name in SERVICES}
    return public_document(gateway_document(_app("gateway")), services)


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="parley openapi", description=__doc__)
    parser.add_argument("--output", type=Path, default=DOC_PATH, help="default: docs/openapi.json")
    args = parser.parse_args(argv)
    args.output.write_text(render())


if __name__ == "__main__":
    main()
