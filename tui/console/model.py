"""What the panes show, computed from the engine: plain values, no Textual, no colours.

Keeping this apart from the widgets means the rules ("worst first", "unknown is not 0%", what a
filter matches, how a jump target is read) are plain functions with plain tests, and the
widgets only turn these rows into cells.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tui.core.aspath import format_origin, format_path, origin_of, upstream_of
from tui.core.clock import format_time
from tui.core.detectors.dns import dns_rows as core_dns_rows
from tui.core.detectors.dns import monitor_of
from tui.core.dns import ANSWERING_STATES, ROLE_AUTHORITATIVE, ROLE_DOH, ROLE_RESOLVER
from tui.core.engine import LogEntry
from tui.core.events import Severity
from tui.core.prefixes import Prefix
from tui.core.routes import PeerStatus
from tui.core.watchlist import Thresholds

__all__ = [
    "State",
    "STATE_SYMBOL",
    "VisibilityRow",
    "RouteRow",
    "RelatedRow",
    "DnsRow",
    "LogFilter",
    "JumpError",
    "visibility_state",
    "visibility_rows",
    "sparkline",
    "route_rows",
    "related_rows",
    "origins_and_upstreams",
    "dns_rows",
    "ZoneHealth",
    "zone_health",
    "dns_summary",
    "ColumnSpec",
    "Column",
    "fit_columns",
    "replay_prompts",
    "replay_advice",
    "filter_log",
    "format_ts",
    "parse_jump",
    "LastChange",
]


class State:
    """How a row reads: the names double as CSS component-class suffixes."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    RANK = {CRITICAL: 0, WARNING: 1, UNKNOWN: 2, OK: 3}
    """Sort order, worst first: unknown sorts after real trouble but before fine."""


STATE_SYMBOL = {
    State.OK: "✓ ok",
    State.WARNING: "▲ warn",
    State.CRITICAL: "✖ crit",
    State.UNKNOWN: "? unkn",
}
"""A symbol and word per state, so a row reads the same without colour."""

SEVERITY_SYMBOL = {Severity.INFO: "· info", Severity.WARNING: "▲ warn", Severity.CRITICAL: "✖ crit"}
"""Same idea for the event log's severity column."""


def visibility_state(ratio: float | None, thresholds: Thresholds) -> str:
    """The :class:`State` of a visibility ratio under ``thresholds`` (None is unknown)."""
    if ratio is None:
        return State.UNKNOWN
    if ratio < thresholds.visibility_critical:
        return State.CRITICAL
    if ratio < thresholds.visibility_warn:
        return State.WARNING
    return State.OK


_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(ratios: Sequence[float | None], width: int = 8) -> str:
    """Block characters for the last ``width`` ratios; an unknown sample is a dot."""
    out = []
    for ratio in list(ratios)[-width:]:
        if ratio is None:
            out.append("·")
        else:
            clamped = min(1.0, max(0.0, ratio))
            out.append(_SPARK[min(len(_SPARK) - 1, int(clamped * len(_SPARK)))])
    return "".join(out).rjust(width)


@dataclass(frozen=True, slots=True)
class VisibilityRow:
    """One watched prefix as the visibility pane shows it."""

    watch: str
    prefix: Prefix
    reason: str
    origins: str
    visible: int
    full_feed: int
    unknown: int
    ratio: float | None
    state: str
    spark: str
    last_change: float | None
    basis: str

    @property
    def key(self) -> str:
        """Stable row key (a prefix may sit in several watches)."""
        return f"{self.watch}\x00{self.prefix}"

    @property
    def peers_text(self) -> str:
        """``"12/15"``, with the unknown sessions when there are any; ``"?/?"`` when unknowable."""
        text = f"{self.visible}/{self.full_feed}" if self.full_feed else f"{self.visible}/?"
        if self.unknown:
            text += f" +{self.unknown}?"
        return text

    @property
    def percent_text(self) -> str:
        """``"80.0%"`` or ``"unknown"`` (never 0% for missing data)."""
        return "unknown" if self.ratio is None else f"{self.ratio * 100:.1f}%"


