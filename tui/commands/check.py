"""``watchfloor check``: run every DNS check once, judge each zone, print a table or JSON.

Exit codes: 0 all well, 1 warnings (a server slow, failing or behind on its serial, resolver or
DoH failures, NS mismatch between parent and child), 2 critical (a zone down: none of its
nameservers answers), 3 bad configuration or usage. Headless: never imports Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import unicodedata
from typing import Any, TextIO

from tui.commands import Outcome, UsageError, add_config_argument
from tui.config import Config, ZoneConfig, load_config
from tui.core.clock import Clock, SystemClock, format_time
from tui.core.detectors.dns import DnsMonitor, dns_rows, ns_comparison, zone_statuses
from tui.core.dns import DnsRow, ZoneStatus
from tui.core.engine import Engine
from tui.core.events import Event, Finding, FullFeedPeers, Severity, event_to_dict
from tui.feeds.dns_probe import DnsProbeError, DnsProber, ProbeSettings

__all__ = ["register", "run", "run_check", "CheckReport", "plain"]

ROUTING_TIMEOUT = 20.0


def register(subparsers: Any) -> None:
    """Add ``check`` to the command line."""
    parser = subparsers.add_parser(
        "check",
        help="check the watched zones' DNS once and exit with a status code",
        description="Ask every nameserver, resolver and DoH endpoint of the watched zones once, "
        "compare SOA serials and NS sets, explain failures by routing where routing data is "
        "reachable, and print a table (or JSON).",
        epilog="Exit codes: 0 all well, 1 warnings, 2 critical (a zone down), 3 bad config or usage.",
    )
    add_config_argument(parser)
    parser.add_argument("--zone", action="append", metavar="ZONE", default=[],
                        help="check only this zone (repeatable; default: every zone in the config)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds per DNS query (default: [dns] timeout)")
    parser.add_argument("--routing", action=argparse.BooleanOptionalAction, default=None,
                        help="ask RIPEstat for the routing of the watched prefixes (default: when "
                        "[feeds.ripestat] enabled); without it routing is reported as unknown")
    parser.add_argument("--routing-timeout", type=float, metavar="S", default=ROUTING_TIMEOUT,
                        help=f"give up on routing data after this many seconds ({ROUTING_TIMEOUT:g})")
    parser.set_defaults(func=run)


class CheckReport:
    """The outcome of one check run: the engine it filled, the zones, and the routing note."""

    def __init__(self, engine: Engine, zones: list[str], routing: dict[str, Any], checked_at: float, source: str) -> None:
        self.engine = engine
        self.zones = zones
        self.routing = routing
        self.checked_at = checked_at
        self.source = source
        self.statuses: list[ZoneStatus] = zone_statuses(engine, zones)
        self.rows: list[DnsRow] = [r for r in dns_rows(engine) if r.zone in zones]

    @property
    def outcome(self) -> Outcome:
        """The worst zone's verdict: ``ok``, ``warning`` or ``critical``."""
        worst = max((Severity.RANK.get(s.severity, 0) for s in self.statuses), default=0)
        return {0: Outcome.OK, 1: Outcome.WARNING}.get(worst, Outcome.CRITICAL)

    @property
    def status(self) -> str:
        """``ok``, ``warning`` or ``critical``."""
        return self.outcome.value

    def findings(self) -> list[Finding]:
        """Open findings about the checked zones."""
        return [f for f in self.engine.open_findings() if f.evidence_dict.get("zone") in self.zones]

    def as_dict(self, exit_code: int | None = None) -> dict[str, Any]:
        """The JSON document (documented in docs/dns.md); ``exit_code`` is what the command exits with."""
        zones = []
        for status in self.statuses:
            zones.append({
                **status.as_dict(),
                "ns": ns_comparison(self.engine, status.zone).as_dict(),
                "checks": [r.as_dict() for r in self.rows if r.zone == status.zone],
            })
        return {
            "checked_at": format_time(self.checked_at, timespec="milliseconds"),
            "config": self.source,
            "status": self.status,
            "exit_code": exit_code,
            "routing": self.routing,
            "zones": zones,
            "findings": [event_to_dict(f) for f in self.findings()],
        }


