"""The load side of the chat benchmarks: minimal keep-alive HTTP/1.1 connections and the
closed-loop (throughput) and open-loop (latency at a rate) phases over them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid
from typing import Any

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "48"))
THROUGHPUT_SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
LATENCY_RATE = float(os.environ.get("BENCH_RATE", "1000"))
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "10"))
WARMUP_SECONDS = float(os.environ.get("BENCH_WARMUP_SECONDS", "5"))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


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
    seconds: float = THROUGHPUT_SECONDS,
) -> dict[str, Any]:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

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
