"""A TCP proxy that can be cut: the database as the service's processes see it over a network that
fails. While cut, every open connection through it is ended and new ones are closed as soon as
they are accepted (what a process sees when its database restarts or a network path is lost);
restored, it forwards again. It runs its own event loop in a thread, so the test's own work never
slows the traffic it carries."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.fakes.servers import free_port


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.cut_count = 0  # connections ended or refused while cut
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.cut_count += 1
            client_writer.close()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        pair = {client_writer, server_writer}
        self._writers |= pair
        try:
            await asyncio.gather(
                self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)
            )
        finally:
            self._writers -= pair

    def _end_all(self) -> None:
        self._cut = True
        for writer in list(self._writers):
            self.cut_count += 1
            writer.transport.abort()

    def cut(self) -> None:
        """End every connection through the proxy and refuse new ones, until `restore`."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._end_all)

    def restore(self) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(setattr, self, "_cut", False)

    @contextmanager
    def running(self) -> Iterator[CuttableProxy]:
        started = threading.Event()
        stop: asyncio.Event | None = None

        async def main() -> None:
            nonlocal stop
            self._loop, stop = asyncio.get_running_loop(), asyncio.Event()
            server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            started.set()
            async with server:
                await stop.wait()
                self._end_all()

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        if not started.wait(10):
            raise RuntimeError("the proxy did not start")
        try:
            yield self
        finally:
            assert self._loop is not None
            assert stop is not None
            self._loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=10)
