"""The pure RIS Live parser and capture reader, on the real captures in ../shared/data/ris-live."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, shared_file
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.events import (
    FeedStatus,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
    event_from_dict,
    event_to_dict,
)
from tui.core.prefixes import Prefix
from tui.core.routes import PeerStatus
from tui.core.watchlist import Watch, Watchlist
from tui.feeds.ris_messages import RisLiveParseError, excerpt, parse_message, read_capture

LIBBGPSTREAM = "ris-live/libbgpstream/ris-live-stream.json"
AS_SET = "ris-live/morrowc-rislive/fail-as-set.ndjson"


def _lines(relative: str) -> list[str]:
    return [line for line in shared_file(relative).read_text().splitlines() if line.strip()]


def _all(relative: str) -> list:
    return [e for batch in read_capture(shared_file(relative)) for e in batch]


def test_update_matches_libbgpstream_expected_elem():
    # libbgpstream's own test expects: U|A|1553627987.890000|...|rrc00|||11708|72.22.223.9|
    # 45.161.192.0/23|72.22.223.9|11708 32097 1299 52320 263009 ... 268481 268481|268481
    events = parse_message(_lines(LIBBGPSTREAM)[0])
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, RouteAnnounced)
    assert (ev.ts, ev.collector, ev.peer_ip, ev.peer_asn) == (1553627987.89, "rrc00", "72.22.223.9", 11708)
    assert ev.prefix == Prefix.parse("45.161.192.0/23")
    assert ev.next_hop == "72.22.223.9"
    assert ev.as_path == (11708, 32097, 1299, 52320, 263009, 263009, 263009, 263009, 263009, 52993, 268481, 268481)
    assert ev.origin == 268481
    assert ev.source == "ris-live"


def test_peer_state_down_is_idle_like_libbgpstream():
    (ev,) = parse_message(_lines(LIBBGPSTREAM)[1])
    assert isinstance(ev, PeerStateChanged)
    assert (ev.collector, ev.peer_ip, ev.peer_asn, ev.new_state) == ("rrc01", "195.66.224.59", 24931, "IDLE")
    assert not ev.is_up


def test_peer_state_connected_is_established():
    line = json.loads(_lines(LIBBGPSTREAM)[1])
    line["data"]["state"] = "connected"
    (ev,) = parse_message(line)
    assert ev.is_up and ev.new_state == "ESTABLISHED"


def test_ris_error_is_feed_status_error_with_message():
    (ev,) = parse_message(_lines(LIBBGPSTREAM)[2], source="rl", received=1234.5)
    assert isinstance(ev, FeedStatus)
    assert (ev.ts, ev.feed, ev.state) == (1234.5, "rl", "error")
    assert "this is a test error message" in ev.detail


def test_open_and_notification_give_nothing_keepalive_proves_session():
    lines = _lines(LIBBGPSTREAM)
    assert parse_message(lines[3]) == []  # OPEN
    assert parse_message(lines[4]) == []  # NOTIFICATION
    (seen,) = parse_message(lines[5])  # KEEPALIVE
    assert isinstance(seen, PeerSeen) and seen.peer_asn == 31042 and seen.collector == "rrc03"


def test_truncated_last_line_raises_and_capture_reader_rejects_it():
    with pytest.raises(RisLiveParseError, match="not JSON"):
        parse_message(_lines(LIBBGPSTREAM)[6])
    events = _all(LIBBGPSTREAM)
    rejected = [e for e in events if isinstance(e, RecordRejected)]
    assert len(rejected) == 1
    assert rejected[0].location.endswith("ris-live-stream.json:7")
    assert rejected[0].feed == "ris-live-capture"
    assert "80.249.210.89" in rejected[0].excerpt
    # everything before it was read: 1 announce, 1 state, 1 error, 1 keepalive
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RouteAnnounced", "PeerStateChanged", "FeedStatus", "PeerSeen", "RecordRejected"]


def test_as_set_origin_and_link_local_next_hop():
    events = _all(AS_SET)
    # two announcement entries (global and fe80::) for the same prefix: ONE announcement
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, RouteAnnounced)
    assert ev.prefix == Prefix.parse("2607:ffc0:1000::/36")
    assert ev.next_hop == "2001:504:1::a500:2497:1"
    assert ev.as_path[-1] == (13340,)
    assert ev.origin == 13340
    assert ev.peer_asn == 2497 and ev.collector == "rrc11"
    # survives the journal's round trip
    assert event_from_dict(event_to_dict(ev)) == ev


def test_link_local_listed_first_still_gives_global_next_hop():
    line = json.loads(_lines(AS_SET)[0])
    line["data"]["announcements"].reverse()
    (ev,) = parse_message(line)
    assert ev.next_hop == "2001:504:1::a500:2497:1"


def test_combined_next_hop_string():
    line = json.loads(_lines(AS_SET)[0])
    line["data"]["announcements"] = [
        {"next_hop": "fe80::86c1:c1ff:fe7d:6298,2001:504:1::a500:2497:1", "prefixes": ["2607:ffc0:1000::/36"]}
    ]
    (ev,) = parse_message(line)
    assert ev.next_hop == "2001:504:1::a500:2497:1"


def test_real_as_set_with_several_members_stays_a_set():
    line = json.loads(_lines(AS_SET)[0])
    line["data"]["path"] = [2497, 6453, [26281, 13340]]
    (ev,) = parse_message(line)
    assert ev.origin == (13340, 26281)


def test_communities_and_withdrawals_from_the_10_message_capture():
    events = _all("ris-live/morrowc-rislive/10-msg.ndjson")
    assert not any(isinstance(e, RecordRejected) for e in events)
    first = events[0]
    assert first.communities == ("57695:12000", "57695:12001")
    withdrawn = [e for e in events if isinstance(e, RouteWithdrawn)]
    assert [str(w.prefix) for w in withdrawn] == ["2001:7fb:fe0d::/48", "2001:7fb:fe04::/48"]


@pytest.mark.parametrize("relative", ["1-msg.ndjson", "10-msg.ndjson", "20-msg.ndjson", "fail-as-set.ndjson"])
def test_every_morrowc_line_parses(relative):
    for line in _lines(f"ris-live/morrowc-rislive/{relative}"):
        events = parse_message(line)
        assert events, line[:80]
        data = json.loads(line)["data"]
        assert all(e.collector == data["host"] for e in events)


def test_host_fqdn_is_normalised_and_bytes_accepted():
    line = json.loads(_lines(LIBBGPSTREAM)[0])
    line["data"]["host"] = "rrc00.ripe.net"
    (ev,) = parse_message(json.dumps(line).encode())
    assert ev.collector == "rrc00"


def test_withdraw_only_with_empty_arrays():
    msg = {"type": "ris_message", "data": {"timestamp": 1558620047.1, "peer": "45.12.70.254", "peer_asn": "47422",
           "host": "rrc00", "type": "UPDATE", "path": [], "announcements": [], "withdrawals": ["98.10.0.0/15"]}}
    (ev,) = parse_message(msg)
    assert isinstance(ev, RouteWithdrawn) and str(ev.prefix) == "98.10.0.0/15"


def test_end_of_rib_update_is_peer_seen():
    msg = {"type": "ris_message", "data": {"timestamp": 1.0, "peer": "192.0.2.1", "peer_asn": "64500",
           "host": "rrc00", "type": "UPDATE"}}
    (ev,) = parse_message(msg)
    assert isinstance(ev, PeerSeen)


def test_protocol_chatter_gives_nothing():
    for kind in ("pong", "ris_subscribe_ok", "ris_rrc_list"):
        assert parse_message({"type": kind, "data": None}) == []


_GOOD = {"timestamp": 1.0, "peer": "192.0.2.1", "peer_asn": "64500", "host": "rrc00", "type": "UPDATE",
         "path": [64500], "announcements": [{"next_hop": "192.0.2.1", "prefixes": ["198.51.100.0/24"]}]}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"peer_asn": "AS-BAD"}, "peer_asn"),
        ({"peer_asn": "99999999999"}, "out of range"),
        ({"peer": "not-an-ip"}, "peer is not an IP"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": float("inf")}, "timestamp"),
        ({"host": 5}, "host"),
        ({"type": "SURPRISE"}, "unknown ris_message type"),
        ({"path": [64500, "x"]}, "path element"),
        ({"path": [64500, [1, "x"]]}, "AS_SET"),
        ({"community": [[1, 2, 3]]}, "community"),
        ({"announcements": [{"next_hop": "192.0.2.1", "prefixes": ["300.0.0.0/8"]}]}, "not an IP prefix"),
        ({"announcements": [{"next_hop": "192.0.2.1"}]}, "prefixes list"),
        ({"withdrawals": "10.0.0.0/8"}, "withdrawals must be a list"),
        ({"state": "sideways", "type": "RIS_PEER_STATE"}, "unknown state"),
    ],
)
def test_malformed_messages_raise_with_reason(change, reason):
    data = dict(_GOOD, **change)
    with pytest.raises(RisLiveParseError, match=reason):
        parse_message({"type": "ris_message", "data": data})


@pytest.mark.parametrize(
    ("line", "reason"),
    [("", "not JSON"), ("[1,2]", "envelope"), ('{"data": {}}', "without a type"),
     ('{"type": "ris_surprise"}', "unknown message type"), ('{"type": "ris_message", "data": 3}', "object"),
     (b"\xff\xfe", "not JSON")],
)
def test_malformed_envelopes_raise(line, reason):
    with pytest.raises(RisLiveParseError, match=reason):
        parse_message(line)


def test_missing_field_names_it():
    data = dict(_GOOD)
    del data["peer_asn"]
    with pytest.raises(RisLiveParseError, match="without peer_asn"):
        parse_message({"type": "ris_message", "data": data})


def test_excerpt_escapes_terminal_control_sequences():
    text = excerpt('{"x": "\x1b[31mred\x1b[0m"}')
    assert "\x1b" not in text and "\\x1b" in text


def test_capture_reader_batches_and_blank_lines(tmp_path):
    good = _lines("ris-live/morrowc-rislive/20-msg.ndjson")
    capture = tmp_path / "c.ndjson"
    capture.write_text("\n".join(good[:3] + ["", "{broken", *good[3:]]) + "\n")
    batches = list(read_capture(capture, batch_size=7))
    assert all(len(b) >= 7 for b in batches[:-1])
    events = [e for b in batches for e in b]
    rejected = [e for e in events if isinstance(e, RecordRejected)]
    assert [r.location for r in rejected] == [f"{capture}:5"]
    assert sum(isinstance(e, RouteAnnounced) for e in events) == 39


def test_capture_drives_the_engine():
    watch = Watch("beacons", prefixes=(Prefix.parse("84.205.64.0/24"), Prefix.parse("2001:7fb:fe00::/32")))
    engine = Engine(Watchlist([watch]), FixedClock(0))
    for relative in ("ris-live/morrowc-rislive/10-msg.ndjson", LIBBGPSTREAM):
        for batch in read_capture(DATA / relative if (DATA / relative).exists() else shared_file(relative)):
            engine.ingest(batch)
    # the beacon 84.205.64.0/24 is held by rrc07's peer; 2001:7fb:fe04::/48 was withdrawn then re-announced
    routes = engine.state.routes_to(Prefix.parse("84.205.64.0/24"))
    assert [(p.key.collector, p.key.peer_asn) for p, _ in routes] == [("rrc07", 24482)]
    assert engine.state.routes_to(Prefix.parse("2001:7fb:fe04::/48"))
    assert engine.state.routes_to(Prefix.parse("2001:7fb:fe0d::/48")) == []
    assert engine.feeds["ris-live-capture"].rejected == 1
    down = [p for p in engine.state.peers() if p.key.peer_asn == 24931]
    assert down and down[0].status == PeerStatus.DOWN


def test_a_cut_gzip_capture_keeps_what_was_read_and_says_where_it_ended(tmp_path):
    import gzip

    from tui.core.events import RecordRejected, RouteAnnounced
    from tui.journal.sources import open_sources

    text = shared_file("ris-live/morrowc-rislive/20-msg.ndjson").read_bytes()
    packed = gzip.compress(text)
    cut = tmp_path / "capture.ndjson.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])  # a download that stopped two thirds in
    events = [e for batch in open_sources([cut], None) for e in batch]
    announced = [e for e in events if isinstance(e, RouteAnnounced)]
    ended = [e for e in events if isinstance(e, RecordRejected) and "ends early" in e.reason]
    assert announced and len(ended) == 1 and ended[0].location.startswith(f"{cut}:")
