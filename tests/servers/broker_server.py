"""A BGPStream broker on loopback: a v2 ``/data`` listing in pages, and the dump files themselves.

The listing is in the broker's format (SPECS.md C.2); the files are the real MRT files in
../shared/data/mrt, served under archive-like URLs with HTTP Range support. A download can be
cut after N bytes (``cut_next``) to test resuming.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.http_server import Reply, Request, file_reply, json_reply


@dataclass
class Listed:
    """One dump file as the broker lists it, and the local file behind its URL."""

    path: str
    """URL path on this server, e.g. ``/ris/rrc06/2015.04/updates.20150401.0000.gz``."""
    local: Path
    project: str
    collector: str
    type: str
    initial_time: int
    duration: int


@dataclass
class FakeBroker:
    """Serves ``pages`` of listings (page by page as the client follows them) and the listed files."""

    pages: list[list[Listed]]
    base: str = ""
    """The server's URL, set once it is listening (for the resource URLs)."""
    response_time: int = 1_600_000_000
    cut_next: dict[str, int] = field(default_factory=dict)
    """URL path -> bytes after which its next download is cut off."""
    queries: list[Request] = field(default_factory=list)
    error: str | None = None
    _page: int = -1

    def resource(self, item: Listed) -> dict[str, Any]:
        return {"url": f"{self.base}{item.path}", "project": item.project, "collector": item.collector,
                "type": item.type, "initialTime": item.initial_time, "duration": item.duration,
                "transport": "http", "format": "mrt", "attr": {}}

    def __call__(self, request: Request) -> Reply:
        if request.path == "/v2/data":
            # A query without dataAddedSince starts a new listing at page 0; each follow-up
            # (with dataAddedSince) gets the next page.
            self._page = self._page + 1 if "dataAddedSince" in request.query else 0
            page = self._page
            self.queries.append(request)
            listed = self.pages[page] if page < len(self.pages) else []
            body = {"time": self.response_time + page, "type": "data", "error": self.error,
                    "queryParameters": {k: v for k, v in request.query.items()},
                    "data": {"resources": [self.resource(item) for item in listed]}}
            return json_reply(json.dumps(body))
        for page in self.pages:
            for item in page:
                if item.path == request.path:
                    cut = self.cut_next.pop(request.path, None)
                    return file_reply(item.local, request.headers.get("range"), cut_after=cut)
        return Reply(404, b"not found")
