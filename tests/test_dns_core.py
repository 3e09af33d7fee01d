"""Pure DNS logic: states, latency windows, serials, NS comparison, routing diagnosis, replay."""

from __future__ import annotations

from conftest import EventLog
from tui.core.aspath import parse_path
from tui.core.clock import FixedClock
from tui.core.detectors.dns import DnsMonitor, dns_rows, ns_comparison, server_history, zone_statuses
from tui.core.dns import (
    DIAG_NOT_ANSWERING,
    DIAG_ROUTING,
    DIAG_UNKNOWN,
    covering_routed_prefix,
    newest_serial,
    percentile,
    serial_newer,
)
from tui.core.engine import Engine
from tui.core.events import (
    DnsProbeResult,
    FeedStatus,
    RouteAnnounced,
    RouteWithdrawn,
    event_from_dict,
    event_to_dict,
)
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Thresholds, Watch, Watchlist

NK22 = Prefix.parse("175.45.176.0/22")
NS1 = "175.45.176.15"  # inside the watched /22, like the real ns1.kp. of 2014
NS2 = "175.45.177.10"


def soa(ts, address, outcome="ok", serial=2014122201, latency=0.05, transport="udp", zone="kp.", server="ns1.kp."):
    """An authoritative SOA result."""
    return DnsProbeResult(
        ts, zone, server, address, 53, transport, zone, "SOA", outcome,
        rcode="NOERROR" if outcome == "ok" else None,
        latency=latency if outcome == "ok" else None,
        serial=serial if outcome == "ok" else None, authoritative=outcome == "ok",
    )


def ns(ts, role, address, names, zone="kp."):
    """An NS-set result at the parent or the child."""
    return DnsProbeResult(ts, zone, "x", address, 53, "udp", zone, "NS", "ok", "NOERROR", 0.01,
                          answers=tuple(names), role=role)


def announce(ts, peer_ip, prefix):
    return RouteAnnounced(ts, "rrc00", peer_ip, 3356, prefix, parse_path("3356 4837 131279"), peer_ip, (), "test")


def make_engine(*, recorder=None):
    return Engine(Watchlist([NORTH_KOREA]), FixedClock(0.0), detectors=[DnsMonitor()], recorder=recorder)


def row_of(engine, address, transport="udp"):
    return next(r for r in dns_rows(engine) if r.address == address and r.transport == transport)


def test_percentiles_by_nearest_rank_and_serial_arithmetic():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert percentile([1.0, 100.0], 0.95) == 100.0
    assert serial_newer(2, 1) and not serial_newer(1, 2)
    assert serial_newer(1, 0xFFFFFFF0)  # wrapped round: 1 follows 4294967280
    assert newest_serial([0xFFFFFFF0, 5, 3]) == 5
    assert newest_serial([]) is None


def test_server_behind_on_serial_is_a_mismatch_finding_that_closes():
    engine = make_engine()
    found = engine.ingest([soa(10, NS1, serial=2014122202), soa(10, NS2, serial=2014122201, server="ns2.kp.")])
    assert row_of(engine, NS1).state == "ok"
    assert row_of(engine, NS2).state == "serial mismatch"
    mismatch = [f for f in found if f.kind == "dns_serial_mismatch"]
    assert len(mismatch) == 1 and mismatch[0].state == "open" and mismatch[0].watch == "North Korea"
    assert mismatch[0].evidence_dict["newest"] == 2014122202
    [status] = zone_statuses(engine)
    assert status.severity == "warning" and status.newest_serial == 2014122202
    found = engine.ingest([soa(20, NS2, serial=2014122202, server="ns2.kp.")])
    assert [(f.kind, f.state) for f in found] == [("dns_serial_mismatch", "close")]
    assert zone_statuses(engine)[0].severity == "info"


def test_slow_uses_the_median_over_the_window_and_the_watch_threshold():
    watch = Watch("K", prefixes=(NK22,), zones=("kp.",), thresholds=Thresholds(dns_latency_warn=0.2))
    engine = Engine(Watchlist([watch]), FixedClock(0.0), detectors=[DnsMonitor(window_seconds=100)])
    engine.ingest([soa(1, NS1, latency=0.5)])
    assert row_of(engine, NS1).state == "slow"
    engine.ingest([soa(2, NS1, latency=0.01), soa(3, NS1, latency=0.01)])
    row = row_of(engine, NS1)
    assert row.state == "ok" and row.p50 == 0.01 and row.p95 == 0.5 and row.samples == 3
    engine.ingest([soa(500, NS1, latency=0.02)])  # the old samples left the 100 s window
    assert row_of(engine, NS1).samples == 1


def test_failing_server_is_diagnosed_by_the_routing_of_its_prefix():
    engine = make_engine()
    engine.ingest([announce(1, "192.0.2.1", NK22), announce(1, "192.0.2.2", NK22)])
    found = engine.ingest([soa(10, NS1, outcome="timeout"), soa(10, NS2, server="ns2.kp.")])
    row = row_of(engine, NS1)
    assert row.state == "timeout" and row.rtt is None
    assert row.diagnosis.label == DIAG_NOT_ANSWERING and row.diagnosis.prefix == "175.45.176.0/22"
    assert (row.diagnosis.visible, row.diagnosis.full_feed) == (2, 2)
    failing = [f for f in found if f.kind == "dns_server_failing"]
    assert len(failing) == 1 and "routed but not answering" in failing[0].summary
    # The prefix is withdrawn everywhere: the same timeout now reads as a routing outage, and the
    # open finding is updated by the routing batch alone.
    found = engine.ingest([RouteWithdrawn(20, "rrc00", "192.0.2.1", 3356, NK22, "test"),
                           RouteWithdrawn(20, "rrc00", "192.0.2.2", 3356, NK22, "test")])
    assert row_of(engine, NS1).diagnosis.label == DIAG_ROUTING
    assert [(f.kind, f.state) for f in found] == [("dns_server_failing", "update")]
    assert DIAG_ROUTING in found[0].summary