def _origins_text(origins: Iterable[Any]) -> str:
    texts = sorted({format_origin(o) for o in origins})
    return ", ".join(texts) if texts else "-"


def visibility_rows(engine: Any, last_change: LastChange | None = None, spark_width: int = 8) -> list[VisibilityRow]:
    """Every (watch, prefix) pair with its visibility, worst first."""
    rows = []
    cache: dict[Prefix, tuple[Any, str, str]] = {}
    for entry in engine.watchlist.entries():
        prefix = entry.prefix
        if prefix not in cache:
            vis = engine.state.visibility(prefix)
            origins = _origins_text(origin_of(route.as_path) for _, route in engine.state.routes_to(prefix))
            spark = sparkline(engine.timeline.recent_ratios(str(prefix), spark_width), spark_width)
            cache[prefix] = (vis, origins, spark)
        vis, origins, spark = cache[prefix]
        thresholds = engine.watchlist.thresholds(entry.watch)
        rows.append(
            VisibilityRow(
                watch=entry.watch,
                prefix=prefix,
                reason=entry.reason,
                origins=origins,
                visible=vis.visible,
                full_feed=vis.full_feed,
                unknown=vis.unknown,
                ratio=vis.ratio,
                state=visibility_state(vis.ratio, thresholds),
                spark=spark,
                last_change=last_change.get(prefix) if last_change else None,
                basis=vis.basis,
            )
        )
    rows.sort(key=lambda r: (State.RANK[r.state], 2.0 if r.ratio is None else r.ratio, r.watch, r.prefix.sort_key()))
    return rows


class LastChange:
    """When each prefix last saw an update, kept incrementally from the engine's event log."""

    def __init__(self) -> None:
        self._last: dict[Prefix, float] = {}
        self._marker: LogEntry | None = None
        self._log_length = 0

    def update(self, log: Sequence[LogEntry]) -> None:
        """Take in log entries appended since the last call (rescans after a seek or reset)."""
        fresh: list[LogEntry] = []
        found = False
        for entry in reversed(log):
            if entry is self._marker:
                found = True
                break
            fresh.append(entry)
        if not found and self._marker is not None:
            self._last.clear()  # the log was rebuilt (seek/reset): start over from what it holds
        for entry in reversed(fresh):
            if entry.prefix is not None and entry.kind in ("announce", "withdraw"):
                self._last[entry.prefix] = entry.ts
        self._marker = log[-1] if log else None
        if not log:
            self._last.clear()

    def get(self, prefix: Prefix) -> float | None:
        """Time of the last update to exactly ``prefix``."""
        return self._last.get(prefix)


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One session's route to the drilled-down prefix."""

    collector: str
    peer_asn: int
    peer_ip: str
    as_path: str
    origin: str
    upstream: str
    since: float
    status: str


def route_rows(engine: Any, prefix: Prefix) -> list[RouteRow]:
    """Every session's route to exactly ``prefix``, by collector then peer ASN."""
    rows = []
    for info, route in engine.state.routes_to(prefix):
        upstream = upstream_of(route.as_path)
        rows.append(
            RouteRow(
                collector=info.key.collector,
                peer_asn=info.key.peer_asn,
                peer_ip=info.key.peer_ip,
                as_path=format_path(route.as_path),
                origin=format_origin(origin_of(route.as_path)),
                upstream=format_origin(upstream) if upstream is not None else "-",
                since=route.since,
                status=info.status,
            )
        )
    rows.sort(key=lambda r: (r.collector, r.peer_asn, r.peer_ip))
    return rows


@dataclass(frozen=True, slots=True)
class RelatedRow:
    """A more-specific or covering prefix of the drilled-down one."""

    relation: str
    prefix: Prefix
    peers: int
    origins: str


