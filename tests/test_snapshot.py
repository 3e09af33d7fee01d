"""``watchfloor snapshot`` on real data: the JSON shape, --watch, --at, journals, exit codes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_file
from tui.cli import main

ET_HEADER = "mrt/bgpdump/updates.et-header.2015.gz"
PEER = {"peer_ip": "206.220.231.55", "peer_asn": 3856}


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["snapshot", "--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def et_header():
    pytest.importorskip("tui.feeds.mrt")
    return str(shared_file(ET_HEADER))


def test_snapshot_json_of_a_full_table_with_the_builtin_watchlist(et_header, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no user config: the built-in North Korea watch
    monkeypatch.delenv("WATCHFLOOR_CONFIG", raising=False)
    code, data = run_json(capsys, et_header)
    assert code == 1  # 175.45.176.0/22 itself is not announced: 0 % is below the warning threshold
    assert data["at"] == "2015-10-23T02:01:55.574100Z"  # the last record of the file
    assert data["peers"]["up"] == 1 and data["peers"]["full_feed"] == 1 and data["peers"]["unknown"] == 0
    by_prefix = {p["prefix"]: p for p in data["prefixes"]}
    assert list(by_prefix) == ["77.94.35.0/24", "175.45.176.0/22", "210.52.109.0/24"]
    assert {p["watch"] for p in data["prefixes"]} == {"North Korea"}

    nk = by_prefix["175.45.176.0/22"]
    assert nk["visible_peers"] == 0 and nk["visibility"] == 0.0 and nk["routes"] == [] and nk["origins"] == []
    assert nk["unknown_peers"] == 0
    assert nk["more_specifics"] == [
        {"prefix": f"175.45.{third}.0/24", "visible_peers": 1, "origins": [131279]} for third in range(176, 180)
    ]

    exact = by_prefix["210.52.109.0/24"]
    assert exact["visible_peers"] == 1 and exact["full_feed_peers"] == 1 and exact["visibility"] == 1.0
    assert exact["origins"] == [9929]
    (route,) = exact["routes"]
    assert {k: route[k] for k in ("peer_ip", "peer_asn")} == PEER
    assert route["as_path"] == "2914 7018 9929 9929" and route["origin"] == 9929
    assert route["since"] == "2015-10-23T02:01:47.790172Z"
    assert isinstance(route["collector"], str) and route["collector"]
    assert set(route) == {"collector", "peer_ip", "peer_asn", "as_path", "origin", "since"}
    assert set(data) == {"at", "peers", "prefixes", "feeds"}
    assert data["feeds"]["mrt"]["rejected"] == 0

    other = by_prefix["77.94.35.0/24"]
    assert other["routes"][0]["as_path"] == "8764 30721" and other["origins"] == [30721]
    assert other["more_specifics"] == []


def test_snapshot_at_an_earlier_time_and_ad_hoc_watch(et_header, capsys):
    # 02:01:47.0: 77.94.35.0/24 has arrived (46.96 s), 210.52.109.0/24 (47.79 s) has not.
    code, data = run_json(capsys, et_header, "--at", "2015-10-23T02:01:47Z", "--watch", "77.94.35.0/24",
                          "--watch", "210.52.109.0/24")
    assert data["at"] == "2015-10-23T02:01:47Z"
    assert [(p["prefix"], p["watch"], p["visible_peers"]) for p in data["prefixes"]] == [
        ("77.94.35.0/24", "ad hoc", 1), ("210.52.109.0/24", "ad hoc", 0)
    ]
    assert code == 1
    code, data = run_json(capsys, et_header, "--watch", "175.45.177.0/24", "--at", "1445565715")
    assert code == 0 and data["prefixes"][0]["visibility"] == 1.0
    assert data["prefixes"][0]["routes"][0]["origin"] == 131279


def test_snapshot_before_any_session_is_up_has_unknowable_visibility(et_header, capsys):
    code, data = run_json(capsys, et_header, "--at", "2015-10-23T02:00:00Z")
    assert code == 0  # nothing known is not an outage
    assert data["peers"]["full_feed"] == 0
    assert all(p["visibility"] is None for p in data["prefixes"])


def test_snapshot_of_a_recorded_journal_matches_the_source(et_header, capsys, tmp_path):
    journal = tmp_path / "et.journal"
    assert main(["record", "--journal", str(journal), et_header]) == 0
    capsys.readouterr()
    for at in ([], ["--at", "2015-10-23T02:01:48Z"]):
        code_source, from_source = run_json(capsys, et_header, *at)
        code_journal, from_journal = run_json(capsys, str(journal), *at)
        assert from_journal == from_source and code_journal == code_source


def test_snapshot_table_is_plain_text(et_header, capsys):
    code = main(["snapshot", et_header])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("Snapshot at 2015-10-23T02:01:55.574100Z: 1 sessions up, 1 full-feed")
    assert "175.45.176.0/22" in out and "critical" in out
    assert "more-specific 175.45.178.0/24: 1 peers, origin 131279" in out
    assert "\x1b" not in out


def test_snapshot_of_a_ris_live_capture_counts_the_broken_line(capsys):
    source = str(shared_file("ris-live/libbgpstream/ris-live-stream.json"))
    code, data = run_json(capsys, source, "--watch", "45.161.192.0/23")
    (prefix,) = data["prefixes"]
    assert prefix["visible_peers"] == 1 and prefix["routes"][0]["collector"] == "rrc00"
    assert prefix["routes"][0]["as_path"].endswith("52993 268481 268481")
    # rrc01's peer went down, rrc03's sent a keepalive: 2 up, and only one holds the prefix.
    assert data["peers"]["up"] == 2 and prefix["visibility"] == 0.5
    assert code == 1
    assert data["feeds"]["ris-live-capture"]["rejected"] == 1  # the truncated last line
    assert main(["snapshot", source]) == 1
    assert "feed ris-live-capture: 1 bad records" in capsys.readouterr().out


def test_snapshot_of_an_as_set_origin(capsys):
    source = str(shared_file("ris-live/morrowc-rislive/fail-as-set.ndjson"))
    with open(source) as handle:
        message = json.loads(handle.readline())
    prefix = message["data"]["announcements"][0]["prefixes"][0]
    code, data = run_json(capsys, source, "--watch", prefix)
    (entry,) = data["prefixes"]
    assert entry["routes"][0]["origin"] == 13340  # a one-member AS_SET names its origin
    assert entry["routes"][0]["as_path"].endswith("{13340}")


def test_snapshot_of_a_cut_file_says_where_it_was_truncated(capsys, tmp_path):
    """A download that stopped early: everything complete is read, and the table and JSON say so."""
    whole = shared_file("mrt/bgpdump/updates.20070211.0141.gz").read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[:3000])
    assert main(["snapshot", str(cut), "--watch", "0.0.0.0/0", "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert data["prefixes"][0]["more_specifics"]  # the complete records were kept
    assert "truncated at byte offset" in data["feeds"]["mrt"]["detail"]
    main(["snapshot", str(cut), "--watch", "0.0.0.0/0"])
    assert "truncated at byte offset" in capsys.readouterr().out


def test_xz_sources_are_recognised_by_their_magic_like_gzip_and_bzip2(capsys, tmp_path):
    """One sniffer for every container the MRT reader reads: an xz file is a SOURCE too."""
    import gzip
    import lzma

    raw = gzip.decompress(shared_file("mrt/bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz").read_bytes())
    packed = tmp_path / "updates.mrt"  # no telling suffix: the content decides
    packed.write_bytes(lzma.compress(raw))
    assert main(["snapshot", str(packed), "--watch", "199.60.22.0/24", "--json"]) in (0, 1)
    (entry,) = json.loads(capsys.readouterr().out)["prefixes"]
    assert entry["routes"] and entry["origins"] == [18747]
    broken = tmp_path / "broken"
    broken.write_bytes(lzma.compress(raw)[:40])
    assert main(["snapshot", str(broken)]) == 4
    assert "xz data cannot be decompressed" in capsys.readouterr().err
