"""What the routing detectors share: settings, finding bookkeeping, a view of the route table.

The routes are the engine's (one :class:`~tui.core.routes.RouteState`); a detector keeps only
its own memory (subjects, timers, baselines, open findings). The engine tells a routing
detector about every event that concerns a watch, a session or a feed, one at a time:
:meth:`RoutingDetector.before` first (timers due by the event's time fire, and the detector may
note what the event will take away), then :meth:`RoutingDetector.after` with the
:class:`~tui.core.engine.Change`. Judging event by event is what makes findings independent of
batching: a live run (100 ms of websocket messages), a file read (N MRT records) and a journal
replay (chunks by clock position) cut the same events differently, and a withdrawal and its
re-announcement in one batch must read as the flap they are. Finding times are the due times of
the timers, not the moment a tick noticed them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tui.core.aspath import format_path, origin_of
from tui.core.clock import format_duration
from tui.core.engine import ALL_PREFIXES, Change, EngineView
from tui.core.events import (
    Event,
    FeedStatus,
    Finding,
    PeerKey,
    PeerStateChanged,
    RouteAnnounced,
    RouteWithdrawn,
    event_from_dict,
    event_to_dict,
)
from tui.core.prefixes import Prefix
from tui.core.routes import RouteLike, RouteState
from tui.core.watchlist import Watchlist, WatchRelation

__all__ = [
    "DetectorSettings",
    "FindingBook",
    "TableView",
    "ALL_PREFIXES",
    "keys_touched",
    "Origin",
    "origin_key",
    "origin_from_key",
    "sessions_per_collector",
    "origin_text",
    "format_duration",
    "peer_text",
    "summarise_update",
    "legit_origin",
    "OriginMemory",
    "RoutingDetector",
]

Origin = int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Knobs that are not per watch (per-watch limits live in :class:`~tui.core.watchlist.Thresholds`)."""

    feed_silence: float = 600.0
    """Seconds without any message from a feed that is ``up`` before it is reported silent."""
    upstream_learning: float = 300.0
    """Seconds after a prefix is first seen during which its upstreams are learned, not flagged."""
    dns_latency_factor: float = 3.0
    """A DNS answer this many times slower than the server's own p95 is a spike..."""
    dns_latency_floor: float = 0.05
    """...provided it is also slower than this many seconds (sub-50 ms jitter is noise)."""
    dns_latency_samples: int = 10
    """Answers needed before a server's own p95 is trusted."""
    dns_slow_results: int = 2
    """Consecutive slow answers before a latency finding opens."""
    evidence_updates: int = 5
    """How many triggering updates a finding quotes."""


# -- small helpers --------------------------------------------------------------------------------


def origin_key(origin: Origin | None) -> str:
    """A JSON-safe key for an origin: ``"131279"`` or ``"{1,2}"`` for an AS_SET."""
    if origin is None:
        return "-"
    if isinstance(origin, tuple):
        return "{" + ",".join(map(str, origin)) + "}"
    return str(origin)


def origin_from_key(key: str) -> Origin | None:
    """Inverse of :func:`origin_key`."""
    if key == "-":
        return None
    if key.startswith("{"):
        return tuple(int(x) for x in key.strip("{}").split(",") if x)
    return int(key)


def sessions_per_collector(peers: Iterable[PeerKey]) -> dict[str, int]:
    """How many of ``peers`` each collector has, by collector name (evidence)."""
    out: dict[str, int] = {}
    for peer in peers:
        out[peer.collector] = out.get(peer.collector, 0) + 1
    return dict(sorted(out.items()))


def origin_text(origin: Origin | None) -> str:
    """``AS131279`` or ``AS{1,2}``."""
    return "AS" + origin_key(origin)


def peer_text(peer: PeerKey) -> str:
    """``rrc00 192.0.2.1 AS64500`` (the form evidence lists use)."""
    return f"{peer.collector} {peer.peer_ip} AS{peer.peer_asn}"


