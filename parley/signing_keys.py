"""`parley keys list|rotate|retire`: auth's token signing keys.

`rotate` adds a key: running auth processes sign with it within `PARLEY_KEY_RELOAD_SECONDS`,
gateways fetch it from the JWKS the first time they see its kid, and tokens signed by older
keys keep working until they expire. `retire` (also done by auth every reload) drops the keys
no valid token can carry any more. The keys are in auth's database (`PARLEY_AUTH_DATABASE_URL`,
`--database-url`, or `--embedded` for `make run`'s SQLite file), sealed with
`PARLEY_KEY_ENCRYPTION_KEY`; `rotate` also re-seals every key with the current one.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from auth import key_rotation, keys
from auth.config import Settings
from auth.main import MIGRATIONS
from parley_common.db import create_engine, make_sessionmaker, migrate

from .integration_keys import embedded_url
from .migrate import database_url_for, ensure_database
from .run_settings import RunSettings


async def run(url: str, action: str, settings: Settings) -> str:
    """What one action printed, against auth's database at `url`."""
    await ensure_database(url)
    engine = create_engine(url, pool_size=1)
    vault = keys.KeyVault(settings.key_encryption_key, settings.previous_key_encryption_keys)
    try:
        await migrate(engine, MIGRATIONS)
        async with make_sessionmaker(engine)() as session, session.begin():
            if action == "rotate":
                key = await keys.rotate(session, vault)
                return f"new signing key {key.kid}"
            if action == "retire":
                lifetime = key_rotation.token_lifetime(settings)
                retired = await keys.retire_superseded(session, token_lifetime=lifetime)
                return f"retired {', '.join(retired)}" if retired else "nothing to retire yet"
            rows = await keys.active_keys(session)
            lines = [
                f"{k.kid}\tcreated {k.created_at:%Y-%m-%d %H:%M}Z\t"
                + ("signing" if i == 0 else "verifying")
                for i, k in enumerate(rows)
            ]
            return "\n".join(lines) or "no signing key yet (auth makes one when it starts)"
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="parley keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--database-url", help="auth's database (default: PARLEY_AUTH_DATABASE_URL)")
    where.add_argument("--embedded", action="store_true", help="the SQLite file of `make run`")
    p.add_argument("--data-dir", type=Path, help="data directory of --embedded (default: var)")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="the keys in the JWKS, the signing one first")
    sub.add_parser("rotate", help="add a new signing key")
    sub.add_parser("retire", help="retire the keys no valid token can carry any more")
    args = p.parse_args(argv)
    if args.embedded:
        url = embedded_url(args.data_dir or RunSettings().data_dir, "auth")
    else:
        url = args.database_url or database_url_for("auth")
    print(asyncio.run(run(url, args.action, Settings())))


if __name__ == "__main__":
    main()
