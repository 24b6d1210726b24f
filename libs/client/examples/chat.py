"""Two users on a running Parley: log in, befriend, send a message over REST and receive it
on the other user's WebSocket.

    pip install ./libs/client
    python libs/client/examples/chat.py http://127.0.0.1:8000

(`make run` serves one on :8000.) Registers two fresh users each time it runs.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from parley_client import ParleyClient, ParleyError

PASSWORD = "correct-horse-battery"


async def logged_in(base_url: str, name: str) -> ParleyClient:
    client = ParleyClient(base_url)
    await client.register(name, f"{name}@example.com", PASSWORD)
    await client.login(name, PASSWORD)
    await client.me()  # fills client.user
    return client


async def befriend(alice: ParleyClient, bob: ParleyClient) -> None:
    assert alice.user is not None and bob.user is not None
    # chat learns of a new user from auth's event: for a moment it may not know bob yet.
    deadline = time.monotonic() + 10
    while True:
        try:
            await alice.send_friend_request(bob.user.username)
            break
        except ParleyError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    request = next(r for r in await bob.friend_requests() if r.requester.id == alice.user.id)
    await bob.accept_friend_request(request.id)


async def main(base_url: str) -> None:
    run = uuid.uuid4().hex[:6]
    alice = await logged_in(base_url, f"alice_{run}")
    bob = await logged_in(base_url, f"bob_{run}")
    try:
        await befriend(alice, bob)
        assert bob.user is not None
        conversation = await alice.create_direct(bob.user.id)
        socket = await bob.connect()  # returns once the server said `connected`
        try:
            sent = await alice.send_message(conversation.id, "Hello Bob!")
            frame = await socket.next_frame(
                "new_message", timeout=10, where=lambda f: f.message.id == sent.id
            )
            print(
                f"{bob.user.username} received {frame.message.content!r} "
                f"from {frame.message.sender_username} (seq {frame.message.seq})"
            )
        finally:
            await socket.close()
    finally:
        await alice.aclose()
        await bob.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