def summarise_update(event: Event) -> str:
    """One line quoting a triggering update (plain text, safe to show)."""
    if isinstance(event, RouteAnnounced):
        return (
            f"{event.ts:.3f} A {event.prefix} via {peer_text(event.peer)} path {format_path(event.as_path)}"
        )
    if isinstance(event, RouteWithdrawn):
        return f"{event.ts:.3f} W {event.prefix} via {peer_text(event.peer)}"
    if isinstance(event, PeerStateChanged):
        return f"{event.ts:.3f} STATE {peer_text(event.peer)} {event.old_state} -> {event.new_state}"
    if isinstance(event, FeedStatus):
        return f"{event.ts:.3f} FEED {event.feed} {event.state}"
    return f"{event.ts:.3f} {event.KIND}"


# -- findings -------------------------------------------------------------------------------------


class FindingBook:
    """Open findings by key, turned into :class:`Finding` events as they open, change and close.

    The finding id is ``kind:watch:subject:started`` — stable across updates, distinct for the
    next occurrence, and the same in a replay because ``started`` comes from event time.
    """

    def __init__(self) -> None:
        self.open: dict[str, Finding] = {}

    @staticmethod
    def key(kind: str, watch: str, subject: str) -> str:
        """The bookkeeping key of one (kind, watch, subject)."""
        return f"{kind}|{watch}|{subject}"

    def get(self, kind: str, watch: str, subject: str) -> Finding | None:
        """The open finding for (kind, watch, subject), if any."""
        return self.open.get(self.key(kind, watch, subject))

    def raise_(
        self,
        ts: float,
        *,
        kind: str,
        watch: str,
        subject: str,
        severity: str,
        summary: str,
        evidence: dict[str, Any],
        started: float | None = None,
    ) -> Finding | None:
        """Open the finding, or update it when its severity or summary changed; else None."""
        key = self.key(kind, watch, subject)
        current = self.open.get(key)
        if current is None:
            begun = ts if started is None else started
            finding = Finding(
                ts, f"{kind}:{watch}:{subject}:{begun:.3f}", watch, kind, severity, "open", subject, summary,
                begun, tuple(evidence.items()),
            )
        elif (current.severity, current.summary) != (severity, summary):
            finding = Finding(
                ts, current.finding_id, watch, kind, severity, "update", subject, summary, current.started,
                tuple(evidence.items()),
            )
        else:
            return None
        self.open[key] = finding
        return finding

    def close(
        self, ts: float, *, kind: str, watch: str, subject: str, summary: str, evidence: dict[str, Any] | None = None
    ) -> Finding | None:
        """Close the open finding (with its duration in the evidence); None when none is open."""
        key = self.key(kind, watch, subject)
        current = self.open.pop(key, None)
        if current is None:
            return None
        merged = dict(current.evidence)
        if evidence:
            merged.update(evidence)
        merged["duration"] = round(ts - current.started, 3)
        return Finding(
            ts, current.finding_id, watch, kind, current.severity, "close", subject, summary, current.started,
            tuple(merged.items()),
        )

    def close_gone_origins(
        self, ts: float, *, kind: str, watch: str, prefix: Prefix, present: Iterable[str], summary: Callable[[str], str]
    ) -> list[Finding]:
        """Close the open ``kind`` findings of ``watch`` about ``prefix`` whose origin is not ``present``.

        For findings whose subject is ``"<prefix> AS<origin>"``; ``summary(origin)`` says why.
        """
        still = set(present)
        closed = []
        for finding in list(self.open.values()):
            if finding.kind != kind or finding.watch != watch:
                continue
            subject_prefix, _, origin = finding.subject.partition(" AS")
            if subject_prefix == str(prefix) and origin not in still:
                done = self.close(ts, kind=kind, watch=watch, subject=finding.subject, summary=summary(origin))
                if done is not None:
                    closed.append(done)
        return closed

    @staticmethod
    def pending(
        ts: float, *, kind: str, watch: str, subject: str, severity: str, summary: str, evidence: dict[str, Any],
        started: float,
    ) -> Finding:
        """A finding that would open if its condition lasted (state ``pending``), as of ``ts``.

        Not kept: what the end of the data shows of a condition it cut short (see
        :meth:`tui.core.engine.Engine.ending`). Its id is the one the finding would have had.
        """
        return Finding(
            ts, f"{kind}:{watch}:{subject}:{started:.3f}", watch, kind, severity, "pending", subject, summary,
            started, tuple(evidence.items()),
        )

    def snapshot(self) -> list[dict[str, Any]]:
        """Open findings as JSON-compatible data."""
        return [event_to_dict(f) for f in self.open.values()]

    def restore(self, items: Iterable[dict[str, Any]]) -> None:
        """Inverse of :meth:`snapshot`."""
        self.open = {}
        for item in items:
            finding = event_from_dict(item)
            if isinstance(finding, Finding):
                self.open[self.key(finding.kind, finding.watch, finding.subject)] = finding


