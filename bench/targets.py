"""The servers under test: Parley (process stack with one gateway, or embedded) and the peers
of ../shared/peers beside the repository (Django Channels variants A and B under daphne, and limit_ws).

Each target starts its processes, tells the load generator how to open a connection to a
room and which frames to send, and stops what it started (only that)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from parley.stack import ROOT, Stack, StackConfig, free_port
from parley_client import ParleyClient
from parley_client.errors import ParleyError
from parley_client.testing import PASSWORD, unique_name
from parley_common.testing.databases import create_database, drop_database
from parley_common.testing.exchanges import delete_exchanges
from parley_common.testing.plugin import AMQP_URL, PG_URL, REDIS_URL

# The peers live beside this repository (../shared/peers), as on the machines that run it.
PEERS = Path(os.environ.get("PARLEY_BENCH_PEERS", str(ROOT.parent / "shared" / "peers")))
BENCH_VENV = ROOT / "bench" / ".venv"
LOG_DIR = ROOT / "bench" / "results" / "logs"
BENCH_REDIS_DB = 12

# Parley settings for load: cheap password hashing for the thousand users the bench
# registers, and per-user/per-address limits out of the way (one process sends for all).
PARLEY_BENCH_ENV = {
    "PARLEY_ENVIRONMENT": "development",
    "PARLEY_ARGON2_TIME_COST": "1",
    "PARLEY_ARGON2_MEMORY_COST": "1024",
    "PARLEY_ARGON2_PARALLELISM": "1",
    "PARLEY_WS_SEND_RATE": "100000",
    "PARLEY_WS_SEND_BURST": "100000",
    "PARLEY_REST_RATE": "100000",
    "PARLEY_REST_BURST": "100000",
    "PARLEY_LOG_LEVEL": "WARNING",
    "PARLEY_LOG_JSON": "true",
    # The default; the test plugin imported above turns it off for test processes.
    "PARLEY_GC_FREEZE": "true",
    "PARLEY_DB_POOL_SIZE": "5",
}


def redis_url(db: int) -> str:
    return REDIS_URL.rsplit("/", 1)[0] + f"/{db}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size (what psutil's memory_info().rss reads on Linux)."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def wait_http(url: str, popen: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{url}: exited with {popen.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1, trust_env=False)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@dataclass
class Room:
    """A room (peer) or conversation (Parley) and the connection URLs of its members."""

    key: str
    member_urls: list[str]
    conversation_id: int | None = None


@dataclass
class Target:
    name: str
    note: str = ""
    pids: list[int] = field(default_factory=list)

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def rooms(self, n_rooms: int, members: int) -> list[Room]:
        raise NotImplementedError

    async def connect_urls(self, n: int) -> list[str]:
        """URLs for `n` plain connections (connection setup and idle memory scenarios)."""
        raise NotImplementedError

    async def first_connect_urls(self, n: int) -> list[str]:
        """URLs for `n` connections of users who never connected before."""
        return await self.connect_urls(n)

    def send_frame(self, room: Room, content: str, seq: int) -> str:
        return json.dumps({"type": "send_message", "content": content, "client_ts": time.time()})

    #: the frame a connection waits for before it counts as set up (None: the handshake). A
    #: class attribute, not a field: as a field, the dataclass __init__ set it to None on every
    #: instance, over ParleyTarget's "connected".
    ready_type: ClassVar[str | None] = None

    #: process name → pid, for the per-process CPU figures
    processes: dict[str, int] = field(default_factory=dict)

    def rss(self) -> int:
        return sum(rss_bytes(p) for p in self.pids)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each server process."""
        named = self.processes or {f"{self.name}-{i}": p for i, p in enumerate(self.pids)}
        return {name: cpu_seconds(pid) for name, pid in named.items()}