def related_rows(engine: Any, prefix: Prefix) -> list[RelatedRow]:
    """More-specifics (possible hijacks) first, then covering prefixes (what still carries traffic)."""
    rows = []
    for relation, found in (
        ("more-specific", engine.state.more_specifics(prefix)),
        ("covering", engine.state.less_specifics(prefix)),
    ):
        for other in sorted(found, key=Prefix.sort_key):
            routes = found[other]
            sessions = {info.key for info, _ in routes}
            rows.append(RelatedRow(relation, other, len(sessions), _origins_text(origin_of(r.as_path) for _, r in routes)))
    return rows


def origins_and_upstreams(rows: Sequence[RouteRow]) -> tuple[list[str], list[str]]:
    """The distinct origins and upstreams among ``rows``, most common first."""

    def ranked(values: Iterable[str]) -> list[str]:
        counts: dict[str, int] = {}
        for value in values:
            if value != "-":
                counts[value] = counts.get(value, 0) + 1
        return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    return ranked(r.origin for r in rows), ranked(r.upstream for r in rows)


@dataclass(frozen=True, slots=True)
class DnsRow:
    """One line of the DNS pane."""

    zone: str
    server: str
    address: str
    transport: str
    state: str
    rtt: str
    serial: str
    last_success: str
    diagnosis: str
    severity: str


_DNS_WARN = {"slow", "serial mismatch"}


