"""Async Python client for Parley's public API: REST (`ParleyClient`) and WebSocket (`Socket`)."""

from importlib.metadata import PackageNotFoundError, version

from .errors import ParleyError, ProtocolViolation, SocketClosed
from .rest import MemberRead, ParleyClient, ReceiptRead, TokenPair, UnreadCount
from .socket import Socket, UnknownFrame

try:
    __version__ = version("parley-client")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree
    __version__ = "0+unknown"

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
    "__version__",
]
