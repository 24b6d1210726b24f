"""JSON logs through structlog, with request and event ids bound per context."""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

import structlog

# A token never reaches a log line, at any level, from any logger (ARCHITECTURE.md): not in a
# WebSocket path (/ws/<token>) or query (?token=), nor anywhere else a JWT shows up (a first
# `auth` frame that websockets logs at debug level, an Authorization header).
_TOKEN_IN_URL = re.compile(r"(/ws/|[?&]token=)[^/?&\s\"']+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*)?")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
_TOKEN_FIELD = re.compile(r"(\"(?:access_|refresh_)?token\"\s*:\s*\")[^\"]*")
# Loggers of the servers and libraries that configure their own handlers: routed through ours.
_FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets", "gunicorn.error")


def redact(text: str) -> str:
    if "/ws/" in text or "token=" in text:
        text = _TOKEN_IN_URL.sub(r"\1[redacted]", text)
    if "eyJ" in text:
        text = _JWT.sub("[redacted]", text)
    if "token" in text:
        text = _TOKEN_FIELD.sub(r"\1[redacted]", text)
    if "earer" in text:
        text = _BEARER.sub(r"\1[redacted]", text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    return value


def _redact_processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str | bytes):
            event_dict[key] = _redact_value(value)
    return event_dict


class _RedactingFilter(logging.Filter):
    """Redacts the message and each argument in place, keeping `args` a tuple of the same
    length: uvicorn's AccessFormatter unpacks it (args=None made every access line a
    `--- Logging error --- TypeError`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        return True


def wants_colour(stream: Any) -> bool:
    """Colours for a terminal only: a log file (`make run > run.log`) gets plain text, and
    NO_COLOR (no-color.org) turns them off everywhere."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=wants_colour(sys.stderr))
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(_RedactingFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)
    # uvicorn configures its loggers (own handlers, no propagation) before it loads the app:
    # route them through the redacting handler above instead.
    for name in _FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers = []
        foreign.propagate = True
        if not any(isinstance(f, _RedactingFilter) for f in foreign.filters):
            foreign.addFilter(_RedactingFilter())
    # One line per inter-service call would drown the service's own logs.
    # websockets logs every frame at debug level (a first `auth` frame holds a token).
    for chatty in ("httpx", "httpcore", "alembic", "websockets"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    # aio-pika and aiormq log every failed reconnect attempt (each second, at ERROR) and the
    # internals of a lost connection; the bus itself says once that the broker is gone
    # (bus.connection_lost, WARNING) and once that it is back (bus.reconnected, INFO).
    for chatty in ("aiormq", "aio_pika"):
        logging.getLogger(chatty).setLevel(max(logging.CRITICAL, root.level))
