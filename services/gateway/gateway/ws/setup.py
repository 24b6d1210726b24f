"""What a new socket needs before `connected`: its user's friends and conversations (chat) and
the friends' presence (notify). The lookups of the sockets that open together share one call
to each service, so a burst of a thousand connects costs a few dozen calls, not thousands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from parley_common import frames as fr
from parley_common.batching import Batcher
from parley_common.internal_calls import InternalCallFailed

from ..upstreams import Upstreams

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class UserSetup:
    friend_ids: list[int]
    conversation_ids: list[int]


class SocketSetup:
    def __init__(self, upstreams: Upstreams) -> None:
        self._upstreams = upstreams
        self._users: Batcher[int, UserSetup | None] = Batcher(
            self._lookup_users, concurrency=4, max_batch=500, name="ws-setup-users"
        )
        self._presence: Batcher[tuple[int, ...], dict[str, Any] | None] = Batcher(
            self._lookup_presence, concurrency=4, max_batch=500, name="ws-setup-presence"
        )

    async def user(self, user_id: int) -> UserSetup | None:
        """The user's friends and conversations; None when chat cannot answer."""
        return await self._users.submit(user_id)

    async def presence_frames(self, friend_ids: list[int]) -> list[fr.Frame]:
        """One user_online / user_offline per friend; none when notify cannot answer."""
        if not friend_ids:
            return []
        states = await self._presence.submit(tuple(friend_ids))
        if states is None:
            return []
        frames: list[fr.Frame] = []
        for friend_id in friend_ids:
            state = states.get(str(friend_id)) or {}
            if state.get("online"):
                frames.append(fr.UserOnlineFrame(user_id=friend_id))
            else:
                frames.append(
                    fr.UserOfflineFrame(user_id=friend_id, last_seen=state.get("last_seen"))
                )
        return frames

    async def close(self) -> None:
        await self._users.close()
        await self._presence.close()

    async def _lookup_users(self, user_ids: list[int]) -> list[UserSetup | None]:
        try:
            answer = await self._upstreams.chat_calls.post(
                "/internal/users/lookup", {"user_ids": sorted(set(user_ids))}
            )
            found = answer["users"]
            return [
                UserSetup(
                    friend_ids=[int(i) for i in found[str(u)]["friend_ids"]],
                    conversation_ids=[int(i) for i in found[str(u)]["conversation_ids"]],
                )
                for u in user_ids
            ]
        except (InternalCallFailed, KeyError, ValueError, TypeError):
            log.warning("ws.setup_users_unavailable", users=len(user_ids))
            return [None] * len(user_ids)

    async def _lookup_presence(
        self, friend_lists: list[tuple[int, ...]]
    ) -> list[dict[str, Any] | None]:
        ids = sorted({u for friends in friend_lists for u in friends})
        try:
            states = await self._upstreams.notify_calls.post(
                "/internal/presence/lookup", {"user_ids": ids}
            )
            if not isinstance(states, dict):
                raise ValueError("not an object")
        except (InternalCallFailed, ValueError):
            log.warning("ws.setup_presence_unavailable", users=len(ids))
            return [None] * len(friend_lists)
        return [states] * len(friend_lists)
