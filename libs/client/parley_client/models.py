"""REST bodies of PROTOCOL.md section 1 that parley_common.schemas does not hold, and the
check that a body matches its model (`parse`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .errors import ProtocolViolation

T = TypeVar("T")


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"
    refresh_token: str | None = None
    expires_in: int | None = None


class MemberRead(BaseModel):
    id: int
    username: str
    email: str | None = None
    role: str
    is_owner: bool = False


class ReceiptRead(BaseModel):
    user_id: int
    last_read_seq: int = 0
    read_at: Any = None
    last_delivered_seq: int = 0
    delivered_at: Any = None


class UnreadCount(BaseModel):
    total: int
    by_conversation: dict[int, int] = {}


@dataclass
class _Adapters:
    cache: dict[Any, TypeAdapter[Any]]

    def get(self, tp: Any) -> TypeAdapter[Any]:
        adapter = self.cache.get(tp)
        if adapter is None:
            adapter = self.cache[tp] = TypeAdapter(tp)
        return adapter


_ADAPTERS = _Adapters({})


def parse(tp: type[T], data: Any, route: str) -> T:
    try:
        parsed: T = _ADAPTERS.get(tp).validate_python(data)
        return parsed
    except ValidationError as exc:
        raise ProtocolViolation(f"{route}: body does not match {tp}: {exc}; body={data!r}") from exc
