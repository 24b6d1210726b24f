"""The `parley` command: `parley run`, `parley services`, `parley migrate`,
`parley integration-key create|revoke|list`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    commands = {
        "run": "parley.embedded",
        "services": "parley.services",
        "migrate": "parley.migrate",
        "integration-key": "parley.integration_keys",
    }
    if not args or args[0] not in commands:
        print("usage: parley {run|services|migrate|integration-key} [options]", file=sys.stderr)
        raise SystemExit(2)
    module = __import__(commands[args[0]], fromlist=["main"])
    module.main(args[1:])


if __name__ == "__main__":
    main()
