"""The load generator's own garbage-collection pauses while it times something."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager


class GcPauses:
    """The load generator's own garbage-collection pauses over 1 ms while it measures: such a
    pause lands in whatever latency is being timed, and is not the server's."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif (pause := time.perf_counter() - self._started) > 0.001:
            self.pauses.append(round(pause * 1000, 1))


@contextmanager
def collector_off() -> Iterator[GcPauses]:
    """The load generator's collector out of a timing: collected before, off during. With the
    garbage of thousands of sockets before, one full collection of this client took 10-500 ms,
    and such a pause, inside the 50 handshakes in flight, decides a connect p99 (for every
    target alike). What is timed makes little garbage; the pauses it yields show it stays
    empty."""
    gc.collect()
    gc.disable()
    try:
        with GcPauses() as pauses:
            yield pauses
    finally:
        gc.enable()
