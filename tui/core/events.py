"""Typed, immutable events: everything the engine learns arrives as one of these.

Every event has ``ts`` (UTC seconds, float) first. Feeds build them from the outside world;
the journal stores them with :func:`event_to_dict` and reads them back with
:func:`event_from_dict`, so a replay feeds the engine exactly what the live run did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

from tui.core.aspath import ASPath, format_path, origin_of, parse_path
from tui.core.attributes import PathAttributes
from tui.core.prefixes import Prefix, WireKey
from tui.core.wirekeys import WireKeyError, join_wire_keys, split_wire_keys

__all__ = [
    "Event",
    "EventDecodeError",
    "PeerKey",
    "RouteAnnounced",
    "RouteWithdrawn",
    "BulkRoutes",
    "PeerStateChanged",
    "PeerSeen",
    "FullFeedPeers",
    "FeedStatus",
    "RouteSnapshot",
    "RecordRejected",
    "WatchExpanded",
    "DnsProbeResult",
    "Finding",
    "Severity",
    "EVENT_TYPES",
    "event_to_dict",
    "event_from_dict",
    "event_to_json",
    "ESTABLISHED",
]

ESTABLISHED = "ESTABLISHED"


class PeerKey(NamedTuple):
    """One BGP session as a collector sees it."""

    collector: str
    peer_ip: str
    peer_asn: int

    def __str__(self) -> str:
        return f"{self.collector} {self.peer_ip} AS{self.peer_asn}"


class Severity:
    """Severity names, ordered by :data:`RANK`."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    RANK: ClassVar[dict[str, int]] = {"info": 0, "warning": 1, "critical": 2}


class EventDecodeError(ValueError):
    """A stored event could not be turned back into an event object."""


@dataclass(frozen=True, slots=True)
class RouteAnnounced:
    """A peer announced (or re-announced, implicitly replacing) a route to ``prefix``."""

    ts: float
    collector: str
    peer_ip: str
    peer_asn: int
    prefix: Prefix
    as_path: ASPath
    next_hop: str = ""
    communities: tuple[str, ...] = ()
    source: str = ""
    KIND: ClassVar[str] = "announce"

    @property
    def peer(self) -> PeerKey:
        """The session this route came over."""
        return PeerKey(self.collector, self.peer_ip, self.peer_asn)

    @property
    def origin(self) -> int | tuple[int, ...] | None:
        """Origin ASN (a tuple when the path ends in an AS_SET)."""
        return origin_of(self.as_path)


@dataclass(frozen=True, slots=True)
class RouteWithdrawn:
    """A peer withdrew its route to ``prefix``."""

    ts: float
    collector: str
    peer_ip: str
    peer_asn: int
    prefix: Prefix
    source: str = ""
    KIND: ClassVar[str] = "withdraw"

    @property
    def peer(self) -> PeerKey:
        """The session this withdrawal came over."""
        return PeerKey(self.collector, self.peer_ip, self.peer_asn)


@dataclass(frozen=True, slots=True)
class BulkRoutes:
    """Many routes of one session at once, for prefixes no specific watch names (whole-table mode).

    A watch of ``0.0.0.0/0`` or ``::/0`` keeps the whole table (DESIGN.md: whole-table mode);
    feeds that read a table in bulk (MRT) send the routes that concern nothing more specific
    like this, one event per UPDATE or per group of RIB entries, with the prefixes as wire keys
    of IP ``version``. ``withdrawn`` go first; then every key of ``announced`` gets the route
    with ``attributes`` (wire form, decoded only when looked at) since ``ts``. ``via_mp`` says
    the announced prefixes came in an MP_REACH_NLRI (its next hop is theirs).

    The engine applies them to the route table only: they are not logged one by one and no
    detector judges them (nothing specific is watched there).
    """

    ts: float
    collector: str
    peer_ip: str
    peer_asn: int
    version: int
    announced: tuple[WireKey, ...] = ()
    attributes: PathAttributes | None = None
    withdrawn: tuple[WireKey, ...] = ()
    via_mp: bool = False
    source: str = ""
    KIND: ClassVar[str] = "bulk"

    @property
    def peer(self) -> PeerKey:
        """The session these routes came over."""
        return PeerKey(self.collector, self.peer_ip, self.peer_asn)