def run(args: argparse.Namespace) -> Outcome:
    """Entry point of ``watchfloor check``."""
    config = load_config(args.config)
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout must be more than 0, got {args.timeout}")
    zones = [config.zone(name) for name in args.zone] if args.zone else config.all_zones()
    if not zones:
        raise UsageError(
            f"{config.source}: no zones to check; add zones = [\"example.\"] to a [[watch]] or a [[zone]] table"
        )
    routing = config.feeds.ripestat_enabled if args.routing is None else args.routing
    report = asyncio.run(
        run_check(config, zones, timeout=args.timeout, routing=routing, routing_timeout=args.routing_timeout)
    )
    # The exit code is tui.cli's to decide; it hands over its table so that it can be printed.
    exit_code = getattr(args, "outcome_codes", {}).get(report.outcome)
    if args.json:
        json.dump(report.as_dict(exit_code), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(report, sys.stdout, exit_code)
    return report.outcome


async def run_check(
    config: Config,
    zones: list[ZoneConfig],
    *,
    timeout: float | None = None,
    routing: bool = False,
    routing_timeout: float = ROUTING_TIMEOUT,
    clock: Clock | None = None,
    **prober_options: Any,
) -> CheckReport:
    """Run the checks of ``zones`` once (and fetch routing when asked); returns the report."""
    clock = clock or SystemClock()
    watchlist = config.watchlist()
    engine = Engine(watchlist, clock, detectors=[DnsMonitor()])
    settings = ProbeSettings.from_config(config.dns, timeout=timeout)
    try:
        prober = DnsProber(zones, settings, clock=clock, **prober_options)
    except DnsProbeError as exc:
        raise UsageError(f"{config.source}: {exc}") from None
    started = clock.now()
    try:
        (route_events, routing_note), results = await asyncio.gather(
            _routing(config, engine, clock, routing, routing_timeout), prober.run_once()
        )
    finally:
        await prober.aclose()
    # Routing first, so each failing server is diagnosed against the routes of the same moment.
    if route_events:
        engine.ingest(route_events)
    engine.ingest(results)
    return CheckReport(engine, [z.name for z in zones], routing_note, started, config.source)


async def _routing(
    config: Config, engine: Engine, clock: Clock, enabled: bool, limit: float
) -> tuple[list[Event], dict[str, Any]]:
    """Routes of the watched prefixes from RIPEstat, and a note on how far that got."""
    if not enabled:
        return [], {"state": "unknown", "detail": "routing not asked (--no-routing or RIPEstat disabled)"}
    try:
        from tui.feeds import ripestat  # the RIPEstat client only when routing is asked
    except ImportError:
        return [], {"state": "unknown", "detail": "no RIPEstat feed in this installation"}
    feeds = config.feeds
    client = None
    try:
        client = ripestat.RipestatClient(
            feeds.ripestat_url, sourceapp=feeds.ripestat_sourceapp,
            cache_dir=feeds.ripestat_cache_dir or None, timeout=min(feeds.ripestat_timeout, limit), clock=clock,
        )
        result = await asyncio.wait_for(ripestat.bootstrap(client, engine.watchlist, clock=clock), limit)
    except TimeoutError:
        return [], {"state": "unknown", "detail": f"RIPEstat gave no routing data within {limit:g} s"}
    except Exception as exc:  # noqa: BLE001 - any feed failure only means routing is unknown; it is said
        return [], {"state": "unknown", "detail": f"RIPEstat failed: {type(exc).__name__}: {exc}"}
    finally:
        if client is not None:
            await client.aclose()
    events = list(result.events)
    if not any(isinstance(e, FullFeedPeers) for e in events):
        why = "; ".join(result.problems[:2]) or "no full-feed peer list"
        return events, {"state": "unknown", "detail": f"RIPEstat: {why}"}
    routes = sum(1 for e in events if type(e).__name__ == "RouteAnnounced")
    return events, {
        "state": "known",
        "detail": f"RIPEstat: {routes} routes for {len(engine.watchlist.prefixes())} watched prefixes",
    }


# -- output -----------------------------------------------------------------------------------------


def plain(text: object) -> str:
    """Untrusted text made safe for a terminal: control characters become visible escapes."""
    out = []
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _target(row: DnsRow) -> str:
    if row.role == "doh":
        return row.address
    return f"[{row.address}]:{row.port}" if ":" in row.address else f"{row.address}:{row.port}"


def print_table(report: CheckReport, out: TextIO, exit_code: int | None = None) -> None:
    """The human-readable report: per zone a verdict, its checks, the reasons, and the exit code."""
    label = {Severity.INFO: "OK", Severity.WARNING: "WARNING", Severity.CRITICAL: "CRITICAL"}
    for status in report.statuses:
        out.write(f"zone {plain(status.zone)}: {label.get(status.severity, status.severity)} - {plain(status.summary)}\n")
        rows = [r for r in report.rows if r.zone == status.zone]
        table = [("ROLE", "SERVER", "ADDRESS", "VIA", "QUERY", "STATE", "RTT", "P95", "SERIAL", "DIAGNOSIS")]
        for row in rows:
            table.append((
                row.role, row.server, _target(row), row.transport, f"{row.qname} {row.qtype}", row.state,
                _ms(row.rtt), _ms(row.p95), "-" if row.serial is None else str(row.serial),
                row.diagnosis.label or "-",
            ))
        widths = [max(len(plain(r[i])) for r in table) for i in range(len(table[0]))]
        for line in table:
            out.write("  " + "  ".join(plain(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")
        for reason in status.reasons:
            out.write(f"  - {plain(reason)}\n")
        out.write("\n")
    routing = report.routing
    state = "unknown" if routing.get("state") != "known" else "known"
    out.write(f"routing: {state} ({plain(routing.get('detail', ''))})\n")
    out.write(f"status: {report.status}" + ("" if exit_code is None else f" (exit {exit_code})") + "\n")
