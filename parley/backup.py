"""`parley backup DIR` / `parley backup --restore DIR` (`make backup`, `make restore`): every service's
PostgreSQL database with pg_dump's custom format, one file per service (`auth.dump`,
`chat.dump`, `notify.dump`), and back.

PostgreSQL holds everything that must survive (docs/operations.md, Backup and restore):
RabbitMQ and Redis hold nothing an outbox or a reconnect does not rebuild. Restore into a
stopped stack: the databases are recreated as they were at the backup, then the services
start and their migrations bring the schema forward if the backup is older.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .migrate import database_url_for, ensure_database

SERVICES = ("auth", "chat", "notify")


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection options for a SQLAlchemy URL; the password goes in the
    environment (PGPASSWORD), never on a command line others can read."""
    u = make_url(url)
    args = ["--host", u.host or "127.0.0.1", "--port", str(u.port or 5432)]
    if u.username:
        args += ["--username", u.username]
    env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
    return args, env


def backup(out: Path, urls: dict[str, str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for service, url in urls.items():
        args, env = _libpq(url)
        target = out / f"{service}.dump"
        subprocess.run(  # nosec B603 B607 - fixed program, arguments from settings
            [
                "pg_dump",
                *args,
                "--format=custom",
                "--file",
                str(target),
                make_url(url).database or "",
            ],
            env=env,
            check=True,
        )
        files.append(target)
    return files


def restore(source: Path, urls: dict[str, str]) -> None:
    for service, url in urls.items():
        dump = source / f"{service}.dump"
        if not dump.exists():
            raise SystemExit(f"{dump} is missing")
        asyncio.run(ensure_database(url))
        args, env = _libpq(url)
        subprocess.run(  # nosec B603 B607
            [
                "pg_restore",
                *args,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                "--dbname",
                make_url(url).database or "",
                str(dump),
            ],
            env=env,
            check=True,
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="parley backup",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("directory", type=Path, help="where the .dump files are written or read")
    p.add_argument("--restore", action="store_true", help="restore from DIR instead")
    args = p.parse_args(argv)
    urls = {service: database_url_for(service) for service in SERVICES}
    if not args.restore:
        for path in backup(args.directory, urls):
            print(f"wrote {path}")
    else:
        restore(args.directory, urls)
        print(f"restored {', '.join(SERVICES)} from {args.directory}")


if __name__ == "__main__":
    main()
