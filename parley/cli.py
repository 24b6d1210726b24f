"""The `parley` command: `parley run`, `parley services`, `parley migrate`,
`parley integration-key create|revoke|list`, `parley email-preview TYPE`, `parley vapid-key`, `parley keys`, `parley dlq`; `parley COMMAND --help` for each one's options."""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

# command → (module with main(argv), one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("parley.embedded", "the whole platform in one process, embedded backends (make run)"),
    "services": (
        "parley.services",
        "the four services as processes on PostgreSQL, RabbitMQ, Redis (make services)",
    ),
    "migrate": ("parley.migrate", "apply the services' database migrations (make migrate)"),
    "integration-key": (
        "parley.integration_keys",
        "create, revoke or list the keys of the integration API",
    ),
    "backup": ("parley.backup", "back up the services' databases to DIR (--restore: restore them)"),
    "dlq": ("parley.dlq", "list, show, replay or drop the dead-letter queues' messages"),
    "keys": ("parley.signing_keys", "list, rotate or retire auth's token signing keys"),
    "vapid-key": ("parley.vapid_key", "a new VAPID key pair for Web Push"),
    "email-preview": (
        "parley.email_preview",
        "render one of the notification emails with sample data to a file",
    ),
}


def _version() -> str:
    try:
        return version("parley")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout without install
        return "unknown"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="parley",
        description="Run and operate Parley, a real-time chat platform.",
        epilog="`parley COMMAND --help` shows the options of a command.",
    )
    p.add_argument("--version", action="version", version=f"parley {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        # Each command parses its own options (its module's main), --help included.
        sub.add_parser(name, help=help_text, add_help=False)
    return p


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        parser().parse_args(args)  # --help and --version exit 0; anything else exits 2
        return
    module = importlib.import_module(COMMANDS[args[0]][0])
    module.main(args[1:])


if __name__ == "__main__":
    main()
