"""`make services`: the four services as separate processes against PostgreSQL, RabbitMQ and
Redis from the PARLEY_* URLs (default: the local servers), migrations applied first; host,
ports and data dir from parley.run_settings."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

from . import run_settings
from .migrate import database_url_for, ensure_database, migrate_service
from .stack import Stack, StackConfig
from .stack_settings import StackSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parley services",
        description="The four services as processes on PostgreSQL, RabbitMQ and Redis from the "
        "PARLEY_* URLs (default: the local servers), migrations applied first (what `make "
        "services` does). Ports: the gateway on --port, auth, chat and notify on the next "
        "three, replica i on port + 10·i, /metrics 1000 above each.",
    )
    parser.add_argument(
        "--gateways",
        type=int,
        help="gateway replicas (default: PARLEY_GATEWAYS or 1)",
    )
    run_settings.add_arguments(parser)
    args = parser.parse_args(argv)
    run = run_settings.from_arguments(args)
    gateways = args.gateways or run.gateways

    urls = {name: database_url_for(name) for name in ("auth", "chat", "notify")}
    for name, url in urls.items():
        asyncio.run(ensure_database(url))
        asyncio.run(migrate_service(name, url))
    settings = StackSettings()
    ports = run.service_ports(gateways)
    config = StackConfig(
        database_urls=urls,
        amqp_url=settings.amqp_url,
        redis_url=settings.redis_url,
        smtp_url=settings.smtp_url or f"file://{run.data_dir / 'mail'}",
        storage_url=settings.storage_url or f"file://{run.data_dir.resolve() / 'uploads'}",
        internal_token=settings.internal_token,
        gateways=gateways,
        host=run.host,
        ports=ports,
        metrics_ports={name: port + 1000 for name, port in ports.items()},
        # Email links follow the URL the gateway is served at (RunSettings.email_link_url).
        extra_env={"PARLEY_WEB_URL": run.email_link_url},
    )
    stack = Stack(config, log_dir=run.data_dir / "log")
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
