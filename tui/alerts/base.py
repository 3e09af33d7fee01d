"""The Sink protocol and the alert value every sink receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tui.core.clock import format_time
from tui.core.events import Finding, event_to_dict

__all__ = ["Alert", "Sink", "SinkError", "alert_text", "alert_dict", "plain"]


class SinkError(Exception):
    """A sink could not deliver an alert; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class Alert:
    """One finding state to deliver; ``renotify`` marks a reminder of a still-open finding."""

    finding: Finding
    renotify: bool = False


class Sink(Protocol):
    """Something that delivers alerts. ``send`` raises :class:`SinkError` on failure."""

    name: str
    min_severity: str

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...


def plain(text: str, limit: int = 500) -> str:
    """Untrusted text made safe for a line of output: no control characters or escapes."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def alert_text(alert: Alert) -> str:
    """One plain-text line describing the alert (for chat hooks and logs)."""
    f = alert.finding
    what = "still open" if alert.renotify else {"open": "opened", "update": "updated", "close": "closed"}.get(f.state, f.state)
    watch = f" [{plain(f.watch)}]" if f.watch else ""
    line = f"{f.severity.upper()} {f.kind} {what}{watch}: {plain(f.summary)} (since {format_time(f.started)})"
    if f.state == "close" and "duration" in f.evidence_dict:
        line += f", lasted {float(f.evidence_dict['duration']):.0f}s"
    return line


def alert_dict(alert: Alert) -> dict[str, Any]:
    """The generic JSON form: the finding event plus delivery context."""
    return {
        "source": "watchfloor",
        "renotify": alert.renotify,
        "text": alert_text(alert),
        "finding": event_to_dict(alert.finding),
    }