# -- the route table, as detectors read it --------------------------------------------------------


def keys_touched(keys: Iterable[tuple[str, Prefix]], changed: frozenset[Prefix] | set[Prefix] | None) -> list[tuple[str, Prefix]]:
    """The (watch, prefix) keys whose prefix is in ``changed``: all for ALL_PREFIXES, none for None."""
    if changed is None:
        return []
    if changed is ALL_PREFIXES:
        return list(keys)
    return [k for k in keys if k[1] in changed]


class TableView:
    """The read-only questions routing detectors ask of the engine's route table.

    Meanings are :class:`~tui.core.routes.RouteState`'s (DESIGN.md): a session leaving
    ESTABLISHED holds no routes; a broken feed makes its sessions unknown, not down, and their
    routes stay (a finding about them must not close, or reopen, because a websocket dropped).
    """

    __slots__ = ("state",)

    def __init__(self, state: RouteState) -> None:
        self.state = state

    def visibility(self, prefix: Prefix) -> tuple[int, int]:
        """(full-feed sessions holding ``prefix``, full-feed sessions up)."""
        vis = self.state.visibility(prefix)
        return vis.visible, vis.full_feed

    def holders(self, prefix: Prefix) -> dict[PeerKey, RouteLike]:
        """Sessions holding a route to exactly ``prefix``, with the route."""
        return self.state.holders(prefix)

    def holds(self, peer: PeerKey, prefix: Prefix) -> bool:
        """Whether ``peer`` holds a route to exactly ``prefix``."""
        return self.state.holds(peer, prefix)

    def full_feed(self, version: int) -> frozenset[PeerKey]:
        """Up sessions that count as full-feed for IP ``version``."""
        return self.state.full_feed_set(version)

    def basis_of(self, version: int) -> str:
        """Where the full-feed set of ``version`` comes from."""
        return self.state.full_feed_peers(version)[1]

    def unknown_count(self) -> int:
        """Sessions whose data is unknown (their feed is broken)."""
        return self.state.unknown_count()

    def per_collector(self, prefix: Prefix) -> dict[str, dict[str, int]]:
        """``{collector: {"visible": n, "full_feed": m}}`` for evidence."""
        return self.state.per_collector(prefix)

    def covering(self, prefix: Prefix) -> dict[str, int]:
        """Less-specifics of ``prefix`` that sessions still hold: prefix → full-feed sessions."""
        return self.state.covering(prefix)

    def origins(self, prefix: Prefix) -> dict[str, list[PeerKey]]:
        """Origin key (:func:`origin_key`) → sessions holding ``prefix`` with that origin."""
        out: dict[str, list[PeerKey]] = {}
        for peer, route in self.state.holders(prefix).items():
            out.setdefault(origin_key(origin_of(route.as_path)), []).append(peer)
        return out


def legit_origin(watchlist: Watchlist, watch: str, origin: Origin | None, known: Iterable[str]) -> bool | None:
    """Whether ``origin`` may announce space of ``watch``: True, False, or None (cannot tell).

    The watch's own ASNs decide when it lists any; otherwise the origins already seen for the
    covering watched prefix (``known``, as :func:`origin_key` strings) do. An AS_SET origin is
    legitimate only if one of its members is.
    """
    if origin is None:
        return None
    members = origin if isinstance(origin, tuple) else (origin,)
    found = watchlist.watches.get(watch)
    if found is not None and found.asns:
        return any(asn in found.asns for asn in members)
    known_set = set(known)
    if not known_set:
        return None
    return origin_key(origin) in known_set or any(str(asn) in known_set for asn in members)


