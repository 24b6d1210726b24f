"""`make bench`: Parley against its peers, same scenarios, same run, same machine.

Scenarios (PROTOCOL-level, raw `websockets` clients, only `json.loads` per received frame):

- connect: N connections, C in flight; p50/p99 of the open handshake, and for Parley also
  of the `connected` frame (the JWT is checked at the handshake).
- fan-out: R rooms × M members, one sender per room sending at a rising rate; a step passes
  while p99 end-to-end latency ≤ 500 ms and nothing is lost; reports the highest passing
  step's delivered frames/s, p50/p95/p99, loss and duplicates.
- idle memory: RSS growth of the server processes per idle connection at K connections.

Usage: python -m bench.run [--quick]
       [--targets parley,parley-stack,parley-embedded,channels-A,channels-B,limit]
       [--parley-mode stack|embedded]
Writes bench/results/<UTC time>.json and prints one table with Parley/peer ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from .gc_pauses import collector_off
from .targets import BENCH_VENV, ParleyTarget, Room, Target, channels_target, limit_target

RESULTS = Path(__file__).resolve().parent / "results"
loads = json.loads


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


async def open_ws(
    url: str, ready_type: str | None, timeout: float = 30
) -> tuple[ClientConnection, float, float]:
    """Opens a connection; returns it with the handshake time and the time until ready."""
    t0 = time.perf_counter()
    ws = await connect(
        url, proxy=None, compression=None, open_timeout=timeout, max_queue=None, ping_interval=None
    )
    t1 = time.perf_counter()
    if ready_type is not None:
        needle = f'"type":"{ready_type}"'
        async with asyncio.timeout(timeout):
            while True:
                raw = await ws.recv()
                if needle in str(raw).replace(" ", ""):
                    break
    return ws, t1 - t0, time.perf_counter() - t0


async def open_many(
    target: Target, urls: list[str], in_flight: int
) -> tuple[list[ClientConnection], list[float], list[float], int]:
    gate = asyncio.Semaphore(in_flight)
    handshakes: list[float] = []
    ready: list[float] = []
    sockets: list[ClientConnection] = []
    errors = 0

    async def one(url: str) -> None:
        nonlocal errors
        async with gate:
            try:
                ws, h, r = await open_ws(url, target.ready_type)
            except Exception:
                errors += 1
                return
        sockets.append(ws)
        handshakes.append(h)
        ready.append(r)

    await asyncio.gather(*(one(u) for u in urls))
    return sockets, handshakes, ready, errors


async def close_all(sockets: list[ClientConnection]) -> None:
    async def one(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 5)

    for i in range(0, len(sockets), 500):
        await asyncio.gather(*(one(ws) for ws in sockets[i : i + 500]))


# --- scenarios ---------------------------------------------------------------------------------


async def scenario_connect(target: Target, n: int, in_flight: int) -> dict[str, Any]:
    urls = await target.connect_urls(n)
    with collector_off() as gc_pauses:
        t0 = time.perf_counter()
        sockets, handshakes, ready, errors = await open_many(target, urls, in_flight)
        wall = time.perf_counter() - t0
    await close_all(sockets)
    return {
        "connections": n,
        "in_flight": in_flight,
        "errors": errors,
        "wall_s": round(wall, 2),
        "handshake_p50_ms": ms(pct(handshakes, 50)),
        "handshake_p99_ms": ms(pct(handshakes, 99)),
        "ready_p50_ms": ms(pct(ready, 50)),
        "ready_p99_ms": ms(pct(ready, 99)),
        "client_gc_pauses_ms": gc_pauses.pauses,
    }


async def settle(
    target: Target, *, quiet: float = 0.03, window: float = 0.5, limit: float = 30.0
) -> float:
    """Waits until the server's processes use under `quiet` of a CPU over `window` seconds (at
    most `limit`); the seconds it took. The scenario before leaves work behind (the sockets it
    closed: presence going offline, bindings lingering), and a connect "on a quiet server"
    should not be timed against it."""
    started = time.monotonic()
    before = sum(target.cpu().values())
    while time.monotonic() - started < limit:
        await asyncio.sleep(window)
        now = sum(target.cpu().values())
        if now - before < quiet * window:
            break
        before = now
    return round(time.monotonic() - started, 1)


async def scenario_connect_serial(target: Target, n: int, *, first: bool = False) -> dict[str, Any]:
    """`n` connections opened one after the other: the latency of a connect on a quiet server
    (it starts once the server is idle: `settled_after_s`). `first`: users who never connected
    (for Parley: new to the replica, so it asks chat for their friends and conversations)."""
    urls = await (target.first_connect_urls(n) if first else target.connect_urls(n))
    settled = await settle(target)
    with collector_off() as gc_pauses:  # one 10-180 ms pause would decide a p99 over 200
        sockets, _, ready, errors = await open_many(target, urls, in_flight=1)
    await close_all(sockets)
    return {
        "connections": n,
        "errors": errors,
        "settled_after_s": settled,
        "ready_p50_ms": ms(pct(ready, 50)),
        "ready_p99_ms": ms(pct(ready, 99)),
        "client_gc_pauses_ms": gc_pauses.pauses,
    }


async def scenario_idle_rss(target: Target, n: int, in_flight: int) -> dict[str, Any]:
    urls = await target.connect_urls(n)
    before = target.rss()
    sockets, _, _, errors = await open_many(target, urls, in_flight)
    keep = [asyncio.create_task(drain(ws)) for ws in sockets]
    # RSS settles once every connection is set up (ready frames received above).
    after = target.rss()
    for task in keep:
        task.cancel()
    await close_all(sockets)
    opened = len(sockets)
    return {
        "connections": n,
        "opened": opened,
        "errors": errors,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "kib_per_connection": round((after - before) / 1024 / max(1, opened), 1),
    }


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


@dataclass
class Step:
    rate: float
    number: int = 0
    sent: int = 0
    #: frames of an earlier step that arrived during this one (a failed step's backlog): neither
    #: delivered nor lost here
    late: int = 0
    received: set[tuple[int, str]] = field(default_factory=set)
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_receive: float = 0.0


async def scenario_fanout(
    target: Target,
    rooms_n: int,
    members: int,
    step_seconds: float,
    start_rate: float,
    factor: float,
    max_steps: int,
    in_flight: int,
) -> dict[str, Any]:
    rooms: list[Room] = await target.rooms(rooms_n, members)
    step: Step | None = None
    conns: list[list[ClientConnection]] = []
    readers: list[asyncio.Task[None]] = []

    async def reader(ws: ClientConnection, conn_id: int) -> None:
        nonlocal step
        with contextlib.suppress(Exception):
            async for raw in ws:
                if '"new_message"' not in raw:
                    continue
                now = time.time()
                frame = loads(raw)
                content = frame["message"]["content"] if "message" in frame else frame["content"]
                ts, _, rest = content.split("|", 2)
                current = step
                if current is None:
                    continue
                if int(rest.rsplit("|", 1)[1]) != current.number:
                    current.late += 1
                    continue
                key = (conn_id, content)
                if key in current.received:
                    current.duplicates += 1
                    continue
                current.received.add(key)
                current.latencies.append(now - float(ts))
                current.last_receive = now

    conn_id = 0
    for room in rooms:
        sockets, _, _, errors = await open_many(target, room.member_urls, in_flight)
        if errors:
            raise RuntimeError(f"{target.name}: {errors} connections of room {room.key} failed")
        conns.append(sockets)
        for ws in sockets:
            readers.append(asyncio.create_task(reader(ws, conn_id)))
            conn_id += 1

    async def keepalive() -> None:
        while True:
            await asyncio.sleep(20)
            if isinstance(target, ParleyTarget):
                for sockets in conns:
                    for ws in sockets:
                        with contextlib.suppress(Exception):
                            await ws.send('{"type":"ping"}')

    pinger = asyncio.create_task(keepalive())
    results: list[dict[str, Any]] = []
    counter = 0
    rate = start_rate
    refined = False
    try:
        for _ in range(max_steps):
            step = Step(rate, number=len(results))
            current = step
            interval = 1.0 / rate
            t_start = time.time()
            current.first_send = t_start
            cpu_before = target.cpu()
            print(f"    {target.name} step at {rate:g} msg/s per room starts", flush=True)

            async def sender(
                i: int, room: Room, t_start: float, interval: float, current: Step
            ) -> None:
                nonlocal counter
                ws = conns[i][0]
                k = 0
                offset = (i / len(rooms)) * interval  # spread the rooms over the interval
                while True:
                    due = t_start + offset + k * interval
                    if due - t_start >= step_seconds:
                        return
                    delay = due - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    counter += 1
                    content = f"{time.time():.6f}|{i}|{counter}|{current.number}"
                    await ws.send(target.send_frame(room, content, counter))
                    current.sent += 1
                    k += 1

            await asyncio.gather(
                *(sender(i, r, t_start, interval, current) for i, r in enumerate(rooms))
            )
            t_sent = time.time()
            expected = current.sent * members
            # Deliveries still in flight: wait for them (up to 5 s after the last send).
            while len(current.received) < expected and time.time() - t_sent < 5:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            duration = max(t_sent, current.last_receive) - t_start
            cpu_after = target.cpu()
            cpu_ms = (
                {
                    name: round(
                        (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / current.sent, 2
                    )
                    for name in cpu_after
                }
                if current.sent
                else {}
            )
            if cpu_ms:
                cpu_ms["total"] = round(sum(cpu_ms.values()), 2)
            received = len(current.received)
            lost = expected - received
            p99 = pct(current.latencies, 99)
            results.append(
                {
                    "rate_per_room": rate,
                    "offered_deliveries_per_s": round(rate * rooms_n * members),
                    "sent": current.sent,
                    "expected": expected,
                    "delivered": received,
                    "lost": lost,
                    "duplicates": current.duplicates,
                    "late_from_earlier_step": current.late,
                    "delivered_per_s": round(received / duration) if duration > 0 else 0,
                    "p50_ms": ms(pct(current.latencies, 50)),
                    "p95_ms": ms(pct(current.latencies, 95)),
                    "p99_ms": ms(p99),
                    # server CPU (all of the target's processes, from /proc) per message sent
                    "cpu_ms_per_message": cpu_ms,
                    "passed": lost == 0
                    and current.duplicates == 0
                    and p99 is not None
                    and p99 <= 0.5,
                }
            )
            print(f"    {target.name} step {results[-1]}", flush=True)
            step = None
            if not results[-1]["passed"]:
                passed_rates = [r["rate_per_room"] for r in results if r["passed"]]
                if refined or not passed_rates:
                    break
                # One more step between the last pass and this failure narrows the ceiling.
                refined = True
                rate = math.sqrt(passed_rates[-1] * rate)
                continue
            if refined:
                break
            rate *= factor
    finally:
        pinger.cancel()
        for task in readers:
            task.cancel()
        for sockets in conns:
            await close_all(sockets)
    passed = [r for r in results if r["passed"]]
    best = max(passed, key=lambda r: r["delivered_per_s"]) if passed else None
    return {
        "rooms": rooms_n,
        "members": members,
        "step_seconds": step_seconds,
        "steps": results,
        "best": best,
        "ceiling_reached": bool(results) and not results[-1]["passed"],
    }


# --- orchestration -----------------------------------------------------------------------------


def raise_nofile() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


async def bench_target(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    print(f"== {target.name}: {target.note}", flush=True)
    await target.start()
    try:
        out: dict[str, Any] = {"note": target.note}
        out["idle"] = await scenario_idle_rss(target, args.idle, args.in_flight)
        print(f"    idle {out['idle']}", flush=True)
        out["connect"] = await scenario_connect(target, args.connections, args.in_flight)
        print(f"    connect {out['connect']}", flush=True)
        out["connect_serial"] = await scenario_connect_serial(target, args.serial_connections)
        print(f"    connect one at a time {out['connect_serial']}", flush=True)
        out["connect_serial_first"] = await scenario_connect_serial(
            target, args.serial_connections, first=True
        )
        print(f"    first connect one at a time {out['connect_serial_first']}", flush=True)
        out["fanout"] = await scenario_fanout(
            target,
            args.rooms,
            args.members,
            args.step_seconds,
            args.start_rate,
            args.factor,
            args.max_steps,
            args.in_flight,
        )
        return out
    finally:
        await target.stop()


def table(results: dict[str, Any]) -> str:
    names = list(results["targets"])
    parleys = [n for n in names if n.startswith("parley")]

    def get(name: str, path: str) -> Any:
        node: Any = results["targets"].get(name, {})
        for part in path.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    rows = [
        ("connect p50 ms (handshake)", "connect.handshake_p50_ms", False),
        ("connect p99 ms (handshake)", "connect.handshake_p99_ms", False),
        ("connect p99 ms (ready)", "connect.ready_p99_ms", False),
        ("connect p99 ms one at a time (ready)", "connect_serial.ready_p99_ms", False),
        ("  the same, users' first connect", "connect_serial_first.ready_p99_ms", False),
        ("fan-out delivered frames/s", "fanout.best.delivered_per_s", True),
        ("fan-out p50 ms", "fanout.best.p50_ms", False),
        ("fan-out p95 ms", "fanout.best.p95_ms", False),
        ("fan-out p99 ms", "fanout.best.p99_ms", False),
        ("fan-out lost / dup at best", "fanout.best.lost", False),
        ("server CPU ms/message at best", "fanout.best.cpu_ms_per_message.total", False),
        ("idle RSS KiB/connection", "idle.kib_per_connection", False),
    ]
    peers = [n for n in names if n not in parleys]
    header = ["metric", *parleys, *peers]
    header += [f"{a}/{b}" for a in parleys for b in peers]
    lines = [header]
    for label, path, _ in rows:
        line = [label] + [fmt(get(n, path)) for n in parleys + peers]
        for a in parleys:
            for b in peers:
                pv, v = get(a, path), get(b, path)
                ok = isinstance(pv, int | float) and isinstance(v, int | float) and v
                line.append(f"{pv / v:.2f}" if ok else "-")
        lines.append(line)
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in lines
    )


def fmt(v: Any) -> str:
    return "-" if v is None else str(v)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    nofile = raise_nofile()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "quick": args.quick,
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "nofile": nofile,
            "python": sys.version.split()[0],
        },
        "params": {k: v for k, v in vars(args).items() if k != "targets"},
        "targets": {},
    }
    wanted = args.targets.split(",")
    for name in wanted:
        if name == "parley":
            target: Target = ParleyTarget(args.parley_mode)
        elif name in ("parley-stack", "parley-embedded"):
            # Both modes in one run compare each against the same peer run.
            target = ParleyTarget(name.removeprefix("parley-"))
        elif name in ("channels-A", "channels-B"):
            if not (BENCH_VENV / "bin" / "daphne").exists():
                print(f"!! {name}: bench/.venv missing; see bench/README.md", flush=True)
                continue
            target = await channels_target(name[-1])
        elif name == "limit":
            target = limit_target()
        else:
            raise SystemExit(f"unknown target {name}")
        try:
            results["targets"][target.name] = await bench_target(target, args)
        except Exception as exc:
            print(f"!! {target.name} failed: {exc!r}", flush=True)
            results["targets"][target.name] = {"error": repr(exc), "note": target.note}
    results["finished_at"] = datetime.now(UTC).isoformat()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="scaled-down run (minutes, not tens)")
    parser.add_argument("--targets", default="parley,channels-A,channels-B,limit")
    parser.add_argument("--parley-mode", choices=["stack", "embedded"], default="stack")
    parser.add_argument("--connections", type=int)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--idle", type=int)
    parser.add_argument("--serial-connections", type=int)
    parser.add_argument("--rooms", type=int)
    parser.add_argument("--members", type=int)
    parser.add_argument("--step-seconds", type=float)
    parser.add_argument("--start-rate", type=float, help="messages/s per room at the first step")
    parser.add_argument("--factor", type=float, default=2.0, help="rate multiplier per step")
    parser.add_argument("--max-steps", type=int, default=10)
    args = parser.parse_args(argv)
    full = {
        "connections": 1000,
        "serial_connections": 200,
        "idle": 5000,
        "rooms": 50,
        "members": 20,
        "step_seconds": 10.0,
        "start_rate": 0.5,
    }
    quick = {
        "connections": 300,
        "serial_connections": 50,
        "idle": 1000,
        "rooms": 10,
        "members": 10,
        "step_seconds": 4.0,
        "start_rate": 2.0,
    }
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    results = asyncio.run(main_async(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = (
        RESULTS
        / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json"
    )
    path.write_text(json.dumps(results, indent=2))
    print()
    print(table(results))
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
