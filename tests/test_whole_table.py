"""Whole-table mode: a watch of 0.0.0.0/0 and ::/0 (``--all``) keeps and lists every route.

What it reports (README, "Whole-table mode"): the snapshot lists every prefix of the table
with the full-feed sessions holding it and its origins (the watch's more-specifics); the
specific watches beside it are judged as always; nothing is reported about a prefix merely
for lying inside the whole table, and route changes no specific watch names are not logged
one by one.
"""

from __future__ import annotations

import gzip
import json

import pytest

from conftest import shared_file
from test_mrt_bgpdump import bgpdump_table
from tui.cli import main
from tui.core.aspath import origin_of
from tui.core.prefixes import Prefix

ET_HEADER = "mrt/bgpdump/updates.et-header.2015.gz"
ET_HEADER_EXPECTED = "mrt/bgpdump/expected/updates.et-header.2015.gz.bgp.gz"
UPDATES_2007 = "mrt/bgpdump/updates.20070211.0141.gz"
RIB_2014 = "mrt/pyasn/rib.20140523.0600_firstMB.bz2"


def _json_origin(origin):
    return list(origin) if isinstance(origin, tuple) else origin


def snapshot_json(capsys, *args) -> tuple[int, dict]:
    code = main(["snapshot", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_whole_table_snapshot_lists_bgpdumps_table(capsys):
    """Every prefix the peer holds at the end of the capture, with its origin, as bgpdump reads it."""
    with gzip.open(shared_file(ET_HEADER_EXPECTED), "rt") as lines:
        ((_, routes),) = bgpdump_table(lines).items()
    # An empty AS_PATH (the peer's own routes) has no origin: the listing says [], as elsewhere.
    expected = {
        str(prefix): [_json_origin(o)] if (o := origin_of(path)) is not None else [] for prefix, (path, _, _) in routes.items()
    }
    expected.pop("0.0.0.0/0")  # the default route is the watched prefix itself, not inside it
    code, data = snapshot_json(capsys, str(shared_file(ET_HEADER)), "--all")
    v4 = next(p for p in data["prefixes"] if p["prefix"] == "0.0.0.0/0")
    listed = {m["prefix"]: m["origins"] for m in v4["more_specifics"]}
    assert len(listed) == 577_702 and listed == expected
    assert all(m["visible_peers"] == 1 for m in v4["more_specifics"])
    assert [m["prefix"] for m in v4["more_specifics"][:3]] == ["0.0.0.0/32", "1.0.0.0/24", "1.0.4.0/24"]
    assert v4["table"] == {"prefixes": 577_703, "routes": 577_703, "sessions": 1}
    assert v4["routes"][0]["origin"] == 51336  # the default route itself, with its route
    v6 = next(p for p in data["prefixes"] if p["prefix"] == "::/0")
    assert v6["more_specifics"] == [] and v6["table"] == {"prefixes": 0, "routes": 0, "sessions": 0}
    # The built-in watch is judged beside it: 175.45.176.0/22 itself is not announced (exit 1).
    assert code == 1 and {p["watch"] for p in data["prefixes"]} == {"North Korea", "whole table"}


def test_whole_table_of_a_multi_peer_rib_counts_full_feed_sessions(capsys):
    """Each prefix: how many of the RIB's full-feed sessions hold it, and every origin seen."""
    _, data = snapshot_json(capsys, str(shared_file(RIB_2014)), "--watch", "0.0.0.0/0")
    (entry,) = data["prefixes"]
    assert entry["table"]["sessions"] > 30 and entry["table"]["routes"] == 270_005
    counts = {m["prefix"]: m for m in entry["more_specifics"]}
    assert len(counts) == entry["table"]["prefixes"] - 1
    full_feed = data["peers"]["full_feed"]
    assert max(m["visible_peers"] for m in counts.values()) == full_feed
    # Same figures as a specific watch of one of them computes the usual way.
    _, one = snapshot_json(capsys, str(shared_file(RIB_2014)), "--watch", "1.8.1.0/24")
    (watched,) = one["prefixes"]
    assert counts["1.8.1.0/24"]["visible_peers"] == watched["visible_peers"]
    assert counts["1.8.1.0/24"]["origins"] == watched["origins"]


def test_whole_table_raises_nothing_about_prefixes_inside_it(capsys):
    """A busy update file under --all alone: no finding, no route line, only sessions and feeds."""
    assert main(["replay", "--headless", "--jsonl", "--all", "--watch", "192.96.13.0/24", str(shared_file(UPDATES_2007))]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    findings = [e for e in entries if e["event"]["kind"] == "finding"]
    routes = [e for e in entries if e["kind"] in ("announce", "withdraw")]
    # The specific watch is judged (the 2007 file flaps it) and its routes are logged...
    assert findings and {e["watch"] for e in findings} == {"ad hoc"}
    assert routes and all(e["subject"] == "192.96.13.0/24" or e["watch"] == "ad hoc" for e in routes)
    # ...while the 53k route changes of the rest of the table are not.
    assert len(routes) < 1000


def test_recorded_whole_table_snapshots_like_the_file(capsys, tmp_path):
    """record --all then snapshot of the journal: the same table as from the MRT file itself."""
    journal = tmp_path / "whole.journal"
    source = str(shared_file(UPDATES_2007))
    assert main(["record", "--all", "--journal", str(journal), source]) == 0
    capsys.readouterr()
    _, from_file = snapshot_json(capsys, source, "--all")
    _, from_journal = snapshot_json(capsys, str(journal), "--all")
    for data in (from_file, from_journal):
        data.pop("feeds")  # the journal is a feed of its own
    assert from_journal == from_file
    assert from_file["prefixes"][-2]["table"]["routes"] > 10_000


def _fingerprint(state) -> dict:
    """Every route of every session, comparable across restores (route objects differ)."""
    out = {}
    for info in state.peers():
        for version in (4, 6):
            for key, route in info.table(version).items():
                out[(info.key, version, key)] = (route.as_path, route.next_hop, route.since)
    return out


@pytest.mark.slow
def test_seeking_gives_the_state_of_playing_there(tmp_path):
    """Cold restores, restores kept from playing through and from earlier seeks, and replaying
    every row from the start agree, at checkpoints and between them."""
    from tui.core.clock import MAX_SPEED
    from tui.core.detectors import default_detectors
    from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist
    from tui.journal.replay import ReplaySession, record_sources
    from tui.journal.store import JournalReader, JournalWriter

    watchlist = Watchlist([NORTH_KOREA, Watch("whole table", (Prefix(4, 0, 0), Prefix(6, 0, 0)))])
    journal = tmp_path / "whole.journal"
    with JournalWriter(journal, watchlist=watchlist, checkpoint_changes=5_000, background=False) as writer:
        record_sources([shared_file(UPDATES_2007)], watchlist, writer)
    with JournalReader(journal) as reader:
        assert reader.checkpoint_count() > 5
        start, end, _ = reader.bounds()
    times = [start + (end - start) * share for share in (0.95, 0.3, 0.7, 0.5, 1.0, 0.1, 0.3)]

    def session() -> ReplaySession:
        return ReplaySession.open(journal, watchlist, detectors=default_detectors(watchlist))

    played = session()
    played.clock.speed = MAX_SPEED
    played.play()
    while played.clock.playing:
        played.step(0.0)
    kept = [seq for seq in played._checkpoint_rows if played._restored.has(seq)]
    assert len(kept) > 5  # playing through the checkpoints kept them: the seeks below use them
    for t in times:
        played.seek(t)
        with session() as cold:
            cold.seek(t)
            from_scratch = session()
            from_scratch._apply_rows(from_scratch.reader.last_seq_at(t))  # every row, no checkpoint
            assert played.cursor == cold.cursor == from_scratch.cursor
            assert _fingerprint(played.engine.state) == _fingerprint(cold.engine.state) == _fingerprint(from_scratch.engine.state)
            assert played.engine.findings == cold.engine.findings
            from_scratch.close()
    played.close()
