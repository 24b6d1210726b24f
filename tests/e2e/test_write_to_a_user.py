"""Writing to a user, not to a conversation (issue 17): over the WebSocket, the first message
opens the direct conversation and reaches the friend live; a stranger gets an error frame."""

from __future__ import annotations

from typing import Any

import pytest

from parley_client import ParleyError


async def test_the_first_message_opens_the_conversation(platform: Any, connect: Any) -> None:
    alice, bob = await platform.friends(2)
    sa, sb = await connect(alice), await connect(bob)

    cmid = await sa.send_message(None, "first words", recipient_id=bob.user.id)
    ack = await sa.ack(cmid)
    conversation_id = ack.message.conversation_id
    assert ack.message.content == "first words" and ack.message.seq == 1
    created = await sb.next_frame(
        "conversation_created", where=lambda f: f.conversation.id == conversation_id
    )
    assert created.conversation.type == "direct"
    got = await sb.next_frame("new_message", where=lambda f: f.message.id == ack.message.id)
    assert got.message.content == "first words"

    # The second message goes to the same conversation, from either side.
    again = await sb.ack(await sb.send_message(None, "hello back", recipient_id=alice.user.id))
    assert (again.message.conversation_id, again.message.seq) == (conversation_id, 2)
    assert [c.id for c in await bob.conversations()] == [conversation_id]


async def test_a_stranger_cannot_be_written_to(platform: Any, connect: Any) -> None:
    alice, carol = await platform.users(2)
    sa = await connect(alice)
    cmid = await sa.send_message(None, "hello stranger", recipient_id=carol.user.id)
    with pytest.raises(ParleyError) as refused:
        await sa.ack(cmid)
    assert refused.value.detail == "You can only start direct chats with friends"
    assert await alice.conversations() == []
