"""`make services`: the four services as separate processes against PostgreSQL, RabbitMQ and
Redis from the PARLEY_* URLs (default: the local servers), migrations applied first."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from pathlib import Path

from . import DEFAULT_PORTS
from .migrate import database_url_for, ensure_database, migrate_service
from .stack import Stack, StackConfig
from .stack_settings import StackSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gateways", type=int, default=int(os.environ.get("GATEWAYS", "1")))
    args = parser.parse_args(argv)

    urls = {name: database_url_for(name) for name in ("auth", "chat", "notify")}
    for name, url in urls.items():
        asyncio.run(ensure_database(url))
        asyncio.run(migrate_service(name, url))
    settings = StackSettings()
    config = StackConfig(
        database_urls=urls,
        amqp_url=settings.amqp_url,
        redis_url=settings.redis_url,
        smtp_url=settings.smtp_url,
        internal_token=settings.internal_token,
        gateways=args.gateways,
        # Replicas on predictable ports: 8000, 8010, 8020, ...
        ports={
            **DEFAULT_PORTS,
            **{f"gateway-{i + 1}": 8000 + 10 * i for i in range(1, args.gateways)},
        },
        # /metrics and /readyz: 1000 above each service's port (9000, 9001, ..., 9010, ...).
        metrics_ports={
            **{name: port + 1000 for name, port in DEFAULT_PORTS.items() if name != "gateway"},
            **{f"gateway-{i + 1}": 9000 + 10 * i for i in range(args.gateways)},
        },
    )
    stack = Stack(config, log_dir=Path("var/log"))
    stack.start()
    for process in stack.processes.values():
        print(
            f"{process.name:10} {process.url}   metrics {process.metrics_url}"
            f"   (log: {process.log_path})",
            flush=True,
        )
    print(
        f"Parley is running at {stack.gateways[0].url}/ — Ctrl+C stops every process.", flush=True
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for process in stack.processes.values():
                if process.popen is not None and process.popen.poll() is not None:
                    print(
                        f"{process.name} exited ({process.popen.returncode}); stopping.", flush=True
                    )
                    stopping = True
            time.sleep(0.5)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
