"""`ParleyClient`: typed async methods for every REST route of PROTOCOL.md section 1, by
concern (accounts, chat, messages) over one plumbing (base.py)."""

from __future__ import annotations

from typing import Any

from .accounts import AccountsApi
from .chat_api import ChatApi
from .messages_api import MessagesApi
from .models import MemberRead, ReceiptRead, TokenPair, UnreadCount
from .socket import Socket

__all__ = ["MemberRead", "ParleyClient", "ReceiptRead", "TokenPair", "UnreadCount"]


class ParleyClient(AccountsApi, ChatApi, MessagesApi):
    """Async client of one Parley deployment.

    `base_urls` may be one gateway URL or several replicas: REST calls fail over to the next
    one when a connection is refused, and `connect()` hands the whole list to the socket.
    The client keeps the tokens of the last `login`/`refresh` and, when a refresh token is
    known, refreshes once and retries when the access token is refused.
    """

    async def connect(self, **options: Any) -> Socket:
        """Opens a `Socket` to the gateway(s) with the current access token (see `Socket`)."""
        socket = Socket(self, **options)
        await socket.start()
        return socket
