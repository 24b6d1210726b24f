"""Consent (ARCHITECTURE.md, Security rules): only a user's friends can put that user into a
group, never next to someone either of them blocked, and a user's email is shown only to that
user and their friends. Conversations of the integration API keep the participants the host
application sets (integrations/ does not come through here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..deps import Ctx
from ..errors import Forbidden
from ..friends import repository as friend_repo
from ..models import User

NOT_FRIENDS = "You can only add your friends to a group"  # PROTOCOL.md, verbatim
BLOCKED = "You cannot add this user"


async def check_group_members(
    ctx: Ctx, *, new_member_ids: Sequence[int], existing_member_ids: Sequence[int]
) -> None:
    """The caller may put `new_member_ids` into a group with `existing_member_ids`: each is the
    caller's friend, and no block stands between any two of the group's people."""
    newcomers = [u for u in new_member_ids if u != ctx.user_id]
    if not newcomers:
        return
    friends = set(await friend_repo.friend_ids(ctx.session, ctx.user_id))
    if any(u not in friends for u in newcomers):
        raise Forbidden(NOT_FRIENDS, code="not_friends")
    everyone = {ctx.user_id, *existing_member_ids, *newcomers}
    if await friend_repo.block_touching(ctx.session, newcomers, everyone):
        raise Forbidden(BLOCKED, code="blocked")


async def email_visibility(ctx: Ctx) -> Callable[[User], str | None]:
    """`email_of(user)`: the address for the caller and the caller's friends, None otherwise."""
    friends = set(await friend_repo.friend_ids(ctx.session, ctx.user_id))

    def email_of(user: User) -> str | None:
        return user.email if user.id == ctx.user_id or user.id in friends else None

    return email_of
