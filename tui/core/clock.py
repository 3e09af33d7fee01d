"""Clocks: the wall clock for live runs, a virtual clock for replay.

Nothing in the core reads the time by itself; it is handed a :class:`Clock`. The virtual clock
is driven by whoever owns real time (the replay runner) through :meth:`VirtualClock.advance`,
so the clock itself stays pure and a test can step it by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Clock", "SystemClock", "VirtualClock", "FixedClock", "SPEEDS", "MAX_SPEED", "format_duration", "format_time"]

MAX_SPEED = math.inf
"""Replay speed meaning "as fast as events can be applied"."""

SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 1000.0, MAX_SPEED)
"""The speed ladder the replay controls step through."""


class Clock(Protocol):
    """Something that says what time it is (UTC seconds)."""

    def now(self) -> float: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """Current UTC time in seconds."""
        return time.time()


@dataclass
class FixedClock:
    """A clock that says whatever it was last set to (tests, one-shot commands)."""

    value: float = 0.0

    def now(self) -> float:
        """The set time."""
        return self.value


@dataclass
class VirtualClock:
    """Replay time: a position inside ``[start, end]`` that moves at ``speed`` while playing."""

    start: float
    end: float
    position: float = math.nan
    speed: float = 1.0
    playing: bool = False

    def __post_init__(self) -> None:
        if math.isnan(self.position):
            self.position = self.start

    def now(self) -> float:
        """The replay position."""
        return self.position

    def advance(self, real_seconds: float) -> float:
        """Move forward by ``real_seconds`` of wall time at the current speed; returns the position.

        At :data:`MAX_SPEED` the clock jumps to the end: the runner then applies events as fast
        as it can and pulls the clock along with them.
        """
        if self.playing:
            step = math.inf if self.speed == MAX_SPEED else real_seconds * self.speed
            self.position = min(self.end, self.position + step)
            if self.position >= self.end:
                self.playing = False
        return self.position

    def seek(self, ts: float) -> float:
        """Jump to ``ts`` (clamped to the window)."""
        self.position = min(self.end, max(self.start, ts))
        return self.position

    def faster(self) -> float:
        """Next speed up the ladder."""
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])
        return self.speed

    def slower(self) -> float:
        """Next speed down the ladder."""
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])
        return self.speed

    @property
    def progress(self) -> float:
        """Position as a share of the window (0..1)."""
        span = self.end - self.start
        return 1.0 if span <= 0 else (self.position - self.start) / span


def format_time(ts: float, *, precise: bool = False) -> str:
    """UTC seconds → ``"2015-10-23T02:01:30Z"`` (``precise`` keeps microseconds when there are any)."""
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    if not precise or moment.microsecond == 0:
        moment = moment.replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def format_duration(seconds: float) -> str:
    """``3h02m``, ``5m12s``, ``42s``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
