"""Checks frames against the AsyncAPI document (docs/asyncapi.json): the e2e tests validate
every server frame their clients receive, so the document cannot drift from the wire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator


class FrameChecker:
    """One validator per server frame type, from the document's `server_<type>` messages."""

    def __init__(self, document: dict[str, Any]) -> None:
        messages = document["components"]["messages"]
        components = document["components"]
        self._validators: dict[str, Draft202012Validator] = {}
        for key, message in messages.items():
            if key.startswith("server_"):
                # The payload's $refs point into the document: keep its components at the root.
                schema = {**message["payload"], "components": components}
                self._validators[message["name"]] = Draft202012Validator(schema)
        self.checked = 0
        self.failures: list[str] = []

    @classmethod
    def from_file(cls, path: Path) -> FrameChecker:
        return cls(json.loads(path.read_text()))

    def check(self, frame: Any) -> None:
        """Records a frame that no server message of the document describes."""
        self.checked += 1
        kind = frame.get("type") if isinstance(frame, dict) else None
        validator = self._validators.get(kind) if isinstance(kind, str) else None
        if validator is None:
            self.failures.append(f"no server message {kind!r} in the document: {frame!r:.300}")
            return
        error = next(iter(validator.iter_errors(frame)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            self.failures.append(f"{kind} at {where or '(root)'}: {error.message:.300}")
