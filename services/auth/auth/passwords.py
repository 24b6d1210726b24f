"""argon2id password hashing through pwdlib, off the event loop (it is slow on purpose)."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


class PasswordHasher:
    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism),)
        )
        # Verified against when the user does not exist, so both cases cost the same time.
        self._dummy = self._hash.hash("parley-timing-equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(valid, new hash when the stored one uses outdated parameters)."""
        return await asyncio.to_thread(self._hash.verify_and_update, password, hashed)

    async def verify_dummy(self, password: str) -> None:
        await asyncio.to_thread(self._hash.verify, password, self._dummy)
