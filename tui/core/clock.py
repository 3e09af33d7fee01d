"""Clocks: the wall clock for live runs, a virtual clock for replay.

Nothing in the core reads the time by itself; it is handed a :class:`Clock`. The virtual clock
is driven by whoever owns real time (the replay runner) through :meth:`VirtualClock.advance`,
so the clock itself stays pure and a test can step it by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "Clock", "SystemClock", "VirtualClock", "FixedClock", "SPEEDS", "MAX_SPEED",
    "TimeFormatError", "TimeSpec", "format_duration", "format_time", "parse_time",
]

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


TimeSpec = Literal["date", "minutes", "seconds", "milliseconds", "auto"]
"""How much of a time :func:`format_time` writes (``auto``: microseconds when there are any)."""


def format_time(ts: float, *, precise: bool = False, timespec: TimeSpec = "seconds") -> str:
    """UTC seconds → ISO 8601 with a Z: the one way every view writes a time.

    ``"2015-10-23T02:01:30Z"`` by default; ``precise`` (the same as ``timespec="auto"``) keeps
    the microseconds when there are any; ``timespec`` also gives ``"2015-10-23T02:01Z"``
    (minutes), ``"2015-10-23T02:01:30.250Z"`` (milliseconds, always three digits) or the date
    alone, ``"2015-10-23"``. Digits beyond the precision are cut, never rounded up.
    """
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    if timespec == "date":
        return moment.date().isoformat()
    return moment.isoformat(timespec="auto" if precise else timespec).replace("+00:00", "Z")


def format_duration(seconds: float, *, short: bool = False) -> str:
    """A duration people read: ``3h02m``, ``5m12s``, ``42s`` (``2d05h`` from 48 hours on).

    ``short`` is the one-unit form for narrow columns (the console's ages at 80 columns): the
    largest whole unit, ``42s``, ``5m``, ``3h``, ``2d``.
    """
    seconds = max(0.0, seconds)
    if short:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds >= size:
                return f"{int(seconds // size)}{unit}"
        return f"{int(seconds)}s"
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


class TimeFormatError(ValueError):
    """A time given by the user is neither ISO 8601 nor unix seconds."""


def parse_time(text: str) -> float:
    """``"2015-10-23T02:01:30Z"``, ``"2015-10-23 02:01"``, ``"2015-10-23"`` or ``"1445565690"`` → UTC seconds.

    A time without a zone is UTC. Raises :class:`TimeFormatError`.
    """
    value = text.strip()
    if re.fullmatch(r"[+-]?\d+(\.\d*)?", value):
        return float(value)
    iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise TimeFormatError(
            f"not a time: {text!r}; use ISO 8601 (2015-10-23T02:01:30Z) or unix seconds (1445565690)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()
