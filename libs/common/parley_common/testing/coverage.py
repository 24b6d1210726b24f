"""Starting child processes that `make test`'s coverage does not measure, and pausing the
measurement of this one.

coverage.py's subprocess patch (`patch = ["subprocess"]` in pyproject.toml) hands its settings
to every child in `COVERAGE_PROCESS_*` variables; a child started without them runs untraced,
at about twice the speed. The tests use it for processes whose code is measured elsewhere or is
not this checkout's: load tests, the browser tests' servers, a previous release
(docs/DEVELOPING.md#coverage).
"""

from __future__ import annotations

import contextlib
import os
import warnings
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


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """This process's own measurement paused meanwhile (a load test's client side: the tracer
    slowed 2,000 REST calls and 500 sockets of a test's own client by half)."""
    import coverage
    from coverage.exceptions import CoverageWarning

    current = coverage.Coverage.current()
    if current is None:  # not under coverage (COVERAGE=0)
        yield
        return
    current.stop()
    try:
        yield
    finally:
        with warnings.catch_warnings():
            # Resuming, it lists every measured module imported so far as "already imported".
            warnings.simplefilter("ignore", CoverageWarning)
            current.start()
