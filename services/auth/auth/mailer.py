"""Auth's emails (password reset, address verification), sent in the background: the request
answers at once (and in the same time whether or not an email goes out), a slow or failing SMTP
server delays no one, and a failure is logged (the user can ask again)."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Coroutine
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import structlog

from parley_common.email_transport import EmailTransport

log = structlog.get_logger(__name__)


def compose(
    *, sender: str, to: str, subject: str, lines: list[str], link: str, action: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="parley.local")
    text = "\n\n".join([*lines, f"{action}: {link}"])
    message.set_content(text + "\n")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    message.add_alternative(
        f'<!doctype html><html><body style="font-family: sans-serif; color: #222;">{paragraphs}'
        f'<p><a href="{html.escape(link)}">{html.escape(action)}</a></p></body></html>',
        subtype="html",
    )
    return message


class Mailer:
    def __init__(self, transport: EmailTransport) -> None:
        self._transport = transport
        self._pending: set[asyncio.Task[None]] = set()

    def send_later(self, message: EmailMessage) -> None:
        self.run_later(self._send(message))

    def run_later(self, work: Coroutine[Any, Any, None]) -> None:
        """`work` after the answer (it logs its own failures); drained at shutdown."""
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, message: EmailMessage) -> None:
        try:
            await self._transport.send(message)
        except Exception as exc:
            log.warning(
                "email.failed", subject=message["Subject"], error=f"{type(exc).__name__}: {exc}"
            )

    async def drain(self) -> None:
        """Wait for the emails on their way (tests; shutdown), also those that work started
        meanwhile (a reset link's email is queued by its lookup)."""
        while self._pending:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._pending), return_exceptions=True)
