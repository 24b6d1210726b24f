"""Chat over HTTP: messages/s and latency of POST /messages against a real chat process.

Starts chat with uvicorn (a subprocess) on a fresh PostgreSQL database and a private RabbitMQ
exchange, registers users through `user.registered` events on the bus, then drives it with
concurrent httpx clients:

0. warm-up: sends for BENCH_WARMUP_SECONDS (5), then ANALYZE (see `warm_up`);
1. throughput: CONCURRENCY clients send back to back for THROUGHPUT_SECONDS;
2. latency: an open-loop 1,000 msg/s (issue 11's rate) for LATENCY_SECONDS, each send timed from request to answer.

Writes bench/results/chat_http.json and prints the figures. Run: `python -m bench.chat_http`.
Environment: PARLEY_TEST_DATABASE_URL / PARLEY_TEST_AMQP_URL (the servers), BENCH_WORKERS,
BENCH_CONCURRENCY, BENCH_SECONDS, BENCH_RATE, BENCH_WARMUP_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.http_load import (
    CONCURRENCY,
    LATENCY_SECONDS,
    THROUGHPUT_SECONDS,
    WARMUP_SECONDS,
    Conn,
    run_latency,
    run_throughput,
)
from parley_common.db import create_engine, migrate
from parley_common.events import UserRegistered, envelope, svc_key
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.plugin import AMQP_URL, PG_URL
from parley_common.testing.tokens import TokenFactory

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "chat_http.json"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
USERS = 64
GROUP_SIZE = 4


def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_jwks(tokens: TokenFactory) -> tuple[ThreadingHTTPServer, int]:
    """Plays auth's JWKS endpoint for the chat process."""
    body = json.dumps(tokens.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the uvicorn workers (children of `pid`); 0 where /proc is missing.
    CPU per message is steadier than msg/s on a machine that other work shares."""
    total = 0.0
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def chat_env(db_url: str, exchange: str, prefix: str, jwks_port: int) -> dict[str, str]:
    """The environment of a bench chat process: its database, a private exchange, the bench's
    JWKS server as auth."""
    return {
        **os.environ,
        "PARLEY_DATABASE_URL": db_url,
        "PARLEY_AMQP_URL": AMQP_URL,
        "PARLEY_BUS_EXCHANGE": exchange,
        "PARLEY_BUS_QUEUE_PREFIX": prefix,
        "PARLEY_AUTH_URL": f"http://127.0.0.1:{jwks_port}",
        "PARLEY_NOTIFY_URL": "http://127.0.0.1:9",
        "PARLEY_AUTO_MIGRATE": "false",
        "PARLEY_LOG_LEVEL": "WARNING",
        "PARLEY_DB_POOL_SIZE": "20",
        "PARLEY_ENVIRONMENT": "test",
        "PARLEY_GC_FREEZE": "true",  # the default; the test plugin imported here turns it off
    }


def spawn_chat(env: dict[str, str], port: int, log: Any) -> subprocess.Popen[bytes]:
    """chat under uvicorn with WORKERS workers on `port`, output to the file `log`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "chat.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            "120",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def warm_up(
    engine: AsyncEngine,
    conns: list[Conn],
    headers: dict[int, dict[str, str]],
    groups: list[tuple[int, list[int]]],
) -> int:
    """Sends for WARMUP_SECONDS, then ANALYZE: the database a phase measures has messages and
    statistics, as a running one has (autovacuum analyzes a table once a tenth of it changed).
    Measured on the empty tables instead, every statement chat prepares keeps the plan costed
    for them (this machine's PostgreSQL runs with autovacuum off, so nothing replans it), and
    sends slowed from 1,012 to 581/s within 50 s. Returns the messages sent."""
    sent = await run_throughput(conns, headers, groups, WARMUP_SECONDS)
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return int(sent["messages"])


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=15)
    if proc.poll() is None:
        proc.kill()


