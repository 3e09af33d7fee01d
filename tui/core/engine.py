"""The engine: one place where every feed's events are applied, live or in replay.

Feeds hand the engine batches (:meth:`Engine.ingest`). It applies them event by event to the
one route table (:class:`~tui.core.routes.RouteState`):

1. route events that concern no watch are dropped (the session still counts as heard from),
   unless the whole table is kept (a watch of ``0.0.0.0/0`` / ``::/0``, or ``keep_all_routes``):
   then they change the table silently, as :class:`~tui.core.events.BulkRoutes` always do;
2. before an event that concerns a watch (or a session, a feed, the full-feed set), every
   routing detector fires the timers due by then (:meth:`RouteDetector.before`); after it, each
   is told what changed (:class:`Change`: the event, the watches it concerns, the prefixes
   whose routes may have moved, and each route's old and new value) and reads the table
   through the engine (:class:`EngineView`). So findings never depend on how the events were
   cut into batches: a live run, a file read and a journal replay judge the same sequence;
3. the visibility of every watched prefix the batch touched is sampled into the timeline;
4. every detector then looks at the batch as a whole (DNS rounds, feed health) and at the time;
5. everything applied, and the findings, go to the recorder (the journal); the revision moves.

Detectors keep only their own memory (timers, baselines, open findings); the routes are the
engine's, stored once in each checkpoint. Views read the engine's state and redraw when the
revision moved; they never get called from here. Time comes from the events and from the
injected clock only.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from tui.core.aspath import format_origin, format_path
from tui.core.clock import Clock, format_duration
from tui.core.events import (
    BulkRoutes,
    DnsProbeResult,
    Event,
    FeedStatus,
    Finding,
    FullFeedPeers,
    PeerKey,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteSnapshot,
    RouteWithdrawn,
    Severity,
    WatchExpanded,
    event_from_dict,
    event_to_dict,
)
from tui.core.prefixes import Prefix
from tui.core.routes import RouteLike, RouteState, Visibility
from tui.core.timeline import Timeline
from tui.core.watchlist import Watchlist, WatchRelation

__all__ = [
    "ALL_PREFIXES",
    "Change",
    "Detector",
    "Engine",
    "EngineView",
    "FeedHealth",
    "LogEntry",
    "Recorder",
    "RouteChange",
    "RouteDetector",
    "describe",
]

ALL_PREFIXES: frozenset[Prefix] = frozenset()
"""The :attr:`Change.scope` of an event that may change every prefix (a session, a feed)."""


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


@dataclass(frozen=True, slots=True)
class RouteChange:
    """What one event did to one route: ``old`` / ``new`` are None where there was / is none."""

    prefix: Prefix
    peer: PeerKey
    old: RouteLike | None
    new: RouteLike | None


@dataclass(frozen=True, slots=True)
class Change:
    """One applied event, as the routing detectors are told of it.

    ``scope`` is the prefixes whose routes may have changed: one prefix, :data:`ALL_PREFIXES`
    (a session went up or down, a feed broke, the full-feed set changed), or None (nothing the
    detectors track moved: a re-withdrawal, a session heard from again).
    """

    event: Event
    relations: tuple[WatchRelation, ...]
    scope: frozenset[Prefix] | None
    routes: tuple[RouteChange, ...] = ()


class Detector(Protocol):
    """Turns events into findings. Must be deterministic: time only from events and ``now``."""

    name: str

    def observe(self, events: Sequence[Event], view: EngineView, now: float) -> Iterable[Finding]:
        """Look at one applied batch as a whole; return findings opened, updated or closed by it."""
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


@runtime_checkable
class RouteDetector(Detector, Protocol):
    """A detector that follows the route table event by event (see the module docstring)."""

    def before(self, event: Event, view: EngineView) -> Iterable[Finding]:
        """Before ``event`` is applied: fire what fell due by its time, note what it will change."""
        ...

    def after(self, change: Change, view: EngineView) -> Iterable[Finding]:
        """After the event: judge what it changed."""
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
        """Keep every route of both IP versions, as if the whole table were watched."""
        self.detectors = list(detectors)
        self.route_detectors = [d for d in self.detectors if isinstance(d, RouteDetector)]
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
        self._origin_kept: set[Prefix] = set()
        """Unwatched prefixes held only because a watched ASN announced them: every later route
        to them concerns the watches too (another origin there is what a hijack looks like)."""
        self._first_heard: PeerSeen | None = None
        """Set by _apply when it dropped a route from a session it had never heard of."""
        self._found: list[Finding] = []
        """Findings of the batch being applied, in the order the detectors raised them."""

    def whole_table(self, version: int) -> bool:
        """Whether every route of IP ``version`` is kept (not only the watched ones)."""
        return self.keep_all_routes or version in self.watchlist.whole_table

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(self, events: Sequence[Event]) -> list[Finding]:
        """Apply one batch; returns the findings the detectors produced for it."""
        applied: list[Event] = []
        touched: set[Prefix] = set()
        found = self._found = []
        bulk: dict[str, list[float]] = {}
        """Per source: bulk events applied and the latest of their times (accounted once a batch)."""
        apply_bulk = self.state.apply_bulk
        for event in self._expand_snapshots(events):
            if event.__class__ is BulkRoutes:
                # A whole table arrives as tens of thousands of these: straight into the table.
                apply_bulk(event)
                applied.append(event)
                seen = bulk.get(event.source)
                if seen is None:
                    bulk[event.source] = [1, event.ts]
                else:
                    seen[0] += 1
                    if event.ts > seen[1]:
                        seen[1] = event.ts
                continue
            if self._apply(event, touched):
                applied.append(event)
            elif self._first_heard is not None:
                # The route was dropped, but the session's existence must reach the journal, or
                # a replay of it would not count the session among the full-feed peers.
                applied.append(self._first_heard)
                self._first_heard = None
        if bulk:
            self._account_bulk(bulk)
        now = self.clock.now()
        self._sample(touched)
        for detector in self.detectors:
            found.extend(detector.observe(applied, self, now))
            found.extend(detector.tick(self, now))
        for finding in found:
            self._apply(finding, touched)
        if self.recorder is not None and (applied or found):
            self.recorder.append(applied + found)  # type: ignore[operator]
        if applied or found:
            self.revision += 1
        return found

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

    def _count(self, event: Event, kind: str) -> None:
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

    def _apply(self, event: Event, touched: set[Prefix]) -> bool:
        """Apply one event (telling the routing detectors); False when it was dropped."""
        if event.__class__ is BulkRoutes:
            self.state.apply_bulk(event)
            self._account_bulk({event.source: [1, event.ts]})
            return True
        kind = event.KIND
        self._count(event, kind)
        if isinstance(event, RouteAnnounced | RouteWithdrawn):
            return self._apply_route(event, touched)
        if isinstance(event, PeerStateChanged | PeerSeen | FullFeedPeers | FeedStatus):
            self._before(event)
            scope = self._apply_session(event, touched)
            self._after(Change(event, (), scope))
            return True
        if isinstance(event, RecordRejected):
            health = self.feeds.setdefault(event.feed, FeedHealth(event.feed))
            health.rejected += 1
            self._log(event)
            return True
        if isinstance(event, WatchExpanded):
            # The watchlist is the config plus these, in order: what a replay rebuilds.
            added = self.watchlist.expand(event.watch, event.prefixes, event.reason)
            touched.update(added)
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

    def _account_bulk(self, bulk: dict[str, list[float]]) -> None:
        """Count a batch's bulk events as :meth:`_count` counts one event, per source at once."""
        for source, (count, latest) in bulk.items():
            self.counters["bulk"] += int(count)
            if self.last_event_ts is None or latest > self.last_event_ts:
                self.last_event_ts = latest
            if source:
                health = self.feeds.get(source)
                if health is None:
                    health = self.feeds[source] = FeedHealth(source)
                health.messages += int(count)
                health.last_message = latest if health.last_message is None else max(health.last_message, latest)

    def _apply_route(self, event: RouteAnnounced | RouteWithdrawn, touched: set[Prefix]) -> bool:
        prefix = event.prefix
        relations = self.watchlist.relations(prefix)
        announce = isinstance(event, RouteAnnounced)
        concerns = self.watchlist.concerns(prefix, event.origin if announce else None, relations)  # type: ignore[union-attr]
        if concerns and not relations:
            self._origin_kept.add(prefix)
        relevant = bool(relations) or bool(concerns) or prefix in self._origin_kept
        if not relevant:
            if self.whole_table(prefix.version):
                self.state.apply(event)  # a change to the table that no specific watch names
                return True
            # Still proves the session is alive: it must count among the full-feed peers.
            seen = PeerSeen(event.ts, event.collector, event.peer_ip, event.peer_asn, event.source)
            self.counters["dropped_unwatched"] += 1
            if self.state.has_peer(seen.peer):
                self.state.apply(seen)
                return False
            # A new session changes every denominator: the detectors hear of it as of a PeerSeen.
            self._first_heard = seen
            self._before(seen)
            self.state.apply(seen)
            self._after(Change(seen, (), ALL_PREFIXES))
            return False
        self._before(event)
        old = self.state.route(event.peer, prefix)
        self.state.apply(event)
        new = self.state.route(event.peer, prefix) if announce else None
        if not announce and prefix in self._origin_kept and not relations and not self.state.holders(prefix):
            self._origin_kept.discard(prefix)
        touched.add(prefix)
        touched.update(r.watched for r in relations)
        self.timeline.count_update(str(prefix), event.ts, withdrawal=not announce)
        self._log(event, relations)
        scope = frozenset((prefix,)) if announce or old is not None else None
        routes = (RouteChange(prefix, event.peer, old, new),) if (old is not None or new is not None) else ()
        self._after(Change(event, tuple(concerns), scope, routes))
        return True

    def _apply_session(
        self, event: PeerStateChanged | PeerSeen | FullFeedPeers | FeedStatus, touched: set[Prefix]
    ) -> frozenset[Prefix] | None:
        """Apply a session, full-feed or feed event; the scope of what it changed."""
        if isinstance(event, PeerStateChanged):
            changed = self.state.apply(event)
            if changed:
                touched.update(self.watchlist.prefixes())
                self._log(event)
            return ALL_PREFIXES
        if isinstance(event, PeerSeen):
            known = self.state.has_peer(event.peer)
            self.state.apply(event)
            return None if known else ALL_PREFIXES
        if isinstance(event, FullFeedPeers):
            self.state.apply(event)
            touched.update(self.watchlist.prefixes())
            return ALL_PREFIXES
        health = self.feeds.setdefault(event.feed, FeedHealth(event.feed))
        health.state = event.state
        health.detail = event.detail
        if event.gap_start is not None:
            health.gaps += 1
        changed = self.state.apply(event)
        if changed:
            touched.update(self.watchlist.prefixes())
        self._log(event)
        return ALL_PREFIXES if changed else None

    def _before(self, event: Event) -> None:
        for detector in self.route_detectors:
            self._found.extend(detector.before(event, self))

    def _after(self, change: Change) -> None:
        for detector in self.route_detectors:
            self._found.extend(detector.after(change, self))

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

    def ending(self, now: float, what: str = "data") -> list[Finding]:
        """What is under way when the data (or a replay window: ``what="window"``) ends at ``now``.

        Open findings come out as ``ongoing`` and conditions not yet long enough to be findings
        (a drop or an outage shorter than ``min_duration``) as ``pending``, each summary saying
        ``ongoing at end of data (for 12s)``. They go to the event log and are returned; they
        are not findings the engine keeps, nor recorded: a replay reaching the same end says the
        same again. A reviewer sees what the window stops in the middle of.
        """
        found: list[Finding] = []
        for detector in self.detectors:
            pending = getattr(detector, "pending", None)
            if pending is not None:
                found.extend(pending(self, now))
        found += [replace(f, ts=now, state="ongoing") for f in self.open_findings()]
        out = [
            replace(f, summary=f"{f.summary}; ongoing at end of {what} (for {format_duration(now - f.started)})")
            for f in sorted(found, key=lambda f: (-Severity.RANK.get(f.severity, 0), f.started, f.finding_id))
        ]
        for finding in out:
            self._log(finding)
        if out:
            self.revision += 1
        return out

    # -- reading --------------------------------------------------------------------------------

    def visibility(self, prefix: Prefix) -> Visibility:
        """Current visibility of ``prefix``."""
        return self.state.visibility(prefix)

    def open_findings(self) -> list[Finding]:
        """Findings not yet closed, most severe first."""
        open_ = [f for f in self.findings.values() if f.state != "close"]
        return sorted(open_, key=lambda f: (-Severity.RANK.get(f.severity, 0), f.started))

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self, *, with_table: bool = True, table_delta: bool = False) -> dict[str, Any]:
        """Everything needed to resume at this point (route table, detectors, findings).

        ``with_table=False`` leaves the route table out (``"state"``): for a caller that keeps
        a copy of the table itself (:meth:`restore` then takes it as ``state``).
        ``table_delta`` stores the table as its changes since tracking started, where tracked
        (:meth:`RouteState.to_snapshot`).
        """
        return {
            **({"state": self.state.to_snapshot(delta=table_delta)} if with_table else {}),
            "origin_kept": sorted(str(p) for p in self._origin_kept),
            "expansions": [[w, reason, [str(p) for p in prefixes]] for w, reason, prefixes in self.watchlist.expansions()],
            "detectors": {d.name: d.snapshot() for d in self.detectors},
            "findings": [event_to_dict(f) for f in self.findings.values()],
            "dns": [event_to_dict(r) for r in self.dns.values()],
            "last_event_ts": self.last_event_ts,
        }

    def restore(self, data: dict[str, Any], state: RouteState | None = None) -> None:
        """Resume from a :meth:`checkpoint`; the timeline and log are the caller's to refill.

        ``state``, when given, is the route table of that checkpoint already rebuilt (a replay
        keeps the last few it restored): ``data["state"]`` is then not read.
        """
        self.state = state if state is not None else RouteState.from_snapshot(data["state"])
        self._origin_kept = {Prefix.parse(p) for p in data.get("origin_kept", ())}
        self.watchlist.clear_expansions()
        for watch, reason, prefixes in data.get("expansions", ()):
            self.watchlist.expand(watch, [Prefix.parse(p) for p in prefixes], reason)
        for detector in self.detectors:
            detector.restore(data.get("detectors", {}).get(detector.name, {}))
        self.findings = {}
        for item in data.get("findings", ()):
            finding = event_from_dict(item)
            if isinstance(finding, Finding):
                self.findings[finding.finding_id] = finding
        self.dns = {}
        for item in data.get("dns", ()):
            result = event_from_dict(item)
            if isinstance(result, DnsProbeResult):
                self.dns[(result.zone, result.address, result.port, result.transport, result.role)] = result
        self.last_event_ts = data.get("last_event_ts")
        self.revision += 1

    def reset(self) -> None:
        """Forget all state (before replaying from the start)."""
        self.state = RouteState()
        self._origin_kept = set()
        self.watchlist.clear_expansions()
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
    if isinstance(event, WatchExpanded):
        shown = ", ".join(str(p) for p in event.prefixes[:3]) + (", ..." if len(event.prefixes) > 3 else "")
        text = f"watch {event.watch}: {len(event.prefixes)} prefixes of {event.reason} ({shown})"
        return Severity.INFO, "watch", event.watch, event.reason, text
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
