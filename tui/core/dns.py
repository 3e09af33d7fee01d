"""DNS health from probe results: per-server state, latency, serials, delegation, and routing.

Everything here is computed from :class:`~tui.core.events.DnsProbeResult` events (and, for the
cross-diagnosis, from the engine's route state), never from the network: a replay of the
journal therefore gives exactly the states and findings the live run showed.

Vocabulary
----------

A *check* is one question asked of one place: a zone's SOA at one nameserver address over one
transport, or one named record through one resolver or DNS-over-HTTPS endpoint. Checks are
identified by :class:`CheckKey`. The *state* of a check (:data:`STATES`) is derived from its
latest result, the latency over a window, and the SOA serials of the other servers of the zone:

- ``ok``, ``slow`` (median latency above the zone's ``dns_latency_warn``), ``serial mismatch``
  (answers, but with an older SOA serial than another server of the zone): the server answers;
- ``timeout``, ``refused``, ``servfail``, ``lame`` (answered without authority, or NXDOMAIN for
  its own zone), ``nxdomain`` (a watched record does not exist), ``unreachable`` (connection
  refused), ``error`` (anything else): the check fails.

A failing nameserver address is mapped to the routed prefix covering it (:func:`diagnose`):
``unreachable: routing`` when that prefix has lost visibility, ``routed but not answering``
when it is still visible (the December 2014 reflection attack on the kp. servers looked like
this), ``routing: unknown`` when there is no routing data to judge by.

The engine detector that keeps the per-check history and opens and closes findings, and the
view functions that read its memory (``dns_rows``, ``zone_statuses``, ``ns_comparison``,
``server_history``), are in :mod:`tui.core.detectors.dns`; this module is the vocabulary and
the model they share with the DNS probes and the views.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tui.core.events import (
    DnsProbeResult,
)
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState, Visibility
from tui.core.watchlist import Thresholds, Watchlist

__all__ = [
    "ROLE_AUTHORITATIVE",
    "ROLE_RESOLVER",
    "ROLE_DOH",
    "ROLE_PARENT",
    "ROLE_CHILD",
    "STATES",
    "ANSWERING_STATES",
    "FAILING_STATES",
    "DIAG_ROUTING",
    "DIAG_NOT_ANSWERING",
    "DIAG_UNKNOWN",
    "CheckKey",
    "Diagnosis",
    "DnsRow",
    "HistoryPoint",
    "NsComparison",
    "ZoneStatus",
    "check_key",
    "percentile",
    "latency_percentiles",
    "serial_newer",
    "newest_serial",
    "check_state",
    "covering_routed_prefix",
    "diagnose",
]

ROLE_AUTHORITATIVE = "authoritative"
"""SOA probe of one of the zone's nameservers."""
ROLE_RESOLVER = "resolver"
"""A named record asked through a recursive resolver."""
ROLE_DOH = "doh"
"""A named record asked through a DNS-over-HTTPS endpoint."""
ROLE_PARENT = "parent"
"""The zone's NS set as the parent zone's servers delegate it (a referral)."""
ROLE_CHILD = "child"
"""The zone's NS set as the zone's own servers publish it."""

OK = "ok"
SLOW = "slow"
SERIAL_MISMATCH = "serial mismatch"
TIMEOUT = "timeout"
REFUSED = "refused"
SERVFAIL = "servfail"
LAME = "lame"
NXDOMAIN = "nxdomain"
UNREACHABLE = "unreachable"
ERROR = "error"

STATES = (OK, SLOW, SERIAL_MISMATCH, TIMEOUT, REFUSED, SERVFAIL, LAME, NXDOMAIN, UNREACHABLE, ERROR)
"""Every state a check can be in."""
ANSWERING_STATES = frozenset({OK, SLOW, SERIAL_MISMATCH})
"""States in which the server does answer (possibly with a problem)."""
FAILING_STATES = frozenset(STATES) - ANSWERING_STATES
"""States in which the check gets no usable answer."""

DIAG_ROUTING = "unreachable: routing"
DIAG_NOT_ANSWERING = "routed but not answering"
DIAG_UNKNOWN = "routing: unknown"




class CheckKey(NamedTuple):
    """Identifies one check: what is asked, of whom, how."""

    zone: str
    role: str
    address: str
    port: int
    transport: str
    qname: str
    qtype: str


