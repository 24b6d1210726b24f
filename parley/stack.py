"""Run the services as separate processes (uvicorn per service) on real backends.

Used by `make services` and by the end-to-end tests, which start, kill and restart
processes of a stack of their own.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from . import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parent.parent

# The gateway's WebSocket server (gateway/ws/protocol.py, UVICORN_WS_OPTIONS) as uvicorn flags.
GATEWAY_FLAGS = [
    "--ws",
    "gateway.ws.protocol:ParleyWebSocketProtocol",
    "--ws-per-message-deflate",
    "false",
    "--ws-max-size",
    str(64 * 1024),
]


def free_port() -> int:
    """A port that binds now, below Linux's ephemeral range (32768-60999): a port the kernel
    hands out for bind(0) can be taken by any outgoing connection (to PostgreSQL, RabbitMQ)
    before the service binds it, which happened with two test workers starting stacks."""
    for _ in range(100):
        port = random.randint(20000, 32767)  # nosec B311 - a port number, not a secret
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767")


@dataclass
class Process:
    name: str
    port: int
    env: dict[str, str]
    #: The address uvicorn binds; the URLs below reach it on loopback.
    host: str = "127.0.0.1"
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # /metrics and /readyz are served on this internal port (PARLEY_METRICS_PORT), never on
    # the gateway's public one.
    metrics_port: int = field(default_factory=lambda: free_port())
    #: Where the process runs: another checkout's root runs that checkout's code when its
    #: import roots are on PYTHONPATH (the upgrade test runs the previous release so).
    cwd: Path = ROOT

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # nosec B104
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def start(self, log_dir: Path | None = None) -> None:
        package = self.name.split("-")[0]
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            f"{package}.main:create_app",
            "--factory",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            *(GATEWAY_FLAGS if package == "gateway" else []),
            "--timeout-graceful-shutdown",
            "10",
            "--log-level",
            "warning",
            "--no-access-log",
            # The gateway decides whom to trust for X-Forwarded-For (PARLEY_TRUSTED_PROXIES).
            "--no-proxy-headers",
        ]
        out = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = log_dir / f"{self.name}.log"
            out = self.log_path.open("ab")
        env = {**os.environ, **self.env, "PARLEY_METRICS_PORT": str(self.metrics_port)}
        self.popen = subprocess.Popen(
            cmd, env=env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode}; see {self.log_path}"
                )
            try:
                ready = httpx.get(f"{self.metrics_url}/readyz", timeout=1, trust_env=False)
                if ready.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(
            f"{self.name} not ready on {self.url} after {timeout}s; see {self.log_path}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@dataclass
class StackConfig:
    database_urls: dict[str, str]  # per service with a database
    amqp_url: str
    redis_url: str
    smtp_url: str = "file://var/mail"
    storage_url: str = "file://var/uploads"
    bus_exchange: str = "parley.events"
    bus_queue_prefix: str = ""
    internal_token: str = "dev-internal-token"
    gateways: int = 1
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    # Internal /metrics and /readyz port per process name; a free one when missing.
    metrics_ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT


class Stack:
    """auth, chat, notify and N gateway replicas as processes."""

    def __init__(self, config: StackConfig, log_dir: Path | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        ports = config.ports
        common = {
            "PARLEY_ENVIRONMENT": "development",
            "PARLEY_AMQP_URL": config.amqp_url,
            "PARLEY_REDIS_URL": config.redis_url,
            "PARLEY_SMTP_URL": config.smtp_url,
            "PARLEY_STORAGE_URL": config.storage_url,
            "PARLEY_BUS_EXCHANGE": config.bus_exchange,
            "PARLEY_BUS_QUEUE_PREFIX": config.bus_queue_prefix,
            "PARLEY_INTERNAL_TOKEN": config.internal_token,
            "PARLEY_AUTH_URL": f"http://127.0.0.1:{ports['auth']}",
            "PARLEY_CHAT_URL": f"http://127.0.0.1:{ports['chat']}",
            "PARLEY_NOTIFY_URL": f"http://127.0.0.1:{ports['notify']}",
            "PARLEY_JWKS_URL": f"http://127.0.0.1:{ports['auth']}/.well-known/jwks.json",
            "PARLEY_AUTO_MIGRATE": "true",
            **config.extra_env,
        }
        self.processes: dict[str, Process] = {}
        for name in ("auth", "chat", "notify"):
            env = {
                **common,
                "PARLEY_DATABASE_URL": config.database_urls[name],
                "PARLEY_SERVICE_NAME": name,
            }
            self.processes[name] = self._process(name, ports[name], env)
        for i in range(config.gateways):
            name = f"gateway-{i + 1}"
            port = ports["gateway"] if i == 0 else ports.get(name, free_port())
            env = {**common, "PARLEY_GATEWAY_ID": name, "PARLEY_SERVICE_NAME": "gateway"}
            self.processes[name] = self._process(name, port, env)

    def _process(self, name: str, port: int, env: dict[str, str]) -> Process:
        metrics_port = self.config.metrics_ports.get(name)
        if metrics_port is None:
            return Process(name, port, env, host=self.config.host, cwd=self.config.cwd)
        return Process(
            name, port, env, host=self.config.host, metrics_port=metrics_port, cwd=self.config.cwd
        )

    @property
    def gateways(self) -> list[Process]:
        return [p for name, p in self.processes.items() if name.startswith("gateway")]

    def start(self, timeout: float = 60.0) -> None:
        # auth first: the others fetch its signing keys.
        order = ["auth", "chat", "notify", *[g.name for g in self.gateways]]
        self.processes["auth"].start(self.log_dir)
        self.processes["auth"].wait_ready(timeout)
        for name in order[1:]:
            self.processes[name].start(self.log_dir)
        for name in order[1:]:
            self.processes[name].wait_ready(timeout)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Starts a stopped or killed process again on the same port and waits until ready."""
        process = self.processes[name]
        process.stop()
        process.start(self.log_dir)
        process.wait_ready(timeout)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


# Backends the embedded runner must not pick up from the caller's environment: it brings its own.
_EMBEDDED_IGNORED_ENV = (
    "PARLEY_DATABASE_URL",
    "PARLEY_AMQP_URL",
    "PARLEY_REDIS_URL",
    "PARLEY_CORS_ORIGINS",
    "PARLEY_METRICS_PORT",
)


def spawn_embedded(
    port: int, data_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m parley.embedded` as a child process logging to `log_path` (appended)."""
    env = {
        k: v
        for k, v in {**os.environ, **(extra_env or {})}.items()
        if k not in _EMBEDDED_IGNORED_ENV
    }
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parley.embedded",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
