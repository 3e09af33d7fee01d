"""Detectors on hand-built event sequences: hysteresis, min_duration, flap windows, unknown data."""

from __future__ import annotations

import json

import pytest

from tui.core.aspath import parse_path
from tui.core.clock import FixedClock
from tui.core.detectors import (
    DetectorSettings,
    DnsLatencyDetector,
    FlapDetector,
    MoreSpecificDetector,
    OriginDetector,
    RpkiDetector,
    UpstreamDetector,
    VisibilityDetector,
    default_detectors,
)
from tui.core.detectors.feeds import FeedHealthDetector
from tui.core.engine import Engine
from tui.core.events import (
    DnsProbeResult,
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
from tui.core.rpki import INVALID_ASN, INVALID_LENGTH, NOT_FOUND, VALID, VrpError, parse_vrps
from tui.core.watchlist import Thresholds, Watch, Watchlist
from tui.journal.codec import decode_checkpoint, encode_checkpoint

P = Prefix.parse("192.0.2.0/24")
TH = Thresholds(visibility_warn=0.8, visibility_critical=0.5, min_duration=60, hysteresis=0.05, flap_count=3,
                flap_window=600)
PEERS = [PeerKey("rrc00", f"10.0.0.{i}", 64500 + i) for i in range(10)]


def watchlist(prefixes=("192.0.2.0/24",), asns=(), thresholds=TH, name="W") -> Watchlist:
    return Watchlist([Watch(name, tuple(Prefix.parse(p) for p in prefixes), tuple(asns), thresholds=thresholds)])


def ann(ts, peer, prefix=P, path="64500 3356 64496", source="test"):
    prefix = Prefix.parse(prefix) if isinstance(prefix, str) else prefix
    return RouteAnnounced(ts, peer.collector, peer.peer_ip, peer.peer_asn, prefix, parse_path(path), source=source)


def wd(ts, peer, prefix=P, source="test"):
    prefix = Prefix.parse(prefix) if isinstance(prefix, str) else prefix
    return RouteWithdrawn(ts, peer.collector, peer.peer_ip, peer.peer_asn, prefix, source=source)


def run(detector_list, batches, wl, ticks=()):
    """Feed batches (lists of events) to an engine; the clock follows the data; returns findings."""
    clock = FixedClock(0.0)
    engine = Engine(wl, clock, detectors=detector_list)
    found: list[Finding] = []
    for batch in batches:
        clock.value = max(e.ts for e in batch)
        found += engine.ingest(batch)
    for t in ticks:
        clock.value = t
        found += engine.tick()
    return found


def brief(findings):
    return [(f.kind, f.state, f.severity, f.subject, f.ts) for f in findings]


def all_up(ts=0.0, prefix=P, path="64500 3356 64496"):
    return [ann(ts, p, prefix, path) for p in PEERS]


# -- visibility: min_duration, hysteresis, unknown -------------------------------------------------


def test_visibility_loss_waits_min_duration_and_reports_the_due_time():
    wl = watchlist()
    batches = [all_up(0), [wd(100, p) for p in PEERS[:3]], [ann(300, PEERS[9])]]
    found = run([VisibilityDetector(wl)], batches, wl)
    assert brief(found) == [("visibility", "open", "warning", "192.0.2.0/24", 160.0)]
    assert found[0].started == 100.0
    ev = found[0].evidence_dict
    assert ev["visible"] == 7 and ev["full_feed"] == 10 and ev["collectors"] == {"rrc00": {"visible": 7, "full_feed": 10}}
    assert len(ev["peers_not_seeing"]) == 3 and any(" W 192.0.2.0/24" in u for u in ev["updates"])


def test_a_dip_shorter_than_min_duration_is_not_reported():
    wl = watchlist()
    batches = [all_up(0), [wd(100, p) for p in PEERS[:6]], [ann(150, p) for p in PEERS[:6]], [ann(1000, PEERS[0])]]
    assert run([VisibilityDetector(wl)], batches, wl, ticks=[2000]) == []


def test_hysteresis_keeps_the_finding_open_until_clearly_above_the_threshold():
    wl = watchlist()
    withdraw3 = [wd(100, p) for p in PEERS[:3]]  # 70% < 80%
    back1 = [ann(400, PEERS[0])]  # 80%: above warn but below warn + hysteresis (85%)
    back2 = [ann(500, PEERS[1])]  # 90%: clears
    found = run([VisibilityDetector(wl)], [all_up(0), withdraw3, back1, back2], wl)
    assert [(f.state, f.ts) for f in found] == [("open", 160.0), ("close", 500.0)]
    assert found[1].evidence_dict["duration"] == 400.0


def test_escalation_to_critical_and_back_to_warning():
    wl = watchlist()
    batches = [all_up(0), [wd(100, p) for p in PEERS[:6]], [ann(400, p) for p in PEERS[:3]], [ann(900, p) for p in PEERS[3:6]]]
    found = run([VisibilityDetector(wl)], batches, wl)
    assert [(f.state, f.severity, f.ts) for f in found] == [
        ("open", "critical", 160.0), ("update", "warning", 400.0), ("close", "warning", 900.0),
    ]
    assert len({f.finding_id for f in found}) == 1


def test_no_baseline_no_loss():
    """A prefix never seen at or above the warning share has nothing to lose (updates-only data)."""
    wl = watchlist()
    batches = [[PeerSeen(0, p.collector, p.peer_ip, p.peer_asn, "test") for p in PEERS], [ann(1, PEERS[0])],
               [ann(500, PEERS[1])]]
    assert run([VisibilityDetector(wl)], batches, wl, ticks=[5000]) == []


def test_outage_and_recovery_with_duration():
    wl = watchlist()
    batches = [all_up(0), [wd(100, p) for p in PEERS], [ann(1000, p) for p in PEERS]]
    found = [f for f in run([VisibilityDetector(wl)], batches, wl) if f.kind == "outage"]
    assert [(f.state, f.ts, f.started) for f in found] == [("open", 160.0, 100.0), ("close", 1000.0, 100.0)]
    assert found[1].evidence_dict["duration"] == 900.0
    assert found[0].severity == "critical" and found[0].evidence_dict["visible"] == 0


def test_session_down_counts_as_loss_of_its_routes_but_not_of_the_denominator():
    wl = watchlist()
    downs = [PeerStateChanged(100, p.collector, p.peer_ip, p.peer_asn, "ESTABLISHED", "IDLE", "test") for p in PEERS[:3]]
    found = run([VisibilityDetector(wl)], [all_up(0), downs], wl, ticks=[500])
    # Three sessions down: 7 of the 7 remaining up sessions see it -> no loss at all.
    assert found == []


def test_unknown_visibility_is_never_a_loss_or_an_outage():
    wl = watchlist()
    broken = [FeedStatus(100, "test", "down", "connection reset")]
    found = run(default_detectors(wl), [all_up(0), broken, [FeedStatus(5000, "test", "up", gap_start=100, gap_end=5000)]],
                wl, ticks=[200, 1000, 4000])
    assert [(f.kind, f.state) for f in found] == [("feed_down", "open"), ("feed_down", "close")]
    assert found[1].evidence_dict["gap_seconds"] == 4900


def test_withdrawals_while_the_feed_is_down_still_not_an_outage():
    wl = watchlist()
    batches = [all_up(0), [FeedStatus(100, "test", "gap")], [wd(150, p) for p in PEERS]]
    found = run([VisibilityDetector(wl)], batches, wl, ticks=[3000])
    assert found == []


def test_batching_does_not_change_findings():
    wl = watchlist(prefixes=("192.0.2.0/24", "198.51.100.0/24"))
    other = Prefix.parse("198.51.100.0/24")
    events = all_up(0) + all_up(0, other)
    t = 10.0
    for _cycle in range(4):
        for i, p in enumerate(PEERS):
            events.append(wd(t + i, p))
        t += 100
        for i, p in enumerate(PEERS):
            events.append(ann(t + i, p))
        t += 100
    events += [wd(t + 1, p, other) for p in PEERS[:4]] + [ann(t + 500, PEERS[0], other)]
    one_batch = run(default_detectors(wl), [events], wl)
    singles = run(default_detectors(wl), [[e] for e in events], wl)
    assert brief(one_batch) and sorted(brief(one_batch)) == sorted(brief(singles))


# -- flapping ------------------------------------------------------------------------------------


def _cycles(peer, start, gap, count):
    out = []
    for i in range(count):
        out += [wd(start + i * gap, peer), ann(start + i * gap + gap / 2, peer)]
    return out


def test_flapping_within_the_window_then_closed_after_a_quiet_window():
    wl = watchlist()
    events = all_up(0) + _cycles(PEERS[0], 100, 60, 3)
    found = run([FlapDetector(wl)], [[e] for e in events], wl, ticks=[400, 1000])
    assert [(f.state, f.ts) for f in found] == [("open", 250.0), ("close", 850.0)]
    assert found[0].evidence_dict["sessions"] == {"rrc00 10.0.0.0 AS64500": 3}
    assert found[1].evidence_dict["duration"] == pytest.approx(850.0 - found[0].started)


def test_cycles_spread_wider_than_the_window_are_not_flapping():
    wl = watchlist()
    events = all_up(0) + _cycles(PEERS[0], 100, 400, 3)
    assert run([FlapDetector(wl)], [events], wl, ticks=[5000]) == []


def test_one_outage_and_recovery_is_not_flapping_and_session_resets_do_not_count():
    wl = watchlist()
    events = all_up(0) + [wd(100, p) for p in PEERS] + [ann(200, p) for p in PEERS]
    for i in range(4):
        p = PEERS[1]
        events += [PeerStateChanged(300 + i * 10, p.collector, p.peer_ip, p.peer_asn, "ESTABLISHED", "IDLE", "test"),
                   ann(305 + i * 10, p)]
    assert run([FlapDetector(wl)], [events], wl, ticks=[1000]) == []


# -- origins -------------------------------------------------------------------------------------


def test_moas_keeps_as_sets_and_origin_change_against_the_watch_asns_is_critical():
    wl = watchlist(asns=(64496,))
    events = all_up(0) + [ann(10, PEERS[0], path="64500 3356 {64496,64511}"), ann(20, PEERS[1], path="64501 64666")]
    found = run([OriginDetector(wl)], [events], wl)
    moas = [f for f in found if f.kind == "moas"]
    assert moas[-1].evidence_dict["origins"].keys() == {"64496", "64666", "{64496,64511}"}
    change = [f for f in found if f.kind == "origin_change"]
    assert change[-1].severity == "critical" and change[-1].evidence_dict["unexpected"] == ["64666", "{64496,64511}"]
    back = run([OriginDetector(wl)], [events, [ann(30, PEERS[0]), ann(40, PEERS[1])]], wl)
    assert [(f.kind, f.state) for f in back if f.ts >= 30] == [
        ("moas", "update"), ("origin_change", "update"), ("moas", "close"), ("origin_change", "close"),
    ]


def test_origin_change_without_watch_asns_uses_the_first_origin_and_is_a_warning():
    wl = watchlist()
    found = run([OriginDetector(wl)], [all_up(0), [ann(10, p, path="64500 65001") for p in PEERS]], wl)
    change = [f for f in found if f.kind == "origin_change"]
    assert change and change[-1].severity == "warning" and change[-1].evidence_dict["expected"] == ["64496"]


# -- more-specifics ------------------------------------------------------------------------------


def test_more_specific_by_the_watch_asn_is_info_and_a_foreign_one_is_a_hijack():
    wl = Watchlist([Watch("North Korea", (Prefix.parse("175.45.176.0/22"),), (131279,))])
    legit = ann(10, PEERS[0], "175.45.176.0/24", "3356 4837 131279")
    hijack = ann(20, PEERS[1], "175.45.177.0/24", "3356 64666")
    found = run([MoreSpecificDetector(wl)], [[legit, hijack], [wd(500, PEERS[1], "175.45.177.0/24")]], wl)
    assert brief(found) == [
        ("more_specific", "open", "info", "175.45.176.0/24", 10.0),
        ("subprefix_hijack", "open", "critical", "175.45.177.0/24 AS64666", 20.0),
        ("subprefix_hijack", "close", "critical", "175.45.177.0/24 AS64666", 500.0),
    ]
    assert found[1].evidence_dict["paths"] == ["rrc00 10.0.0.1 AS64501 path 3356 64666"]
    assert found[2].summary == "175.45.177.0/24 no longer announced by AS64666"
    assert found[1].evidence_dict["collectors"] == {"rrc00": 1}


def test_more_specific_without_watch_asns_is_judged_by_the_covering_origin():
    wl = watchlist(prefixes=("192.0.2.0/23",))
    events = [ann(0, PEERS[0], "192.0.2.0/23", "3356 64496"), ann(5, PEERS[0], "192.0.2.0/24", "3356 64496"),
              ann(6, PEERS[1], "192.0.3.0/24", "3356 64999")]
    found = run([MoreSpecificDetector(wl)], [events], wl)
    assert [(f.kind, f.severity, f.subject) for f in found] == [
        ("more_specific", "info", "192.0.2.0/24"), ("subprefix_hijack", "critical", "192.0.3.0/24 AS64999"),
    ]


# -- upstream ------------------------------------------------------------------------------------


def test_upstream_change_after_the_learning_period():
    wl = watchlist()
    settings = DetectorSettings(upstream_learning=100)
    early = [ann(0, PEERS[0], path="64500 3356 64496 64496"), ann(50, PEERS[1], path="64501 174 64496")]
    late = [ann(500, PEERS[2], path="64502 9002 64496")]
    gone = [ann(700, PEERS[2], path="64502 3356 64496")]
    found = run([UpstreamDetector(wl, settings)], [early, late, gone], wl)
    assert [(f.state, f.ts) for f in found] == [("open", 500.0), ("close", 700.0)]
    assert found[0].evidence_dict["learned_upstreams"] == ["174", "3356"]
    assert list(found[0].evidence_dict["new_upstreams"]) == ["9002"]


# -- RPKI ----------------------------------------------------------------------------------------


def test_vrp_files_of_both_validators_and_rfc6811_states():
    rpki_client = {"roas": [{"asn": 64496, "prefix": "192.0.2.0/23", "maxLength": 24, "ta": "ripe"}]}
    routinator = {"roas": [{"asn": "AS64496", "prefix": "192.0.2.0/23", "maxLength": 24, "ta": "ripe"}]}
    for data in (rpki_client, routinator):
        vrps = parse_vrps(json.dumps(data))
        assert len(vrps) == 1
        assert vrps.validate(Prefix.parse("192.0.2.0/24"), 64496).state == VALID
        assert vrps.validate(Prefix.parse("192.0.2.0/25"), 64496).state == INVALID_LENGTH
        assert vrps.validate(Prefix.parse("192.0.2.0/24"), 64666).state == INVALID_ASN
        assert vrps.validate(Prefix.parse("192.0.2.0/24"), (64496, 64497)).state == INVALID_ASN
        assert vrps.validate(Prefix.parse("198.51.100.0/24"), 64496).state == NOT_FOUND
    for bad, why in [("[]", "roas"), ('{"roas":[{"asn":"ASx","prefix":"192.0.2.0/24","maxLength":24}]}', "not an AS number"),
                     ('{"roas":[{"asn":1,"prefix":"192.0.2.0/24","maxLength":20}]}', "maxLength 20"),
                     ('{"roas":[{"asn":1}]}', "missing 'prefix'")]:
        with pytest.raises(VrpError, match=why):
            parse_vrps(bad)


def test_rpki_detector_opens_and_closes_invalid_routes():
    wl = watchlist(prefixes=("192.0.2.0/23",))
    vrps = parse_vrps({"roas": [{"asn": 64496, "prefix": "192.0.2.0/23", "maxLength": 23}]})
    events = [ann(0, PEERS[0], "192.0.2.0/23", "3356 64496"), ann(5, PEERS[0], "192.0.2.0/24", "3356 64496"),
              ann(6, PEERS[1], "192.0.2.0/23", "3356 64666")]
    found = run([RpkiDetector(wl, vrps)], [events, [wd(50, PEERS[1], "192.0.2.0/23")]], wl)
    assert [(f.subject, f.severity, f.state, f.evidence_dict.get("state")) for f in found] == [
        ("192.0.2.0/24 AS64496", "warning", "open", INVALID_LENGTH),
        ("192.0.2.0/23 AS64666", "critical", "open", INVALID_ASN),
        ("192.0.2.0/23 AS64666", "critical", "close", INVALID_ASN),
    ]
    assert found[2].summary == "RPKI-invalid route 192.0.2.0/23 AS64666 no longer held by any session"
    assert found[1].evidence_dict["collectors"] == {PEERS[1].collector: 1}


# -- DNS latency and feeds -----------------------------------------------------------------------


def _dns(ts, latency, outcome="ok"):
    return DnsProbeResult(ts, "example.", "ns1.example.", "127.0.0.1", 5353, "udp", "example.", "SOA", outcome,
                          latency=latency, serial=1)


def test_dns_latency_spike_against_its_own_p95_and_the_absolute_limit():
    wl = Watchlist([Watch("W", zones=("example.",), thresholds=Thresholds(dns_latency_warn=0.5))])
    normal = [[_dns(i, 0.010 + (i % 3) * 0.001)] for i in range(12)]
    spike = [[_dns(20, 0.2)], [_dns(21, 0.25)], [_dns(22, 0.011)]]
    found = run([DnsLatencyDetector(wl)], normal + spike, wl)
    assert [(f.state, f.ts) for f in found] == [("open", 21.0), ("close", 22.0)]
    assert "usual p95" in found[0].summary and found[0].watch == "W"
    slow = [[_dns(30 + i, 0.8)] for i in range(2)]
    found = run([DnsLatencyDetector(wl)], slow, wl)
    assert found and "above the 500 ms limit" in found[0].summary


def test_feed_silence_is_a_feed_finding():
    wl = watchlist()
    settings = DetectorSettings(feed_silence=300)
    batches = [[FeedStatus(0, "test", "up")] + all_up(1)]
    found = run([FeedHealthDetector(settings), VisibilityDetector(wl)], batches, wl, ticks=[200, 400])
    assert [(f.kind, f.state, f.ts) for f in found] == [("feed_silent", "open", 301.0)]


# -- checkpoints ---------------------------------------------------------------------------------


def test_snapshot_restore_mid_stream_gives_the_same_findings():
    wl = watchlist(asns=(64496,))
    events = all_up(0) + _cycles(PEERS[0], 100, 60, 4) + [wd(400, p) for p in PEERS[:6]]
    events += [ann(420, PEERS[3], "192.0.2.0/25", "1 64666"), ann(900, PEERS[3], P, "1 2 64496")]
    straight = run(default_detectors(wl), [[e] for e in events], wl)
    cut = next(i for i, e in enumerate(events) if e.ts >= 280)
    clock = FixedClock(0.0)
    first = Engine(wl, clock, detectors=default_detectors(wl))
    before: list[Finding] = []
    for event in events[:cut]:
        clock.value = event.ts
        before += first.ingest([event])
    # The checkpoint holds the route table once and each detector's own memory.
    saved = decode_checkpoint(encode_checkpoint(first.checkpoint()))
    second = Engine(wl, clock, detectors=default_detectors(wl))
    second.restore(saved)
    after: list[Finding] = []
    for event in events[cut:]:
        clock.value = event.ts
        after += second.ingest([event])
    assert {f.kind for f in straight} >= {"flapping", "visibility", "subprefix_hijack"}
    assert before and after
    assert brief(before + after) == brief(straight)


def test_findings_survive_the_journal_round_trip():
    wl = watchlist()
    found = run(default_detectors(wl), [all_up(0), [wd(100, p) for p in PEERS]], wl, ticks=[500])
    assert found
    for f in found:
        assert event_from_dict(json.loads(json.dumps(event_to_dict(f)))) == f


def test_declared_full_feed_peers_are_the_denominator():
    wl = watchlist()
    declared = FullFeedPeers(0, tuple(PEERS[:5]), "config")
    batches = [[declared] + all_up(0), [wd(100, p) for p in PEERS[5:]]]
    assert run([VisibilityDetector(wl)], batches, wl, ticks=[1000]) == []
    batches = [[declared] + all_up(0), [wd(100, p) for p in PEERS[:2]]]
    found = run([VisibilityDetector(wl)], batches, wl, ticks=[1000])
    assert found[0].evidence_dict["full_feed"] == 5 and found[0].evidence_dict["basis"] == "config"


def test_detectors_incidents_and_rpki_import_no_ui_or_io_library():
    import subprocess
    import sys

    code = ("import sys; import tui.core.detectors, tui.core.incidents, tui.core.rpki; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('textual', 'rich', 'httpx', 'websockets', 'dns', 'sqlite3', 'asyncio', 'socket'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_each_ip_family_has_its_own_denominator():
    wl = watchlist(prefixes=("192.0.2.0/24", "2001:db8::/32"))
    v6 = [PeerKey("rrc00", f"2001:db8:ffff::{i}", 65000 + i) for i in range(2)]
    v6_prefix = Prefix.parse("2001:db8::/32")
    batches = [all_up(0) + [ann(0, p, v6_prefix) for p in v6], [wd(100, v6[0], v6_prefix)]]
    clock = FixedClock(0.0)
    detector = VisibilityDetector(wl)
    engine = Engine(wl, clock, detectors=[detector])
    found = []
    for batch in batches:
        clock.value = max(e.ts for e in batch)
        found += engine.ingest(batch)
    clock.value = 500
    found += engine.tick()
    # 1 of the 2 IPv6 sessions: 50% (a warning), not 1 of 12 sessions of any family (critical).
    assert [(f.kind, f.severity) for f in found] == [("visibility", "warning")]
    assert (found[0].evidence_dict["visible"], found[0].evidence_dict["full_feed"]) == (1, 2)
    assert (engine.visibility(P).visible, engine.visibility(P).full_feed) == (10, 10)
