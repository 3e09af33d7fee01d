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

:class:`DnsMonitor` is the engine detector that keeps the per-check history and opens and
closes findings; :func:`dns_rows`, :func:`zone_statuses`, :func:`ns_comparison` and
:func:`server_history` are the view-model functions the console and ``watchfloor check`` use.
"""

from __future__ import annotations

import ipaddress
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tui.core.events import (
    DnsProbeResult,
    Event,
    FeedStatus,
    Finding,
    FullFeedPeers,
    PeerStateChanged,
    RouteAnnounced,
    RouteWithdrawn,
    Severity,
    event_from_dict,
    event_to_dict,
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
    "DnsMonitor",
    "check_key",
    "percentile",
    "latency_percentiles",
    "serial_newer",
    "newest_serial",
    "check_state",
    "covering_routed_prefix",
    "diagnose",
    "dns_rows",
    "zone_statuses",
    "ns_comparison",
    "server_history",
    "monitor_of",
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

DEFAULT_WINDOW_SECONDS = 3600.0
DEFAULT_MAX_SAMPLES = 120

_ROLE_ORDER = {ROLE_AUTHORITATIVE: 0, ROLE_PARENT: 1, ROLE_RESOLVER: 2, ROLE_DOH: 3, ROLE_CHILD: 4}


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
        for entry in entries  # type: ignore[attr-defined]
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


# -- the detector ---------------------------------------------------------------------------------


class DnsMonitor:
    """Engine detector: keeps each check's recent results and opens/closes DNS findings.

    Findings (``kind``): ``dns_server_failing`` (warning; evidence has the routing diagnosis),
    ``dns_serial_mismatch`` (warning), ``dns_ns_mismatch`` (warning), ``dns_zone_down``
    (critical: no authoritative server of the zone answers over any transport). Each is
    ``open`` when it starts, ``update`` when its summary changes, ``close`` when it ends.
    """

    name = "dns"

    def __init__(
        self, window_seconds: float = DEFAULT_WINDOW_SECONDS, max_samples: int = DEFAULT_MAX_SAMPLES
    ) -> None:
        self.window_seconds = window_seconds
        self.max_samples = max_samples
        self.history: dict[CheckKey, deque[DnsProbeResult]] = {}
        self._open: dict[tuple[str, str], Finding] = {}

    # -- feeding --------------------------------------------------------------------------------

    def add(self, result: DnsProbeResult) -> None:
        """Remember one result (older ones fall out of the window)."""
        series = self.history.setdefault(check_key(result), deque(maxlen=self.max_samples))
        if series and result.ts < series[-1].ts:
            # Out-of-order arrival (concurrent probes): keep the series sorted by time.
            items = sorted([*series, result], key=lambda r: r.ts)
            series.clear()
            series.extend(items)
        else:
            series.append(result)
        horizon = series[-1].ts - self.window_seconds
        while len(series) > 1 and series[0].ts < horizon:
            series.popleft()

    def latest(self, zone: str | None = None) -> list[DnsProbeResult]:
        """The latest result of every check (of ``zone``)."""
        return [s[-1] for k, s in self.history.items() if s and (zone is None or k.zone == zone)]

    def zones(self) -> list[str]:
        """Every zone with results, sorted."""
        return sorted({k.zone for k in self.history})

    # -- Detector protocol ----------------------------------------------------------------------

    def observe(self, events: Sequence[Event], view: Any, now: float) -> list[Finding]:
        """Take the batch's DNS results; re-judge the zones they touched (all, on routing change).

        Results are judged one timestamp at a time (a probe round stamps all its results with
        the round's start), so a replay that batches the journal differently from the live run
        still opens and closes the same findings.
        """
        rounds: dict[float, list[DnsProbeResult]] = {}
        routing_changed = False
        for event in events:
            if isinstance(event, DnsProbeResult):
                rounds.setdefault(event.ts, []).append(event)
            elif isinstance(event, RouteAnnounced | RouteWithdrawn | PeerStateChanged | FeedStatus | FullFeedPeers):
                routing_changed = True
        findings: list[Finding] = []
        for ts in sorted(rounds):
            touched: set[str] = set()
            for result in rounds[ts]:
                self.add(result)
                touched.add(result.zone)
            for zone in sorted(touched):
                findings.extend(self._judge(zone, view, ts))
        if routing_changed:
            # Diagnoses of failing servers depend on routing: re-judge zones with open failures.
            ts = max((e.ts for e in events), default=now)
            for zone in sorted({zone for (_, zone) in self._open_zones()}):
                findings.extend(self._judge(zone, view, ts))
        return findings

    def tick(self, view: Any, now: float) -> list[Finding]:
        """Nothing time-based: states change only with results (a silent prober is not an outage)."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """History and open findings as JSON-compatible data."""
        return {
            "history": [event_to_dict(r) for series in self.history.values() for r in series],
            "open": [event_to_dict(f) for f in self._open.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Inverse of :meth:`snapshot` (an empty dict resets)."""
        self.history = {}
        self._open = {}
        for item in data.get("history", ()):
            result = event_from_dict(item)
            if isinstance(result, DnsProbeResult):
                self.add(result)
        for item in data.get("open", ()):
            finding = event_from_dict(item)
            if isinstance(finding, Finding):
                self._open[(finding.kind, finding.subject)] = finding

    # -- reading --------------------------------------------------------------------------------

    def rows(self, view: Any, zone: str | None = None) -> list[DnsRow]:
        """One :class:`DnsRow` per check (of ``zone``), sorted for display."""
        out: list[DnsRow] = []
        zones = [zone] if zone is not None else self.zones()
        for name in zones:
            out.extend(self._zone_rows(name, view))
        return sorted(out, key=_row_order)

    def _zone_rows(self, zone: str, view: Any) -> list[DnsRow]:
        slow_after = _slow_threshold(view.watchlist, zone)
        series_of = {k: s for k, s in self.history.items() if k.zone == zone and s}
        serials = [
            s[-1].serial
            for k, s in series_of.items()
            if k.role == ROLE_AUTHORITATIVE and s[-1].outcome == OK and s[-1].serial is not None
        ]
        newest = newest_serial(serials)  # type: ignore[arg-type]
        rows = []
        for key, series in series_of.items():
            if key.role == ROLE_CHILD:
                continue  # the same servers' SOA rows already show them; NS sets go to ns_comparison
            latest = series[-1]
            p50, p95 = latency_percentiles(series)
            state = check_state(latest, p50, slow_after, newest)
            last_success = next((r.ts for r in reversed(series) if r.outcome == OK), None)
            if key.role == ROLE_DOH:
                # The endpoint is a URL; its host's routing is not looked up.
                failing = state in FAILING_STATES
                diagnosis = Diagnosis(DIAG_UNKNOWN if failing else "", text="DoH endpoint" if failing else "")
            else:
                diagnosis = diagnose(key.address, state, view)
            rows.append(
                DnsRow(
                    zone=zone, role=key.role, server=latest.server, address=key.address, port=key.port,
                    transport=key.transport, qname=key.qname, qtype=key.qtype, state=state,
                    outcome=latest.outcome, rtt=latest.latency if latest.outcome not in (TIMEOUT, UNREACHABLE) else None,
                    p50=p50, p95=p95, samples=len(series), serial=latest.serial, last_success=last_success,
                    last_checked=latest.ts, diagnosis=diagnosis, detail=latest.detail, rcode=latest.rcode,
                    authoritative=latest.authoritative, truncated=latest.truncated, answers=latest.answers,
                )
            )
        return rows

    def ns_comparison(self, zone: str) -> NsComparison:
        """The zone's NS sets at the parent and at its own servers (latest answers)."""
        parent: set[str] = set()
        children: list[tuple[str, frozenset[str]]] = []
        for key, series in self.history.items():
            if key.zone != zone or not series or series[-1].outcome != OK:
                continue
            names = frozenset(a.lower() for a in series[-1].answers)
            if key.role == ROLE_PARENT:
                parent |= names
            elif key.role == ROLE_CHILD:
                children.append((_where(key.address, key.port), names))
        return NsComparison(zone, frozenset(parent), tuple(sorted(children, key=lambda c: c[0])))

    def zone_status(self, zone: str, view: Any, rows: Sequence[DnsRow] | None = None) -> ZoneStatus:
        """The verdict on ``zone`` (see :class:`ZoneStatus`)."""
        rows = self._zone_rows(zone, view) if rows is None else [r for r in rows if r.zone == zone]
        auth = [r for r in rows if r.role == ROLE_AUTHORITATIVE]
        newest = newest_serial(r.serial for r in auth if r.serial is not None and r.outcome == OK)
        reasons: list[str] = []
        if auth and not any(r.state in ANSWERING_STATES for r in auth):
            diag = sorted({r.diagnosis.label for r in auth if r.diagnosis.label})
            why = f" ({'; '.join(diag)})" if diag else ""
            return ZoneStatus(
                zone, Severity.CRITICAL, f"zone down: none of {len(auth)} nameserver checks answers{why}",
                tuple(_row_reason(r) for r in sorted(auth, key=_row_order)), newest,
            )
        if not auth:
            reasons.append("no nameserver known (discovery failed or nothing configured)")
        for row in sorted(rows, key=_row_order):
            if row.state != OK:
                reasons.append(_row_reason(row))
        ns = self.ns_comparison(zone)
        if ns.mismatch:
            info = ns.as_dict()
            reasons.append(
                f"NS mismatch: parent {' '.join(info['parent'])}; only at parent: "
                f"{' '.join(info['only_at_parent']) or '-'}; only at child: {' '.join(info['only_at_child']) or '-'}"
            )
        if reasons:
            return ZoneStatus(zone, Severity.WARNING, f"{len(reasons)} problem(s)", tuple(reasons), newest)
        return ZoneStatus(zone, Severity.INFO, f"all {len(rows)} checks ok", (), newest)

    # -- findings -------------------------------------------------------------------------------

    def _open_zones(self) -> set[tuple[str, str]]:
        return {(kind, finding.evidence_dict.get("zone", "")) for (kind, _), finding in self._open.items()}

    def _judge(self, zone: str, view: Any, ts: float) -> list[Finding]:
        rows = self._zone_rows(zone, view)
        watch = ", ".join(view.watchlist.zones().get(zone, []))
        wanted: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
        status = self.zone_status(zone, view, rows)
        if status.severity == Severity.CRITICAL:
            wanted[("dns_zone_down", zone)] = (
                Severity.CRITICAL, f"{zone} {status.summary}", {"zone": zone, "checks": list(status.reasons)}
            )
        for row in rows:
            if row.failing:
                subject = f"{zone} {row.role} {_where(row.address, row.port)}/{row.transport}"
                if row.role in (ROLE_RESOLVER, ROLE_DOH):
                    subject += f" {row.qname} {row.qtype}"
                summary = f"{subject}: {row.state}"
                if row.diagnosis.label:
                    summary += f" ({row.diagnosis.label})"
                wanted[("dns_server_failing", subject)] = (
                    Severity.WARNING, summary,
                    {"zone": zone, "role": row.role, "server": row.server, "address": row.address,
                     "port": row.port, "transport": row.transport, "state": row.state, "rcode": row.rcode,
                     "detail": row.detail, "diagnosis": row.diagnosis.as_dict()},
                )
        behind = [r for r in rows if r.state == SERIAL_MISMATCH]
        if behind:
            serials = {f"{_where(r.address, r.port)}/{r.transport}": r.serial for r in rows
                       if r.role == ROLE_AUTHORITATIVE and r.serial is not None and r.outcome == OK}
            wanted[("dns_serial_mismatch", zone)] = (
                Severity.WARNING,
                f"{zone} SOA serials differ: newest {status.newest_serial}, "
                f"{len({(r.address, r.port) for r in behind})} server(s) behind",
                {"zone": zone, "newest": status.newest_serial, "serials": serials},
            )
        ns = self.ns_comparison(zone)
        if ns.mismatch:
            info = ns.as_dict()
            wanted[("dns_ns_mismatch", zone)] = (
                Severity.WARNING,
                f"{zone} NS at parent and child differ (only at parent: {', '.join(info['only_at_parent']) or '-'}; "
                f"only at child: {', '.join(info['only_at_child']) or '-'})",
                info,
            )
        out: list[Finding] = []
        for (kind, subject), (severity, summary, evidence) in wanted.items():
            current = self._open.get((kind, subject))
            if current is None:
                finding = Finding(
                    ts, f"dns:{kind}:{subject}:{ts:.3f}", watch, kind, severity, "open", subject, summary, ts,
                    tuple(evidence.items()),
                )
            elif (current.severity, current.summary) != (severity, summary):
                finding = Finding(
                    ts, current.finding_id, watch, kind, severity, "update", subject, summary, current.started,
                    tuple(evidence.items()),
                )
            else:
                continue
            self._open[(kind, subject)] = finding
            out.append(finding)
        for (kind, subject), current in list(self._open.items()):
            if current.evidence_dict.get("zone") != zone or (kind, subject) in wanted:
                continue
            del self._open[(kind, subject)]
            out.append(
                Finding(
                    ts, current.finding_id, current.watch, kind, current.severity, "close", subject,
                    f"{current.summary} - resolved", current.started, current.evidence,
                )
            )
        return out


def _slow_threshold(watchlist: Watchlist, zone: str) -> float:
    names = watchlist.zones().get(zone, [])
    values = [watchlist.thresholds(n).dns_latency_warn for n in names]
    return min(values) if values else Thresholds().dns_latency_warn


def _where(address: str, port: int) -> str:
    """``host:port`` (``[v6]:port``); a DoH endpoint's address is its URL, shown as is."""
    if address.startswith(("http://", "https://")):
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


_TRANSPORT_ORDER = {"udp": 0, "tcp": 1, "https": 2}


def _row_order(row: DnsRow) -> tuple[Any, ...]:
    return (
        row.zone, _ROLE_ORDER.get(row.role, 9), row.server, row.address, row.port,
        row.qname, row.qtype, _TRANSPORT_ORDER.get(row.transport, 9), row.transport,
    )


def _row_reason(row: DnsRow) -> str:
    what = f"{row.role} {row.server} {_where(row.address, row.port)}/{row.transport}"
    if row.role in (ROLE_RESOLVER, ROLE_DOH):
        what += f" {row.qname} {row.qtype}"
    text = f"{what}: {row.state}"
    if row.state == SLOW and row.p50 is not None:
        text += f" (median {row.p50 * 1000:.0f} ms)"
    if row.state == SERIAL_MISMATCH:
        text += f" (serial {row.serial})"
    if row.diagnosis.label:
        text += f" - {row.diagnosis.label}: {row.diagnosis.text}"
    elif row.detail and row.failing:
        text += f" ({row.detail})"
    return text


# -- view-model entry points ----------------------------------------------------------------------


def monitor_of(engine: Any) -> DnsMonitor:
    """The engine's :class:`DnsMonitor`, or one rebuilt from its latest DNS results."""
    for detector in getattr(engine, "detectors", ()):
        if isinstance(detector, DnsMonitor):
            return detector
    monitor = DnsMonitor()
    for result in sorted(getattr(engine, "dns", {}).values(), key=lambda r: r.ts):
        monitor.add(result)
    return monitor


def dns_rows(engine: Any, zone: str | None = None) -> list[DnsRow]:
    """Rows for the DNS pane: every check of every zone (or of ``zone``), sorted."""
    return monitor_of(engine).rows(engine, zone)


def zone_statuses(engine: Any, zones: Iterable[str] | None = None) -> list[ZoneStatus]:
    """One :class:`ZoneStatus` per zone (every zone with results, or those named)."""
    monitor = monitor_of(engine)
    names = list(zones) if zones is not None else monitor.zones()
    return [monitor.zone_status(name, engine) for name in names]


def ns_comparison(engine: Any, zone: str) -> NsComparison:
    """The zone's delegation (parent) versus what its servers publish (child)."""
    return monitor_of(engine).ns_comparison(zone)


def server_history(
    source: Any, zone: str, address: str, *, port: int | None = None, transport: str | None = None
) -> list[HistoryPoint]:
    """Past results of one server address in ``zone``, oldest first.

    ``source`` is either an engine (its monitor's window is used) or an iterable of events
    (e.g. read back from the journal), so the drill-down works live and in replay.
    """
    if hasattr(source, "detectors") or hasattr(source, "dns"):
        events: Iterable[Any] = (r for series in monitor_of(source).history.values() for r in series)
    else:
        events = source
    points = [
        HistoryPoint(e.ts, e.role, e.transport, e.qname, e.qtype, e.outcome, e.rcode, e.latency, e.serial, e.detail)
        for e in events
        if isinstance(e, DnsProbeResult)
        and e.zone == zone
        and e.address == address
        and (port is None or e.port == port)
        and (transport is None or e.transport == transport)
    ]
    return sorted(points, key=lambda p: p.ts)
