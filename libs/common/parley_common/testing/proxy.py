"""A TCP proxy a test can cut, restore or slow down, to simulate a backend outage or a slow
network without touching the shared server (STYLE.md, Testing notes)."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, latency: float = 0.0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0
        #: Seconds added to every chunk in both directions (a delay line: order and
        #: throughput are kept, only the arrival is later). May change while running.
        self.latency = latency
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Refuse new connections and sever every open one."""
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._pipes):
            task.cancel()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
            for coro in (self._read(src, line), self._write(line, dst)):
                task = asyncio.create_task(coro)
                self._pipes.add(task)
                task.add_done_callback(self._pipes.discard)

    async def _read(
        self, reader: asyncio.StreamReader, line: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await reader.read(65536):
                line.put_nowait((loop.time() + self.latency, data))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            line.put_nowait((loop.time() + self.latency, b""))  # end of stream

    async def _write(
        self, line: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await line.get()
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            self._writers.discard(writer)
