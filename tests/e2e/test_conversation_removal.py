"""A group deleted by its admin (issue 17): every member's socket gets `conversation_deleted`
and nothing of it is listed any more."""

from __future__ import annotations

from typing import Any


async def test_members_are_told_live_when_the_admin_deletes_the_group(
    platform: Any, connect: Any
) -> None:
    alice, bob = await platform.friends(2)
    sa, sb = await connect(alice), await connect(bob)
    group = await alice.create_group("trip", [bob.user.id])
    for s in (sa, sb):
        await s.next_frame("conversation_created", where=lambda f: f.conversation.id == group.id)
    await sa.send_message_acked(group.id, "tickets booked")

    await alice.request("DELETE", f"/conversations/{group.id}")
    for s in (sa, sb):
        frame = await s.next_frame("conversation_deleted")
        assert frame.conversation_id == group.id and frame.deleted_by.id == alice.user.id
    assert await bob.conversations() == [] and await alice.conversations() == []
