"""The bus contract without a server: URLs, subjects, message ids, sharding, heartbeat gaps."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from conftest import REPO, shared_file
from nats_lab import bgpdump_events, shard_events
from tui.bus.monitor import HeartbeatMonitor, bus_feed_name
from tui.bus.protocol import (
    BusError,
    Heartbeat,
    MessageIds,
    heartbeat_subject,
    instance_of_subject,
    parse_bus_url,
    redact_url,
    subject_for,
    subject_token,
)
from tui.bus.shard import ALL, Shard, ShardError, parse_shard, prefix_key, shard_of, shard_watches, zone_key
from tui.core.events import DnsProbeResult, FeedStatus, Finding, FullFeedPeers, PeerKey, RecordRejected, event_to_json
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watch

EVENTS_FILE = "mrt/bgpdump/expected/updates.20100722.2015.gz.bgp.gz"


# -- URLs -----------------------------------------------------------------------------------------


def test_bus_url_forms():
    assert parse_bus_url("nats://127.0.0.1:4222").servers == ("nats://127.0.0.1:4222",)
    assert parse_bus_url("127.0.0.1").servers == ("nats://127.0.0.1:4222",)
    both = parse_bus_url("nats://10.0.0.1:4222,nats://10.0.0.2:5222?stream=OPS&root=ops")
    assert both.servers == ("nats://10.0.0.1:4222", "nats://10.0.0.2:5222")
    assert (both.stream, both.root) == ("OPS", "ops")
    assert parse_bus_url("nats://[::1]:4222").servers == ("nats://[::1]:4222",)


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("", "empty"),
        ("http://127.0.0.1:4222", "scheme"),
        ("nats://:4222", "no host"),
        ("nats://127.0.0.1:99999", "bad bus URL"),
        ("nats://127.0.0.1:4222/x", "path"),
        ("nats://127.0.0.1?strem=X", "unknown bus URL option 'strem'"),
        ("nats://127.0.0.1?stream=a.b", "bad stream name"),
        ("nats://127.0.0.1?root=a>", "bad subject root"),
    ],
)
def test_bad_bus_urls_say_what_is_wrong(url, fragment):
    with pytest.raises(BusError, match=fragment.replace("?", r"\?")):
        parse_bus_url(url)


def test_credentials_never_appear_in_messages():
    assert redact_url("nats://alice:s3cret@10.0.0.1:4222") == "nats://***@10.0.0.1:4222"
    with pytest.raises(BusError) as caught:
        parse_bus_url("nats://alice:s3cret@10.0.0.1:4222/oops")
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in parse_bus_url("nats://alice:s3cret@10.0.0.1:4222").display


# -- subjects -------------------------------------------------------------------------------------


def test_subject_tokens_are_single_safe_tokens():
    assert subject_token("rrc00") == "rrc00"
    assert subject_token("North Korea") == "North_Korea"
    assert subject_token("a.b*c>d\x1b[31m") == "a_b_c_d__31m"
    assert subject_token("") == "_"
    long_a, long_b = "x" * 100 + "a", "x" * 100 + "b"
    assert len(subject_token(long_a)) <= 64 and subject_token(long_a) != subject_token(long_b)


def test_subjects_per_kind():
    events = bgpdump_events(shared_file(EVENTS_FILE), limit=50)
    assert {subject_for(e) for e in events} == {"watchfloor.route.rrc04"}
    dns = DnsProbeResult(1.0, "example.co.kp.", "ns1", "127.0.0.1", 53, "udp", "example.co.kp.", "SOA", "ok")
    assert subject_for(dns) == "watchfloor.dns.example_co_kp"
    assert subject_for(DnsProbeResult(1.0, ".", "a", "127.0.0.1", 53, "udp", ".", "SOA", "ok")) == "watchfloor.dns._root"
    finding = Finding(1.0, "f1", "North Korea", "visibility", "warning", "open", "175.45.176.0/22", "low", 1.0)
    assert subject_for(finding, "ops") == "ops.finding.North_Korea"
    assert subject_for(FeedStatus(1.0, "ris_live", "up")) == "watchfloor.feed.ris_live"
    assert subject_for(RecordRejected(1.0, "mrt", "x", "y")) == "watchfloor.feed.mrt"
    assert subject_for(FullFeedPeers(1.0, (PeerKey("rrc00", "192.0.2.1", 64496),), "config")) == "watchfloor.route._full_feed"
    assert heartbeat_subject("host-a 0/2") == "watchfloor.heartbeat.host-a_0_2"
    assert instance_of_subject("watchfloor.heartbeat.host-a_0_2") == "host-a_0_2"
    assert instance_of_subject("watchfloor.route.rrc00") is None


# -- message ids ----------------------------------------------------------------------------------


def _ids(events, instance="a"):
    ids = MessageIds(instance)
    return [ids.next_id(event_to_json(e).encode(), e.ts) for e in events]


def test_message_ids_are_deterministic_per_instance_and_unique_within_a_stream():
    events = bgpdump_events(shared_file(EVENTS_FILE))
    first = _ids(events)
    assert first == _ids(events), "a restarted collector must produce the same ids"
    assert len(set(first)) == len(first), "two different messages must never share an id"
    assert set(first).isdisjoint(_ids(events, "b")), "instances must not drop each other's messages"
    # The capture itself repeats identical updates within one second: those still get distinct ids.
    repeats = Counter(event_to_json(e) for e in events)
    assert max(repeats.values()) > 1
    assert first[: len(first) // 2] == _ids(events[: len(events) // 2])


def test_message_ids_forget_events_older_than_the_horizon():
    ids = MessageIds("a", horizon=10.0)
    ids.next_id(b"x", 0.0)
    ids.next_id(b"y", 5.0)
    assert len(ids) == 2
    ids.next_id(b"z", 20.0)
    assert len(ids) == 1


# -- heartbeats -----------------------------------------------------------------------------------


def test_heartbeat_round_trip_and_bad_payloads():
    beat = Heartbeat("a", 100.0, 5.0, "alive", "0/2", 10, 0)
    assert Heartbeat.from_json(beat.to_json()) == beat
    for bad in (
        b"",
        b"[]",
        b'{"instance": "a"}',
        b'{"instance":"a","ts":1,"interval":0}',
        b'{"instance":"a","ts":1,"interval":1,"state":"zz"}',
        b"\xff",
    ):
        with pytest.raises(BusError):
            Heartbeat.from_json(bad)


def _states(statuses):
    return [(s.feed, s.state, s.gap_start, s.gap_end) for s in statuses]


def test_monitor_declares_a_live_gap_then_closes_it():
    monitor = HeartbeatMonitor(misses=3)
    feed = bus_feed_name("a")
    assert _states(monitor.observe(Heartbeat("a", 0.0, 1.0), 100.0)) == [(feed, "up", None, None)]
    assert monitor.observe(Heartbeat("a", 1.0, 1.0), 101.0) == []
    assert monitor.check(103.9) == []
    [gap] = monitor.check(104.5)
    assert (gap.feed, gap.state, gap.ts) == (feed, "gap", 104.5)
    assert monitor.check(110.0) == [], "a gap is declared once"
    [back] = monitor.observe(Heartbeat("a", 20.0, 1.0), 120.0)
    assert (back.state, back.gap_start, back.gap_end, back.gap_seconds) == ("up", 101.0, 120.0, 19.0)
    assert monitor.instances["a"].gaps == 1


def test_monitor_finds_gaps_in_replayed_heartbeats():
    monitor = HeartbeatMonitor(misses=3)
    out = []
    for at in (0.0, 1.0, 2.0, 9.0, 10.0):
        out += monitor.observe(Heartbeat("a", at, 1.0), at)
    assert _states(out)[1:] == [("bus/a", "gap", None, None), ("bus/a", "up", 2.0, 9.0)]
    assert out[1].ts == 5.0


def test_monitor_clean_stop_is_not_a_gap():
    monitor = HeartbeatMonitor()
    monitor.observe(Heartbeat("a", 0.0, 1.0), 0.0)
    assert _states(monitor.observe(Heartbeat("a", 1.0, 1.0, "stopped"), 1.0)) == [("bus/a", "ended", None, None)]
    assert monitor.check(100.0) == []
    [again] = monitor.observe(Heartbeat("a", 50.0, 1.0), 50.0)
    assert (again.state, again.gap_start) == ("up", None)


def test_monitor_ignores_out_of_order_heartbeats_and_sanitises_names():
    monitor = HeartbeatMonitor()
    monitor.observe(Heartbeat("evil\x1b[2J", 10.0, 1.0), 10.0)
    assert monitor.observe(Heartbeat("evil\x1b[2J", 5.0, 1.0), 5.0) == []
    assert list(monitor.instances) == ["evil__2J"]


# -- sharding -------------------------------------------------------------------------------------


def test_parse_shard():
    assert parse_shard("1/2") == Shard(1, 2) and str(Shard(1, 2)) == "1/2"
    for bad in ("2/2", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ShardError):
            parse_shard(bad)


def test_shards_partition_a_watchlist_and_agree_across_processes():
    prefixes = tuple(sorted({e.prefix for e in bgpdump_events(shared_file(EVENTS_FILE)) if hasattr(e, "prefix")}))
    watch = Watch("many", prefixes=prefixes, asns=(131279, 3356), zones=("kp.", "example."), countries=("KP",))
    parts = [shard_watches([watch], Shard(k, 3)) for k in range(3)]
    seen = [p for part in parts for w in part for p in w.prefixes]
    assert sorted(seen) == sorted(prefixes), "every prefix in exactly one shard"
    sizes = [sum(len(w.prefixes) for w in part) for part in parts]
    assert min(sizes) > len(prefixes) / 6, f"a very uneven split: {sizes}"
    assert sorted(z for part in parts for w in part for z in w.zones) == ["example.", "kp."]
    assert shard_watches([watch], ALL) == (watch,)
    # Python salts str hashes per process; the shard function must not depend on that.
    code = "from tui.bus.shard import shard_of; print(shard_of('175.45.176.0/22', 7), shard_of('kp.', 7))"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(REPO)}, cwd=REPO,
    ).stdout.split()
    assert other == [str(shard_of("175.45.176.0/22", 7)), str(shard_of("kp.", 7))]
    assert zone_key("KP") == "kp."


def test_shard_drops_watches_left_empty():
    small = Watch("one", prefixes=(Prefix.parse("175.45.176.0/22"),))
    owner = shard_of(prefix_key(small.prefixes[0]), 2)
    assert shard_watches([small], Shard(owner, 2)) == (small,)
    assert shard_watches([small], Shard(1 - owner, 2)) == ()
    assert shard_watches([NORTH_KOREA], Shard(0, 1)) == (NORTH_KOREA,)


def test_sharded_event_streams_union_to_the_whole():
    events = bgpdump_events(shared_file(EVENTS_FILE))
    halves = [shard_events(events, f"{k}/2") for k in range(2)]
    routes = [e for e in events if hasattr(e, "prefix")]
    union = [e for half in halves for e in half if hasattr(e, "prefix")]
    assert Counter(union) == Counter(routes)
    assert all(halves)
