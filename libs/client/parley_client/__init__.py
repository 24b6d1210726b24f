"""Async Python client for Parley's public API: REST (`ParleyClient`) and WebSocket (`Socket`)."""

from .errors import ParleyError, ProtocolViolation, SocketClosed
from .rest import MemberRead, ParleyClient, ReceiptRead, TokenPair, UnreadCount
from .socket import Socket, UnknownFrame

__all__ = [
    "MemberRead",
    "ParleyClient",
    "ParleyError",
    "ProtocolViolation",
    "ReceiptRead",
    "Socket",
    "SocketClosed",
    "TokenPair",
    "UnknownFrame",
    "UnreadCount",
]
