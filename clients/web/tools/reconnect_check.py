"""The web client across a server restart, in headless Chromium.

    .venv/bin/python clients/web/tools/reconnect_check.py [--port 8766]

Starts its own embedded Parley (python -m parley.embedded) on a spare port with
a temporary data dir, signs two users in, opens a direct chat, then stops the
server. While it is down Alice sends a message: the bubble stays pending. When
the server is back, both clients reconnect (backoff), Alice's outbox re-sends
with the same client_msg_id, and Bob sees the message exactly once. Also checks
that a stale access token is refreshed on the first 401. Only the server
process this script started is stopped.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_check import register, step, tid  # noqa: E402


def start_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    log = open(Path(data_dir) / "server.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/python"),
            "-m",
            "parley.embedded",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rest(base: str, method: str, path: str, token: str, body: dict | None = None) -> object:
    req = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    data_dir = tempfile.mkdtemp(prefix="parley-web-reconnect-")
    suffix = uuid.uuid4().hex[:6]
    alice, bob = f"alice_{suffix}", f"bob_{suffix}"
    errors: list[str] = []
    server = start_server(args.port, data_dir)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            a = browser.new_context().new_page()
            b = browser.new_context().new_page()
            for who, page in (("alice", a), ("bob", b)):
                page.on("pageerror", lambda e, who=who: errors.append(f"{who}: {e}"))
            register(a, base, alice, "correct horse battery")
            register(b, base, bob, "correct horse battery")

            def token(page):
                return json.loads(page.evaluate("localStorage.getItem('parley.tokens')"))[
                    "access_token"
                ]

            ta, tb = token(a), token(b)
            rest(base, "POST", "/friends/request", tb, {"username": alice})
            req = rest(base, "GET", "/friends/requests", ta)[0]
            rest(base, "PUT", f"/friends/requests/{req['id']}/accept", ta)
            conv = rest(
                base,
                "POST",
                "/conversations",
                ta,
                {"type": "direct", "member_user_ids": [req["requester"]["id"]]},
            )
            rest(
                base,
                "POST",
                "/messages",
                ta,
                {"conversation_id": conv["id"], "content": "before the restart"},
            )

            # A stale access token is refreshed with the refresh token on the first 401.
            for page in (a, b):
                page.evaluate("""() => { const t = JSON.parse(localStorage.getItem('parley.tokens'));
                    t.access_token = 'stale.token.value'; localStorage.setItem('parley.tokens', JSON.stringify(t)); }""")
                page.reload()
                expect(tid(page, "connection-status")).to_have_attribute(
                    "data-state", "online", timeout=15000
                )
            assert token(a) != "stale.token.value"
            step("stale access token refreshed on 401; socket online again")

            for page in (a, b):
                tid(page, "conversation-item").first.click()
                expect(
                    tid(page, "message-bubble").filter(has_text="before the restart")
                ).to_be_visible(timeout=10000)

            stop_server(server)
            for page in (a, b):
                expect(tid(page, "connection-status")).not_to_have_attribute(
                    "data-state", "online", timeout=15000
                )
            step("server stopped: both clients show they are offline")

            tid(a, "message-input").fill("sent while the server was down")
            tid(a, "message-input").press("Enter")
            pending = tid(a, "message-bubble").filter(has_text="sent while the server was down")
            expect(pending).to_have_attribute("data-status", re.compile("sending|queued"))
            client_msg_id = pending.get_attribute("data-client-msg-id")
            time.sleep(2)
            step("message written offline stays pending (optimistic bubble)")

            server = start_server(args.port, data_dir)
            for page in (a, b):
                expect(tid(page, "connection-status")).to_have_attribute(
                    "data-state", "online", timeout=45000
                )
            confirmed = a.locator(
                f'[data-testid="message-bubble"][data-client-msg-id="{client_msg_id}"]'
            )
            expect(confirmed).to_have_attribute("data-seq", re.compile(r"^\d+$"), timeout=20000)
            got = tid(b, "message-bubble").filter(has_text="sent while the server was down")
            expect(got).to_have_count(1, timeout=20000)
            time.sleep(2)
            expect(got).to_have_count(1)
            expect(
                a.locator(f'[data-testid="message-bubble"][data-client-msg-id="{client_msg_id}"]')
            ).to_have_count(1)
            msgs = rest(base, "GET", f"/conversations/{conv['id']}/messages?limit=50", token(a))
            assert sum(m["content"] == "sent while the server was down" for m in msgs) == 1, msgs
            step(
                "after restart: reconnect, outbox re-sent with the same client_msg_id, delivered exactly once"
            )
            browser.close()
    finally:
        stop_server(server)
    if errors:
        print("page errors:", *errors, sep="\n  ")
        return 1
    print("reconnect checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
