"""Helpers shared by the console tests (no tests here): replays of real files, screen text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import shared_file
from tui.core.events import DnsProbeResult, FeedStatus, Finding, RecordRejected, RouteAnnounced
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watchlist

HOSTILE = "[red]x[/red] [link=http://e.vil]y[/link] \x1b[2J\x1b]0;pwn\x07"
"""Rich markup and terminal escapes, as a hostile feed or DNS server might send them."""


@pytest.fixture
def replay_of() -> Iterator[Callable[..., Any]]:
    """Open a ReplaySession over a shared data file (closed after the test)."""
    from tui.journal.replay import ReplaySession

    opened = []

    def open_(relative: str, watchlist: Watchlist | None = None) -> Any:
        session = ReplaySession.open([str(shared_file(relative))], watchlist or Watchlist([NORTH_KOREA]))
        opened.append(session)
        return session

    yield open_
    for session in opened:
        session.close()


def screen_text(app: Any) -> str:
    """What the terminal would show, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def hostile_events(t: float) -> list[Any]:
    """Events whose untrusted strings carry markup and escapes, one of each place they show."""
    nk = Prefix.parse("175.45.176.0/24")
    return [
        FeedStatus(t, "ris_live", "down", f"handshake failed: {HOSTILE}"),
        RecordRejected(t + 1, "mrt", f"offset 12 {HOSTILE}", f"bad attribute {HOSTILE}"),
        RouteAnnounced(
            t + 2, f"rrc00{HOSTILE}", "192.0.2.1", 64500, nk, (64500, 131279), communities=(HOSTILE,), source="ris_live"
        ),
        DnsProbeResult(t + 3, "kp.", "[blink]ns1[/blink].kp.", "127.0.0.1", 5353, "udp", "kp.", "SOA", "error", detail=HOSTILE),
        Finding(t + 4, "f1", "North Korea", "visibility", "critical", "open", str(nk), f"summary {HOSTILE}", t + 4),
    ]
