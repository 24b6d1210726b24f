"""`parley integration-key create|revoke|list`: API keys for the host application's backend.

Keys live hashed in chat's database: `PARLEY_CHAT_DATABASE_URL` (default: the local PostgreSQL
database `parley_chat`, as `parley migrate`), or `--database-url`, or `--embedded` for the
SQLite file of `make run` (`<data-dir>/chat.db`). Chat's migrations are applied first, so a
fresh database works. `create` prints the key once; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from chat.integrations import keys
from chat.main import MIGRATIONS
from parley_common.db import create_engine, make_sessionmaker, migrate
from parley_common.errors import ServiceError

from .migrate import database_url_for, ensure_database
from .run_settings import RunSettings


def embedded_url(data_dir: str | Path, service: str = "chat") -> str:
    """The SQLite database of `service` in `make run`'s data directory."""
    return f"sqlite+aiosqlite:///{Path(data_dir) / f'{service}.db'}"


async def _run(url: str, action: str, name: str | None) -> tuple[int, str]:
    """(exit status, text to print) of one action against chat's database at `url`."""
    await ensure_database(url)
    engine = create_engine(url, pool_size=1)
    try:
        await migrate(engine, MIGRATIONS)
        async with make_sessionmaker(engine)() as session:
            if action == "create":
                assert name is not None
                try:
                    key = await keys.create(session, name)
                except ServiceError as exc:
                    return 1, f"error: {exc.detail}"
                await session.commit()
                return 0, key
            if action == "revoke":
                assert name is not None
                revoked = await keys.revoke(session, name)
                await session.commit()
                if not revoked:
                    return 1, f"error: no live integration key named {name!r}"
                return 0, f"revoked {name}"
            lines = [
                f"{k.name}\t{k.key_prefix}…\tcreated {k.created_at:%Y-%m-%d %H:%M}Z\t"
                + (f"revoked {k.revoked_at:%Y-%m-%d %H:%M}Z" if k.revoked_at else "active")
                for k in await keys.list_all(session)
            ]
            return 0, "\n".join(lines) if lines else "no integration keys"
    finally:
        await engine.dispose()


async def create_key(url: str, name: str) -> str:
    """Create a key named `name` in chat's database at `url` and return it (for tests, scripts)."""
    status, text = await _run(url, "create", name)
    if status:
        raise RuntimeError(text)
    return text


async def revoke_key(url: str, name: str) -> None:
    status, text = await _run(url, "revoke", name)
    if status:
        raise RuntimeError(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="parley integration-key",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="chat's database (default: PARLEY_CHAT_DATABASE_URL)")
    where.add_argument("--embedded", action="store_true", help="the SQLite file of `make run`")
    p.add_argument(
        "--data-dir",
        default=None,
        help="data directory of --embedded (default: PARLEY_DATA_DIR or var)",
    )
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("create", help="create a key and print it (once)").add_argument("name")
    sub.add_parser("revoke", help="revoke a key: it stops working at once").add_argument("name")
    sub.add_parser("list", help="names, prefixes and state of the keys")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.embedded:
        url = embedded_url(args.data_dir or RunSettings().data_dir)
    else:
        url = args.database_url or database_url_for("chat")
    status, text = asyncio.run(_run(url, args.action, getattr(args, "name", None)))
    print(text, file=sys.stderr if status else sys.stdout)
    raise SystemExit(status)


if __name__ == "__main__":
    main()
