"""The status line (mode, time, feeds, incidents) and the replay bar (window, position, speed)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tui.console.model import format_ts
from tui.console.text import clean, shorten
from tui.core.clock import MAX_SPEED, format_duration
from tui.core.events import Severity

__all__ = ["StatusLine", "ReplayBar", "status_text", "replay_text"]

_FEED_OK = {"up", "ended", "connecting", "unknown"}


def status_text(mode: str, now: float, feeds: Iterable[Any], findings: list[Any], width: int) -> list[tuple[str, str]]:
    """The status line as (text, state) pieces; states name component classes."""
    pieces: list[tuple[str, str]] = [(f" {mode.upper()} ", "mode"), (f" {format_ts(now)} ", "clock")]
    feeds = list(feeds)
    if not feeds and mode == "live":
        pieces += [("│", "sep"), (" feeds starting: no message yet ", "warning")]
    for health in sorted(feeds, key=lambda h: h.name):
        age = format_duration(now - health.last_message, short=True) if health.last_message is not None else "never"
        state = "ok" if health.state in _FEED_OK else "warning"
        text = f" {clean(health.name)} {clean(health.state)} {age}"
        if health.rejected:
            text += f" rej {health.rejected}"
        if health.state not in _FEED_OK and health.detail:
            text += f": {shorten(clean(health.detail), 40)}"
        pieces.append(("│", "sep"))
        pieces.append((text + " ", state))
    critical = sum(1 for f in findings if f.severity == Severity.CRITICAL)
    pieces.append(("│", "sep"))
    if findings:
        label = f" ✖ {len(findings)} open incident{'s' if len(findings) != 1 else ''}"
        if critical:
            label += f" ({critical} critical)"
        pieces.append((label + " ", "critical" if critical else "warning"))
    else:
        pieces.append((" ✓ no open incidents ", "ok"))
    return pieces


def replay_text(
    position: float, start: float, end: float, speed: float, playing: bool, width: int, prompts: Sequence[str] = ()
) -> str:
    """``▶ 10x 2015-10-23T02:01:30Z [████░░░░] 42% of 2015-10-23T02:01:18Z → 02:01:55Z``.

    With ``prompts`` (what to do, longest first: see :func:`~tui.console.model.replay_prompts`)
    the longest one that fits takes the place of the progress bar, and the window follows
    when there is room left for it."""
    icon = "▶" if playing else "⏸"
    speed_text = "max" if speed == MAX_SPEED or math.isinf(speed) else f"{speed:g}x"
    span = end - start
    share = 1.0 if span <= 0 else min(1.0, max(0.0, (position - start) / span))
    window_end = format_ts(end)
    if format_ts(start)[:10] == window_end[:10]:
        window_end = window_end[11:]
    head = f" {icon} {speed_text:>4}  {format_ts(position)} "
    window = f" window {format_ts(start)} → {window_end} "
    if prompts:
        room = width - len(head) - 1
        prompt = next((p for p in prompts if len(p) <= room), shorten(prompts[-1], max(1, room)))
        line = head + " " + prompt
        if len(line) + len(window) + 1 <= width:
            line += " " * (width - len(line) - len(window)) + window
        return line
    tail = f" {share * 100:3.0f}% {window}"
    bar_width = max(5, width - len(head) - len(tail) - 2)
    if width < 100:
        tail = f" {share * 100:3.0f}% "
        bar_width = max(5, width - len(head) - len(tail) - 2)
    filled = int(round(share * bar_width))
    return head + "[" + "█" * filled + "░" * (bar_width - filled) + "]" + tail


def show_line(widget: Static, text: Text) -> None:
    """Put ``text`` in a one-line widget: nothing when it is what is shown, and never a layout
    pass (the line's size is fixed by CSS; a layout pass costs the whole screen's)."""
    if text == getattr(widget, "_shown_text", None):
        return
    widget._shown_text = text  # type: ignore[attr-defined]
    widget.update(text, layout=False)


class StatusLine(Static):
    """One line: LIVE/REPLAY, the time, each feed's state and age, open incidents."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status--mode",
        "status--clock",
        "status--ok",
        "status--warning",
        "status--critical",
        "status--sep",
    }
    """Styles of the line's pieces (theme variables only)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $foreground; }
    StatusLine > .status--mode { background: $primary; color: $text; text-style: bold; }
    StatusLine > .status--clock { text-style: bold; }
    StatusLine > .status--ok { color: $success; }
    StatusLine > .status--warning { color: $warning; text-style: bold; }
    StatusLine > .status--critical { color: $error; text-style: bold reverse; }
    StatusLine > .status--sep { color: $foreground-muted; }
    """

    def show(self, mode: str, now: float, feeds: Iterable[Any], findings: list[Any]) -> None:
        """Redraw from the engine's feeds and open findings."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for piece, state in status_text(mode, now, feeds, findings, self.size.width):
            text.append(piece, style=self.get_component_rich_style(f"status--{state}", partial=True))
        show_line(self, text)


class ReplayBar(Static):
    """Replay position in its window, and the speed; what to press while nothing has moved yet."""

    DEFAULT_CSS = """
    ReplayBar { height: 1; background: $boost; color: $accent; }
    ReplayBar.-playing { color: $success; }
    ReplayBar.-prompt { text-style: bold; }
    """

    playing = reactive(False)
    """Whether the replay is running (colours the bar)."""

    def watch_playing(self, playing: bool) -> None:
        """Colour by play state."""
        self.set_class(playing, "-playing")

    def show(
        self, position: float, start: float, end: float, speed: float, playing: bool, prompts: Sequence[str] = ()
    ) -> None:
        """Redraw the bar (``prompts``: see :func:`replay_text`)."""
        self.playing = playing
        self.set_class(bool(prompts), "-prompt")
        text = replay_text(position, start, end, speed, playing, self.size.width or 80, prompts)
        show_line(self, Text(text, no_wrap=True, overflow="ellipsis"))