def test_most_specific_route_wins_and_missing_routing_data_is_unknown_not_down():
    engine = make_engine()
    assert dns_rows(engine) == []
    engine.ingest([soa(1, NS1, outcome="timeout")])
    assert row_of(engine, NS1).diagnosis.label == DIAG_UNKNOWN  # no session known at all
    more = Prefix.parse("175.45.176.0/24")
    engine.ingest([announce(2, "192.0.2.1", NK22), announce(2, "192.0.2.1", more)])
    assert covering_routed_prefix(engine.state, NS1) == more
    assert covering_routed_prefix(engine.state, "8.8.8.8") is None
    engine.ingest([FeedStatus(3, "test", "down", "socket closed")])
    diag = row_of(engine, NS1).diagnosis
    assert diag.label == DIAG_UNKNOWN and diag.prefix == "175.45.176.0/24"
    engine.ingest([soa(4, "198.51.100.1", outcome="refused", server="ns9.kp.")])
    assert row_of(engine, "198.51.100.1").diagnosis.label == DIAG_UNKNOWN  # neither routed nor watched


def test_zone_down_is_critical_and_ns_mismatch_is_compared_parent_to_child():
    engine = make_engine()
    found = engine.ingest([
        soa(1, NS1, outcome="timeout"), soa(1, NS1, outcome="unreachable", transport="tcp"),
        soa(1, NS2, outcome="timeout", server="ns2.kp."),
        ns(1, "parent", "192.0.2.53", ["ns1.kp.", "ns2.kp."]),
        ns(1, "child", NS1, ["ns1.kp.", "ns2.kp.", "ns3.kp."]),
    ])
    [status] = zone_statuses(engine)
    assert status.severity == "critical" and "zone down" in status.summary
    kinds = sorted(f.kind for f in found)
    assert kinds == ["dns_ns_mismatch", "dns_server_failing", "dns_server_failing", "dns_server_failing", "dns_zone_down"]
    comparison = ns_comparison(engine, "kp.")
    assert comparison.mismatch and comparison.as_dict()["only_at_child"] == ["ns3.kp."]
    assert all(r.role != "child" for r in dns_rows(engine))  # NS sets are not server rows
    found = engine.ingest([soa(2, NS2, server="ns2.kp.")])
    assert ("dns_zone_down", "close") in {(f.kind, f.state) for f in found}
    assert zone_statuses(engine)[0].severity == "warning"


def test_replay_of_the_journal_gives_the_same_rows_findings_and_history():
    log = EventLog()
    live = make_engine(recorder=log)
    live.ingest([announce(1, "192.0.2.1", NK22)])
    live.ingest([soa(10, NS1, serial=7), soa(10, NS2, serial=6, server="ns2.kp.")])
    live.ingest([soa(20, NS1, outcome="timeout"), soa(20, NS2, serial=7, server="ns2.kp.", latency=0.3)])
    checkpoint = live.checkpoint()

    replayed = make_engine()
    events = [event_from_dict(event_to_dict(e)) for e in log.events]  # through the journal's form
    replayed.ingest([e for e in events if e.KIND != "finding"])
    assert dns_rows(replayed) == dns_rows(live)
    assert {k: (f.state, f.summary) for k, f in replayed.findings.items()} == {
        k: (f.state, f.summary) for k, f in live.findings.items()
    }
    history = server_history(events, "kp.", NS1)
    assert [(p.ts, p.outcome, p.serial) for p in history] == [(10, "ok", 7), (20, "timeout", None)]
    assert server_history(live, "kp.", NS1) == history

    restored = make_engine()
    restored.restore(checkpoint)
    assert dns_rows(restored) == dns_rows(live)
    follow = [soa(30, NS1, serial=7)]
    assert [(f.kind, f.state) for f in restored.ingest(follow)] == [(f.kind, f.state) for f in live.ingest(follow)]


def test_rows_without_a_monitor_fall_back_to_the_engines_latest_results():
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(0.0))
    engine.ingest([soa(1, NS1, serial=5), soa(1, NS2, serial=4, server="ns2.kp.")])
    states = {r.address: r.state for r in dns_rows(engine)}
    assert states == {NS1: "ok", NS2: "serial mismatch"}


def test_core_dns_imports_no_network_or_ui_library():
    import subprocess
    import sys

    code = "import sys, tui.core.dns; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    bad = sorted({m.split(".")[0] for m in loaded} & {"dns", "httpx", "asyncio", "socket", "textual", "rich", "sqlite3"})
    assert bad == []


def test_untrusted_dns_text_is_printed_with_control_characters_escaped():
    from tui.commands.check import plain

    assert plain("ns1.kp.\x1b[31mred\x07") == "ns1.kp.\\x1b[31mred\\x07"
    assert plain("[bold]markup stays literal[/bold] \u202e") == "[bold]markup stays literal[/bold] \\u202e"