@dataclass(frozen=True, slots=True)
class PeerStateChanged:
    """A BGP session changed state (MRT STATE_CHANGE, RIS_PEER_STATE).

    A peer that leaves ESTABLISHED loses every route it had announced.
    """

    ts: float
    collector: str
    peer_ip: str
    peer_asn: int
    old_state: str
    new_state: str
    source: str = ""
    KIND: ClassVar[str] = "peer_state"

    @property
    def peer(self) -> PeerKey:
        """The session that changed state."""
        return PeerKey(self.collector, self.peer_ip, self.peer_asn)

    @property
    def is_up(self) -> bool:
        """True when the session is now established."""
        return self.new_state.upper() == ESTABLISHED


@dataclass(frozen=True, slots=True)
class PeerSeen:
    """A session sent data: it exists and is up, even if none of its routes are kept.

    Feeds that drop unwatched routes early emit this once per session, so the session still
    counts among the full-feed peers that could have seen a watched prefix.
    """

    ts: float
    collector: str
    peer_ip: str
    peer_asn: int
    source: str = ""
    KIND: ClassVar[str] = "peer_seen"

    @property
    def peer(self) -> PeerKey:
        """The session that was heard from."""
        return PeerKey(self.collector, self.peer_ip, self.peer_asn)


@dataclass(frozen=True, slots=True)
class FullFeedPeers:
    """Declares which peers carry a full table (the denominator of visibility).

    ``basis`` says where the list came from (``"ripestat ris-peers"``, ``"rib size"``, ``"config"``)
    so the console can say how trustworthy the percentage is.
    """

    ts: float
    peers: tuple[PeerKey, ...]
    basis: str
    source: str = ""
    version: int | None = None
    """The IP version (4 or 6) this list is for; None declares it for both."""
    KIND: ClassVar[str] = "full_feed"


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A feed's health changed: ``connecting``, ``up``, ``gap`` (data missing), ``down``, ``ended``.

    While a feed is ``down`` or in a ``gap``, the peers it supplies are *unknown*, never
    withdrawn. ``gap_start``/``gap_end`` are set on the event that closes a gap.
    """

    ts: float
    feed: str
    state: str
    detail: str = ""
    gap_start: float | None = None
    gap_end: float | None = None
    KIND: ClassVar[str] = "feed_status"

    @property
    def gap_seconds(self) -> float | None:
        """Length of the closed gap, when this event closes one."""
        if self.gap_start is None or self.gap_end is None:
            return None
        return self.gap_end - self.gap_start


@dataclass(frozen=True, slots=True)
class RouteSnapshot:
    """The complete current routes of ``source``'s sessions to the ``scope`` prefixes.

    A feed that lost data (a RIS Live gap) sends this after re-reading the routes elsewhere
    (RIPEstat): a session holding a scoped route the snapshot lacks had it withdrawn while
    nobody was listening. The engine turns it into exactly those withdrawals and the
    announcements that differ from what it holds, and records *those*: a snapshot itself is
    never journaled, so replays see plain route events.

    ``scope`` is exact prefixes only: the sources answer for a prefix, not for every
    more-specific of it.
    """

    ts: float
    source: str
    scope: tuple[Prefix, ...]
    routes: tuple[RouteAnnounced, ...]
    basis: str = ""
    """Where the routes came from, for the log (``"ripestat bgp-state"``)."""
    KIND: ClassVar[str] = "route_snapshot"


@dataclass(frozen=True, slots=True)
class RecordRejected:
    """A record a feed could not read: counted and shown, never fatal, never silently lost."""

    ts: float
    feed: str
    location: str
    reason: str
    excerpt: str = ""
    KIND: ClassVar[str] = "rejected"


@dataclass(frozen=True, slots=True)
class WatchExpanded:
    """``prefixes`` join watch ``watch``, found for one of its ASNs or countries (``reason``).

    RIPEstat turns ``asns = [131279]`` and ``countries = ["KP"]`` into prefixes when the live
    feeds start. The watchlist an engine judges with is its configuration plus these events, in
    the order they came: journaled and published like any event, they make a replay, a seek or
    an attached console watch exactly what the live run watched at that moment.
    """

    ts: float
    watch: str
    prefixes: tuple[Prefix, ...]
    reason: str
    """``"AS131279"`` (announced by it) or ``"country KP"``."""
    source: str = ""
    KIND: ClassVar[str] = "watch_expanded"


@dataclass(frozen=True, slots=True)
class DnsProbeResult:
    """One DNS query to one server address over one transport, and what came back.

    ``outcome`` is one of ``ok``, ``timeout``, ``refused``, ``servfail``, ``nxdomain``,
    ``lame`` (answered without authority), ``unreachable`` (connection refused / no route),
    ``error`` (anything else; see ``detail``).
    """

    ts: float
    zone: str
    server: str
    address: str
    port: int
    transport: str
    qname: str
    qtype: str
    outcome: str
    rcode: str | None = None
    latency: float | None = None
    serial: int | None = None
    authoritative: bool = False
    truncated: bool = False
    answers: tuple[str, ...] = ()
    detail: str = ""
    role: str = "authoritative"
    """``authoritative`` for a zone's nameserver, ``resolver`` or ``doh`` for a recursive path."""
    KIND: ClassVar[str] = "dns"


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's conclusion, opened, updated and closed over time.

    ``evidence`` holds JSON-compatible key/value pairs (collectors, peer counts, triggering
    updates or DNS results) so that the finding can be checked, not just believed.
    """

    ts: float
    finding_id: str
    watch: str
    kind: str
    severity: str
    state: str
    subject: str
    summary: str
    started: float
    evidence: tuple[tuple[str, Any], ...] = field(default=())
    KIND: ClassVar[str] = "finding"

    @property
    def evidence_dict(self) -> dict[str, Any]:
        """The evidence as a plain dict."""
        return dict(self.evidence)


Event = (
    RouteAnnounced
    | RouteWithdrawn
    | BulkRoutes
    | PeerStateChanged
    | PeerSeen
    | FullFeedPeers
    | FeedStatus
    | RouteSnapshot
    | RecordRejected
    | WatchExpanded
    | DnsProbeResult
    | Finding
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.KIND: cls
    for cls in (
        RouteAnnounced,
        RouteWithdrawn,
        BulkRoutes,
        PeerStateChanged,
        PeerSeen,
        FullFeedPeers,
        FeedStatus,
        RecordRejected,
        WatchExpanded,
        DnsProbeResult,
        Finding,
    )
}
"""Every event that can be stored. :class:`RouteSnapshot` is not: the engine stores what it implies."""


_FIELD_KEYS = {"kind": "finding_kind"}
"""Fields stored under another key: ``Finding.kind`` would otherwise overwrite the ``kind`` tag."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-compatible dict with a ``kind`` tag; prefixes and paths become text."""
    if event.KIND not in EVENT_TYPES:
        raise TypeError(f"{type(event).__name__} is not stored; store the events the engine derived from it")
    out: dict[str, Any] = {"kind": event.KIND}
    for f in fields(event):
        value = getattr(event, f.name)
        key = _FIELD_KEYS.get(f.name, f.name)
        if isinstance(value, Prefix):
            value = str(value)
        elif f.name == "prefixes":
            value = [str(p) for p in value]
        elif f.name == "as_path":
            value = format_path(value)
        elif f.name == "peers":
            value = [list(p) for p in value]
        elif f.name == "evidence":
            value = {k: v for k, v in value}
        elif f.name in ("announced", "withdrawn"):
            value = join_wire_keys(value).hex()
        elif f.name == "attributes":
            value = None if value is None else {"blob": value.blob.hex(), "asn4": value.asn4}
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def event_to_json(event: Event) -> str:
    """One compact JSON line for ``event``."""
    return json.dumps(event_to_dict(event), separators=(",", ":"), sort_keys=False)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`; raises :class:`EventDecodeError`."""
    try:
        cls = EVENT_TYPES[data["kind"]]
    except (KeyError, TypeError):
        raise EventDecodeError(f"unknown event kind in {str(data)[:80]!r}") from None
    kwargs: dict[str, Any] = {}
    try:
        for f in fields(cls):
            key = _FIELD_KEYS.get(f.name, f.name)
            if key not in data:
                continue
            value = data[key]
            if f.name == "prefix":
                value = Prefix.parse(value)
            elif f.name == "prefixes":
                value = tuple(Prefix.parse(p) for p in value)
            elif f.name == "as_path":
                value = parse_path(value)
            elif f.name == "peers":
                value = tuple(PeerKey(c, ip, int(asn)) for c, ip, asn in value)
            elif f.name == "evidence":
                value = tuple(value.items())
            elif f.name in ("announced", "withdrawn"):
                value = tuple(split_wire_keys(bytes.fromhex(value), int(data["version"])))
            elif f.name == "attributes":
                value = None if value is None else PathAttributes(bytes.fromhex(value["blob"]), bool(value["asn4"]))
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)
    except (TypeError, ValueError, KeyError, WireKeyError) as exc:
        raise EventDecodeError(f"bad {data.get('kind')} event: {exc}") from None
