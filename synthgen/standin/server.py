"""Running the offline stand-in endpoint: on a daemon thread, or blocking until a signal.

A STAND-IN, NOT A MODEL: every reply is deterministic placeholder text (see `content.py`).
It exists so tests, `make demo` and benchmarks can run offline against real HTTP. The
endpoint itself is `endpoint.StandinServer` (re-exported here); its HTTP/1.1 is `http11.py`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from synthgen.errors import UsageError
from synthgen.standin.config import StandinConfig
from synthgen.standin.endpoint import StandinServer

__all__ = ["StandinHandle", "StandinServer", "run_in_thread", "serve"]

T = TypeVar("T")


class StandinHandle:
    """A stand-in running on its own event loop in a daemon thread; a context manager."""

    def __init__(
        self, server: StandinServer, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.server, self._loop, self._thread = server, loop, thread
        self.base_url = server.base_url
        self._stopped = False

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    @property
    def config(self) -> StandinConfig:
        """The faults in force now."""
        return self.server.config

    def set_faults(self, **changes: object) -> None:
        """Change fault switches while the server runs."""
        self._call(lambda: self.server.set_faults(**changes))

    def reset(self) -> None:
        """Clear counters, the request log and the rate buckets."""
        self._call(self.server.reset)

    def stats(self) -> dict[str, object]:
        """Counters and the request log, from the server's own thread."""
        return self._call(self.server.stats)

    def stop(self) -> None:
        """Stop the server and its thread."""
        if self._stopped:
            return
        self._stopped = True
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def __enter__(self) -> StandinHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_in_thread(config: StandinConfig | None = None) -> StandinHandle:
    """Start a stand-in on 127.0.0.1 (free port) in a daemon thread; returns once listening."""
    server = StandinServer(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="synthgen-standin", daemon=True)
    thread.start()
    if not ready.wait(timeout=30):
        raise RuntimeError("stand-in did not start within 30 s")
    if failure:
        raise failure[0]
    return StandinHandle(server, loop, thread)


def cannot_listen(host: str, port: int, e: OSError) -> UsageError:
    """The exit-2 error for an address the stand-in cannot bind: taken, or not this host's."""
    if e.errno == errno.EADDRINUSE:
        return UsageError(
            f"cannot listen on {host}:{port}: the port is already in use",
            hint=f"stop what listens on port {port} (another stand-in?), or pick another "
            "--port (0 picks a free one; --port-file says which)",
        )
    return UsageError(
        f"cannot listen on {host}:{port}: {e.strerror or e}",
        hint="check --host (an address of this machine, e.g. 127.0.0.1) and --port",
    )


def serve(
    config: StandinConfig,
    host: str,
    port: int,
    port_file: Path | None,
    announce: Callable[[str], None],
) -> None:
    """Run until SIGINT/SIGTERM; writes `port_file` atomically and announces the base URL."""

    async def main() -> None:
        server = StandinServer(config)
        try:
            bound = await server.start(host, port)
        except OSError as e:
            raise cannot_listen(host, port, e) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            if port_file is not None:
                tmp = port_file.with_name(f".{port_file.name}.{os.getpid()}.tmp")
                tmp.write_text(str(bound), encoding="ascii")
                os.replace(tmp, port_file)
            announce(server.base_url)
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await server.stop()

    asyncio.run(main())