class OriginMemory:
    """The origins ever seen announcing each watched prefix exactly (as :func:`origin_key` strings).

    What :func:`legit_origin` compares a more-specific's origin with when its watch lists no
    ASNs. Kept by the detectors that judge more-specifics, and stored in their checkpoints.
    """

    def __init__(self) -> None:
        self.seen: dict[Prefix, set[str]] = {}

    def note(self, event: RouteAnnounced, rels: Iterable[tuple[str, Prefix | None, str]]) -> None:
        """Remember ``event``'s origin when it announces a watched prefix itself."""
        if any(relation == "exact" for _, _, relation in rels):
            self.seen.setdefault(event.prefix, set()).add(origin_key(event.origin))

    def of(self, watched: Prefix | None) -> set[str]:
        """The origins seen for ``watched`` (empty when none, or when there is no watched prefix)."""
        return self.seen.get(watched, set()) if watched is not None else set()

    def snapshot(self) -> dict[str, list[str]]:
        """As JSON-compatible data."""
        return {str(p): sorted(o) for p, o in self.seen.items()}

    def restore(self, data: dict[str, list[str]]) -> None:
        """Inverse of :meth:`snapshot`."""
        self.seen = {Prefix.parse(p): set(o) for p, o in data.items()}


class RoutingDetector:
    """Base of the routing detectors: told of every event that concerns a watch, one at a time.

    Subclasses implement :meth:`on_event` (judge what one event changed) and :meth:`fire` (emit
    what fell due by a time), and read the route table through :attr:`table`. Timers fire
    before the first later event is applied, and on ticks.
    """

    name = "routing"

    def __init__(self, watchlist: Watchlist, settings: DetectorSettings | None = None) -> None:
        self.watchlist = watchlist
        self.settings = settings or DetectorSettings()
        self.findings = FindingBook()
        self.table = TableView(RouteState())
        """The engine's route table, read-only (set from the view of every call)."""

    def _look(self, view: EngineView) -> None:
        # The engine replaces its table on a restore or reset: follow it.
        if self.table.state is not view.state:
            self.table = TableView(view.state)

    # -- the engine's calls ---------------------------------------------------------------------

    def before(self, event: Event, view: EngineView) -> list[Finding]:
        """Fire the timers due by ``event``'s time, then let the subclass look before it applies."""
        self._look(view)
        out: list[Finding] = []
        self.fire(event.ts, out)
        self.before_event(event)
        return out

    def after(self, change: Change, view: EngineView) -> list[Finding]:
        """Judge what the event changed."""
        self._look(view)
        out: list[Finding] = []
        self.on_event(change.event, list(change.relations), change.scope, out)
        return out

    def observe(self, events: Sequence[Event], view: EngineView, now: float) -> list[Finding]:
        """Nothing to do per batch: every event was judged as it was applied."""
        return []

    def tick(self, view: EngineView, now: float) -> list[Finding]:
        """Emit whatever fell due by ``now``."""
        self._look(view)
        out: list[Finding] = []
        self.fire(now, out)
        return out

    def pending(self, view: EngineView, now: float) -> list[Finding]:
        """Conditions seen but not yet long enough to be findings, as ``pending`` findings.

        Asked at the end of the data (or of a replay window): a reviewer must see an outage
        the data stops in the middle of, not wait for ``min_duration`` that never comes.
        """
        self._look(view)
        return self.pending_own(now)

    def pending_own(self, now: float) -> list[Finding]:
        """The subclass's pending conditions at ``now`` (none by default)."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """Open findings and the subclass's own state (the routes are the engine's)."""
        return {"open": self.findings.snapshot(), "own": self.snapshot_own()}

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot`; an empty dict resets."""
        self.findings.restore(data.get("open", ()))
        self.restore_own(data.get("own", {}))

    # -- hooks ----------------------------------------------------------------------------------

    def before_event(self, event: Event) -> None:
        """Called before ``event`` changes the table (e.g. to note what a session held)."""

    def on_event(
        self, event: Event, rels: list[WatchRelation], changed: frozenset[Prefix] | None, out: list[Finding],
    ) -> None:
        """Judge the change ``event`` made (``changed``: see :attr:`Change.scope`); append findings to ``out``."""

    def fire(self, ts: float, out: list[Finding]) -> None:
        """Emit findings whose timers are due at or before ``ts``."""

    def snapshot_own(self) -> dict[str, Any]:
        """The subclass's state as JSON-compatible data."""
        return {}

    def restore_own(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot_own`."""

    # -- helpers --------------------------------------------------------------------------------

    def emit(self, out: list[Finding], finding: Finding | None) -> None:
        """Append ``finding`` when there is one."""
        if finding is not None:
            out.append(finding)