def check_key(result: DnsProbeResult) -> CheckKey:
    """The check a result belongs to."""
    return CheckKey(
        result.zone, result.role, result.address, result.port, result.transport, result.qname, result.qtype
    )


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What routing says about a server address.

    ``label`` is one of :data:`DIAG_ROUTING`, :data:`DIAG_NOT_ANSWERING`, :data:`DIAG_UNKNOWN`,
    or ``""`` when the check answers (nothing to explain). ``prefix`` is the routed (or,
    failing that, watched) prefix covering the address; ``visible``/``full_feed`` its visibility.
    """

    label: str
    prefix: str = ""
    visible: int | None = None
    full_feed: int | None = None
    text: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "label": self.label,
            "prefix": self.prefix or None,
            "visible": self.visible,
            "full_feed": self.full_feed,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class DnsRow:
    """One line of the DNS pane / ``watchfloor check`` table: one check and its state."""

    zone: str
    role: str
    server: str
    address: str
    port: int
    transport: str
    qname: str
    qtype: str
    state: str
    outcome: str
    rtt: float | None
    """Latency of the latest result, seconds (None when it got no answer)."""
    p50: float | None
    p95: float | None
    samples: int
    serial: int | None
    last_success: float | None
    last_checked: float
    diagnosis: Diagnosis
    detail: str = ""
    rcode: str | None = None
    authoritative: bool = False
    truncated: bool = False
    answers: tuple[str, ...] = ()

    @property
    def key(self) -> CheckKey:
        """The check this row shows."""
        return CheckKey(self.zone, self.role, self.address, self.port, self.transport, self.qname, self.qtype)

    @property
    def failing(self) -> bool:
        """True when the check gets no usable answer."""
        return self.state in FAILING_STATES

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible form (used by ``watchfloor check --json``)."""
        return {
            "zone": self.zone,
            "role": self.role,
            "server": self.server,
            "address": self.address,
            "port": self.port,
            "transport": self.transport,
            "qname": self.qname,
            "qtype": self.qtype,
            "state": self.state,
            "outcome": self.outcome,
            "rcode": self.rcode,
            "rtt": self.rtt,
            "p50": self.p50,
            "p95": self.p95,
            "samples": self.samples,
            "serial": self.serial,
            "authoritative": self.authoritative,
            "truncated": self.truncated,
            "answers": list(self.answers),
            "last_success": self.last_success,
            "last_checked": self.last_checked,
            "detail": self.detail,
            "diagnosis": self.diagnosis.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One past result of a server, for the drill-down view."""

    ts: float
    role: str
    transport: str
    qname: str
    qtype: str
    outcome: str
    rcode: str | None
    latency: float | None
    serial: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class NsComparison:
    """The zone's NS set at the parent (delegation) and at each of its own servers."""

    zone: str
    parent: frozenset[str]
    children: tuple[tuple[str, frozenset[str]], ...]
    """(server address:port, NS names it publishes) for every child that answered."""

    @property
    def child_union(self) -> frozenset[str]:
        """Every NS name any child server publishes."""
        out: set[str] = set()
        for _, names in self.children:
            out |= names
        return frozenset(out)

    @property
    def mismatch(self) -> bool:
        """True when some child's NS set differs from the parent's, or children disagree."""
        if not self.parent or not self.children:
            return False
        return any(names != self.parent for _, names in self.children)

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "zone": self.zone,
            "parent": sorted(self.parent),
            "children": {where: sorted(names) for where, names in self.children},
            "mismatch": self.mismatch,
            "only_at_parent": sorted(self.parent - self.child_union),
            "only_at_child": sorted(self.child_union - self.parent),
        }


@dataclass(frozen=True, slots=True)
class ZoneStatus:
    """The verdict on one zone: ``severity`` info (all well), warning, or critical (zone down)."""

    zone: str
    severity: str
    summary: str
    reasons: tuple[str, ...] = ()
    newest_serial: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "zone": self.zone,
            "severity": self.severity,
            "summary": self.summary,
            "reasons": list(self.reasons),
            "newest_serial": self.newest_serial,
        }


# -- small pure helpers ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..1) percentile by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    # Nearest rank: the smallest value with at least q of the sample at or below it.
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def latency_percentiles(results: Iterable[DnsProbeResult]) -> tuple[float | None, float | None]:
    """(p50, p95) latency of the results that got an answer."""
    values = [r.latency for r in results if r.latency is not None and r.outcome not in (TIMEOUT, UNREACHABLE)]
    return percentile(values, 0.5), percentile(values, 0.95)