def _rtt_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def dns_rows(engine: Any, core_rows: Sequence[Any] | None = None) -> list[DnsRow]:
    """Rows for the DNS pane, from :func:`tui.core.detectors.dns.dns_rows` (every check's latest state).

    ``core_rows`` are those core rows when the caller already has them (the summary line uses
    the same ones, so both always agree)."""
    out = []
    for row in core_dns_rows(engine) if core_rows is None else core_rows:
        if row.failing:
            severity = Severity.CRITICAL
        elif row.state in _DNS_WARN:
            severity = Severity.WARNING
        else:
            severity = Severity.INFO
        diagnosis = row.diagnosis.text or row.diagnosis.label or row.detail
        via = row.transport if row.role == "authoritative" else f"{row.role}/{row.transport}"
        out.append(
            DnsRow(
                zone=row.zone,
                server=row.server or row.qname,
                address=(
                    row.address if row.port == 53
                    else f"[{row.address}]:{row.port}" if ":" in row.address else f"{row.address}:{row.port}"
                ),
                transport=via,
                state=row.state,
                rtt=_rtt_text(row.rtt),
                serial="-" if row.serial is None else str(row.serial),
                last_success=format_ts(row.last_success),
                diagnosis=diagnosis,
                severity=severity,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class ZoneHealth:
    """One zone's DNS verdict, as the one-line summary on the main screen tells it."""

    zone: str
    state: str
    """:class:`State`: ``critical`` (no nameserver answers), ``warning``, ``ok``, or ``unknown``
    when the zone is watched but no check has reported yet."""
    answering: int = 0
    servers: int = 0
    """Distinct server addresses asked, and how many of them answer on some transport."""
    noun: str = "nameservers"
    """What was counted: ``nameservers`` (authoritative checks) or ``resolvers``."""
    problem: str = ""
    """The worst check's state (with its routing diagnosis), e.g. ``timeout; routed but not answering``."""


def zone_health(engine: Any, core_rows: Sequence[Any] | None = None) -> list[ZoneHealth]:
    """Every watched zone (and any zone with results) with its verdict, worst first.

    The verdict is the core's :meth:`~tui.core.detectors.dns.DnsMonitor.zone_status` (what
    ``watchfloor check`` reports), computed from the same rows as the DNS pane."""
    rows = list(core_dns_rows(engine) if core_rows is None else core_rows)
    monitor = monitor_of(engine)
    zones = set(engine.watchlist.zones()) | {r.zone for r in rows}
    out = []
    for zone in zones:
        mine = [r for r in rows if r.zone == zone]
        if not mine:
            out.append(ZoneHealth(zone, State.UNKNOWN))
            continue
        status = monitor.zone_status(zone, engine, mine)
        state = {Severity.CRITICAL: State.CRITICAL, Severity.WARNING: State.WARNING}.get(status.severity, State.OK)
        auth = [r for r in mine if r.role == ROLE_AUTHORITATIVE]
        counted = auth or [r for r in mine if r.role in (ROLE_RESOLVER, ROLE_DOH)]
        answering: dict[tuple[str, int], bool] = {}
        for r in counted:
            answering[(r.address, r.port)] = answering.get((r.address, r.port), False) or r.state in ANSWERING_STATES
        worst = sorted((r for r in mine if r.state != "ok"), key=lambda r: (not r.failing, r.role != ROLE_AUTHORITATIVE))
        if worst:
            problem = worst[0].state
            if worst[0].failing and worst[0].diagnosis.label:
                problem += f"; {worst[0].diagnosis.label}"
        elif not auth:
            problem = "no nameserver known"
        elif monitor.ns_comparison(zone).mismatch:
            problem = "NS mismatch"
        else:
            problem = ""
        out.append(
            ZoneHealth(
                zone, state, sum(answering.values()), len(answering),
                "nameservers" if auth else "resolvers", problem if state != State.OK else "",
            )
        )
    out.sort(key=lambda z: (State.RANK[z.state], z.zone))
    return out


_DNS_WORD = {State.CRITICAL: "✖ down", State.WARNING: "▲ warn", State.OK: "✓ ok", State.UNKNOWN: "? no results yet"}
"""How a zone's verdict reads without colour (``down`` as ``watchfloor check`` says it)."""


def dns_summary(zones: Sequence[ZoneHealth], width: int) -> tuple[str, str]:
    """The main screen's one DNS line for ``zones`` in at most ``width`` cells, and its state.

    One zone: ``DNS kp.: ✖ down, 0/2 nameservers answering (timeout; routed but not answering)``.
    Several: ``DNS: ✖ 1 down (kp.) · ▲ 1 warn (example.) · ✓ 2 ok``. No zone watched says so;
    a watched zone without results yet reads ``no results yet``, never as down. Zone names
    come from the network (journal, probes): the caller shows the text as plain text."""
    from tui.console.text import clean  # Rich, which the rows themselves never need

    if not zones:
        return _fit("DNS: no zones watched", width), State.UNKNOWN
    state = min((z.state for z in zones), key=lambda s: State.RANK[s])
    if len(zones) == 1:
        z = zones[0]
        name = clean(z.zone)
        if z.state == State.UNKNOWN:
            return _fit(f"DNS {name}: no results yet", width), state
        head = f"DNS {name}: {_DNS_WORD[z.state]}, {z.answering}/{z.servers}"
        candidates = [
            f"{head} {z.noun} answering",
            f"{head} answering",
            f"DNS {name} {_DNS_WORD[z.state]} {z.answering}/{z.servers}",
        ]
        if z.problem:
            candidates.insert(0, f"{candidates[0]} ({clean(z.problem)})")
        return _first_fitting(candidates, width), state
    groups = []
    for group_state in (State.CRITICAL, State.WARNING, State.UNKNOWN, State.OK):
        names = [clean(z.zone) for z in zones if z.state == group_state]
        if names:
            groups.append((group_state, names))

    def line(named: tuple[str, ...]) -> str:
        parts = []
        for group_state, names in groups:
            word = _DNS_WORD[group_state]
            symbol, label = word.split(" ", 1)
            part = f"{symbol} {len(names)} {label}"
            if group_state in named:
                part += f" ({', '.join(names)})"
            parts.append(part)
        return "DNS: " + " · ".join(parts)

    worst_count = sum(1 for z in zones if z.state == state)
    candidates = [
        line((State.CRITICAL, State.WARNING, State.UNKNOWN)),
        line((State.CRITICAL, State.WARNING)),
        line((State.CRITICAL,)),
        line(()),
        f"DNS: {_DNS_WORD[state].split(' ', 1)[0]} {worst_count}/{len(zones)} zones {_DNS_WORD[state].split(' ', 1)[1]}",
    ]
    return _first_fitting(candidates, width), state


def _fit(text: str, width: int) -> str:
    from tui.console.text import shorten  # Rich, which the rows themselves never need

    return shorten(text, max(1, width))


def _first_fitting(candidates: Sequence[str], width: int) -> str:
    for text in candidates:
        if len(text) <= width:
            return text
    return _fit(candidates[-1], width)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """A table column as designed: its key and header."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Column:
    """A column as shown at the current width: its header and content width in cells."""

    key: str
    label: str
    width: int


FitStep = tuple[str, str, Any]
"""``("label", key, shorter header)``, ``("shrink", key, least width)`` or ``("drop", key, None)``."""


def fit_columns(
    specs: Sequence[ColumnSpec], natural: dict[str, int], available: int, steps: Sequence[FitStep], padding: int = 1
) -> tuple[Column, ...]:
    """The columns of a table that fit in ``available`` cells.

    Every column starts at its natural width (its widest cell, at least its header), plus
    ``padding`` on each side. While the total is too wide, ``steps`` are applied in order, each
    taking only what is still missing: a shorter header, a column shrunk towards a least width
    (never below its header: a header is never cut), a column dropped. Columns no step names
    are never cut. When even every step is not enough, the table scrolls sideways."""
    labels = {s.key: s.label for s in specs}
    widths = {s.key: max(natural.get(s.key, 0), len(s.label)) for s in specs}

    def excess() -> int:
        return sum(w + 2 * padding for w in widths.values()) - available

    for kind, key, value in steps:
        if excess() <= 0:
            break
        if key not in widths:
            continue
        if kind == "label":
            labels[key] = value
            widths[key] = max(natural.get(key, 0), len(value))
        elif kind == "shrink":
            floor = max(int(value), len(labels[key]))
            widths[key] = min(widths[key], max(floor, widths[key] - excess()))
        elif kind == "drop":
            del widths[key]
        else:
            raise ValueError(f"unknown fit step {kind!r}")
    return tuple(Column(s.key, labels[s.key], widths[s.key]) for s in specs if s.key in widths)


def replay_prompts(keys: dict[str, str], *, at_start: bool) -> tuple[str, ...]:
    """What to do with a replay paused where it opened, longest first: the bar shows the longest
    that fits. ``keys`` maps action ids to the key bound now (after ``[keys]`` remapping)."""
    play, faster, jump, helpkey = (keys[k] for k in ("replay.toggle", "replay.faster", "replay.jump", "app.help"))
    where = "paused at start" if at_start else "paused"
    short = "at start" if at_start else "paused"
    return (
        f"{where}: {play} plays, {faster} faster, {jump} jumps to a time, {helpkey} all keys",
        f"{short}: {play} plays, {faster} faster, {jump} jumps to a time, {helpkey} keys",
        f"{short}: {play} plays, {faster} faster, {jump} jump, {helpkey} keys",
        f"{play} plays, {faster} faster, {jump} jump, {helpkey} keys",
        f"{play} plays, {helpkey} keys",
    )


def replay_advice(keys: dict[str, str], *, at_start: bool) -> str:
    """The same, as the sentence the empty event log shows."""
    where = "at its start: nothing has been replayed yet, so every prefix reads unknown" if at_start else (
        "where it opened: nothing has been replayed since"
    )
    return (
        f"Replay paused {where}. {keys['replay.toggle']} plays (again to pause), {keys['replay.faster']} goes "
        f"faster, {keys['replay.jump']} jumps to a time, {keys['replay.next_note']} goes to the next event "
        f"of note, {keys['app.help']} lists every key."
    )


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What the event log shows: a text to find, a least severity and one watch (or all)."""

    text: str = ""
    min_severity: str = Severity.INFO
    watch: str = ""

    def matches(self, entry: LogEntry) -> bool:
        """Whether ``entry`` passes this filter."""
        if Severity.RANK.get(entry.severity, 0) < Severity.RANK.get(self.min_severity, 0):
            return False
        if self.watch and self.watch not in entry.watch.split(", "):
            return False
        if self.text:
            needle = self.text.lower()
            return needle in entry.text.lower() or needle in entry.subject.lower() or needle in entry.watch.lower()
        return True

    def describe(self) -> str:
        """A short summary for the pane's title."""
        parts = []
        if self.min_severity != Severity.INFO:
            parts.append(f"≥{self.min_severity}")
        if self.watch:
            parts.append(f"watch={self.watch}")
        if self.text:
            parts.append(f"/{self.text}")
        return " ".join(parts)


def filter_log(log: Sequence[LogEntry], log_filter: LogFilter, limit: int = 300) -> list[LogEntry]:
    """The newest ``limit`` entries passing ``log_filter``, newest first."""
    out: list[LogEntry] = []
    for entry in reversed(log):
        if log_filter.matches(entry):
            out.append(entry)
            if len(out) >= limit:
                break
    return out


def format_ts(ts: float | None, *, seconds: bool = True) -> str:
    """UTC ISO 8601 with a Z (``2014-12-22T16:00:00Z``, :func:`~tui.core.clock.format_time`), or ``-``."""
    if ts is None or not math.isfinite(ts):
        return "-"
    return format_time(ts, timespec="seconds" if seconds else "minutes")


def time_label(ts: float, now: float | None) -> str:
    """``HH:MM:SSZ`` when ``ts`` falls on the same UTC day as ``now``, else full ISO 8601."""
    full = format_ts(ts)
    if now is not None and format_ts(now)[:10] == full[:10]:
        return full[11:]
    return full


class JumpError(ValueError):
    """A jump target the user typed could not be read; the message says what is accepted."""


_RELATIVE = re.compile(r"^([+-])((?:\d+(?:\.\d+)?[smhd])+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_jump(text: str, now: float) -> float:
    """Read a jump target: ISO 8601 (``2014-12-22T16:00Z``, a date, or a time of day on the
    current day), a relative offset (``-10m``, ``+1h30m``) or Unix seconds."""
    value = text.strip()
    if not value:
        raise JumpError("type a time: ISO 8601 like 2014-12-22T16:00Z, or relative like -10m / +1h")
    rel = _RELATIVE.match(value.replace(" ", ""))
    if rel:
        sign = -1 if rel.group(1) == "-" else 1
        offset = sum(float(n) * _UNIT[u] for n, u in _PART.findall(rel.group(2)))
        return now + sign * offset
    if re.fullmatch(r"\d{9,11}(\.\d+)?", value):
        return float(value)
    iso = value.replace(" ", "T")
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00)?", iso):
        day = format_time(now, timespec="date")
        iso = f"{day}T{iso}"
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise JumpError(
            f"cannot read {clean_for_message(value)!r} as a time: use ISO 8601 (2014-12-22T16:00Z), "
            "a time of day (16:00), or relative (-10m, +1h30m)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # all times are UTC (DESIGN.md)
    return moment.timestamp()


def clean_for_message(value: str) -> str:
    """``value`` shortened and stripped of control characters for an error message."""
    from tui.console.text import clean, shorten  # Rich, which the rows themselves never need

    return shorten(clean(value), 40)


def peer_status_word(status: str) -> str:
    """The session status as the drill-down shows it."""
    return {PeerStatus.UP: "up", PeerStatus.DOWN: "down", PeerStatus.UNKNOWN: "unknown"}.get(status, status)
