"""The browser-origin allowlist (settings.cors_origins, regexes) for CORS and WebSockets."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ALLOWED_HEADERS = ["authorization", "content-type", "x-request-id"]


class OriginPolicy:
    def __init__(self, patterns: list[str]) -> None:
        self.regex = "|".join(f"(?:{p})" for p in patterns) if patterns else r"(?!x)x"
        self._compiled = re.compile(self.regex)

    def allows(self, origin: str | None) -> bool:
        """No Origin (mobile apps, scripts) is allowed; a browser's must match the allowlist."""
        return origin is None or self._compiled.fullmatch(origin) is not None


def install_cors(app: FastAPI, policy: OriginPolicy) -> None:
    # Added last, so it is the outermost middleware: errors and 429s carry the headers too.
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=policy.regex,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=["x-request-id", "retry-after"],
        allow_credentials=False,
        max_age=600,
    )