def serial_newer(a: int, b: int) -> bool:
    """RFC 1982 serial arithmetic: True when serial ``a`` is newer than ``b``."""
    a &= 0xFFFFFFFF
    b &= 0xFFFFFFFF
    return a != b and ((a < b and b - a > 0x80000000) or (a > b and a - b < 0x80000000))


def newest_serial(serials: Iterable[int]) -> int | None:
    """The serial no other serial is newer than (RFC 1982), or None for none."""
    distinct = sorted(set(serials))
    for candidate in distinct:
        if not any(serial_newer(other, candidate) for other in distinct):
            return candidate
    # Serials spread over the whole circle have no newest; the largest is as good as any.
    return distinct[-1] if distinct else None


def check_state(latest: DnsProbeResult, p50: float | None, slow_after: float, newest: int | None) -> str:
    """The state of a check from its latest result, its median latency and the zone's newest serial."""
    outcome = latest.outcome
    if outcome == OK:
        if (
            latest.role == ROLE_AUTHORITATIVE
            and latest.serial is not None
            and newest is not None
            and latest.serial != newest
        ):
            return SERIAL_MISMATCH
        if p50 is not None and p50 > slow_after:
            return SLOW
        return OK
    if outcome == NXDOMAIN and latest.role in (ROLE_AUTHORITATIVE, ROLE_CHILD):
        # A server that says its own zone does not exist is not serving it.
        return LAME
    return outcome if outcome in STATES else ERROR


# -- routing cross-diagnosis ------------------------------------------------------------------------


def _host_prefix(address: str) -> Prefix | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    return Prefix(ip.version, int(ip), 32 if ip.version == 4 else 128)


def covering_routed_prefix(state: RouteState, address: str) -> Prefix | None:
    """The most specific prefix some session holds a route to that covers ``address``."""
    host = _host_prefix(address)
    if host is None:
        return None
    tables = [p.table(host.version) for p in state.peers()]
    tables = [t for t in tables if t]
    if not tables:
        return None
    bits = host.bits
    # One dict lookup per session and prefix length: cheap even with a full table kept.
    for length in range(bits, -1, -1):
        mask = ((1 << length) - 1) << (bits - length) if length else 0
        candidate = Prefix(host.version, host.network & mask, length)
        key = candidate.wire_key
        if any(key in table for table in tables):
            return candidate
    return None


def _critical_share(watchlist: Watchlist, prefix: Prefix) -> float:
    """The strictest visibility_critical among the watches covering ``prefix``."""
    shares = [
        watchlist.thresholds(entry.watch).visibility_critical
        for _, entries in watchlist.trie.covering(prefix)
        for entry in entries
    ]
    return max(shares) if shares else Thresholds().visibility_critical


def diagnose(address: str, state: str, view: Any) -> Diagnosis:
    """Explain a check's state by the routing of ``address`` (``view``: engine or EngineView).

    The prefix judged is the most specific one with routes covering the address; when no route
    covers it, the most specific watched prefix covering it (a watched prefix withdrawn
    everywhere has no routes left). Visibility below that watch's ``visibility_critical`` is
    ``unreachable: routing``; at or above it, ``routed but not answering``. With no routing data
    (no full-feed session up, or an address neither routed nor watched) it is ``routing:
    unknown``: missing data never reads as an outage.
    """
    if state not in FAILING_STATES:
        return Diagnosis("")
    host = _host_prefix(address)
    if host is None:
        return Diagnosis(DIAG_UNKNOWN, text="not an IP address")
    route_state: RouteState = view.state
    watchlist: Watchlist = view.watchlist
    prefix = covering_routed_prefix(route_state, address)
    if prefix is None:
        watched = watchlist.trie.covering(host)
        if not watched:
            return Diagnosis(DIAG_UNKNOWN, text=f"no routing data covers {address}")
        prefix = watched[-1][0]
    vis: Visibility = route_state.visibility(prefix)
    if vis.ratio is None:
        return Diagnosis(
            DIAG_UNKNOWN, str(prefix), vis.visible, vis.full_feed,
            f"{prefix}: no full-feed session up ({vis.unknown} unknown)",
        )
    share = f"{vis.visible}/{vis.full_feed} full-feed peers ({vis.ratio:.0%})"
    if vis.ratio < _critical_share(watchlist, prefix):
        return Diagnosis(DIAG_ROUTING, str(prefix), vis.visible, vis.full_feed, f"{prefix} seen by {share}")
    return Diagnosis(DIAG_NOT_ANSWERING, str(prefix), vis.visible, vis.full_feed, f"{prefix} still seen by {share}")
