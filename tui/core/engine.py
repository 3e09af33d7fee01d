"""The engine: one place where every feed's events are applied, live or in replay.

Feeds hand the engine batches (:meth:`Engine.ingest`). For each batch it

1. drops route events that concern no watch (unless it keeps the full table),
2. applies the rest to :class:`~tui.core.routes.RouteState`,
3. samples the visibility of every watched prefix the batch touched into the timeline,
4. runs the detectors, whose findings are ingested in the same batch,
5. hands everything to the recorder (the journal) and bumps :attr:`Engine.revision`.

Views read the engine's state and redraw when the revision moved; they never get called from
here. Time comes from the events and from the injected clock only.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tui.core.aspath import format_origin, format_path
from tui.core.clock import Clock
from tui.core.events import (
    DnsProbeResult,
    Event,
    FeedStatus,
    Finding,
    FullFeedPeers,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteSnapshot,
    RouteWithdrawn,
    Severity,
)
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState, Visibility
from tui.core.timeline import Timeline
from tui.core.watchlist import Watchlist

__all__ = ["Detector", "Recorder", "Engine", "EngineView", "FeedHealth", "LogEntry", "describe"]


class EngineView(Protocol):
    """What detectors and views may read."""

    @property
    def state(self) -> RouteState: ...

    @property
    def watchlist(self) -> Watchlist: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def feeds(self) -> dict[str, FeedHealth]: ...


class Detector(Protocol):
    """Turns events into findings. Must be deterministic: time only from events and ``now``."""

    name: str

    def observe(self, events: Sequence[Event], view: EngineView, now: float) -> Iterable[Finding]:
        """Look at one applied batch; return findings opened, updated or closed by it."""
        ...

    def tick(self, view: EngineView, now: float) -> Iterable[Finding]:
        """Called with the clock's time after each batch (and on idle ticks): time-based findings."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Internal state as JSON-compatible data (stored in journal checkpoints)."""
        ...

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot`."""
        ...


class Recorder(Protocol):
    """Where applied events go (the journal)."""

    def append(self, events: Sequence[Event]) -> None: ...


@dataclass(slots=True)
class FeedHealth:
    """What the engine knows about one feed."""

    name: str
    state: str = "unknown"
    detail: str = ""
    last_message: float | None = None
    messages: int = 0
    rejected: int = 0
    gaps: int = 0


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the event log: an event worth showing, in plain (untrusted-safe) text."""

    ts: float
    severity: str
    kind: str
    watch: str
    subject: str
    text: str
    prefix: Prefix | None = None
    event: Any = field(default=None, compare=False)


class Engine:
    """Applies events to route state, runs detectors, records, and counts revisions."""

    def __init__(
        self,
        watchlist: Watchlist,
        clock: Clock,
        *,
        keep_all_routes: bool = False,
        detectors: Sequence[Detector] = (),
        recorder: Recorder | None = None,
        timeline: Timeline | None = None,
        log_size: int = 5000,
    ) -> None:
        self.watchlist = watchlist
        self.clock = clock
        self.keep_all_routes = keep_all_routes
        self.detectors = list(detectors)
        self.recorder = recorder
        self.state = RouteState()
        self.timeline = timeline or Timeline()
        self.log: deque[LogEntry] = deque(maxlen=log_size)
        self.feeds: dict[str, FeedHealth] = {}
        self.counters: Counter[str] = Counter()
        self.findings: dict[str, Finding] = {}
        """Latest state of every finding, open or closed, by id."""
        self.dns: dict[tuple[str, str, int, str, str], DnsProbeResult] = {}
        """Latest DNS result per (zone, address, port, transport, role)."""
        self.revision = 0
        self.last_event_ts: float | None = None
        self._first_heard: PeerSeen | None = None
        """Set by _apply when it dropped a route from a session it had never heard of."""

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(self, events: Sequence[Event]) -> list[Finding]:
        """Apply one batch; returns the findings the detectors produced for it."""
        applied: list[Event] = []
        touched: set[Prefix] = set()
        for event in self._expand_snapshots(events):
            if self._apply(event, touched):
                applied.append(event)
            elif self._first_heard is not None:
                # The route was dropped, but the session's existence must reach the journal, or
                # a replay of it would not count the session among the full-feed peers.
                applied.append(self._first_heard)
                self._first_heard = None
        now = self.clock.now()
        self._sample(touched)
        findings: list[Finding] = []
        for detector in self.detectors:
            findings.extend(detector.observe(applied, self, now))
            findings.extend(detector.tick(self, now))
        for finding in findings:
            self._apply(finding, touched)
        if self.recorder is not None and (applied or findings):
            self.recorder.append(applied + findings)  # type: ignore[operator]
        if applied or findings:
            self.revision += 1
        return findings

    def _expand_snapshots(self, events: Sequence[Event]) -> Iterable[Event]:
        """Each :class:`RouteSnapshot` becomes the route events it implies, in its place in the batch."""
        for event in events:
            if not isinstance(event, RouteSnapshot):
                yield event
                continue
            # Worked out when reached, not up front: earlier events of the batch are applied by then.
            derived = self.state.reconcile(event)
            yield from derived
            withdrawn = sum(isinstance(e, RouteWithdrawn) for e in derived)
            note = (f"{len(event.scope)} prefixes re-read from {event.basis or 'a snapshot'}: "
                    f"{withdrawn} routes withdrawn while unheard, {len(derived) - withdrawn} new or changed")
            # A feed event that records the refresh itself, so a replay's log says it too.
            yield FeedStatus(event.ts, event.source, "refreshed", note)

    def tick(self) -> list[Finding]:
        """Run time-based detector checks with no new events (live idle, replay clock moves)."""
        now = self.clock.now()
        findings: list[Finding] = []
        for detector in self.detectors:
            findings.extend(detector.tick(self, now))
        touched: set[Prefix] = set()
        for finding in findings:
            self._apply(finding, touched)
        if findings:
            if self.recorder is not None:
                self.recorder.append(findings)
            self.revision += 1
        return findings

    def _apply(self, event: Event, touched: set[Prefix]) -> bool:
        kind = event.KIND
        self.counters[kind] += 1
        self.last_event_ts = event.ts if self.last_event_ts is None else max(self.last_event_ts, event.ts)
        feed_name = getattr(event, "source", "") or getattr(event, "feed", "")
        if kind == "dns":
            feed_name = "dns"  # the DNS checks are a feed too: the status line shows their age
        if feed_name and kind != "finding":
            health = self.feeds.get(feed_name)
            if health is None:
                health = self.feeds[feed_name] = FeedHealth(feed_name)
            health.messages += 1
            health.last_message = event.ts
        if isinstance(event, RouteAnnounced | RouteWithdrawn):
            relations = self.watchlist.relations(event.prefix)
            as_path = event.as_path if isinstance(event, RouteAnnounced) else None
            relevant = bool(relations) or self.watchlist.is_relevant(event.prefix, as_path)
            # A route kept only for its watched origin must still be withdrawn (or replaced by
            # a path with another origin), though the prefix itself is not watched.
            relevant = relevant or self.state.holds(event.peer, event.prefix)
            if not relevant and not self.keep_all_routes:
                # Still proves the session is alive: it must count among the full-feed peers.
                seen = PeerSeen(event.ts, event.collector, event.peer_ip, event.peer_asn, event.source)
                if not self.state.has_peer(seen.peer):
                    self._first_heard = seen
                self.state.apply(seen)
                self.counters["dropped_unwatched"] += 1
                return False
            self.state.apply(event)
            if relevant:
                touched.add(event.prefix)
                touched.update(r.watched for r in relations)
                self.timeline.count_update(str(event.prefix), event.ts, withdrawal=isinstance(event, RouteWithdrawn))
                self._log(event, relations)
            return True
        if isinstance(event, PeerStateChanged):
            changed = self.state.apply(event)
            if changed:
                touched.update(self.watchlist.prefixes())
                self._log(event)
            return True
        if isinstance(event, PeerSeen | FullFeedPeers):
            self.state.apply(event)
            if isinstance(event, FullFeedPeers):
                touched.update(self.watchlist.prefixes())
            return True
        if isinstance(event, FeedStatus):
            health = self.feeds.setdefault(event.feed, FeedHealth(event.feed))
            health.state = event.state
            health.detail = event.detail
            if event.gap_start is not None:
                health.gaps += 1
            if self.state.apply(event):
                touched.update(self.watchlist.prefixes())
            self._log(event)
            return True
        if isinstance(event, RecordRejected):
            health = self.feeds.setdefault(event.feed, FeedHealth(event.feed))
            health.rejected += 1
            self._log(event)
            return True
        if isinstance(event, DnsProbeResult):
            # The checks ran (whatever they found): failures of servers are findings, not feed trouble.
            self.feeds["dns"].state = "up"
            self.dns[(event.zone, event.address, event.port, event.transport, event.role)] = event
            if event.outcome != "ok":
                self._log(event)
            return True
        if isinstance(event, Finding):
            self.findings[event.finding_id] = event
            self._log(event)
            return True
        return False

    def _sample(self, touched: set[Prefix]) -> None:
        watched = set(self.watchlist.prefixes())
        ts = self.last_event_ts if self.last_event_ts is not None else self.clock.now()
        for prefix in touched & watched:
            vis = self.state.visibility(prefix)
            self.timeline.sample(str(prefix), ts, vis.visible, vis.full_feed)

    def _log(self, event: Event, relations: Sequence[Any] = ()) -> None:
        severity, kind, watch, subject, text = describe(event, self.watchlist, relations)
        prefix = getattr(event, "prefix", None)
        self.log.append(LogEntry(event.ts, severity, kind, watch, subject, text, prefix, event))

    # -- reading --------------------------------------------------------------------------------

    def visibility(self, prefix: Prefix) -> Visibility:
        """Current visibility of ``prefix``."""
        return self.state.visibility(prefix)

    def open_findings(self) -> list[Finding]:
        """Findings not yet closed, most severe first."""
        open_ = [f for f in self.findings.values() if f.state != "close"]
        return sorted(open_, key=lambda f: (-Severity.RANK.get(f.severity, 0), f.started))

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to resume at this point (route state, detectors, findings)."""
        from tui.core.events import event_to_dict

        return {
            "state": self.state.to_snapshot(),
            "detectors": {d.name: d.snapshot() for d in self.detectors},
            "findings": [event_to_dict(f) for f in self.findings.values()],
            "dns": [event_to_dict(r) for r in self.dns.values()],
            "last_event_ts": self.last_event_ts,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Resume from a :meth:`checkpoint`; the timeline and log are the caller's to refill."""
        from tui.core.events import event_from_dict

        self.state = RouteState.from_snapshot(data["state"])
        for detector in self.detectors:
            detector.restore(data.get("detectors", {}).get(detector.name, {}))
        self.findings = {}
        for item in data.get("findings", ()):
            finding = event_from_dict(item)
            self.findings[finding.finding_id] = finding  # type: ignore[union-attr]
        self.dns = {}
        for item in data.get("dns", ()):
            result = event_from_dict(item)
            self.dns[(result.zone, result.address, result.port, result.transport, result.role)] = result  # type: ignore[union-attr]
        self.last_event_ts = data.get("last_event_ts")
        self.revision += 1

    def reset(self) -> None:
        """Forget all state (before replaying from the start)."""
        self.state = RouteState()
        self.timeline.clear()
        self.log.clear()
        self.findings.clear()
        self.dns.clear()
        self.feeds.clear()
        self.counters.clear()
        for detector in self.detectors:
            detector.restore({})
        self.last_event_ts = None
        self.revision += 1


def describe(event: Event, watchlist: Watchlist, relations: Sequence[Any] = ()) -> tuple[str, str, str, str, str]:
    """(severity, kind, watch, subject, text) for the event log; all plain text."""
    if isinstance(event, RouteAnnounced | RouteWithdrawn):
        watches = sorted({w for r in relations for w in watchlist.watches_of(r.watched)})
        if isinstance(event, RouteAnnounced):
            watches = watches or watchlist.watches_for_origin(event.origin)
        watch = ", ".join(watches)
        how = ""
        for rel in relations:
            if rel.kind == "more_specific":
                how = f" (inside {rel.watched})"
            elif rel.kind == "less_specific" and not how:
                how = f" (covers {rel.watched})"
        if isinstance(event, RouteAnnounced):
            text = (
                f"announce {event.prefix}{how} via {event.peer} path {format_path(event.as_path)} "
                f"origin {format_origin(event.origin)}"
            )
            return Severity.INFO, "announce", watch, str(event.prefix), text
        return Severity.INFO, "withdraw", watch, str(event.prefix), f"withdraw {event.prefix}{how} via {event.peer}"
    if isinstance(event, PeerStateChanged):
        severity = Severity.INFO if event.is_up else Severity.WARNING
        return severity, "peer", "", str(event.peer), f"session {event.peer} {event.old_state} -> {event.new_state}"
    if isinstance(event, FeedStatus):
        severity = Severity.INFO if event.state in ("up", "connecting", "ended", "refreshed") else Severity.WARNING
        text = f"feed {event.feed} {event.state}"
        if event.gap_seconds is not None:
            text += f" (gap of {event.gap_seconds:.1f}s)"
        if event.detail:
            text += f": {event.detail}"
        return severity, "feed", "", event.feed, text
    if isinstance(event, RecordRejected):
        return Severity.WARNING, "rejected", "", event.feed, f"{event.feed}: bad record at {event.location}: {event.reason}"
    if isinstance(event, DnsProbeResult):
        watch = ", ".join(watchlist.zones().get(event.zone, []))
        rtt = f" {event.latency * 1000:.0f} ms" if event.latency is not None else ""
        text = f"dns {event.zone} {event.server} {event.address}:{event.port}/{event.transport} {event.outcome}{rtt}"
        if event.detail:
            text += f": {event.detail}"
        return Severity.WARNING, "dns", watch, event.zone, text
    if isinstance(event, Finding):
        return event.severity, event.kind, event.watch, event.subject, f"[{event.state}] {event.summary}"
    return Severity.INFO, event.KIND, "", "", event.KIND
