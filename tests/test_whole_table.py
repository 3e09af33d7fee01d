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
    expected = {str(prefix): [_json_origin(o)] if (o := origin_of(path)) is not None else [] for prefix, (path, _, _) in routes.items()}
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