async def main() -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    db_url = await create_database(PG_URL, prefix="bench_chat")
    exchange, prefix = f"parley.bench.{run}", f"bench.{run}."
    tokens = TokenFactory()
    jwks_server, jwks_port = serve_jwks(tokens)
    port = free_port()
    proc: subprocess.Popen[bytes] | None = None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    server_log = (RESULTS.parent / "chat_http.server.log").open("wb")
    try:
        engine = create_engine(db_url)
        await migrate(engine, ROOT / "services" / "chat" / "chat" / "migrations")
        env = chat_env(db_url, exchange, prefix, jwks_port)
        proc = spawn_chat(env, port, server_log)
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(
            max_connections=CONCURRENCY + 16, max_keepalive_connections=CONCURRENCY + 16
        )
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            await wait_ready(client)
            progress("chat is ready")
            await register_users(AMQP_URL, exchange)
            progress("users registered")
            headers = {
                u: {"Authorization": f"Bearer {tokens.token(u, f'bench{u}', ttl=7200)}"}
                for u in range(1, USERS + 1)
            }
            groups = await make_groups(client, headers)
            conns = [Conn("127.0.0.1", port) for _ in range(CONCURRENCY)]
            try:
                progress(f"{len(groups)} conversations; warm-up ({WARMUP_SECONDS:.0f} s), ANALYZE")
                warmed = await warm_up(engine, conns, headers, groups)
                progress(
                    f"{warmed} messages in the warm-up; throughput ({THROUGHPUT_SECONDS:.0f} s)"
                )
                cpu_before = cpu_seconds(proc.pid)
                throughput = await run_throughput(conns, headers, groups)
                cpu = cpu_seconds(proc.pid) - cpu_before
                if cpu and throughput["messages"]:
                    throughput["server_cpu_ms_per_message"] = round(
                        cpu * 1000 / throughput["messages"], 2
                    )
                progress(f"throughput {throughput}; latency phase ({LATENCY_SECONDS:.0f} s)")
                latency = await run_latency(conns, headers, groups)
            finally:
                for conn in conns:
                    await conn.close()
            progress(f"latency {latency}")
            server_side = await server_time(client)
            progress(f"server-side POST /messages (one worker's view): {server_side}")
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT count(*) FROM messages"))).scalar_one()
            gaps = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM conversations c WHERE c.last_seq <> "
                        "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
                    )
                )
            ).scalar_one()
        await engine.dispose()
        result = {
            "benchmark": "chat_http",
            "when": datetime.now(UTC).isoformat(),
            "machine_cpus": os.cpu_count(),
            "uvicorn_workers": WORKERS,
            "concurrency": CONCURRENCY,
            "conversations": len(groups),
            "warm_up": {"seconds": WARMUP_SECONDS, "messages": warmed, "then": "ANALYZE"},
            "throughput": throughput,
            "latency_at_rate": latency,
            "server_side_post_messages": server_side,
            "messages_stored": stored,
            "conversations_with_seq_gaps": gaps,
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        stop(proc)
        jwks_server.shutdown()
        server_log.close()
        await drop_database(PG_URL, db_url)


async def server_time(client: httpx.AsyncClient) -> dict[str, float]:
    """Mean time inside the server for POST /messages, from its request-duration histogram."""
    text = (await client.get("/metrics")).text
    total = count = 0.0
    for line in text.splitlines():
        if 'route="/messages"' in line and 'method="POST"' in line:
            if line.startswith("parley_http_request_duration_seconds_sum"):
                total += float(line.rsplit(" ", 1)[1])
            elif line.startswith("parley_http_request_duration_seconds_count"):
                count += float(line.rsplit(" ", 1)[1])
    return {"requests": count, "mean_ms": round(total / count * 1000, 2) if count else float("nan")}


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("chat did not become ready")


async def register_users(amqp_url: str, exchange: str) -> None:
    """Publishes `user.registered` for every bench user, as auth would (plain aio-pika: setup only)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url, timeout=30)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topic = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        for u in range(1, USERS + 1):
            env = envelope(
                UserRegistered(
                    user_id=u,
                    username=f"bench{u}",
                    email=f"bench{u}@example.com",
                    created_at=datetime.now(UTC),
                ),
                producer="bench",
            )
            message = aio_pika.Message(
                env.model_dump_json().encode(),
                message_id=str(env.id),
                content_type="application/json",
            )
            await topic.publish(message, routing_key=svc_key(env.type))
    finally:
        await connection.close()


async def make_groups(
    client: httpx.AsyncClient, headers: dict[int, dict[str, str]]
) -> list[tuple[int, list[int]]]:
    groups = []
    for start in range(1, USERS + 1, GROUP_SIZE):
        members = list(range(start, start + GROUP_SIZE))
        await befriend(client, headers, members[0], members[1:])
        deadline = time.monotonic() + 30
        while True:  # the users arrive through the bus; wait until the projection has them
            r = await client.post(
                "/conversations",
                headers=headers[members[0]],
                json={"type": "group", "name": f"g{start}", "member_user_ids": members[1:]},
            )
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot create group: {r.status_code} {r.text}")
            await asyncio.sleep(0.1)
        groups.append((r.json()["id"], members))
    return groups


async def befriend(
    client: httpx.AsyncClient, headers: dict[int, dict[str, str]], user: int, others: list[int]
) -> None:
    """Only friends can be put into a group: `user` asks each of `others`, who accept."""
    for other in others:
        deadline = time.monotonic() + 30
        while True:  # the users arrive through the bus; wait until the projection has them
            r = await client.post(
                "/friends/request", headers=headers[user], json={"username": f"bench{other}"}
            )
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot befriend: {r.status_code} {r.text}")
            await asyncio.sleep(0.1)
        requests = (await client.get("/friends/requests", headers=headers[other])).json()
        rid = next(q["id"] for q in requests if q["requester"]["id"] == user)
        r = await client.put(f"/friends/requests/{rid}/accept", headers=headers[other])
        r.raise_for_status()


if __name__ == "__main__":
    figures = asyncio.run(main())
    t, lat = figures["throughput"], figures["latency_at_rate"]
    print(
        f"throughput: {t['messages_per_second']} msg/s ({t['messages']} in {t['seconds']} s, "
        f"{figures['concurrency']} clients), p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms"
    )
    print(
        f"at {lat['target_rate']:.0f} msg/s: achieved {lat['achieved_rate']} msg/s, p50 {lat['p50_ms']} ms, "
        f"p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms"
    )
    print(
        f"stored {figures['messages_stored']} messages; conversations with seq gaps: "
        f"{figures['conversations_with_seq_gaps']}; results in {RESULTS.relative_to(ROOT)}"
    )
