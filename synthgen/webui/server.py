"""Start and stop a review: check the extra, bind the socket, serve uvicorn in a thread."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.errors import UsageError

EXTRA = "review"
DEFAULT_PORT = 8765
NEEDS = ("starlette", "uvicorn", "jinja2", "multipart")


def check_extra() -> None:
    """The optional extra is installed, or a usage error (exit 2) that names it."""
    import importlib.util

    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"`synthgen review` needs the optional extra [{EXTRA}] ({', '.join(missing)} missing)",
            hint=f"pip install 'synthgen[{EXTRA}]'",
        )


def open_in_browser(url: str) -> bool:
    """Open the page where a desktop is there to show it; a bare terminal's text browser
    would take the terminal over, so there the printed URL is enough."""
    import os
    import sys
    import webbrowser

    if (
        sys.platform in ("darwin", "win32")
        or os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
    ):
        return webbrowser.open(url)
    return False


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ReviewHandle:
    """A running review: its URL (with the token) and stop(); for notebooks and the CLI."""

    url: str
    host: str
    port: int
    token: str
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _close: Any = field(repr=False)

    def stop(self) -> None:
        """Stop serving and close the verdict file; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the CLI)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)


def _bind(host: str, port: int | None) -> socket.socket:
    """Listen on `port`; with None, on DEFAULT_PORT if free (the page's origin, and with it
    the reviewer's name the browser keeps, stays the same across restarts), else any."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for attempt in (port,) if port is not None else (DEFAULT_PORT, 0):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, attempt))
        except OSError as e:
            sock.close()
            if port is None and attempt == DEFAULT_PORT:
                continue
            raise UsageError(
                f"cannot listen on {host}:{attempt} ({e.strerror})",
                hint="pick another --port (0 picks a free one)",
            ) from e
        sock.listen(128)
        return sock
    raise AssertionError("unreachable: port 0 always binds or raises")


def start(
    paths: list[Path],
    *,
    seeds: Path | None,
    host: str,
    port: int | None,
    token: str | None,
    sample: int,
    seed: int,
    include_dropped: bool,
    blind: bool = True,
) -> ReviewHandle:
    """Serve a review of `paths` (one, or two to compare) in a background thread."""
    check_extra()
    import uvicorn

    from synthgen.webui.app import build_app
    from synthgen.webui.labels import AuditBook
    from synthgen.webui.runview import seeds_of_run
    from synthgen.webui.seedsbook import SeedsBook
    from synthgen.webui.state import Review

    if sample < 0:
        raise UsageError("--sample must be 0 (every record) or more", hint="e.g. --sample 50")
    if not 1 <= len(paths) <= 2:
        raise UsageError("review takes one PATH, or two to compare", hint="synthgen review A B")
    if not is_loopback(host) and not token:
        raise UsageError(
            f"--host {host} lets other machines in: it needs an explicit --token",
            hint="pass --token with a long random secret, or leave --host at 127.0.0.1",
        )
    if token is not None and len(token) < 16:
        raise UsageError("--token is too short", hint="use 16 or more random characters")
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p} does not exist", hint="pass a run dir or a dataset file")
    book = AuditBook(
        paths[0], sample=sample, seed=seed, include_dropped=include_dropped, blind=blind
    )
    seed_file = seeds or seeds_of_run(paths[0])
    sock = _bind(host, port)
    bound = int(sock.getsockname()[1])
    review = Review(
        tuple(paths),
        book,
        SeedsBook(seed_file) if seed_file else None,
        token or secrets.token_urlsafe(24),
        bound,
    )
    server = uvicorn.Server(
        uvicorn.Config(build_app(review), log_level="warning", lifespan="off", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/audit?token={review.token}"
    return ReviewHandle(url, host, bound, review.token, server, thread, book.close)
