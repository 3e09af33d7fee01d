"""Route state per BGP session, and visibility computed from it.

Storage is peer-major: each session has one dict per IP version, keyed by the prefix's wire
key (see :mod:`tui.core.prefixes`). That makes the three hot operations cheap: storing a route
(one dict assignment, no Prefix object), a session going down (drop its dicts) and counting the
sessions that hold one prefix (one lookup per session).

Meanings (DESIGN.md, "Meanings that must be exact"):

- visibility = full-feed sessions that are up and hold a route to exactly the prefix / full-feed
  sessions that are up;
- a session whose feed is broken or silent is *unknown*: its routes are kept but counted in
  neither number, and reported apart. Missing data never reads as an outage.
"""

from __future__ import annotations

import itertools
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tui.core.aspath import ASPath, format_path, origin_of, parse_path
from tui.core.attributes import PathAttributes, WireRoute
from tui.core.events import (
    BulkRoutes,
    FeedStatus,
    FullFeedPeers,
    PeerKey,
    PeerSeen,
    PeerStateChanged,
    RouteAnnounced,
    RouteSnapshot,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix, WireKey, wire_key_to_prefix
from tui.core.tables import PackedTable, RestoredRoutes, RestoredTable, Table, discard_many, expand_runs, size_bounds
from tui.core.wirekeys import join_wire_keys, key_sizes, split_sized_keys, split_wire_keys

__all__ = [
    "FULL_FEED_SHARE",
    "Origin",
    "PeerStatus",
    "TableCell",
    "PeerInfo",
    "Route",
    "RouteLike",
    "RouteState",
    "Visibility",
]

FULL_FEED_SHARE = 0.75
"""Without a declared full-feed list, a session whose table holds at least this share of the
largest table of its IP version counts as full-feed (RIS's own thresholds are a similar cut)."""


Origin = int | tuple[int, ...]

TableCell = tuple[int, tuple["Origin | None", ...]]
"""What the whole-table listing says of one prefix: (full-feed sessions holding it, distinct origins)."""


class PeerStatus:
    """The three states a session can be in, as far as visibility is concerned."""

    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


class RouteLike(Protocol):
    """What a stored route offers; MRT stores lazily decoded routes with the same shape."""

    @property
    def as_path(self) -> ASPath: ...

    @property
    def next_hop(self) -> str: ...

    @property
    def communities(self) -> tuple[str, ...]: ...

    @property
    def since(self) -> float: ...

    @property
    def origin(self) -> Origin | None: ...


@dataclass(frozen=True, slots=True)
class Route:
    """A route as one session holds it."""

    as_path: ASPath
    next_hop: str
    communities: tuple[str, ...]
    since: float

    @property
    def origin(self) -> int | tuple[int, ...] | None:
        """Origin ASN, or the AS_SET tuple when the path ends in a set."""
        return origin_of(self.as_path)


@dataclass(slots=True)
class PeerInfo:
    """What is known about one session."""

    key: PeerKey
    status: str
    source: str
    since: float
    last_seen: float
    v4: Table
    v6: Table
    """Route tables: dicts, or tables restored from a checkpoint and not yet rebuilt
    (:mod:`tui.core.tables`), which offer the same reads and writes."""

    def table(self, version: int) -> Table:
        """The route dict for IP ``version``."""
        return self.v4 if version == 4 else self.v6


@dataclass(frozen=True, slots=True)
class Visibility:
    """How many full-feed sessions see a prefix right now.

    ``ratio`` is None when no full-feed session is known to be up: then nothing can be said.
    """

    visible: int
    full_feed: int
    unknown: int
    basis: str

    @property
    def ratio(self) -> float | None:
        """Share of up full-feed sessions holding the prefix, or None when unknowable."""
        return self.visible / self.full_feed if self.full_feed else None


class RouteState:
    """Every session's routes, the sessions' status, and the full-feed set."""

    def __init__(self) -> None:
        self._peers: dict[PeerKey, PeerInfo] = {}
        # Per IP version: a session with a full IPv4 table may carry no IPv6 at all, so each
        # family has its own denominator.
        self._declared_full_feed: dict[int, frozenset[PeerKey]] = {}
        self._full_feed_basis: dict[int, str] = {}
        self._feeds_down: set[str] = set()
        self.last_ts: float | None = None
        self._changed: dict[tuple[PeerKey, int], dict[WireKey, None]] | None = None
        """Keys changed per session and IP version since :meth:`track_changes` (None: not
        tracked); a session's table dropped whole is :data:`_DROPPED`. What a delta
        checkpoint stores (:meth:`to_snapshot`)."""

    # -- sessions -------------------------------------------------------------------------------

    def peer(self, key: PeerKey, ts: float, source: str = "") -> PeerInfo:
        """The session ``key``, created as up when first heard from."""
        info = self._peers.get(key)
        if info is None:
            status = PeerStatus.UNKNOWN if source in self._feeds_down else PeerStatus.UP
            info = self._peers[key] = PeerInfo(key, status, source, ts, ts, {}, {})
        return info

    def peers(self) -> Iterator[PeerInfo]:
        """Every session ever heard of."""
        return iter(self._peers.values())

    def holds(self, peer: PeerKey, prefix: Prefix) -> bool:
        """True when session ``peer`` currently holds a route to exactly ``prefix``."""
        info = self._peers.get(peer)
        return info is not None and prefix.wire_key in info.table(prefix.version)

    def route(self, peer: PeerKey, prefix: Prefix) -> RouteLike | None:
        """The route session ``peer`` holds to exactly ``prefix``, or None."""
        info = self._peers.get(peer)
        return None if info is None else info.table(prefix.version).get(prefix.wire_key)

    def status_of(self, peer: PeerKey) -> str | None:
        """The session's status (:class:`PeerStatus`), None when never heard of."""
        info = self._peers.get(peer)
        return None if info is None else info.status

    def has_peer(self, key: PeerKey) -> bool:
        """Whether session ``key`` has been heard of."""
        return key in self._peers

    def peers_up(self) -> list[PeerInfo]:
        """Sessions that are up and whose data is current."""
        return [p for p in self._peers.values() if p.status == PeerStatus.UP]

    # -- applying events ------------------------------------------------------------------------

    def apply(self, event: object) -> bool:
        """Apply one event; returns True when route or session state changed."""
        if isinstance(event, RouteAnnounced):
            route = Route(event.as_path, event.next_hop, event.communities, event.ts)
            self.announce(event.peer, event.prefix.version, event.prefix.wire_key, route, event.ts, event.source)
            return True
        if isinstance(event, RouteWithdrawn):
            return self.withdraw(event.peer, event.prefix.version, event.prefix.wire_key, event.ts, event.source)
        if isinstance(event, BulkRoutes):
            self.apply_bulk(event)
            return True
        if isinstance(event, PeerStateChanged):
            return self.set_peer_state(event.peer, event.is_up, event.ts, event.source)
        if isinstance(event, PeerSeen):
            info = self.peer(event.peer, event.ts, event.source)
            info.last_seen = event.ts
            self.last_ts = event.ts
            return False
        if isinstance(event, FullFeedPeers):
            self.declare_full_feed(event.peers, event.basis, event.version)
            return True
        if isinstance(event, FeedStatus):
            return self.set_feed_state(event.feed, event.state, event.ts)
        return False

    def apply_all(self, events: Iterable[object]) -> None:
        """Apply every event in order (loading a table without an engine: tests, benchmarks)."""
        for event in events:
            self.apply(event)

    def apply_bulk(self, event: BulkRoutes) -> None:
        """A whole-table feed's bulk routes: its withdrawals, then its announcements.

        The same as :meth:`withdraw_many` then :meth:`announce_many`, written out: a table
        arrives as tens of thousands of these.
        """
        ts = event.ts
        # A plain tuple finds the session (PeerKey is a NamedTuple): no key object per event.
        info = self._peers.get((event.collector, event.peer_ip, event.peer_asn))  # type: ignore[call-overload]
        if info is None:
            info = self.peer(event.peer, ts, event.source)
        table = info.v4 if event.version == 4 else info.v6
        if self._changed is not None:
            self._touch(info.key, event.version, event.withdrawn)
            self._touch(info.key, event.version, event.announced)
        if event.withdrawn:
            discard_many(table, event.withdrawn)
        if event.announced and event.attributes is not None:
            table.update(dict.fromkeys(event.announced, WireRoute(event.attributes, ts, event.via_mp)))
            if info.status == PeerStatus.DOWN:
                # An UPDATE proves the session is established even if we missed the state change.
                info.status = PeerStatus.UP
                info.since = ts
        info.last_seen = ts
        self.last_ts = ts

    def announce(
        self, peer: PeerKey, version: int, key: WireKey, route: RouteLike, ts: float, source: str = ""
    ) -> None:
        """Store ``route`` for ``key`` at session ``peer`` (the hot path of every feed)."""
        info = self._peers.get(peer) or self.peer(peer, ts, source)
        info.table(version)[key] = route
        if self._changed is not None:
            self._touch(info.key, version, (key,))
        info.last_seen = ts
        if info.status == PeerStatus.DOWN:
            # An UPDATE proves the session is established even if we missed the state change.
            info.status = PeerStatus.UP
            info.since = ts
        self.last_ts = ts

    def withdraw(self, peer: PeerKey, version: int, key: WireKey, ts: float, source: str = "") -> bool:
        """Remove the route for ``key`` at ``peer``; True when there was one."""
        info = self._peers.get(peer) or self.peer(peer, ts, source)
        info.last_seen = ts
        self.last_ts = ts
        if self._changed is not None:
            self._touch(info.key, version, (key,))
        return info.table(version).pop(key, None) is not None

    def announce_many(
        self, peer: PeerKey, version: int, keys: Iterable[WireKey], route: RouteLike, ts: float, source: str = ""
    ) -> None:
        """Store one shared ``route`` for every key in ``keys`` (bulk :meth:`announce`, for MRT)."""
        info = self._peers.get(peer) or self.peer(peer, ts, source)
        routes = dict.fromkeys(keys, route)
        info.table(version).update(routes)
        if self._changed is not None:
            self._touch(info.key, version, routes)
        info.last_seen = ts
        if info.status == PeerStatus.DOWN:
            info.status = PeerStatus.UP
            info.since = ts
        self.last_ts = ts

    def withdraw_many(self, peer: PeerKey, version: int, keys: Iterable[WireKey], ts: float, source: str = "") -> int:
        """Remove the routes for ``keys`` at ``peer`` (bulk :meth:`withdraw`); returns how many there were."""
        info = self._peers.get(peer) or self.peer(peer, ts, source)
        info.last_seen = ts
        self.last_ts = ts
        table = info.table(version)
        pop = table.pop
        if self._changed is not None:
            keys = list(keys)
            self._touch(info.key, version, keys)
        return sum(1 for key in keys if pop(key, None) is not None)

    def set_peer_state(self, peer: PeerKey, up: bool, ts: float, source: str = "") -> bool:
        """A session went up or down; down drops every route it held."""
        info = self.peer(peer, ts, source)
        info.last_seen = ts
        self.last_ts = ts
        if up:
            changed = info.status != PeerStatus.UP
            info.status = PeerStatus.UP
            if changed:
                info.since = ts
            return changed
        had_routes = bool(info.v4 or info.v6)
        changed = info.status != PeerStatus.DOWN or had_routes
        info.status = PeerStatus.DOWN
        info.since = ts
        info.v4 = {}
        info.v6 = {}
        if self._changed is not None:
            self._changed[(info.key, 4)] = self._changed[(info.key, 6)] = _DROPPED
        return changed

    def reconcile(self, snapshot: RouteSnapshot) -> list[RouteAnnounced | RouteWithdrawn]:
        """The route events that bring ``snapshot.source``'s sessions in line with ``snapshot``.

        Withdrawals first (a held route to a scoped prefix that the snapshot lacks), then the
        snapshot's routes that are new or differ in path or communities; identical ones are left
        out, so a refresh that finds nothing changed produces nothing. Reads only.
        """
        fresh: dict[tuple[PeerKey, Prefix], RouteAnnounced] = {}
        for route in snapshot.routes:
            # Stamped with the snapshot's time: that is when this engine learnt them.
            fresh[(route.peer, route.prefix)] = replace(route, ts=snapshot.ts, source=snapshot.source)
        out: list[RouteAnnounced | RouteWithdrawn] = []
        for prefix in snapshot.scope:
            key = prefix.wire_key
            for info in self._peers.values():
                if info.source != snapshot.source or key not in info.table(prefix.version):
                    continue
                if (info.key, prefix) not in fresh:
                    peer = info.key
                    out.append(RouteWithdrawn(snapshot.ts, peer.collector, peer.peer_ip, peer.peer_asn, prefix, snapshot.source))
        for (peer, prefix), route in fresh.items():
            holder = self._peers.get(peer)
            held = holder.table(prefix.version).get(prefix.wire_key) if holder is not None else None
            if held is not None and held.as_path == route.as_path and tuple(held.communities) == route.communities:
                continue
            out.append(route)
        return out

    def set_feed_state(self, feed: str, state: str, ts: float) -> bool:
        """A feed broke (its sessions become unknown) or came back (they are up again)."""
        broken = state in ("down", "gap")
        if broken:
            self._feeds_down.add(feed)
        elif state == "up":
            self._feeds_down.discard(feed)
        else:
            return False
        changed = False
        for info in self._peers.values():
            if info.source != feed:
                continue
            if broken and info.status == PeerStatus.UP:
                info.status = PeerStatus.UNKNOWN
                changed = True
            elif not broken and info.status == PeerStatus.UNKNOWN:
                info.status = PeerStatus.UP
                changed = True
        return changed

    def declare_full_feed(self, peers: Iterable[PeerKey], basis: str, version: int | None = None) -> None:
        """Fix the full-feed set of IP ``version`` (both when None) from RIPEstat, a RIB or config."""
        chosen = frozenset(peers)
        for v in (version,) if version else (4, 6):
            self._declared_full_feed[v] = chosen
            self._full_feed_basis[v] = basis

    # -- reading --------------------------------------------------------------------------------

    def full_feed_peers(self, version: int | None = None) -> tuple[list[PeerInfo], str]:
        """Up sessions carrying a full table of IP ``version`` (either, when None), and the basis."""
        if version is None:
            four, basis4 = self.full_feed_peers(4)
            six, basis6 = self.full_feed_peers(6)
            seen = {p.key for p in four}
            basis = basis4 if basis4 == basis6 else f"IPv4: {basis4}; IPv6: {basis6}"
            return four + [p for p in six if p.key not in seen], basis
        up = self.peers_up()
        declared = self._declared_full_feed.get(version)
        if declared is not None:
            return [p for p in up if p.key in declared], self._full_feed_basis[version]
        # A restored table knows its size within bounds until rebuilt (tui.core.tables): the
        # bounds decide almost always; where they do not, the exact sizes are taken.
        bounds = [size_bounds(p.table(version)) for p in up]
        chosen = _full_feed_by_size(up, bounds, version)
        if chosen is None:
            exact = [(len(p.table(version)),) * 2 for p in up]
            chosen = _full_feed_by_size(up, exact, version)
            assert chosen is not None
        return chosen

    def routes_to(self, prefix: Prefix) -> list[tuple[PeerInfo, RouteLike]]:
        """Every session's route to exactly ``prefix`` (down sessions hold none)."""
        key = prefix.wire_key
        out = []
        for info in self._peers.values():
            route = info.table(prefix.version).get(key)
            if route is not None:
                out.append((info, route))
        return out

    def visibility(self, prefix: Prefix) -> Visibility:
        """Visibility of exactly ``prefix`` among up full-feed sessions."""
        full, basis = self.full_feed_peers(prefix.version)
        key = prefix.wire_key
        visible = sum(1 for p in full if key in p.table(prefix.version))
        unknown = sum(1 for p in self._peers.values() if p.status == PeerStatus.UNKNOWN)
        return Visibility(visible, len(full), unknown, basis)

    def full_feed_set(self, version: int) -> frozenset[PeerKey]:
        """The up full-feed sessions of IP ``version``, as keys (see :meth:`full_feed_peers`)."""
        full, _ = self.full_feed_peers(version)
        return frozenset(p.key for p in full)

    def unknown_count(self) -> int:
        """Sessions whose data is unknown (their feed is broken or silent)."""
        return sum(1 for p in self._peers.values() if p.status == PeerStatus.UNKNOWN)

    def holders(self, prefix: Prefix) -> dict[PeerKey, RouteLike]:
        """Every session holding a route to exactly ``prefix``, with that route (down ones hold none)."""
        key = prefix.wire_key
        out: dict[PeerKey, RouteLike] = {}
        for info in self._peers.values():
            route = info.table(prefix.version).get(key)
            if route is not None:
                out[info.key] = route
        return out

    def per_collector(self, prefix: Prefix) -> dict[str, dict[str, int]]:
        """``{collector: {"visible": n, "full_feed": m}}`` of ``prefix`` (evidence for findings)."""
        key = prefix.wire_key
        full, _ = self.full_feed_peers(prefix.version)
        out: dict[str, dict[str, int]] = {}
        for info in sorted(full, key=lambda p: p.key):
            counts = out.setdefault(info.key.collector, {"visible": 0, "full_feed": 0})
            counts["full_feed"] += 1
            if key in info.table(prefix.version):
                counts["visible"] += 1
        return out

    def covering(self, prefix: Prefix) -> dict[str, int]:
        """Less-specifics of ``prefix`` that some session holds → full-feed sessions holding each.

        What still carries a lost prefix's traffic; looked up by key (one per shorter length),
        so it costs the same with a whole table as with a watched few.
        """
        version = prefix.version
        full = self.full_feed_set(version)
        out: dict[str, int] = {}
        for length in range(prefix.length):
            mask = ((1 << length) - 1) << (prefix.bits - length) if length else 0
            other = Prefix(version, prefix.network & mask, length)
            key = other.wire_key
            holding = [info.key for info in self._peers.values() if key in info.table(version)]
            if holding:
                out[str(other)] = sum(1 for peer in holding if peer in full)
        return out

    def table_rows(self, version: int) -> tuple[list[WireKey], list[TableCell], dict[int, TableCell]]:
        """Every prefix of IP ``version`` any session holds, in address order, with its cell
        (full-feed sessions holding it, its distinct origins), and the distinct cells by ``id``.

        The whole-table listing (a snapshot of a ``0.0.0.0/0`` watch): a few passes over the
        tables, no Prefix object per route. Prefixes that share a route object (one UPDATE, one
        group of RIB entries) share one cell object, so a caller formats each cell once. The
        passes over every prefix are ``map`` and ``zip`` over C-level callables: no Python code
        runs per prefix but the sort key.
        """
        full, _ = self.full_feed_peers(version)
        full_keys = {p.key for p in full}
        tables = [(info.key in full_keys, info.table(version)) for info in self._peers.values() if info.table(version)]
        if not tables:
            return [], [], {}
        if len(tables) == 1:
            # One session (a single-peer capture): whole columns at once, each route looked at once.
            counted, table = tables[0]
            visible = 1 if counted else 0
            keys = sorted(table, key=_address_order)
            routes = list(map(table.__getitem__, keys))
            distinct = dict(zip(map(id, routes), routes, strict=True))
            cell_of: dict[int, TableCell] = {key: (visible, (route.origin,)) for key, route in distinct.items()}
            column = list(map(cell_of.__getitem__, map(id, routes)))
            return keys, column, {id(cell): cell for cell in cell_of.values()}
        keys = sorted(set().union(*(t for _, t in tables)), key=_address_order)
        cells: list[TableCell] = []
        for key in keys:
            visible = 0
            found: list[Origin | None] = []
            for counted, table in tables:
                route = table.get(key)
                if route is not None:
                    visible += counted
                    origin = route.origin
                    if origin not in found:
                        found.append(origin)
            cells.append((visible, tuple(found)))
        return keys, cells, {id(cell): cell for cell in cells}

    def more_specifics(self, prefix: Prefix) -> dict[Prefix, list[tuple[PeerInfo, RouteLike]]]:
        """Routes to prefixes strictly inside ``prefix``, grouped by prefix."""
        return self.more_specifics_of_each([prefix])[prefix]

    def more_specifics_of_each(
        self, prefixes: Iterable[Prefix]
    ) -> dict[Prefix, dict[Prefix, list[tuple[PeerInfo, RouteLike]]]]:
        """:meth:`more_specifics` of several prefixes in one pass over the tables.

        A whole table is hundreds of thousands of routes: each key is first sorted by its first
        address octet (one dict lookup), and only keys that could lie inside a watched prefix
        become Prefix objects.
        """
        wanted = list(dict.fromkeys(prefixes))
        out: dict[Prefix, dict[Prefix, list[tuple[PeerInfo, RouteLike]]]] = {p: {} for p in wanted}
        for version in (4, 6):
            watched = [p for p in wanted if p.version == version]
            if not watched:
                continue
            # Prefixes shorter than /8 match keys of several first octets: they are tried on every key.
            short = [p for p in watched if p.length < 8]
            by_first: dict[int, list[Prefix]] = {}
            for p in watched:
                if p.length >= 8:
                    by_first.setdefault(p.network >> (p.bits - 8), []).append(p)
            parsed: dict[WireKey, Prefix] = {}
            for info in self._peers.values():
                for key, route in _candidates_within(info.table(version), watched, bool(short)):
                    candidates = by_first.get(key[1]) if len(key) > 1 else None
                    if candidates is None and not short:
                        continue
                    other = parsed.get(key)
                    if other is None:
                        other = parsed[key] = wire_key_to_prefix(version, key)
                    for p in (candidates or []) + short:
                        if other.is_more_specific_of(p):
                            out[p].setdefault(other, []).append((info, route))
        return out

    def less_specifics(self, prefix: Prefix) -> dict[Prefix, list[tuple[PeerInfo, RouteLike]]]:
        """Routes to prefixes strictly covering ``prefix`` (what still carries its traffic).

        Looked up by key, one per shorter length: as cheap with a whole table as with a few routes.
        """
        out: dict[Prefix, list[tuple[PeerInfo, RouteLike]]] = {}
        for length in range(prefix.length):
            mask = ((1 << length) - 1) << (prefix.bits - length) if length else 0
            other = Prefix(prefix.version, prefix.network & mask, length)
            key = other.wire_key
            for info in self._peers.values():
                route = info.table(prefix.version).get(key)
                if route is not None:
                    out.setdefault(other, []).append((info, route))
        return out

    def table_size(self, version: int) -> tuple[int, int, int]:
        """(distinct prefixes, routes, sessions holding any) of IP ``version``."""
        tables = [info.table(version) for info in self._peers.values() if info.table(version)]
        prefixes = len(tables[0]) if len(tables) == 1 else len(set().union(*tables))
        return prefixes, sum(map(len, tables)), len(tables)

    def route_count(self) -> int:
        """Total routes held by all sessions."""
        return sum(len(p.v4) + len(p.v6) for p in self._peers.values())

    def route_count_at_most(self) -> int:
        """At most how many routes all sessions hold (:meth:`route_count` without a rebuild)."""
        return sum(size_bounds(p.v4)[1] + size_bounds(p.v6)[1] for p in self._peers.values())

    def prefix_count(self) -> int:
        """Distinct prefixes held by any session."""
        keys4: set[WireKey] = set()
        keys6: set[WireKey] = set()
        for p in self._peers.values():
            keys4.update(p.v4)
            keys6.update(p.v6)
        return len(keys4) + len(keys6)

    # -- checkpoints ----------------------------------------------------------------------------

    def track_changes(self) -> None:
        """Note the keys changed from now on (again from nothing): a journal writer calls this
        after each full checkpoint, so that the next ones can store only what changed since."""
        self._changed = {}

    def _touch(self, peer: PeerKey, version: int, keys: Iterable[WireKey]) -> None:
        assert self._changed is not None
        touched = self._changed.get((peer, version))
        if touched is None:
            touched = self._changed[(peer, version)] = {}
        if touched is not _DROPPED:
            touched.update(dict.fromkeys(keys))

    def copy(self) -> RouteState:
        """An independent copy (the route objects are immutable and shared): a cached restore."""
        other = RouteState()
        other._peers = {
            key: PeerInfo(info.key, info.status, info.source, info.since, info.last_seen, info.v4.copy(), info.v6.copy())
            for key, info in self._peers.items()
        }
        other._declared_full_feed = dict(self._declared_full_feed)
        other._full_feed_basis = dict(self._full_feed_basis)
        other._feeds_down = set(self._feeds_down)
        other.last_ts = self.last_ts
        return other

    def to_snapshot(self, *, delta: bool = False) -> dict[str, Any]:
        """The whole state as data for a journal checkpoint (JSON-compatible but for ``bytes``).

        Routes are stored the way they are shared, as columns: each distinct set of wire
        attributes once (one run of blobs and their lengths), each distinct route object once
        (attribute index, since, via MP), and per session and IP version one run of wire keys
        with the route of each as runs (route index, how many keys in a row have it: the
        prefixes of one UPDATE arrive together). A whole table is a handful of byte strings,
        written and read back with C-level passes, not a list per route.

        With ``delta``, and changes tracked (:meth:`track_changes`), a table is stored as what
        changed since: the changed keys it holds (with their routes, as above) and the ones it
        no longer holds (``"removed"``), marked ``"base": true``; :meth:`from_snapshot` applies
        that to the state tracking started from. Sessions are stored whole (a few fields each).
        """
        changed = self._changed if delta else None
        stored: list[tuple[PeerInfo, dict[int, tuple[Any, Any, list[WireKey] | None]]]] = []
        for info in self._peers.values():
            chosen: dict[int, tuple[Any, Any, list[WireKey] | None]] = {}
            for version, table in ((4, info.v4), (6, info.v6)):
                touched = None if changed is None else changed.get((info.key, version))
                if changed is None or touched is _DROPPED:
                    if table:
                        chosen[version] = (table, table.values(), None)
                elif touched is None:
                    if table:
                        chosen[version] = ((), (), [])  # as in the base
                else:
                    get = table.get
                    held = [key for key in touched if get(key) is not None]
                    removed = [key for key in touched if get(key) is None]
                    chosen[version] = (held, list(map(table.__getitem__, held)), removed)
            stored.append((info, chosen))
        distinct: dict[int, RouteLike] = {}
        for _, chosen in stored:
            for _, values, _ in chosen.values():
                distinct.update(zip(map(id, values), values, strict=True))
        wire = [r for r in distinct.values() if isinstance(r, WireRoute)]
        decoded = [r for r in distinct.values() if not isinstance(r, WireRoute)]
        index_of = {id(r): n for n, r in enumerate(wire + decoded)}
        attribute_of: dict[int, int] = {}
        attributes: list[PathAttributes] = []
        for route in wire:
            if id(route.attributes) not in attribute_of:
                attribute_of[id(route.attributes)] = len(attributes)
                attributes.append(route.attributes)
        peers = []
        for info, chosen in stored:
            tables: dict[str, dict[str, Any]] = {}
            for version, (keys, values, gone) in chosen.items():
                runs = [
                    (index, len(list(group)))
                    for index, group in itertools.groupby(map(index_of.__getitem__, map(id, values)))
                ]
                tables[str(version)] = {
                    "keys": join_wire_keys(keys),
                    "key_sizes": key_sizes(keys),
                    "route_runs": _column("I", (index for index, _ in runs)),
                    "run_lengths": _column("I", (count for _, count in runs)),
                }
                if gone is not None:
                    tables[str(version)] |= {"base": True, "removed": join_wire_keys(gone), "removed_sizes": key_sizes(gone)}
            peers.append(
                {"key": list(info.key), "status": info.status, "source": info.source,
                 "since": info.since, "last_seen": info.last_seen, "tables": tables}
            )
        declared = {str(v): sorted(list(p) for p in peers) for v, peers in self._declared_full_feed.items()}
        return {
            "format": 3,
            **({"delta": True} if changed is not None else {}),
            "attributes": {
                "blobs": b"".join(a.blob for a in attributes),
                "lengths": _column("I", (len(a.blob) for a in attributes)),
                "asn4": _column("B", (a.asn4 for a in attributes)),
            },
            "wire_routes": {
                "attributes": _column("I", (attribute_of[id(r.attributes)] for r in wire)),
                "since": _column("d", (r.since for r in wire)),
                "via_mp": _column("B", (r.via_mp for r in wire)),
            },
            "decoded_routes": [
                [format_path(r.as_path), r.next_hop, list(r.communities), r.since] for r in decoded
            ],
            "peers": peers,
            "full_feed": declared,
            "full_feed_basis": self._full_feed_basis,
            "feeds_down": sorted(self._feeds_down),
            "last_ts": self.last_ts,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], base: RouteState | None = None) -> RouteState:
        """Rebuild a state saved with :meth:`to_snapshot`; raises ValueError on a damaged one.

        A delta (``to_snapshot(delta=True)``) needs ``base``, the state restored from the
        checkpoint its changes are counted from; ``base`` is read, never changed.
        """
        if data.get("delta") and base is None:
            raise ValueError("a delta checkpoint read without the checkpoint it is relative to")
        try:
            return cls._from_snapshot(data, base if data.get("delta") else None)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            # A checkpoint that zlib accepted but whose fields do not fit together (forged, or
            # written by a buggy version): one error type for the journal to report.
            raise ValueError(f"damaged route table: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _from_snapshot(cls, data: dict[str, Any], base: RouteState | None) -> RouteState:
        stored_format = data.get("format")
        if stored_format not in (2, 3):
            raise ValueError(f"route table stored in format {stored_format!r}, this version reads formats 2 and 3")
        state = cls()
        stored = data["attributes"]
        columns = data["wire_routes"]
        decoded: list[RouteLike] = [
            Route(parse_path(path), hop, tuple(comms), since) for path, hop, comms, since in data["decoded_routes"]
        ]
        # The routes and their attributes are built when first looked at, or all at once when
        # a table is rebuilt (tui.core.tables).
        restored_routes = RestoredRoutes(
            stored["blobs"], _values("I", stored["lengths"]), stored["asn4"], _values("I", columns["attributes"]),
            _values("d", columns["since"]), columns["via_mp"], decoded,
        )
        for item in data["peers"]:
            key = PeerKey(item["key"][0], item["key"][1], int(item["key"][2]))
            info = PeerInfo(key, item["status"], item["source"], item["since"], item["last_seen"], {}, {})
            for version_text, table in item["tables"].items():
                version = int(version_text)
                run_lengths = _values("I", table["run_lengths"])
                route_runs = _values("I", table["route_runs"])
                try:
                    if base is not None and table.get("base"):
                        _apply_delta(info, version, base, table, route_runs, run_lengths, restored_routes)
                        continue
                    if stored_format == 3:
                        # Format 3 stores each key's size: the table is used in place, and
                        # rebuilt only when something walks it (tui.core.tables).
                        restored = RestoredTable(
                            PackedTable(table["keys"], table["key_sizes"], version, route_runs, run_lengths, restored_routes)
                        )
                        if version == 4:
                            info.v4 = restored
                        else:
                            info.v6 = restored
                        continue
                    keys = split_wire_keys(table["keys"], version)
                except ValueError as exc:  # WireKeyError included
                    raise ValueError(f"session {key}, IPv{version}: {exc}") from None
                if len(keys) != sum(run_lengths):
                    raise ValueError(f"session {key}: {len(keys)} prefixes but {sum(run_lengths)} routes stored")
                held = expand_runs(restored_routes.all(), route_runs, run_lengths)
                info.table(version).update(dict(zip(keys, held, strict=True)))
            state._peers[key] = info
        for v, peers in (data.get("full_feed") or {}).items():
            state._declared_full_feed[int(v)] = frozenset(PeerKey(c, ip, int(a)) for c, ip, a in peers)
            state._full_feed_basis[int(v)] = (data.get("full_feed_basis") or {}).get(v, "")
        state._feeds_down = set(data.get("feeds_down", ()))
        state.last_ts = data.get("last_ts")
        return state


def _apply_delta(
    info: PeerInfo,
    version: int,
    base: RouteState,
    stored: dict[str, Any],
    route_runs: array[int],
    run_lengths: array[int],
    routes: RestoredRoutes,
) -> None:
    """Give ``info`` the base's table of ``version`` with a delta's changes applied.

    The base's table is copied (a restored one shares its columns), the keys no longer held
    are withdrawn from it, the changed ones announced: a delta is at most the route changes
    since its base, so this is a small fraction of a whole restore.
    """
    before = base._peers.get(info.key)
    table: Table = before.table(version).copy() if before is not None else {}
    removed = split_sized_keys(stored["removed"], stored["removed_sizes"], version)
    keys = split_sized_keys(stored["keys"], stored["key_sizes"], version)
    if len(keys) != sum(run_lengths):
        raise ValueError(f"{len(keys)} changed prefixes but {sum(run_lengths)} routes stored")
    held = expand_runs(routes.all() if keys else [], route_runs, run_lengths)
    if removed:
        discard_many(table, removed)
    if keys:
        table.update(dict(zip(keys, held, strict=True)))
    if version == 4:
        info.v4 = table
    else:
        info.v6 = table


def _column(typecode: str, values: Iterable[Any]) -> bytes:
    """Numbers as a little-endian array column (checkpoints read the same on any machine)."""
    column = array(typecode, values)
    if sys.byteorder == "big":
        column.byteswap()
    return column.tobytes()


def _values(typecode: str, data: bytes) -> array[Any]:
    """Inverse of :func:`_column`."""
    column = array(typecode)
    column.frombytes(data)
    if sys.byteorder == "big":
        column.byteswap()
    return column


_UNSET: Any = object()

_DROPPED: dict[WireKey, None] = {}
"""In :attr:`RouteState._changed`: the session's table was dropped whole (it went down)."""


def _candidates_within(table: Table, watched: list[Prefix], short: bool) -> Iterable[tuple[WireKey, RouteLike]]:
    """The routes of ``table`` that may lie inside one of ``watched``: all of them, but for a
    restored table not yet rebuilt, where the keys that start with a watched prefix's whole
    octets are searched for in its columns (no prefix shorter than /8 among ``watched``)."""
    if short or not isinstance(table, RestoredTable) or table.rebuilt:
        return table.items()
    found: dict[WireKey, RouteLike] = {}
    for prefix in watched:
        lead = prefix.network.to_bytes(prefix.bits // 8, "big")[: prefix.length // 8]
        items = table.items_starting(lead, prefix.length)
        if items is None:
            return table.items()
        found.update(items)
    return found.items()


def _full_feed_by_size(
    up: list[PeerInfo], bounds: list[tuple[int, int]], version: int
) -> tuple[list[PeerInfo], str] | None:
    """The full-feed sessions of IP ``version`` among ``up`` by table size, given each table's
    (at least, at most) size; None when the bounds leave a session on either side of the cut."""
    largest_low = max((low for low, _ in bounds), default=0)
    largest_high = max((high for _, high in bounds), default=0)
    if largest_high < 1000:
        # Too little data to tell a full table from a partial one (a watch-filtered feed
        # keeps only watched routes): every session of that family counts, judged by its
        # transport address or by holding a route of that family.
        if any(low == 0 < high for low, high in bounds):
            return None
        chosen = [p for p, (low, _) in zip(up, bounds, strict=True) if low or _ip_version(p.key.peer_ip) == version]
        return chosen, "all sessions seen"
    if largest_low < 1000:
        return None
    chosen = []
    for info, (low, high) in zip(up, bounds, strict=True):
        if low >= largest_high * FULL_FEED_SHARE:
            chosen.append(info)
        elif high >= largest_low * FULL_FEED_SHARE:
            return None
    return chosen, f"table size >= {int(FULL_FEED_SHARE * 100)}% of largest"


def _address_order(key: WireKey) -> bytes:
    """A sort key putting wire keys in address order, shorter prefixes first (Prefix.sort_key)."""
    return key[1:].ljust(16, b"\x00") + key[:1]


def _ip_version(address: str) -> int:
    """4 or 6, from the textual form of an address (no parsing needed: IPv6 has colons)."""
    return 6 if ":" in address else 4
