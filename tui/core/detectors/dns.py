"""The DNS detector: each check's recent results, the findings they open and close, and the views
that read that memory (the console's DNS pane and ``watchfloor check``).

The vocabulary (check keys, states, diagnoses, rows, zone verdicts) is :mod:`tui.core.dns`'s;
this module only remembers results and judges zones with it. Everything comes from
:class:`~tui.core.events.DnsProbeResult` events and the engine's route state: a replay of the
journal gives exactly the states and findings the live run showed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from tui.core.dns import (
    ANSWERING_STATES,
    DIAG_UNKNOWN,
    FAILING_STATES,
    OK,
    ROLE_AUTHORITATIVE,
    ROLE_CHILD,
    ROLE_DOH,
    ROLE_PARENT,
    ROLE_RESOLVER,
    SERIAL_MISMATCH,
    SLOW,
    TIMEOUT,
    UNREACHABLE,
    CheckKey,
    Diagnosis,
    DnsRow,
    HistoryPoint,
    NsComparison,
    ZoneStatus,
    check_key,
    check_state,
    diagnose,
    latency_percentiles,
    newest_serial,
)
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
from tui.core.watchlist import Thresholds, Watchlist

__all__ = ["DnsMonitor", "dns_rows", "monitor_of", "ns_comparison", "server_history", "zone_statuses"]

DEFAULT_WINDOW_SECONDS = 3600.0
DEFAULT_MAX_SAMPLES = 120

_ROLE_ORDER = {ROLE_AUTHORITATIVE: 0, ROLE_PARENT: 1, ROLE_RESOLVER: 2, ROLE_DOH: 3, ROLE_CHILD: 4}


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
        newest = newest_serial(serials)
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
