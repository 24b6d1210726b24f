"""Where emails go, chosen by `PARLEY_SMTP_URL`: `smtp://[user:pass@]host:port` (`smtps://` for
implicit TLS, `?starttls=1` to upgrade), or `file://<folder>` to write .eml files (embedded mode)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class EmailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        self.hostname = parts.hostname or "127.0.0.1"
        self.use_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.start_tls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true")
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
        )


class FileTransport:
    """Writes each email as `<folder>/<time>-<uuid>.eml`, atomically (temp file, then rename)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, bytes(message))

    def _write(self, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex}"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.folder / f"{name}.eml")


def create_transport(url: str, *, timeout: float = 20.0) -> EmailTransport:
    if url.startswith("file://"):
        return FileTransport(url.removeprefix("file://"))
    if url.startswith(("smtp://", "smtps://")):
        return SmtpTransport(url, timeout=timeout)
    raise ValueError(f"unsupported SMTP URL: {url!r} (use smtp://host:port or file://folder)")
