"""Chat over HTTP: messages/s and latency of POST /messages against a real chat process.

Starts chat with uvicorn (a subprocess) on a fresh PostgreSQL database and a private RabbitMQ
exchange, registers users through `user.registered` events on the bus, then drives it with
concurrent httpx clients:

1. throughput: CONCURRENCY clients send back to back for THROUGHPUT_SECONDS;
2. latency: an open-loop 1,000 msg/s (issue 11's target rate) for LATENCY_SECONDS, each send timed from request to answer.

Writes bench/results/chat_http.json and prints the figures. Run: `python -m bench.chat_http`.
Environment: PARLEY_TEST_DATABASE_URL / PARLEY_TEST_AMQP_URL (the servers), BENCH_WORKERS,
BENCH_CONCURRENCY, BENCH_SECONDS, BENCH_RATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
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

from parley_common.db import create_engine, migrate
from parley_common.events import UserRegistered, envelope, svc_key
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.plugin import AMQP_URL, PG_URL
from parley_common.testing.tokens import TokenFactory

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "chat_http.json"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "48"))
THROUGHPUT_SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
LATENCY_RATE = float(os.environ.get("BENCH_RATE", "1000"))
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "10"))
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


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


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
        env = {
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
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
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
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
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
            progress(f"{len(groups)} conversations; throughput phase ({THROUGHPUT_SECONDS:.0f} s)")
            conns = [Conn("127.0.0.1", port) for _ in range(CONCURRENCY)]
            try:
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
            from sqlalchemy import text

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
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
            if proc.poll() is None:
                proc.kill()
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


class Conn:
    """One keep-alive HTTP/1.1 connection for the load phases, requests one at a time.

    httpx's pool costs the bench process milliseconds of CPU per request at this concurrency
    (httpcore scans every pooled connection, with a getpeername() each, per request), which made
    the client, not chat, the bottleneck on a 2-core machine. This speaks just enough HTTP/1.1
    for chat's JSON answers (Content-Length bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.lock = asyncio.Lock()

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        async with self.lock:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            self.writer.write(
                f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{head}\r\n".encode()
                + body
            )
            status_line = await self.reader.readline()
            if not status_line:
                raise RuntimeError("connection closed by chat")
            status = int(status_line.split(b" ", 2)[1])
            length = 0
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def send(conn: Conn, headers: dict[str, str], cid: int, n: int) -> float:
    body = json.dumps(
        {"conversation_id": cid, "content": f"bench message {n}", "client_msg_id": uuid.uuid4().hex}
    ).encode()
    started = time.perf_counter()
    status, answer = await conn.post("/messages", headers, body)
    if status != 200:
        raise RuntimeError(f"send failed: {status} {answer.decode(errors='replace')}")
    return time.perf_counter() - started


async def run_throughput(
    conns: list[Conn],
    headers: dict[int, dict[str, str]],
    groups: list[tuple[int, list[int]]],
) -> dict[str, Any]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + THROUGHPUT_SECONDS

    async def worker(i: int) -> None:
        cid, members = groups[i % len(groups)]
        sender = members[(i // len(groups)) % len(members)]
        n = 0
        while time.perf_counter() < stop_at:
            latencies.append(await send(conns[i], headers[sender], cid, n))
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return {
        "messages": len(latencies),
        "seconds": round(elapsed, 2),
        "messages_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


async def run_latency(
    conns: list[Conn],
    headers: dict[int, dict[str, str]],
    groups: list[tuple[int, list[int]]],
) -> dict[str, Any]:
    """Open loop: a send every 1/rate seconds whatever the answers do (no coordinated omission)."""
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    total = int(LATENCY_RATE * LATENCY_SECONDS)

    async def one(i: int) -> None:
        cid, members = groups[i % len(groups)]
        conn = conns[i % len(conns)]
        latencies.append(await send(conn, headers[members[i % len(members)]], cid, i))

    started = time.perf_counter()
    for i in range(total):
        due = started + i / LATENCY_RATE
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {
        "target_rate": LATENCY_RATE,
        "messages": len(latencies),
        "achieved_rate": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


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
