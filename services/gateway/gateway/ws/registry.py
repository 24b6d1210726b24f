"""The replica's sockets by user, what it knows of their users (conversations, friends), and
the bus bindings that follow from that:

- `user.<id>.#` while the user has a socket here;
- `conv.<id>.#` while the conversation has a connected member here.

Bindings are requested in bulk (a socket's user and conversations at once; many sockets'
requests share the broker round trips, parley_common.bus) and awaited before `connected`. A
binding no longer needed lingers for `linger` seconds before it is removed: a user who
reconnects, or the next member who comes online, finds it in place (unbinds cost one broker
round trip each; events for a lingering binding find nobody here and cost a lookup).

What the replica knew of a user whose last socket closed (friends, conversations) lingers with
the user's binding: the events that change it (`member.added`, `friend.accepted`, ...) are
routed to `user.<id>.#` and keep it current, so a user who reconnects within `linger` needs no
lookup at chat (in py-spy, that call was most of a connect's time). It goes when the binding
goes, when the user joins a conversation meanwhile (see `add_member`), and when the bus
reconnects (events may have been lost meanwhile).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from parley_common.bus import Subscription

from ..metrics import WS_CONNECTIONS
from .connection import Connection


def user_pattern(user_id: int) -> str:
    return f"user.{user_id}.#"


def conv_pattern(conversation_id: int) -> str:
    return f"conv.{conversation_id}.#"


@dataclass(slots=True)
class Parked:
    """A disconnected user's friends and conversations, kept current while the user's binding
    lingers."""

    friends: set[int]
    conversations: set[int]
    until: float


class Registry:
    def __init__(self, *, linger: float = 30.0) -> None:
        self.by_user: dict[int, set[Connection]] = {}
        self.user_convs: dict[int, set[int]] = {}
        self.conv_users: dict[int, set[int]] = {}
        #: Friends of users connected here, and the reverse (who here has X as a friend).
        self.friends: dict[int, set[int]] = {}
        self.followers: dict[int, set[int]] = {}
        #: Users whose conversations and friends were looked up (and kept current since).
        self.known: set[int] = set()
        self.subscription: Subscription | None = None
        self.count = 0
        self._linger = linger
        self._unbind_after: dict[str, float] = {}
        #: Users whose last socket closed here, with what was known of them (see the docstring).
        self.parked: dict[int, Parked] = {}

    # --- sockets ----------------------------------------------------------------------------

    def connections(self) -> Iterator[Connection]:
        for conns in self.by_user.values():
            yield from conns

    def of_user(self, user_id: int) -> set[Connection]:
        return self.by_user.get(user_id) or set()

    def add(self, conn: Connection) -> list[str]:
        """Adds the socket; the bindings it needs that are not in place."""
        conns = self.by_user.get(conn.user_id)
        if conns is None:
            conns = self.by_user[conn.user_id] = set()
        conns.add(conn)
        self.count += 1
        WS_CONNECTIONS.inc()
        binds = self._need([user_pattern(conn.user_id)])
        parked = self.parked.pop(conn.user_id, None)
        if parked is not None:
            binds += self.learn(
                conn.user_id, friend_ids=parked.friends, conversation_ids=parked.conversations
            )
        return binds

    def remove(self, conn: Connection) -> None:
        """Removes the socket; what its user no longer needs here lingers, then goes."""
        conns = self.by_user.get(conn.user_id)
        if not conns or conn not in conns:
            return
        conns.discard(conn)
        self.count -= 1
        WS_CONNECTIONS.dec()
        if conns:
            return
        user_id = conn.user_id
        del self.by_user[user_id]
        if user_id in self.known:
            self.parked[user_id] = Parked(
                set(self.friends.get(user_id, ())),
                set(self.user_convs.get(user_id, ())),
                time.monotonic() + self._linger,
            )
        self.known.discard(user_id)
        self._set_friends(user_id, ())
        self.friends.pop(user_id, None)
        self._unneeded(user_pattern(user_id))
        for conversation_id in self.user_convs.pop(user_id, ()):
            self._leave_conversation(user_id, conversation_id)

    def learn(
        self, user_id: int, *, friend_ids: Iterable[int], conversation_ids: Iterable[int]
    ) -> list[str]:
        """A connected user's friends and conversations, looked up; the bindings they need."""
        if user_id not in self.by_user:
            return []
        self.known.add(user_id)
        self._set_friends(user_id, friend_ids)
        return [p for cid in conversation_ids for p in self.add_member(user_id, cid)]

    # --- conversations ----------------------------------------------------------------------

    def is_member(self, user_id: int, conversation_id: int) -> bool:
        return conversation_id in self.user_convs.get(user_id, ())

    def members_here(self, conversation_id: int) -> set[int]:
        return self.conv_users.get(conversation_id) or set()

    def add_member(self, user_id: int, conversation_id: int) -> list[str]:
        """Records a connected user's membership; the binding it needs, when not in place."""
        if user_id not in self.by_user:
            # Nothing here binds the new conversation, so its later events would not reach the
            # parked entry (`conversation.deleted` goes to the conversation's key alone): the
            # next connect asks chat. The conversations parked with the user stay bound at
            # least as long as the entry (they were unneeded no sooner than the user's binding).
            self.parked.pop(user_id, None)
            return []
        convs = self.user_convs.setdefault(user_id, set())
        if conversation_id in convs:
            return []
        convs.add(conversation_id)
        users = self.conv_users.setdefault(conversation_id, set())
        users.add(user_id)
        return self._need([conv_pattern(conversation_id)]) if len(users) == 1 else []

    def remove_member(self, user_id: int, conversation_id: int) -> None:
        if user_id in self.parked:
            self.parked[user_id].conversations.discard(conversation_id)
        convs = self.user_convs.get(user_id)
        if convs is None or conversation_id not in convs:
            return
        convs.discard(conversation_id)
        self._leave_conversation(user_id, conversation_id)

    def _leave_conversation(self, user_id: int, conversation_id: int) -> None:
        users = self.conv_users.get(conversation_id)
        if users is None:
            return
        users.discard(user_id)
        if not users:
            del self.conv_users[conversation_id]
            self._unneeded(conv_pattern(conversation_id))

    # --- friends ----------------------------------------------------------------------------

    def friends_known(self, user_id: int) -> list[int] | None:
        """A connected user's friends when known here (kept current by friend events)."""
        return sorted(self.friends.get(user_id, ())) if user_id in self.known else None

    def followers_of(self, user_id: int) -> set[int]:
        """Users connected here who have `user_id` as a friend."""
        return self.followers.get(user_id) or set()

    def befriend(self, a: int, b: int) -> None:
        for user, friend in ((a, b), (b, a)):
            if user in self.parked:
                self.parked[user].friends.add(friend)
            if user in self.friends:
                self.friends[user].add(friend)
                self.followers.setdefault(friend, set()).add(user)

    def unfriend(self, a: int, b: int) -> None:
        for user, friend in ((a, b), (b, a)):
            if user in self.parked:
                self.parked[user].friends.discard(friend)
            if user in self.friends:
                self.friends[user].discard(friend)
                self._unfollow(friend, user)

    def _set_friends(self, user_id: int, friend_ids: Iterable[int]) -> None:
        new = set(friend_ids)
        old = self.friends.get(user_id, set())
        for gone in old - new:
            self._unfollow(gone, user_id)
        for friend in new - old:
            self.followers.setdefault(friend, set()).add(user_id)
        if user_id in self.by_user:
            self.friends[user_id] = new

    def _unfollow(self, friend: int, user_id: int) -> None:
        followers = self.followers.get(friend)
        if followers is not None:
            followers.discard(user_id)
            if not followers:
                del self.followers[friend]

    # --- bindings ---------------------------------------------------------------------------

    def _need(self, patterns: list[str]) -> list[str]:
        """Patterns wanted (again): a lingering one stays. Binding one that is in place already
        returns at once (the subscription knows)."""
        for pattern in patterns:
            self._unbind_after.pop(pattern, None)
        return patterns

    def _unneeded(self, pattern: str) -> None:
        self._unbind_after[pattern] = time.monotonic() + self._linger

    def forget_parked(self) -> None:
        """Events may have been lost (the bus reconnected): lookups again at the next connect."""
        self.parked.clear()

    async def bind(self, patterns: list[str]) -> None:
        """Returns once the broker routes these patterns here."""
        if patterns and self.subscription is not None:
            await self.subscription.update_bindings(add=patterns)

    async def sweep(self, *, now: float | None = None) -> None:
        """Removes the bindings that lingered long enough unused."""
        now = time.monotonic() if now is None else now
        # Before the bindings that kept them current go.
        for user_id in [u for u, p in self.parked.items() if p.until <= now]:
            del self.parked[user_id]
        due = [p for p, at in self._unbind_after.items() if at <= now]
        for pattern in due:
            del self._unbind_after[pattern]
        if due and self.subscription is not None:
            await self.subscription.update_bindings(remove=due, wait=False)
