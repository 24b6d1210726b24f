"""Starting child processes that `make test`'s coverage does not measure.

coverage.py's subprocess patch (`patch = ["subprocess"]` in pyproject.toml) hands its settings
to every child in `COVERAGE_PROCESS_*` variables; a child started without them runs untraced,
at about twice the speed. The tests use it for processes whose code is measured elsewhere or is
not this checkout's: load tests, the browser tests' servers, a previous release
(docs/DEVELOPING.md#coverage).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

PREFIX = "COVERAGE_PROCESS_"


@contextlib.contextmanager
def untraced_children() -> Iterator[None]:
    """Child processes started meanwhile run without coverage; this process stays measured."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(PREFIX)}
    try:
        yield
    finally:
        os.environ.update(saved)


def untraced_env(env: dict[str, str]) -> dict[str, str]:
    """`env` without coverage's variables, for a child started with an explicit environment."""
    return {k: v for k, v in env.items() if not k.startswith(PREFIX)}
