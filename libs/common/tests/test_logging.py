"""Token redaction in log records (issue 12, finding 6)."""

from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from parley_common.logging import _RedactingFilter, redact

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


def access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1,
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", path, "1.1", 101), None,
    )  # fmt: skip


def test_access_line_is_redacted_and_still_formats_with_uvicorns_formatter() -> None:
    record = access_record(f"/ws?token={TOKEN}")
    assert _RedactingFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert "eyJ" not in line and "/ws?token=[redacted]" in line


def test_every_form_of_a_token_is_redacted() -> None:
    for text in (
        f"WebSocket /ws/{TOKEN} [accepted]",
        f"GET /users/me?x=1&token={TOKEN}",
        f"Authorization: Bearer {TOKEN}",
        f'< TEXT \'{{"type": "auth", "token": "{TOKEN[:30]}...{TOKEN[-10:]}"}}\'',
        f"something {TOKEN} else",
    ):
        assert "eyJ" not in redact(text) and TOKEN[-10:] not in redact(text), text
