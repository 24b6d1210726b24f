"""A real SMTP server for tests (aiosmtpd on a free port) that keeps every email it accepts;
`fail_next = n` answers the next n emails with 451, as a busy server would."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller


class SmtpCollector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.fail_next = 0

    async def handle_DATA(self, server: Any, session: Any, envelope_: Any) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 Try again later"
        self.messages.append(email.message_from_bytes(envelope_.content, policy=default_policy))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def link_in(self, message: EmailMessage, pattern: str) -> str:
        """The first URL of the plain-text part that matches `pattern` (a regex)."""
        for url in re.findall(r"https?://\S+", self.text_of(message)):
            if re.search(pattern, url):
                return str(url)
        raise AssertionError(f"no link matching {pattern!r} in {self.text_of(message)!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpCollector, int]]:
    collector = SmtpCollector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield collector, port
    finally:
        controller.stop()
