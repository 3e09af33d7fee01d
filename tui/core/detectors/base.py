"""What the routing detectors share: settings, finding bookkeeping, a per-event route mirror.

Why a mirror of the routes (:class:`RouteBook`) when the engine already has a RouteState? The
engine applies a whole batch before the detectors run, and batch boundaries differ between a
live run (100 ms of websocket messages), a file read (N MRT records) and a journal replay
(chunks by clock position). A detector that judged only the state after each batch would see a
withdrawal and its re-announcement in one batch as nothing, and in two batches as a drop: the
findings would depend on batching and a replay would not reproduce the live run. So each routing
detector walks the batch event by event over its own small mirror (only the prefixes that
concern a watch), and fires its timers (min_duration, flap windows) at their due times, before
the first later event. Finding times are the due times, not the moment a tick noticed them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tui.core.aspath import ASPath, format_path, origin_of, parse_path
from tui.core.events import (
    Event,
    FeedStatus,
    Finding,
    FullFeedPeers,
    PeerKey,
    PeerSeen,
    PeerStateChanged,
    RouteAnnounced,
    RouteWithdrawn,
    event_from_dict,
    event_to_dict,
)
from tui.core.prefixes import Prefix
from tui.core.watchlist import Watchlist

__all__ = [
    "DetectorSettings",
    "FindingBook",
    "RouteBook",
    "ALL_PREFIXES",
    "keys_touched",
    "Origin",
    "origin_key",
    "origin_from_key",
    "sessions_per_collector",
    "origin_text",
    "watches_for",
    "format_duration",
    "peer_text",
    "summarise_update",
    "legit_origin",
    "OriginMemory",
    "sync_full_feed",
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


def watches_for(watchlist: Watchlist, prefix: Prefix, origin: Origin | None = None) -> list[tuple[str, Prefix | None, str]]:
    """Which watches an update concerns: ``(watch, watched prefix or None, relation)``.

    Relation is ``exact``, ``more_specific`` (inside a watched prefix) or ``origin`` (the prefix
    is not watched, but its origin is a watched ASN). Covering less-specifics are left out: the
    detectors judge the watched prefixes and what lies inside them.
    """
    out: list[tuple[str, Prefix | None, str]] = []
    seen: set[str] = set()
    for rel in watchlist.relations(prefix):
        if rel.kind == "less_specific":
            continue
        for watch in watchlist.watches_of(rel.watched):
            out.append((watch, rel.watched, rel.kind))
            seen.add(watch)
    if origin is not None:
        for watch in watchlist.watches_for_origin(origin):
            if watch not in seen:
                out.append((watch, None, "origin"))
    return out


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


# -- the per-event route mirror -------------------------------------------------------------------

ALL_PREFIXES: frozenset[Prefix] = frozenset()
"""Returned by :meth:`RouteBook.apply` when an event may change every prefix (a session, a feed)."""

_UP, _DOWN, _UNKNOWN = "up", "down", "unknown"


def keys_touched(keys: Iterable[tuple[str, Prefix]], changed: frozenset[Prefix] | set[Prefix] | None) -> list[tuple[str, Prefix]]:
    """The (watch, prefix) keys whose prefix is in ``changed``: all for ALL_PREFIXES, none for None."""
    if changed is None:
        return []
    if changed is ALL_PREFIXES:
        return list(keys)
    return [k for k in keys if k[1] in changed]


class RouteBook:
    """Sessions and the routes of tracked prefixes, updated one event at a time.

    Follows :class:`tui.core.routes.RouteState`'s meanings exactly (a session leaving
    ESTABLISHED loses its routes; a broken feed makes its sessions unknown, not down), so that
    at the end of a batch the visibility it computes equals the engine's.
    """

    def __init__(self) -> None:
        self.status: dict[PeerKey, str] = {}
        self.source: dict[PeerKey, str] = {}
        self.feeds_down: set[str] = set()
        # Per IP version, as RouteState: a full IPv4 table often comes with no IPv6 at all.
        self.declared: dict[int, frozenset[PeerKey]] = {}
        self.basis: dict[int, str] = {}
        self.adopted: set[int] = set()
        """Versions whose declared set was adopted from the engine's table-size judgement."""
        self.routes: dict[Prefix, dict[PeerKey, ASPath]] = {}
        self._by_peer: dict[PeerKey, set[Prefix]] = {}
        self._families: dict[tuple[PeerKey, int], int] = {}
        """(session, IP version) → routes held of that family (a session counts for a family it carries)."""
        self._full_cache: dict[int, frozenset[PeerKey]] = {}

    def _peer(self, peer: PeerKey, source: str) -> None:
        if peer not in self.status:
            self.status[peer] = _UNKNOWN if source in self.feeds_down else _UP
            self.source[peer] = source
            self._full_cache = {}

    def _hold(self, peer: PeerKey, prefix: Prefix, delta: int) -> None:
        key = (peer, prefix.version)
        before = self._families.get(key, 0)
        after = before + delta
        if after > 0:
            self._families[key] = after
        else:
            self._families.pop(key, None)
        if (before > 0) != (after > 0):
            self._full_cache.pop(prefix.version, None)

    def apply(self, event: Event, track: bool = True) -> frozenset[Prefix] | None:
        """Apply ``event``; returns the prefixes whose routes changed, ALL_PREFIXES, or None.

        ``track`` says whether the route of a route event should be kept (the caller decides
        which prefixes concern it); the session is always noted.
        """
        if isinstance(event, RouteAnnounced):
            peer = event.peer
            self._peer(peer, event.source)
            if self.status[peer] == _DOWN:
                self.status[peer] = _UP
                self._full_cache = {}
            if not track:
                return None
            held = self.routes.setdefault(event.prefix, {})
            if peer not in held:
                self._hold(peer, event.prefix, 1)
            held[peer] = event.as_path
            self._by_peer.setdefault(peer, set()).add(event.prefix)
            return frozenset((event.prefix,))
        if isinstance(event, RouteWithdrawn):
            peer = event.peer
            self._peer(peer, event.source)
            held = self.routes.get(event.prefix)
            if held is None or peer not in held:
                return None
            del held[peer]
            self._hold(peer, event.prefix, -1)
            if not held:
                del self.routes[event.prefix]
            self._by_peer.get(peer, set()).discard(event.prefix)
            return frozenset((event.prefix,))
        if isinstance(event, PeerStateChanged):
            peer = event.peer
            self._peer(peer, event.source)
            self._full_cache = {}
            if event.is_up:
                self.status[peer] = _UP
                return ALL_PREFIXES
            self.status[peer] = _DOWN
            for prefix in self._by_peer.pop(peer, set()):
                held = self.routes.get(prefix)
                if held is not None and held.pop(peer, None) is not None:
                    self._hold(peer, prefix, -1)
                    if not held:
                        del self.routes[prefix]
            return ALL_PREFIXES
        if isinstance(event, PeerSeen):
            known = event.peer in self.status
            self._peer(event.peer, event.source)
            return None if known else ALL_PREFIXES
        if isinstance(event, FullFeedPeers):
            version = getattr(event, "version", None)
            for v in (version,) if version else (4, 6):
                self.declared[v] = frozenset(event.peers)
                self.basis[v] = event.basis
                self.adopted.discard(v)
            self._full_cache = {}
            return ALL_PREFIXES
        if isinstance(event, FeedStatus):
            broken = event.state in ("down", "gap")
            if broken:
                self.feeds_down.add(event.feed)
            elif event.state == "up":
                self.feeds_down.discard(event.feed)
            else:
                return None
            changed = False
            for peer, source in self.source.items():
                if source != event.feed:
                    continue
                if broken and self.status[peer] == _UP:
                    self.status[peer] = _UNKNOWN
                    changed = True
                elif not broken and self.status[peer] == _UNKNOWN:
                    self.status[peer] = _UP
                    changed = True
            if changed:
                self._full_cache = {}
                return ALL_PREFIXES
            return None
        return None

    def adopt_full_feed(self, version: int, peers: Iterable[PeerKey], basis: str) -> None:
        """Take the engine's table-size judgement of full-feed sessions (it needs every route)."""
        chosen = frozenset(peers)
        if chosen != self.declared.get(version) or basis != self.basis.get(version):
            self.declared[version] = chosen
            self.basis[version] = basis
            self.adopted.add(version)
            self._full_cache.pop(version, None)

    def basis_of(self, version: int) -> str:
        """Where the full-feed set of ``version`` comes from."""
        return self.basis.get(version, "all sessions seen")

    def full_feed(self, version: int) -> frozenset[PeerKey]:
        """Up sessions that count as full-feed for IP ``version``.

        Declared (or adopted) sets decide; otherwise every up session that carries a route of
        that family or speaks it (its transport address) counts, as in RouteState.
        """
        cached = self._full_cache.get(version)
        if cached is None:
            up = [p for p, s in self.status.items() if s == _UP]
            declared = self.declared.get(version)
            if declared is not None:
                cached = frozenset(p for p in up if p in declared)
            else:
                cached = frozenset(
                    p for p in up if (p, version) in self._families or (6 if ":" in p.peer_ip else 4) == version
                )
            self._full_cache[version] = cached
        return cached

    def unknown_count(self) -> int:
        """Sessions whose data is unknown (their feed is broken)."""
        return sum(1 for s in self.status.values() if s == _UNKNOWN)

    def holders(self, prefix: Prefix) -> dict[PeerKey, ASPath]:
        """Sessions currently holding a route to exactly ``prefix`` (down ones hold none)."""
        return self.routes.get(prefix, {})

    def visibility(self, prefix: Prefix) -> tuple[int, int]:
        """(full-feed sessions holding ``prefix``, full-feed sessions up)."""
        full = self.full_feed(prefix.version)
        held = self.routes.get(prefix, {})
        return sum(1 for p in held if p in full), len(full)

    def covering(self, prefix: Prefix) -> dict[str, int]:
        """Tracked less-specifics of ``prefix`` that sessions still hold: prefix → sessions."""
        full = self.full_feed(prefix.version)
        return {
            str(other): sum(1 for p in held if p in full)
            for other, held in sorted(self.routes.items(), key=lambda kv: kv[0].sort_key())
            if other.length < prefix.length and other.version == prefix.version and other.contains(prefix) and held
        }

    def per_collector(self, prefix: Prefix) -> dict[str, dict[str, int]]:
        """``{collector: {"visible": n, "full_feed": m}}`` for evidence."""
        full = self.full_feed(prefix.version)
        held = self.routes.get(prefix, {})
        out: dict[str, dict[str, int]] = {}
        for peer in sorted(full):
            counts = out.setdefault(peer.collector, {"visible": 0, "full_feed": 0})
            counts["full_feed"] += 1
            if peer in held:
                counts["visible"] += 1
        return out

    def origins(self, prefix: Prefix) -> dict[str, list[PeerKey]]:
        """Origin key → sessions holding ``prefix`` with that origin.

        Sessions whose feed is broken (unknown) still count: their routes were not withdrawn,
        and a finding about them must not close (or reopen) because a websocket dropped.
        """
        out: dict[str, list[PeerKey]] = {}
        for peer, path in self.routes.get(prefix, {}).items():
            if self.status.get(peer) == _DOWN:
                continue
            out.setdefault(origin_key(origin_of(path)), []).append(peer)
        return out

    # -- checkpoints ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-compatible state."""
        return {
            "peers": [[list(p), self.status[p], self.source.get(p, "")] for p in self.status],
            "feeds_down": sorted(self.feeds_down),
            "declared": {str(v): sorted(list(p) for p in peers) for v, peers in self.declared.items()},
            "basis": {str(v): b for v, b in self.basis.items()},
            "adopted": sorted(self.adopted),
            "routes": [
                [str(prefix), list(peer), format_path(path)]
                for prefix, held in self.routes.items()
                for peer, path in held.items()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot` (an empty dict resets)."""
        self.__init__()  # type: ignore[misc]
        for key, status, source in data.get("peers", ()):
            peer = PeerKey(key[0], key[1], int(key[2]))
            self.status[peer] = status
            self.source[peer] = source
        self.feeds_down = set(data.get("feeds_down", ()))
        for v, peers in (data.get("declared") or {}).items():
            self.declared[int(v)] = frozenset(PeerKey(c, ip, int(a)) for c, ip, a in peers)
        self.basis = {int(v): b for v, b in (data.get("basis") or {}).items()}
        self.adopted = {int(v) for v in data.get("adopted", ())}
        for prefix_text, key, path_text in data.get("routes", ()):
            prefix = Prefix.parse(prefix_text)
            peer = PeerKey(key[0], key[1], int(key[2]))
            self.routes.setdefault(prefix, {})[peer] = parse_path(path_text)
            self._by_peer.setdefault(peer, set()).add(prefix)
            self._hold(peer, prefix, 1)


def sync_full_feed(book: RouteBook, view: Any) -> None:
    """After a batch: when the engine judges full-feed sessions by table size, adopt that.

    Only the engine holds every route (full-table mode), so only it can tell a full table from
    a partial one by size; a declared list (FullFeedPeers) always wins.
    """
    state = getattr(view, "state", None)
    if state is None:
        return
    for version in (4, 6):
        if version in book.declared and version not in book.adopted:
            continue
        try:
            full, basis = state.full_feed_peers(version)
        except TypeError:  # a RouteState without per-family denominators
            full, basis = state.full_feed_peers()
        if basis.startswith("table size"):
            book.adopt_full_feed(version, (p.key for p in full), basis)


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
    """Base of the routing detectors: walks each batch event by event over a :class:`RouteBook`.

    Subclasses implement :meth:`on_event` (judge what one event changed) and :meth:`fire` (emit
    what fell due by a time). Timers fire before the first later event is applied, and on ticks.
    """

    name = "routing"

    def __init__(self, watchlist: Watchlist, settings: DetectorSettings | None = None) -> None:
        self.watchlist = watchlist
        self.settings = settings or DetectorSettings()
        self.book = RouteBook()
        self.findings = FindingBook()

    # -- Detector protocol ----------------------------------------------------------------------

    def observe(self, events: Sequence[Event], view: Any, now: float) -> list[Finding]:
        """Judge one applied batch, event by event."""
        out: list[Finding] = []
        for event in events:
            if isinstance(event, RouteAnnounced | RouteWithdrawn):
                origin = event.origin if isinstance(event, RouteAnnounced) else None
                rels = watches_for(self.watchlist, event.prefix, origin)
                # Covering less-specifics are kept too: they still carry a lost prefix's traffic.
                track = bool(rels) or self.watchlist.trie.is_relevant(event.prefix)
                if not track and event.prefix not in self.book.routes:
                    self.book.apply(event, track=False)  # still proves the session is up
                    continue
            elif isinstance(event, PeerStateChanged | PeerSeen | FullFeedPeers | FeedStatus):
                rels, track = [], False
            else:
                continue
            self.fire(event.ts, out)
            self.before_event(event)
            changed = self.book.apply(event, track=track)
            self.on_event(event, rels, changed, out)
        sync_full_feed(self.book, view)
        return out

    def tick(self, view: Any, now: float) -> list[Finding]:
        """Emit whatever fell due by ``now``."""
        out: list[Finding] = []
        self.fire(now, out)
        return out

    def snapshot(self) -> dict[str, Any]:
        """Route mirror, open findings and the subclass's own state."""
        return {"book": self.book.snapshot(), "open": self.findings.snapshot(), "own": self.snapshot_own()}

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot`; an empty dict resets."""
        self.book.restore(data.get("book", {}))
        self.findings.restore(data.get("open", ()))
        self.restore_own(data.get("own", {}))

    # -- hooks ----------------------------------------------------------------------------------

    def before_event(self, event: Event) -> None:
        """Called before ``event`` changes the mirror (e.g. to note what a session held)."""

    def on_event(
        self, event: Event, rels: list[tuple[str, Prefix | None, str]], changed: frozenset[Prefix] | None,
        out: list[Finding],
    ) -> None:
        """Judge the change ``event`` made; append findings to ``out``."""

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
