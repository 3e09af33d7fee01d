"""The MRT feed: filtering, full-table mode, bad and truncated input, containers, merging.

Real files from ../shared/data/mrt throughout. The few synthetic inputs are made from real
records (cut, concatenated, recompressed, one octet changed) to show faults the real files do
not have; each says which fault it stands for.
"""

from __future__ import annotations

import bz2
import gzip
import io
import struct
from collections import Counter

import pytest

from tests.conftest import shared_file
from tui.core.aspath import origin_of
from tui.core.attributes import AttributesError, WireRoute
from tui.core.events import (
    BulkRoutes,
    FeedStatus,
    FullFeedPeers,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState
from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist
from tui.feeds.mrt import (
    MrtError,
    collector_from_path,
    decode_attributes,
    read_mrt,
    read_mrt_files,
    split_nlri,
)
from tui.feeds.mrt._container import StreamEnd, container_chunks

ET_HEADER = "mrt/bgpdump/updates.et-header.2015.gz"
RRC01_CORRUPT = "mrt/bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz"
RRC03 = "mrt/bgpkit-parser/ripe/rrc03/2010.02/updates.20100227.1600.first-796-records.gz"
RRC15_1600 = "mrt/bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1600.gz"
RRC15_1610 = "mrt/bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz"
RRC06 = "mrt/libbgpstream/ris.rrc06.updates.1427846400.gz"
JINX = "mrt/libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2"
UPDATES_2010 = "mrt/bgpdump/updates.20100722.2015.gz"
RIB6 = "mrt/pyasn/rib6.20151101.0600_firstMB.bz2"
BVIEW_64K = "mrt/bgpdump/bview.64k_stream_overflow.gz"
NO_PEER_INDEX = "mrt/pyasn/bview.20140112.1600_3samples.bz2"


def events_of(reader) -> list:
    """Every event of a reader, batches flattened."""
    return [event for batch in reader for event in batch]


def table_of(reader) -> tuple[RouteState, list]:
    """The route table a reader's events build (give it ``table=True``), and the events."""
    state = RouteState()
    events = events_of(reader)
    state.apply_all(events)
    return state, events


def routes_of(state: RouteState) -> dict[tuple[str, str, int, Prefix], tuple]:
    """(collector, peer, ASN, prefix) -> (path, next hop, communities) for every route held."""
    out = {}
    for info in state.peers():
        for version in (4, 6):
            for key, route in info.table(version).items():
                out[(*info.key, Prefix.from_wire(version, key))] = (route.as_path, route.next_hop, route.communities)
    return out


def mrt_records(raw: bytes) -> list[bytes]:
    """Split decompressed MRT data into whole records (header included)."""
    out, pos = [], 0
    while pos + 12 <= len(raw):
        length = struct.unpack_from(">I", raw, pos + 8)[0]
        out.append(raw[pos : pos + 12 + length])
        pos += 12 + length
    return out


# -- the watchlist filter ---------------------------------------------------------------------------


def test_north_korea_found_in_the_full_table_capture():
    reader = read_mrt(shared_file(ET_HEADER), watchlist=Watchlist([NORTH_KOREA]))
    events = events_of(reader)
    announced = {str(e.prefix): e for e in events if isinstance(e, RouteAnnounced)}
    for p in ("175.45.176.0/24", "175.45.177.0/24", "175.45.178.0/24", "175.45.179.0/24"):
        assert announced[p].as_path[-2:] == (4837, 131279)
        assert announced[p].origin == 131279
    assert {"210.52.109.0/24", "77.94.35.0/24"} <= set(announced)
    # covering prefixes matter for reachability: the /19 and /18 around them, the default route
    assert {"77.94.32.0/19", "210.52.64.0/18", "0.0.0.0/0"} <= set(announced)
    trie = Watchlist([NORTH_KOREA]).trie
    assert all(trie.is_relevant(e.prefix) or e.origin == 131279 for e in announced.values())
    # 577,737 announcements read, a handful kept
    assert reader.stats.records == 89686 and len(announced) == 9
    assert [e.new_state for e in events if isinstance(e, PeerStateChanged)][-1] == "ESTABLISHED"
    assert sum(isinstance(e, PeerSeen) for e in events) == 1


def _watched_subset(full: dict, watchlist: Watchlist) -> dict:
    asns = set(watchlist.watched_asns())
    out = {}
    for key, route in full.items():
        origin = origin_of(route[0])
        members = origin if isinstance(origin, tuple) else (origin,)
        if watchlist.trie.is_relevant(key[3]) or any(m in asns for m in members):
            out[key] = route
    return out


SUBSETS = [
    pytest.param(
        [RRC15_1600, RRC15_1610],
        Watch("rrc15", tuple(map(Prefix.parse, ("201.241.0.0/16", "200.1.0.0/16", "190.162.1.0/24"))), (8346, 28662)),
        id="rrc15-prefixes-and-asns",
    ),
    pytest.param(
        [RRC06, JINX],
        Watch("ipv6", tuple(map(Prefix.parse, ("2620:110:9000::/44", "199.38.164.0/23", "2001:db8::/32")))),
        id="rrc06-jinx-ipv6",
    ),
    pytest.param([RIB6], Watch("rib6", (Prefix.parse("2001:1200::/23"),), (6939,)), id="ipv6-rib-asn", marks=pytest.mark.slow),
    pytest.param([ET_HEADER], NORTH_KOREA, id="north-korea", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("files", "watch"), SUBSETS)
def test_filtered_mode_gives_exactly_the_watched_subset_of_the_full_table(files, watch):
    paths = [shared_file(f) for f in files]
    watchlist = Watchlist([watch])
    full_state, _ = table_of(read_mrt_files(paths, table=True))
    filtered_state = RouteState()
    kept_by_origin = set()
    for batch in read_mrt_files(paths, watchlist=watchlist):
        for event in batch:
            filtered_state.apply(event)
            if isinstance(event, RouteAnnounced) and not watchlist.trie.is_relevant(event.prefix):
                kept_by_origin.add((*event.peer, event.prefix))
    full, filtered = routes_of(full_state), routes_of(filtered_state)
    expected = _watched_subset(full, watchlist)
    assert len(expected) >= 4
    # every route the filter kept is the real, current one...
    assert {k: full.get(k) for k in filtered} == filtered
    # ...and nothing of the watched subset is missing
    assert set(expected) <= set(filtered)
    # The only extras: routes whose origin *was* watched and then changed (their replacement
    # had to come out, or the filtered state would hold a stale route).
    assert set(filtered) - set(expected) <= kept_by_origin


RIBS = [
    pytest.param("mrt/bgpdump/bview.20020722.2337.gz", id="TABLE_DUMP"),
    pytest.param(BVIEW_64K, id="TABLE_DUMP_V2-IPv6-64k"),
    pytest.param("mrt/pyasn/rib.20140523.0600_firstMB.bz2", id="TABLE_DUMP_V2", marks=pytest.mark.slow),
    pytest.param(RIB6, id="TABLE_DUMP_V2-IPv6", marks=pytest.mark.slow),
]
RIB_WATCHES = Watchlist(
    [
        NORTH_KOREA,
        Watch(
            "picked",
            tuple(map(Prefix.parse, ("80.64.128.0/20", "1.8.0.0/16", "2001:200::/23", "2001:579:1040::/46"))),
            (701, 8402, 22773),
        ),
    ]
)
"""Prefixes and origins each RIB above holds (tests/golden_cases.py picked them), and the
built-in watch."""


def _without_bulk(events: list) -> list:
    return [e for e in events if not isinstance(e, BulkRoutes)]


def _same_reading(source, watchlist: Watchlist) -> tuple[list, list]:
    """A RIB (path, or bytes) read watch-only, and read whole-table with the same watchlist
    less its bulk routes."""
    def opened():
        return io.BytesIO(source) if isinstance(source, bytes) else source

    watched = events_of(read_mrt(opened(), watchlist=watchlist, collector="rib"))
    table = _without_bulk(events_of(read_mrt(opened(), watchlist=watchlist, table=True, collector="rib")))
    return watched, table


@pytest.mark.parametrize("relative", RIBS)
def test_watch_only_rib_reading_is_the_entry_by_entry_reading(relative):
    """Watch-only, a RIB record no watch concerns is passed over from its raw octets and its
    sessions are counted by PEER_INDEX_TABLE position. The whole-table reading goes entry by
    entry; without its bulk routes it must give the very same events, in the same order:
    the watched routes, PeerSeen, FullFeedPeers (the session counts) and the end."""
    watched, table = _same_reading(shared_file(relative), RIB_WATCHES)
    assert sum(isinstance(e, RouteAnnounced) for e in watched) >= 2
    assert any(isinstance(e, FullFeedPeers) for e in watched)
    assert watched == table


def test_watch_only_rib_reading_rejects_damage_as_the_entry_by_entry_reading():
    """Random octets changed in real TABLE_DUMP and TABLE_DUMP_V2 records: the same rejections
    (offsets, reasons), counts and events whether records are passed over or read entry by entry."""
    import random

    rng = random.Random(20020722)
    sources = [
        gzip.decompress(shared_file("mrt/bgpdump/bview.20020722.2337.gz").read_bytes())[:1_500_000],
        gzip.decompress(shared_file(BVIEW_64K).read_bytes()),
        bz2.BZ2Decompressor().decompress(shared_file(RIB6).read_bytes())[:1_500_000],
    ]
    rejected = 0
    for _ in range(12):
        raw = bytearray(rng.choice(sources))
        for _ in range(rng.randint(20, 300)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        watched, table = _same_reading(bytes(raw), RIB_WATCHES)
        assert watched == table
        rejected += sum(isinstance(e, RecordRejected) for e in watched)
    assert rejected > 30  # the damage was real


def test_full_table_mode_still_emits_the_watched_routes():
    state, events = table_of(read_mrt(shared_file(RRC15_1600), table=True, watchlist=Watchlist([SUBSETS[0].values[1]])))
    announced = [e for e in events if isinstance(e, RouteAnnounced)]
    assert announced and len(announced) < state.route_count() / 10
    assert any(str(e.prefix).startswith("201.241.") for e in announced)
    last: dict = {}
    for event in events:
        if isinstance(event, RouteAnnounced | RouteWithdrawn):
            last[(event.peer, event.prefix)] = event
    held = {(info.key, p): r for p in {k[1] for k in last} for info, r in state.routes_to(p)}
    for key, event in last.items():
        if isinstance(event, RouteAnnounced) and key in held:
            assert held[key].as_path == event.as_path and held[key].next_hop == event.next_hop


def test_routes_of_one_record_share_one_lazily_decoded_object():
    state, _ = table_of(read_mrt(shared_file(ET_HEADER), table=True))
    (info,) = list(state.peers())
    keys = [Prefix.parse(f"175.45.{n}.0/24").wire_key for n in range(176, 180)]
    routes = [info.v4[k] for k in keys]
    assert all(r is routes[0] for r in routes)  # one UPDATE carried all four
    route = routes[0]
    assert isinstance(route, WireRoute)
    assert all(hasattr(route, name) for name in ("as_path", "next_hop", "communities", "since"))
    assert route.as_path == (2914, 1239, 4837, 131279)
    assert route.origin == 131279 and route.next_hop == "129.250.10.57" and route.since > 1445565600


# -- corrupt, truncated and odd input ---------------------------------------------------------------


def test_corrupt_2000_rrc01_file_is_read_to_the_end_with_counted_rejections():
    reader = read_mrt(shared_file(RRC01_CORRUPT))
    events = events_of(reader)
    rejected = [e for e in events if isinstance(e, RecordRejected)]
    reasons = Counter(e.reason for e in rejected)
    assert reader.stats.rejected == len(rejected) == 63
    assert reasons["STATE_CHANGE without peer address (8-octet Zebra record)"] == 42
    assert reasons["BGP4MP address family 65535 unknown (Zebra OPEN bug)"] == 21
    assert all(e.location.startswith(str(shared_file(RRC01_CORRUPT)) + "@") for e in rejected)
    assert reader.stats.records == 1286  # every record of the file, including the bad ones
    end = events[-1]
    assert isinstance(end, FeedStatus) and end.state == "ended" and "63 rejected" in end.detail
    assert not reader.stats.truncated
    assert sum(isinstance(e, RouteAnnounced) for e in events) == 378


@pytest.mark.parametrize(
    ("relative", "records", "entries"),
    [
        ("mrt/pyasn/rib.20080501.0644_firstMB.bz2", 139291, 139291),
        ("mrt/pyasn/rib.20140523.0600_firstMB.bz2", 9073, 270005),
        (RIB6, 6871, 149578),
    ],
)
def test_truncated_ribs_warn_and_keep_every_complete_record(relative, records, entries):
    reader = read_mrt(shared_file(relative), table=True)
    state, events = table_of(reader)
    stats = reader.stats
    assert stats.truncated and stats.truncated_at is not None and stats.rejected == 0
    assert (stats.records, stats.announcements, state.route_count()) == (records, entries, entries)
    end = events[-1]
    assert isinstance(end, FeedStatus) and end.state == "ended"
    assert f"truncated at byte offset {stats.truncated_at}" in end.detail and "bzip2 stream cut short" in end.detail
    (full_feed,) = [e for e in events if isinstance(e, FullFeedPeers)]
    assert full_feed.basis == "rib size" and len(full_feed.peers) > 10
    assert full_feed.ts == end.ts


def test_rib_without_peer_index_table_is_reported_clearly():
    reader = read_mrt(shared_file(NO_PEER_INDEX))
    events = events_of(reader)
    rejected = [e for e in events if isinstance(e, RecordRejected)]
    assert len(rejected) == 3 and all("PEER_INDEX_TABLE" in e.reason for e in rejected)
    offsets = [0]
    for record in mrt_records(bz2.decompress(shared_file(NO_PEER_INDEX).read_bytes()))[:-1]:
        offsets.append(offsets[-1] + len(record))
    assert [e.location for e in rejected] == [f"{shared_file(NO_PEER_INDEX)}@{n}" for n in offsets]
    assert "without a PEER_INDEX_TABLE" in events[-1].detail
    assert not any(isinstance(e, RouteAnnounced) for e in events)


def test_ipv6_rib():
    state, events = table_of(read_mrt(shared_file(RIB6), table=True))
    peers = {p.key.peer_ip: p for p in state.peers()}
    route = peers["2001:668:0:4::2"].v6[Prefix.parse("2001::/32").wire_key]
    assert route.as_path == (3257, 1103, 1101) and route.next_hop == "2001:668:0:4::2"
    assert "3257:4000" in route.communities
    assert all(not p.v4 for p in state.peers())
    # 29 peers in the index; the first MB of the RIB holds routes from 27 of them
    assert sum(isinstance(e, PeerSeen) for e in events) == len(peers) == 27


def test_record_over_64k():
    raw = gzip.decompress(shared_file(BVIEW_64K).read_bytes())
    assert max(len(r) for r in mrt_records(raw)) > 65536
    state, _ = table_of(read_mrt(shared_file(BVIEW_64K), table=True))
    holders = state.routes_to(Prefix.parse("2001:579:1040::/46"))
    assert len(holders) == 23
    first = {info.key.peer_ip: route for info, route in holders}["193.0.0.56"]
    assert first.as_path == (3333, 2914, 22773) and first.next_hop == "::ffff:193.0.0.56"


def test_state_changes_use_upper_case_names_including_quagga_extras():
    events = events_of(read_mrt(shared_file(RRC03)))
    changes = {(e.old_state, e.new_state) for e in events if isinstance(e, PeerStateChanged)}
    assert ("ESTABLISHED", "CLEARING") in changes and ("CLEARING", "IDLE") in changes


def test_a_peer_leaving_established_loses_its_routes():
    state, events = table_of(read_mrt(shared_file(RRC03), table=True))
    down = [e for e in events if isinstance(e, PeerStateChanged) and e.old_state == "ESTABLISHED"]
    assert down
    for event in down:
        info = next(p for p in state.peers() if p.key == event.peer)
        announced_later = any(
            isinstance(e, BulkRoutes) and e.announced and e.peer == event.peer and e.ts >= event.ts for e in events
        )
        assert announced_later or (not info.v4 and not info.v6)


def test_peer_seen_once_per_session():
    events = events_of(read_mrt_files([shared_file(RRC15_1600), shared_file(RRC15_1610)]))
    seen = Counter(e.peer for e in events if isinstance(e, PeerSeen))
    assert seen and set(seen.values()) == {1}
    talking = {e.peer for e in events if isinstance(e, RouteAnnounced | RouteWithdrawn)}
    assert talking <= set(seen)


# -- containers -------------------------------------------------------------------------------------


def _signature(events: list) -> list:
    return [(type(e).__name__, e.ts, str(getattr(e, "prefix", ""))) for e in events if not isinstance(e, FeedStatus)]


def test_container_is_detected_by_magic_not_by_name(tmp_path):
    original = shared_file(RRC06)
    raw = gzip.decompress(original.read_bytes())
    expected = _signature(events_of(read_mrt(original)))
    assert len(expected) > 1000
    plain_named_bz2 = tmp_path / "updates.bz2"
    plain_named_bz2.write_bytes(raw)
    bz2_named_gz = tmp_path / "updates.gz"
    bz2_named_gz.write_bytes(bz2.compress(raw))
    records = mrt_records(raw)
    half = len(records) // 2
    multi_member = tmp_path / "multi.gz"  # what `cat a.gz b.gz` makes
    multi_member.write_bytes(gzip.compress(b"".join(records[:half])) + gzip.compress(b"".join(records[half:])))
    multi_stream = tmp_path / "multi.bz2"  # what pbzip2 makes
    multi_stream.write_bytes(bz2.compress(b"".join(records[:half])) + bz2.compress(b"".join(records[half:])))
    for source in (plain_named_bz2, bz2_named_gz, multi_member, multi_stream, io.BytesIO(original.read_bytes())):
        reader = read_mrt(source, collector="rrc06")
        assert _signature(events_of(reader)) == expected, source
        assert not reader.stats.truncated and reader.stats.rejected == 0


def _decompressed(data: bytes, threads: int) -> tuple[bytes, str]:
    """What the container layer makes of ``data``: the bytes, and the problem it reports."""
    end = StreamEnd()
    out = b"".join(container_chunks(io.BytesIO(data), end, threads))
    return out, end.problem


def _bzip2_cases() -> dict[str, bytes]:
    """Real bzip2 files, and bzip2 made from a real RIB, with the faults the block path must
    hand on exactly as the serial one does (each name says which)."""
    cases = {
        name: shared_file(name).read_bytes()
        for name in (JINX, NO_PEER_INDEX, "mrt/bgpkit-parser/local_only-updates.bz2", "mrt/pyasn/rib.20080501.0644_firstMB.bz2")
    }
    raw = bz2.BZ2Decompressor().decompress(shared_file(RIB6).read_bytes())[:1_200_000]
    small_blocks = bz2.compress(raw, 1)  # 100 kB blocks: a dozen of them
    cases["many blocks"] = small_blocks
    cases["two streams (pbzip2), an empty one between"] = (
        bz2.compress(raw[:700_000], 1) + bz2.compress(b"") + bz2.compress(raw[700_000:], 2)
    )
    cases["stray octets after the stream"] = small_blocks + b"\x00\x00junk"
    cases["zeros after the stream"] = small_blocks + bytes(300)
    cases["gzip after a bzip2 stream"] = bz2.compress(raw[:300_000], 1) + gzip.compress(raw[:1000])
    cases["empty stream"] = bz2.compress(b"")
    for cut in (
        2,
        4,
        9,
        40,
        1000,
        len(small_blocks) // 3,
        len(small_blocks) // 2 + 7,
        len(small_blocks) - 11,
        len(small_blocks) - 1,
    ):
        cases[f"cut at {cut}"] = small_blocks[:cut]
    return cases


def test_bzip2_block_by_block_gives_the_serial_bytes_and_ending():
    """Blocks decoded in threads add up to what one decompressor gives, ending the same way."""
    for name, data in _bzip2_cases().items():
        expected = _decompressed(data, 0)
        for threads in (1, 2):
            assert _decompressed(data, threads) == expected, (name, threads)


def test_a_stream_ending_where_a_read_ends_is_followed_by_the_next(monkeypatch):
    """pbzip2 output whose first stream ends exactly where a read of the file does: the next
    stream is read, not taken for stray octets (both paths)."""
    import tui.feeds.mrt._container as container

    raw = bz2.BZ2Decompressor().decompress(shared_file(RIB6).read_bytes())[:400_000]
    first, second = bz2.compress(raw[:250_000], 1), bz2.compress(raw[250_000:], 1)
    monkeypatch.setattr(container, "_READ_SIZE", len(first))
    for threads in (0, 1):
        assert _decompressed(first + second, threads) == (raw, ""), threads


def test_damaged_bzip2_keeps_every_block_before_the_damage():
    """One bit flipped: every good block before the damage is kept (the serial path can lose
    one or two of them with the call that met it), never a byte after it or a wrong one."""
    import random

    raw = bz2.BZ2Decompressor().decompress(shared_file(RIB6).read_bytes())[:1_000_000]
    data = bz2.compress(raw, 1)
    rng = random.Random(131279)
    for _ in range(6):
        damaged = bytearray(data)
        damaged[rng.randrange(100, len(damaged))] ^= 1 << rng.randrange(8)
        serial, serial_problem = _decompressed(bytes(damaged), 0)
        kept, problem = _decompressed(bytes(damaged), 2)
        assert problem == serial_problem and "bzip2 data corrupt" in problem
        assert raw.startswith(kept) and kept.startswith(serial)


def test_bzip2_from_a_pipe_reads_as_from_a_file():
    """A stream that cannot be read again takes the serial path: the same events."""
    path = shared_file("mrt/pyasn/rib.20080501.0644_firstMB.bz2")

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:  # type: ignore[override]
            chunk = self._data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    watchlist = Watchlist([NORTH_KOREA])
    from_file = events_of(read_mrt(path, watchlist=watchlist, collector="rrc00"))
    from_pipe = events_of(read_mrt(Pipe(path.read_bytes()), watchlist=watchlist, collector="rrc00"))
    assert not Pipe(b"").seekable()
    assert _signature(from_pipe) == _signature(from_file) and len(from_file) > 10
    assert from_pipe[-1].detail.split(": ", 1)[1] == from_file[-1].detail.split(": ", 1)[1]


def test_cut_compressed_stream_keeps_what_was_readable(tmp_path):
    original = shared_file(RRC06).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(original[: len(original) // 2])
    reader = read_mrt(cut)
    events = events_of(reader)
    assert reader.stats.truncated and reader.stats.rejected == 0
    assert "gzip stream cut short" in events[-1].detail and "truncated" in events[-1].detail
    complete = mrt_records(gzip.decompress(original))
    assert 0 < reader.stats.records < len(complete)


def test_record_cut_in_the_middle(tmp_path):
    raw = gzip.decompress(shared_file(RRC06).read_bytes())
    records = mrt_records(raw)
    cut = tmp_path / "cut.mrt"
    cut.write_bytes(b"".join(records[:100]) + records[100][:30])
    reader = read_mrt(cut)
    events = events_of(reader)
    offset = sum(map(len, records[:100]))
    assert reader.stats.records == 100 and reader.stats.truncated_at == offset
    assert f"truncated at byte offset {offset}" in events[-1].detail


def test_one_bad_record_is_rejected_and_reading_resyncs(tmp_path):
    """A BGP marker that is not all ones (a corrupt body with an intact MRT header)."""
    raw = gzip.decompress(shared_file(RRC06).read_bytes())
    records = mrt_records(raw)
    victim = next(i for i, r in enumerate(records) if struct.unpack_from(">H", r, 6)[0] == 4 and i > 10)
    bad = bytearray(records[victim])
    marker = bad.find(b"\xff" * 16)
    bad[marker + 3] = 0
    path = tmp_path / "bad.mrt"
    path.write_bytes(b"".join(records[:victim]) + bytes(bad) + b"".join(records[victim + 1 :]))
    reader = read_mrt(path)
    events = events_of(reader)
    (rejected,) = [e for e in events if isinstance(e, RecordRejected)]
    assert rejected.location == f"{path}@{sum(map(len, records[:victim]))}"
    assert "marker" in rejected.reason and rejected.excerpt
    assert reader.stats.records == len(records) and not reader.stats.truncated


def test_untrustworthy_header_stops_the_file_with_a_warning(tmp_path):
    """Four junk octets in the middle: the following header is misframed from there on."""
    raw = gzip.decompress(shared_file(RRC06).read_bytes())
    records = mrt_records(raw)
    path = tmp_path / "junk.mrt"
    path.write_bytes(b"".join(records[:50]) + b"\x00\x00\x00\x00\x7f\x7f" + b"".join(records[50:]))
    reader = read_mrt(path)
    events = events_of(reader)
    offset = sum(map(len, records[:50]))
    assert reader.stats.records == 50 and reader.stats.corrupt_header_at == offset
    assert any(isinstance(e, RecordRejected) and "cannot be trusted" in e.reason for e in events)
    assert "corrupt MRT header" in events[-1].detail


def test_missing_file_is_reported_not_raised(tmp_path):
    reader = read_mrt(tmp_path / "nope.gz")
    events = events_of(reader)
    assert isinstance(events[0], RecordRejected) and "cannot open" in events[0].reason
    assert events[-1].state == "ended" and "could not be opened" in events[-1].detail


# -- several files ----------------------------------------------------------------------------------


def test_files_merge_in_time_order_whatever_order_they_are_given():
    late, early = shared_file(RRC15_1610), shared_file(RRC15_1600)
    events = events_of(read_mrt_files([late, early]))
    stamps = [e.ts for e in events if isinstance(e, RouteAnnounced | RouteWithdrawn | PeerStateChanged)]
    assert len(stamps) > 50000 and stamps == sorted(stamps)
    assert {e.collector for e in events if isinstance(e, RouteAnnounced)} == {"rrc15"}
    merged, _ = table_of(read_mrt_files([late, early], table=True))
    one_by_one = RouteState()
    for path in (early, late):
        one_by_one.apply_all(events_of(read_mrt(path, table=True)))
    assert routes_of(merged) == routes_of(one_by_one)


@pytest.mark.parametrize(
    ("path", "collector"),
    [
        ("/data/ris/rrc15/2010.02/updates.20100227.1600.gz", "rrc15"),
        ("libbgpstream/ris.rrc06.updates.1427846400.gz", "rrc06"),
        ("libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2", "route-views.jinx"),
        ("/archive/route-views.linx/bgpdata/2015.04/UPDATES/updates.20150401.0000.bz2", "route-views.linx"),
        ("/archive/bgpdata/2014.05/RIBS/rib.20140523.0600.bz2", "route-views2"),
        ("/tmp/updates.20020722.2238.gz", None),
    ],
)
def test_collector_from_path(path, collector):
    assert collector_from_path(path) == collector


def test_collector_falls_back_to_the_file_stem():
    events = events_of(read_mrt(shared_file(UPDATES_2010)))
    assert {e.collector for e in events if isinstance(e, RouteAnnounced)} == {"updates.20100722.2015"}


# -- attributes -------------------------------------------------------------------------------------


def _attr(kind: int, value: bytes, flags: int = 0x40) -> bytes:
    return bytes((flags, kind, len(value))) + value


def _segment(kind: int, asns: list[int], width: int) -> bytes:
    return bytes((kind, len(asns))) + b"".join(a.to_bytes(width, "big") for a in asns)


def test_as4_path_is_merged_into_a_two_octet_path_like_bgpdump():
    path2 = _segment(2, [3356, 23456, 23456], 2)
    path4 = _segment(2, [131279, 4200000000], 4)
    blob = (
        _attr(2, path2)
        + _attr(17, path4, 0xC0)
        + _attr(3, bytes((192, 0, 2, 1)))
        + _attr(8, bytes((0xFF, 0xFF, 0xFF, 0x01)), 0xC0)
    )
    decoded = decode_attributes(blob, asn4=False)
    assert decoded.as_path == (3356, 131279, 4200000000)
    assert decoded.next_hop == "192.0.2.1" and decoded.communities == ("65535:65281",)
    # AS4_PATH longer than AS_PATH: ignored
    assert decode_attributes(_attr(2, _segment(2, [23456], 2)) + _attr(17, path4, 0xC0), asn4=False).as_path == (23456,)
    # a real (non-AS_TRANS) AGGREGATOR with an AS4_AGGREGATOR: AS4_PATH ignored (RFC 6793)
    aggregator = _attr(7, (64500).to_bytes(2, "big") + bytes(4), 0xC0)
    aggregator4 = _attr(18, (4200000000).to_bytes(4, "big") + bytes(4), 0xC0)
    assert decode_attributes(_attr(2, path2) + _attr(17, path4, 0xC0) + aggregator + aggregator4, asn4=False).as_path == (
        3356,
        23456,
        23456,
    )


def test_as_sets_and_confederations():
    path = _segment(3, [65001, 65002], 4) + _segment(2, [3356, 174], 4) + _segment(1, [64512, 4200000001, 64512], 4)
    decoded = decode_attributes(_attr(2, path), asn4=True)
    assert decoded.as_path == (65001, 65002, 3356, 174, (64512, 4200000001))
    assert origin_of(decoded.as_path) == (64512, 4200000001)


def test_bad_attributes_raise_the_documented_error():
    with pytest.raises(AttributesError):
        decode_attributes(_attr(2, _segment(2, [1, 2, 3], 4))[:-2], asn4=True)
    with pytest.raises(AttributesError):
        decode_attributes(_attr(2, bytes((9, 1, 0, 0, 0, 1))), asn4=True)


def test_split_nlri_cleans_host_bits_and_refuses_bad_lengths():
    assert split_nlri(b"\x18\xc0\x00\x02\x10\x0a\x01", 0, 7, 4) == [b"\x18\xc0\x00\x02", b"\x10\x0a\x01"]
    # a /23 with a host bit set is stored under its clean key
    assert split_nlri(b"\x17\xc0\x00\x03", 0, 4, 4) == [b"\x17\xc0\x00\x02"]
    assert split_nlri(b"\x00\x00\x00\x01\x18\xc0\x00\x02", 0, 8, 4, addpath=True) == [b"\x18\xc0\x00\x02"]
    with pytest.raises(MrtError, match="length 33"):
        split_nlri(b"\x21\x01\x02\x03\x04\x05", 0, 6, 4)
    with pytest.raises(MrtError, match="needs 3 octets"):
        split_nlri(b"\x18\xc0\x00", 0, 3, 4)


def test_view_name_never_smuggles_escapes_into_the_collector_name(tmp_path):
    """A PEER_INDEX_TABLE whose view name holds a terminal escape (hostile input)."""
    view = b"\x1b[31mevil\x07"
    body = bytes(4) + struct.pack(">H", len(view)) + view + struct.pack(">H", 1)
    body += bytes((0,)) + bytes(4) + bytes((192, 0, 2, 1)) + struct.pack(">H", 64500)
    rib = struct.pack(">I", 0) + b"\x18\xc0\x00\x02" + struct.pack(">H", 1)
    attrs = _attr(1, b"\x00") + _attr(2, _segment(2, [64500], 4)) + _attr(3, bytes((192, 0, 2, 1)))
    rib += struct.pack(">HIH", 0, 0, len(attrs)) + attrs
    data = struct.pack(">IHHI", 1, 13, 1, len(body)) + body + struct.pack(">IHHI", 1, 13, 2, len(rib)) + rib
    path = tmp_path / "x.mrt"
    path.write_bytes(data)
    events = events_of(read_mrt(path))
    (announced,) = [e for e in events if isinstance(e, RouteAnnounced)]
    assert announced.collector == "[31mevil" and announced.as_path == (64500,)
    assert all(ch.isprintable() for ch in announced.collector)


def test_files_merge_rib_then_updates_into_the_state_at_the_end(tmp_path):
    """A RIB followed by updates: the updates are applied on top of the RIB, in time order."""
    raw = gzip.decompress(shared_file(RRC06).read_bytes())
    records = mrt_records(raw)
    first_ts = struct.unpack_from(">I", records[0])[0]
    # A one-prefix RIB one second before the updates, from a peer the updates then withdraw.
    events = events_of(read_mrt(shared_file(RRC06)))
    withdrawn = next(e for e in events if isinstance(e, RouteWithdrawn) and e.prefix.version == 4 and "." in e.peer_ip)
    view = b"rrc06"
    peer_ip = bytes(int(x) for x in withdrawn.peer_ip.split("."))
    body = bytes(4) + struct.pack(">H", len(view)) + view + struct.pack(">H", 1)
    body += bytes((2,)) + bytes(4) + peer_ip + struct.pack(">I", withdrawn.peer_asn)
    key = withdrawn.prefix.wire_key
    attrs = _attr(1, b"\x00") + _attr(2, _segment(2, [withdrawn.peer_asn, 64500], 4)) + _attr(3, peer_ip)
    rib = struct.pack(">I", 0) + key + struct.pack(">H", 1) + struct.pack(">HIH", 0, first_ts - 1, len(attrs)) + attrs
    rib_file = tmp_path / "rrc06" / "bview.20150331.2359.gz"
    rib_file.parent.mkdir()
    rib_file.write_bytes(
        gzip.compress(
            struct.pack(">IHHI", first_ts - 1, 13, 1, len(body))
            + body
            + struct.pack(">IHHI", first_ts - 1, 13, 2, len(rib))
            + rib
        )
    )
    state, merged = table_of(read_mrt_files([shared_file(RRC06), rib_file], table=True))
    # The RIB (given second, but older) comes first and ends before the updates begin.
    assert [type(e).__name__ for e in merged[:4]] == ["PeerSeen", "BulkRoutes", "FullFeedPeers", "FeedStatus"]
    assert merged[0].ts == first_ts - 1 and merged[2].peers == (withdrawn.peer._replace(collector="rrc06"),)
    info = next(p for p in state.peers() if p.key == withdrawn.peer)
    later = [e for e in events if getattr(e, "prefix", None) == withdrawn.prefix and e.peer == withdrawn.peer]
    expect_present = isinstance(later[-1], RouteAnnounced)
    assert (key in info.table(withdrawn.prefix.version)) == expect_present
    # and without the updates, the RIB's route would be there
    rib_only, _ = table_of(read_mrt(rib_file, table=True))
    assert rib_only.routes_to(withdrawn.prefix)


def test_a_very_short_watched_prefix_sees_everything_inside_it():
    """A watched 128.0.0.0/1: every first octet from 128 up matters, nothing can be skipped."""
    watch = Watch("half", (Prefix.parse("128.0.0.0/1"),))
    events = events_of(read_mrt(shared_file(RRC15_1610), watchlist=Watchlist([watch])))
    everything = events_of(read_mrt(shared_file(RRC15_1610)))
    upper = [e for e in everything if isinstance(e, RouteAnnounced | RouteWithdrawn) and e.prefix.network >> 31]
    got = [e for e in events if isinstance(e, RouteAnnounced | RouteWithdrawn)]
    assert len(upper) > 1000 and got == upper


def test_damaged_gzip_keeps_what_decodes_before_the_damage(tmp_path):
    """A gzip whose CRC trailer is damaged: every record decodes, and the damage is reported."""
    original = shared_file(RRC06).read_bytes()
    damaged = bytearray(original)
    damaged[-6] ^= 0xFF  # inside the CRC-32 of the trailer
    path = tmp_path / "damaged.gz"
    path.write_bytes(bytes(damaged))
    reader = read_mrt(path)
    events = events_of(reader)
    complete = mrt_records(gzip.decompress(original))
    assert reader.stats.records == len(complete)
    assert "gzip data corrupt" in events[-1].detail and reader.stats.truncated
    assert _signature(events) == _signature(events_of(read_mrt(shared_file(RRC06))))


def test_random_damage_is_never_fatal():
    """Seeded random octet changes and cuts in real records, read in all three modes."""
    import random

    rng = random.Random(20141222)
    sources = [gzip.decompress(shared_file(f).read_bytes()) for f in (RRC06, UPDATES_2010, BVIEW_64K)]
    watchlist = Watchlist([NORTH_KOREA, Watch("v6", (Prefix.parse("2001::/16"),), (3333, 6939))])
    outcomes = Counter()
    for _ in range(40):
        raw = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 20)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(len(raw))]
        for options in ({}, {"watchlist": watchlist}, {"table": True, "watchlist": watchlist}):
            reader = read_mrt(io.BytesIO(bytes(raw)), **options)
            state, events = table_of(reader)
            assert isinstance(events[-1], FeedStatus) and events[-1].state == "ended"
            assert reader.stats.rejected == sum(isinstance(e, RecordRejected) for e in events)
            for event in events:
                if isinstance(event, RouteAnnounced):
                    assert event.prefix.length <= event.prefix.bits
            for info in state.peers():
                for route in list(info.v4.values())[:20] + list(info.v6.values())[:20]:
                    assert isinstance(route.as_path, tuple) and isinstance(route.next_hop, str)
            outcomes["rejected" if reader.stats.rejected else "clean"] += 1
    assert outcomes["rejected"] > 10  # the damage was real
