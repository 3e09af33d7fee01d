"""A real HTTP/1.1 server on loopback (the standard library's, in a thread), for the feed tests.

A test gives it one function from :class:`Request` to :class:`Reply`. Replies can carry extra
headers (Retry-After, Content-Range), a status (429, 500, 206), and ``cut_after`` to send only
part of the body and then drop the connection: an interrupted download.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    """What the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Reply:
    """What to answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    """Send only this many body bytes (with the full Content-Length), then close the socket."""


def json_reply(text: str | bytes, status: int = 200, **headers: str) -> Reply:
    """A JSON body."""
    body = text.encode() if isinstance(text, str) else text
    return Reply(status, body, {"Content-Type": "application/json", **headers})


def file_reply(path: Path, range_header: str | None, *, cut_after: int | None = None) -> Reply:
    """Serve a file, honouring a ``Range: bytes=N-`` (or ``N-M``) request with 206."""
    data = path.read_bytes()
    if range_header:
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
        if not m:
            return Reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else len(data) - 1
        if start >= len(data):
            return Reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        part = data[start : end + 1]
        return Reply(206, part, {"Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}",
                                 "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"},
                     cut_after)
    return Reply(200, data, {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}, cut_after)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up on a slow answer (a bounded wait) is expected, not a failure.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackHTTP:
    """``with LoopbackHTTP(handler) as server:`` serves on ``server.url`` (127.0.0.1, free port)."""

    def __init__(self, handler: Callable[[Request], Reply]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
                parts = urlsplit(self.path)
                request = Request("GET", parts.path, parse_qs(parts.query, keep_blank_values=True),
                                  {k.lower(): v for k, v in self.headers.items()})
                with outer._lock:
                    outer.requests.append(request)
                reply = outer.handler(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.cut_after is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if reply.cut_after is not None:
                    self.wfile.write(reply.body[: reply.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    # Abort: the client sees a body shorter than Content-Length.
                    self.connection.shutdown(2)
                    return
                self.wfile.write(reply.body)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LoopbackHTTP:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
