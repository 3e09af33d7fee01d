"""Feed health: a broken or silent feed is a finding about the feed, never an outage.

- ``feed_down`` (warning): a feed reported ``down``, ``gap`` or ``error``. While it lasts, the
  sessions it supplies are *unknown* (RouteState), so no prefix loses visibility because of
  it. Closes when the feed is ``up`` again (evidence: the gap's length) or has ``ended``.
- ``feed_silent`` (warning): a feed that is ``up`` delivered no message at all for
  ``feed_silence`` seconds. Closes at its next message.

Silence is judged on every message the feed delivered (``FeedHealth.last_message``), including
updates the engine dropped as unwatched and therefore did not record: a replay of the journal
has only the recorded ones, so ``feed_silent`` is the one finding a replay may not reproduce
exactly. ``feed_down`` comes from recorded FeedStatus events and replays exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tui.core.detectors.base import DetectorSettings, FindingBook, format_duration
from tui.core.events import Event, FeedStatus, Finding, Severity

__all__ = ["FeedHealthDetector"]

_BROKEN = ("down", "gap", "error")
_EFFECT = "sessions of this feed are unknown (not withdrawn) until it recovers"


class FeedHealthDetector:
    """Findings ``feed_down`` and ``feed_silent``."""

    name = "feeds"

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self.findings = FindingBook()

    def observe(self, events: Sequence[Event], view: Any, now: float) -> list[Finding]:
        """Open or close ``feed_down`` on FeedStatus events; close ``feed_silent`` on new messages."""
        out: list[Finding] = []
        for event in events:
            if not isinstance(event, FeedStatus):
                continue
            if event.state in _BROKEN:
                detail = f": {event.detail}" if event.detail else ""
                found = self.findings.raise_(
                    event.ts, kind="feed_down", watch="", subject=event.feed, severity=Severity.WARNING,
                    summary=f"feed {event.feed} {event.state}{detail}; its data is unknown, not withdrawn",
                    evidence={"feed": event.feed, "state": event.state, "detail": event.detail, "effect": _EFFECT},
                )
                if found is not None:
                    out.append(found)
            elif event.state in ("up", "ended"):
                gap = event.gap_seconds
                how = f" after a gap of {format_duration(gap)}" if gap is not None else ""
                closed = self.findings.close(
                    event.ts, kind="feed_down", watch="", subject=event.feed,
                    summary=f"feed {event.feed} {event.state}{how}",
                    evidence={"gap_seconds": gap, "final_state": event.state},
                )
                if closed is not None:
                    out.append(closed)
        out.extend(self._silence(view, now))
        return out

    def tick(self, view: Any, now: float) -> list[Finding]:
        """Look for feeds that went silent."""
        return self._silence(view, now)

    def _silence(self, view: Any, now: float) -> list[Finding]:
        out: list[Finding] = []
        limit = self.settings.feed_silence
        for name, health in sorted(getattr(view, "feeds", {}).items()):
            last = health.last_message
            open_ = self.findings.get("feed_silent", "", name)
            if open_ is not None and last is not None and last > open_.started:
                closed = self.findings.close(
                    last, kind="feed_silent", watch="", subject=name,
                    summary=f"feed {name} delivers messages again", evidence={"messages": health.messages},
                )
                if closed is not None:
                    out.append(closed)
                continue
            if open_ is None and health.state == "up" and last is not None and now - last > limit > 0:
                found = self.findings.raise_(
                    last + limit, kind="feed_silent", watch="", subject=name, severity=Severity.WARNING,
                    summary=f"feed {name} silent: no message for more than {format_duration(limit)}",
                    evidence={"feed": name, "last_message": last, "messages": health.messages,
                              "effect": _EFFECT},
                    started=last,
                )
                if found is not None:
                    out.append(found)
        return out

    def snapshot(self) -> dict[str, Any]:
        """Open findings."""
        return {"open": self.findings.snapshot()}

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot`."""
        self.findings.restore(data.get("open", ()))
