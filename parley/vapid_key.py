"""`parley vapid-key`: a new VAPID key pair for Web Push (notify's `PARLEY_VAPID_PRIVATE_KEY`;
browsers get the public key from `GET /devices/webpush-key`)."""

from __future__ import annotations

import argparse

from py_vapid import Vapid, b64urlencode

from notify.push.providers import vapid_public_key


def new_private_key() -> str:
    return _private_key(_new_vapid())


def _new_vapid() -> Vapid:
    vapid = Vapid()
    vapid.generate_keys()
    return vapid


def _private_key(vapid: Vapid) -> str:
    return str(b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big")))


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(
        prog="parley vapid-key",
        description="Print a new VAPID key pair for Web Push, as settings to keep secret.",
    ).parse_args(argv)
    vapid = _new_vapid()
    print(f"PARLEY_VAPID_PRIVATE_KEY={_private_key(vapid)}")
    print(f"# public key (GET /devices/webpush-key serves it): {vapid_public_key(vapid)}")


if __name__ == "__main__":
    main()
