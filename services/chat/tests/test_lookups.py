"""One message by id, and the direct conversation with a user (issue 17): for members only."""

from __future__ import annotations

from parley_common.testing.factories import (
    make_direct,
    make_friends,
    make_group,
    make_user,
    send_message,
)

from .conftest import Chat


async def test_a_message_by_id_for_members_only(chat: Chat) -> None:
    ana, ben, cleo = [await make_user(chat, i, n) for i, n in ((1, "ana"), (2, "ben"), (3, "cleo"))]
    group = await make_group(chat, ana, [ben])
    sent = await send_message(chat, ben, group["id"], "the plan is at noon")

    got = await chat.ok("GET", f"/messages/{sent['id']}", ana)
    assert got == sent | {"reactions": got["reactions"]}
    assert (got["content"], got["seq"], got["sender_id"]) == ("the plan is at noon", 1, ben)

    for outsider, message_id in ((cleo, sent["id"]), (ana, 999_999)):
        r = await chat.call("GET", f"/messages/{message_id}", outsider)
        assert r.status_code == 404 and r.json()["detail"] == "Message not found"
    r = await chat.call("GET", "/messages/not-a-number", ana)
    assert r.status_code in (404, 405, 422)

    # Removed from the group: the message is no longer theirs to read.
    await chat.ok("DELETE", f"/conversations/{group['id']}/members/{ben}", ana)
    r = await chat.call("GET", f"/messages/{sent['id']}", ben)
    assert r.status_code == 404


async def test_the_direct_conversation_with_a_user(chat: Chat) -> None:
    ana, ben, cleo = [await make_user(chat, i, n) for i, n in ((1, "ana"), (2, "ben"), (3, "cleo"))]
    r = await chat.call("GET", f"/conversations/direct/{ben}", ana)
    assert r.status_code == 404 and r.json()["code"] == "conversation_not_found"

    await make_friends(chat, ana, ben)
    direct = await make_direct(chat, ana, ben)
    for me, other in ((ana, ben), (ben, ana)):
        found = await chat.ok("GET", f"/conversations/direct/{other}", me)
        assert found["id"] == direct["id"] and sorted(found["member_ids"]) == [ana, ben]
    r = await chat.call("GET", f"/conversations/direct/{ben}", cleo)
    assert r.status_code == 404
    r = await chat.call("GET", f"/conversations/direct/{ana}", ana)
    assert r.status_code == 404


async def test_writing_to_a_user_opens_the_direct_conversation_once(chat: Chat) -> None:
    ana, ben, cleo = [await make_user(chat, i, n) for i, n in ((1, "ana"), (2, "ben"), (3, "cleo"))]
    body = {"recipient_id": ben, "content": "hi ben"}
    r = await chat.call("POST", "/messages", ana, json=body)
    assert (
        r.status_code == 403
        and r.json()["detail"] == "You can only start direct chats with friends"
    )
    assert await chat.ok("GET", "/conversations", ana) == []

    await make_friends(chat, ana, ben)
    first = await chat.ok("POST", "/messages", ana, json=body)
    second = await chat.ok("POST", "/messages", ben, json={"recipient_id": ana, "content": "hey"})
    assert first["conversation_id"] == second["conversation_id"]
    assert (first["seq"], second["seq"]) == (1, 2)
    direct = await chat.ok("GET", f"/conversations/direct/{ben}", ana)
    assert direct["id"] == first["conversation_id"] and direct["type"] == "direct"

    await chat.ok("POST", "/blocks", ben, json={"user_id": ana})
    r = await chat.call("POST", "/messages", ana, json=body)
    assert r.status_code == 403 and r.json()["code"] == "blocked"
    for bad, status, detail in (
        ({"content": "to nobody"}, 400, "conversation_id is required"),
        (
            {"recipient_id": ana, "content": "to me"},
            400,
            "Direct conversation requires exactly one other user ID",
        ),
        ({"recipient_id": 999_999, "content": "to a stranger"}, 404, "User not found"),
    ):
        r = await chat.call("POST", "/messages", ana, json=bad)
        assert (r.status_code, r.json()["detail"]) == (status, detail), bad
    assert len(await chat.ok("GET", "/conversations", cleo)) == 0
