"""`parley vapid-key`: a new VAPID key pair for Web Push (notify's `PARLEY_VAPID_PRIVATE_KEY`;
browsers get the public key from `GET /devices/webpush-key`)."""

from __future__ import annotations

import argparse

from py_vapid import Vapid, b64urlencode

from notify.push.providers import WebPushProvider


def new_private_key() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    return str(b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big")))


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(
        prog="parley vapid-key",
        description="Print a new VAPID key pair for Web Push, as settings to keep secret.",
    ).parse_args(argv)
    private_key = new_private_key()
    public_key = WebPushProvider.public_key_of(private_key)
    print(f"PARLEY_VAPID_PRIVATE_KEY={private_key}")
    print(f"# public key (GET /devices/webpush-key serves it): {public_key}")


if __name__ == "__main__":
    main()
