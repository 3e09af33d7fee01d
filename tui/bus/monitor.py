"""Telling a dead collector from a quiet one: heartbeats in, FeedStatus events out (pure).

A collector on the bus sends a :class:`~tui.bus.protocol.Heartbeat` every few seconds whether or
not anything happens. A console runs a :class:`HeartbeatMonitor` over the heartbeats it
receives and turns silence into ordinary :class:`~tui.core.events.FeedStatus` events for a feed
named ``bus/<instance>``:

- ``up`` when an instance is first heard (or comes back after a clean stop),
- ``gap`` once no heartbeat came for ``misses`` intervals (live: :meth:`HeartbeatMonitor.check`),
- ``up`` with ``gap_start``/``gap_end`` when it is heard again, so the engine counts the gap,
- ``ended`` when the instance said it stopped cleanly (no gap is reported after that).

The same heartbeats replayed from the stream give the same gaps, found from the spacing of the
heartbeats themselves, so a console that joins late still sees that a collector was missing.
Time is the bus's (when the server stored each heartbeat), so collectors' clocks do not matter;
the consumer's clock only decides *when* a live gap is declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.bus.protocol import Heartbeat, subject_token
from tui.core.events import FeedStatus

__all__ = ["HeartbeatMonitor", "InstanceStatus", "BUS_FEED_PREFIX", "bus_feed_name"]

BUS_FEED_PREFIX = "bus/"


def bus_feed_name(instance: str) -> str:
    """The feed name under which a collector instance's health is shown."""
    return f"{BUS_FEED_PREFIX}{subject_token(instance)}"


@dataclass(slots=True)
class InstanceStatus:
    """What a console knows about one collector instance."""

    instance: str
    shard: str
    interval: float
    last_ts: float
    state: str
    """``up``, ``gap`` or ``ended``."""
    gaps: int = 0
    published: int = 0
    dropped: int = 0


class HeartbeatMonitor:
    """Follows every instance's heartbeats; declares gaps after ``misses`` silent intervals."""

    def __init__(self, misses: float = 3.0) -> None:
        if misses <= 1:
            raise ValueError("misses must be more than 1 interval, or every jitter is a gap")
        self.misses = misses
        self.instances: dict[str, InstanceStatus] = {}

    def grace(self, interval: float) -> float:
        """Seconds of silence after which an instance with ``interval`` is missing."""
        return self.misses * interval

    def observe(self, beat: Heartbeat, ts: float | None = None) -> list[FeedStatus]:
        """Take one heartbeat stored by the bus at ``ts`` (default: the sender's time)."""
        at = beat.ts if ts is None else ts
        name = subject_token(beat.instance)
        feed = bus_feed_name(name)
        known = self.instances.get(name)
        out: list[FeedStatus] = []
        if known is None:
            known = self.instances[name] = InstanceStatus(name, beat.shard, beat.interval, at, "up")
            shard = f" (shard {beat.shard})" if beat.shard else ""
            out.append(FeedStatus(at, feed, "up", f"collector {name}{shard} heard on the bus"))
        elif at < known.last_ts:
            # A straggler delivered out of order says nothing new about liveness.
            return out
        else:
            silence = at - known.last_ts
            if known.state == "up" and silence > self.grace(known.interval):
                # Seen in the record rather than live (replay, or the console was busy).
                out.append(
                    FeedStatus(
                        known.last_ts + self.grace(known.interval),
                        feed,
                        "gap",
                        f"no heartbeat from collector {name} for more than {self.grace(known.interval):g}s",
                    )
                )
                known.state = "gap"
            if known.state == "gap":
                known.gaps += 1
                out.append(
                    FeedStatus(
                        at,
                        feed,
                        "up",
                        f"collector {name} back after {silence:.1f}s of silence",
                        gap_start=known.last_ts,
                        gap_end=at,
                    )
                )
            elif known.state == "ended":
                out.append(FeedStatus(at, feed, "up", f"collector {name} restarted after {silence:.1f}s"))
            known.state = "up"
            known.last_ts = at
        known.interval = beat.interval
        known.shard = beat.shard
        known.published = beat.published
        known.dropped = beat.dropped
        if beat.state == "stopped":
            known.state = "ended"
            out.append(FeedStatus(at, feed, "ended", f"collector {name} stopped cleanly"))
        return out

    def check(self, now: float) -> list[FeedStatus]:
        """Declare a gap for every instance silent for longer than its grace at time ``now``."""
        out = []
        for status in self.instances.values():
            silence = now - status.last_ts
            if status.state == "up" and silence > self.grace(status.interval):
                status.state = "gap"
                out.append(
                    FeedStatus(
                        now,
                        bus_feed_name(status.instance),
                        "gap",
                        f"no heartbeat from collector {status.instance} for {silence:.1f}s "
                        f"(expected every {status.interval:g}s)",
                    )
                )
        return out