class PeerTarget(Target):
    """A peer of ../shared/peers speaking `/ws/chat/<room>/?token=`."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], note: str):
        super().__init__(name, note)
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.port = free_port()
        self.token = "bench-token"
        self.popen: subprocess.Popen[bytes] | None = None
        self.cleanup: list[Any] = []

    async def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        log = (LOG_DIR / f"{self.name}.log").open("ab")
        self.popen = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            argv, cwd=self.cwd, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{self.port}/", self.popen, 60)
        self.pids = [self.popen.pid]

    async def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                await asyncio.to_thread(self.popen.wait, 10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        for step in self.cleanup:
            await step()

    def url(self, room: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/{room}/?token={self.token}"

    async def rooms(self, n_rooms: int, members: int) -> list[Room]:
        run = uuid.uuid4().hex[:6]
        return [Room(f"r{run}{i}", [self.url(f"r{run}{i}")] * members) for i in range(n_rooms)]

    async def connect_urls(self, n: int) -> list[str]:
        run = uuid.uuid4().hex[:6]
        return [self.url(f"idle{run}{i % 100}") for i in range(n)]


async def channels_target(variant: str) -> PeerTarget:
    python = str(BENCH_VENV / "bin" / "python")
    env = {
        "BENCH_VARIANT": variant,
        "BENCH_TOKEN": "bench-token",
        "BENCH_REDIS_URL": redis_url(BENCH_REDIS_DB),
        "PYTHONPATH": str(PEERS / "channels_chat"),
    }
    note = "Django Channels 4 + channels_redis (core layer), daphne"
    target = PeerTarget(
        f"channels-{variant}",
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "chatproj.asgi:application"],
        PEERS / "channels_chat",
        env,
        note + (", every message saved to PostgreSQL" if variant == "B" else ", no persistence"),
    )
    if variant == "B":
        url = await create_database(PG_URL, prefix="bench_channels")
        from sqlalchemy.engine import make_url

        u = make_url(url)
        env.update(
            BENCH_PG_HOST=u.host or "127.0.0.1",
            BENCH_PG_PORT=str(u.port or 5432),
            BENCH_PG_DB=u.database or "",
            BENCH_PG_USER=u.username or "postgres",
            BENCH_PG_PASSWORD=u.password or "",
            BENCH_CONN_MAX_AGE="60",
        )
        subprocess.run(  # noqa: ASYNC221 - once, before the measurement
            [python, "manage.py", "migrate", "--noinput"],
            cwd=PEERS / "channels_chat",
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )

        async def drop() -> None:
            await drop_database(PG_URL, url)

        target.cleanup.append(drop)
    return target


def limit_target() -> PeerTarget:
    return PeerTarget(
        "limit",
        [
            str(BENCH_VENV / "bin" / "python"),
            "limit_ws/server.py",
            "--port",
            "{port}",
            "--token",
            "bench-token",
        ],
        PEERS,
        {},
        "websockets + uvloop broadcast, no persistence, no broker",
    )


class ParleyTarget(Target):
    """Parley: the process stack with one gateway on PostgreSQL/RabbitMQ/Redis, or embedded."""

    ready_type = "connected"

    def __init__(self, mode: str) -> None:
        super().__init__(
            f"parley-{mode}",
            "stack: auth+chat+notify+1 gateway (uvicorn) on PostgreSQL, RabbitMQ, Redis; "
            "messages persisted with seq, outbox, broker fan-out"
            if mode == "stack"
            else "embedded: one process, SQLite, in-process bus",
        )
        self.mode = mode
        self.stack: Stack | None = None
        self.popen: subprocess.Popen[bytes] | None = None
        self.databases: list[str] = []
        self.data_dir: Path | None = None
        self.base = ""
        self.tokens: list[str] = []
        self.run = uuid.uuid4().hex[:8]

    async def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        if self.mode == "stack":
            urls = {
                n: await create_database(PG_URL, prefix=f"bench_{n}")
                for n in ("auth", "chat", "notify")
            }
            self.databases = list(urls.values())
            ports = {n: free_port() for n in ("auth", "chat", "notify", "gateway")}
            config = StackConfig(
                database_urls=urls,
                amqp_url=AMQP_URL,
                redis_url=redis_url(BENCH_REDIS_DB + 1),
                smtp_url=f"file://{tempfile.mkdtemp(prefix='parley-bench-mail-')}",
                bus_exchange=f"parley.bench.{self.run}",
                bus_queue_prefix=f"bench.{self.run}.",
                internal_token=f"bench-{self.run}",
                gateways=1,
                ports=ports,
                extra_env=PARLEY_BENCH_ENV,
            )
            self.stack = Stack(config, log_dir=LOG_DIR / f"parley-{self.run}")
            await asyncio.to_thread(self.stack.start, 180)
            self.base = self.stack.gateways[0].url
            self.pids = [p.popen.pid for p in self.stack.processes.values() if p.popen]
            self.processes = {
                name: p.popen.pid for name, p in self.stack.processes.items() if p.popen
            }
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
            port = free_port()
            env = {**os.environ, **PARLEY_BENCH_ENV}
            for key in ("PARLEY_DATABASE_URL", "PARLEY_AMQP_URL", "PARLEY_REDIS_URL"):
                env.pop(key, None)
            log = (LOG_DIR / f"parley-embedded-{self.run}.log").open("ab")
            self.popen = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                [
                    sys.executable,
                    "-m",
                    "parley.embedded",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.base = f"http://127.0.0.1:{port}"
            await asyncio.to_thread(wait_http, f"{self.base}/health", self.popen, 180)
            self.pids = [self.popen.pid]
            self.processes = {"embedded": self.popen.pid}

    async def stop(self) -> None:
        if self.stack is not None:
            await asyncio.to_thread(self.stack.stop)
            for url in self.databases:
                with contextlib.suppress(Exception):
                    await drop_database(PG_URL, url)
            await delete_exchanges(AMQP_URL, f"parley.bench.{self.run}")
            import redis.asyncio as redis

            client = redis.Redis.from_url(redis_url(BENCH_REDIS_DB + 1))
            await client.flushdb()
            await client.aclose()
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            await asyncio.to_thread(self.popen.wait, 15)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def users(self, n: int) -> list[tuple[int, str, str]]:
        """`n` users registered through the API, concurrently: (user id, access token, name)."""
        # Moderate concurrency: the shared PostgreSQL allows 100 clients for every test run
        # on the machine; a 5xx (e.g. "too many clients") is retried a few times.
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=self.base, timeout=60, trust_env=False) as http:

            async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
                for attempt in range(5):
                    r = await http.post(path, json=body)
                    if r.status_code < 500 or attempt == 4:
                        r.raise_for_status()
                        return r.json()  # type: ignore[no-any-return]
                    await asyncio.sleep(0.2 * 2**attempt)
                raise AssertionError("unreachable")

            async def one() -> tuple[int, str, str]:
                name = unique_name("b")
                async with gate:
                    user = await post(
                        "/auth/register",
                        {"username": name, "email": f"{name}@example.com", "password": PASSWORD},
                    )
                    tokens = await post("/auth/login", {"username": name, "password": PASSWORD})
                    return user["id"], tokens["access_token"], name

            return list(await asyncio.gather(*(one() for _ in range(n))))

    def ws_url(self, token: str) -> str:
        return self.base.replace("http", "ws", 1) + f"/ws/{token}"

    async def rooms(self, n_rooms: int, members: int) -> list[Room]:
        """Groups of `members` users; each group's creator is friends with every member (only
        friends can be put into a group), so presence also flows as it does at a company."""
        users = await self.users(n_rooms * members)
        gate = asyncio.Semaphore(16)

        async def make(i: int) -> Room:
            group = users[i * members : (i + 1) * members]
            async with gate:
                creator = ParleyClient(self.base, access_token=group[0][1])
                try:
                    for uid, token, name in group[1:]:
                        await self.befriend(creator, uid, token, name)
                    conv = await creator.create_group(f"bench {i}", [u[0] for u in group[1:]])
                finally:
                    await creator.aclose()
            return Room(f"c{conv.id}", [self.ws_url(tok) for _, tok, _ in group], conv.id)

        return list(await asyncio.gather(*(make(i) for i in range(n_rooms))))

    async def befriend(self, creator: ParleyClient, uid: int, token: str, name: str) -> None:
        """`creator` asks user `uid` (`token`, `name`), who accepts."""
        deadline = time.monotonic() + 30
        while True:  # chat learns of a new user from auth's event, a moment after registering
            try:
                await creator.send_friend_request(name)
                break
            except ParleyError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        friend = ParleyClient(self.base, access_token=token)
        try:
            requests = await friend.friend_requests()
            await friend.accept_friend_request(requests[0].id)
        finally:
            await friend.aclose()

    async def first_connect_urls(self, n: int) -> list[str]:
        return [self.ws_url(token) for _, token, _ in await self.users(n)]

    async def connect_urls(self, n: int) -> list[str]:
        if len(self.tokens) < min(n, 200):
            self.tokens += [tok for _, tok, _ in await self.users(min(n, 200) - len(self.tokens))]
        return [self.ws_url(self.tokens[i % len(self.tokens)]) for i in range(n)]

    def send_frame(self, room: Room, content: str, seq: int) -> str:
        return json.dumps(
            {
                "type": "send_message",
                "conversation_id": room.conversation_id,
                "content": content,
                "client_msg_id": f"b{seq}",
            }
        )
