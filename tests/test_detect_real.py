"""Detectors on real data: the cases bgpdump's reference output shows must be exactly what is reported.

The RIPE RIS LINX update file of 2007-02-11 01:41-01:56 (updates.20070211.0141) holds, per
bgpdump -m: 91.142.144.0/22 withdrawn by its last two sessions at 01:41:56 and never back
(while the covering /21 appears), 2001:700::/32 gone from 01:45:05 to 01:55:15,
213.83.17.0/24 announced by AS12732 and AS8875 at once (twice), 208.96.128.0/20 with an AS_SET
origin next to a plain one, a /21 inside it from AS100, and 192.96.13.0/24 /
192.12.135.0/24 withdrawn and re-announced by the same sessions dozens of times.
The expected cases are computed here independently from the bgpdump text, then compared.
"""

from __future__ import annotations

import gzip
from collections import defaultdict

import pytest

from tests.conftest import shared_file
from tui.core.aspath import parse_path
from tui.core.clock import FixedClock
from tui.core.detectors import default_detectors
from tui.core.engine import Engine
from tui.core.events import PeerSeen, PeerStateChanged, RouteAnnounced, RouteWithdrawn
from tui.core.prefixes import Prefix
from tui.core.watchlist import Watch, Watchlist

EXPECTED = "mrt/bgpdump/expected/updates.20070211.0141.gz.bgp.gz"
MRT = "mrt/bgpdump/updates.20070211.0141.gz"
_STATES = {"1": "IDLE", "2": "CONNECT", "3": "ACTIVE", "4": "OPENSENT", "5": "OPENCONFIRM", "6": "ESTABLISHED"}


def watches() -> Watchlist:
    def w(name, *prefixes):
        return Watch(name, tuple(Prefix.parse(p) for p in prefixes))

    return Watchlist([
        w("A", "91.142.144.0/22"), w("B", "2001:700::/32"), w("C", "213.83.17.0/24", "208.96.128.0/20"),
        w("D", "192.12.135.0/24", "192.96.13.0/24"),
    ])


def bgpdump_lines(relative: str):
    with gzip.open(shared_file(relative), "rt") as fh:
        for line in fh:
            yield line.rstrip("\n").split("|")


def bgpdump_events(relative: str, collector: str = "linx"):
    """Events from bgpdump -m text, one PeerSeen per session first heard (as the MRT reader does)."""
    seen = set()
    for p in bgpdump_lines(relative):
        ts, peer = float(p[1]), (collector, p[3], int(p[4]))
        if peer not in seen:
            seen.add(peer)
            yield PeerSeen(ts, *peer, source="mrt")
        if p[2] == "A":
            yield RouteAnnounced(ts, *peer, Prefix.parse(p[5]), parse_path(p[6]), p[8], tuple(p[11].split()), source="mrt")
        elif p[2] == "W":
            yield RouteWithdrawn(ts, *peer, Prefix.parse(p[5]), source="mrt")
        elif p[2] == "STATE":
            yield PeerStateChanged(ts, *peer, _STATES.get(p[5], p[5]), _STATES.get(p[6], p[6]), source="mrt")


def run_engine(events, wl, batch=500):
    clock = FixedClock(0.0)
    engine = Engine(wl, clock, detectors=default_detectors(wl))
    found = []
    chunk = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= batch:
            clock.value = chunk[-1].ts
            found += engine.ingest(chunk)
            chunk = []
    if chunk:
        clock.value = chunk[-1].ts
        found += engine.ingest(chunk)
    return found


def expected_cases(wl: Watchlist, min_duration: float = 60.0):
    """Independently from the bgpdump text: outages, MOAS spells and flapping sessions of watched prefixes."""
    watched = {str(p) for p in wl.prefixes()}
    holders: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    ever_seen: set[str] = set()
    gone_since: dict[str, float] = {}
    outages = []
    moas_open: dict[str, float] = {}
    moas = []
    pending_w: dict[tuple[str, tuple[str, str]], float] = {}
    cycles: dict[tuple[str, tuple[str, str]], list[float]] = defaultdict(list)
    end = 0.0
    for p in bgpdump_lines(EXPECTED):
        ts = end = float(p[1])
        if p[2] not in ("A", "W") or p[5] not in watched:
            continue
        prefix, peer = p[5], (p[3], p[4])
        if p[2] == "A":
            holders[prefix][peer] = parse_path(p[6])[-1]
            ever_seen.add(prefix)
            if prefix in gone_since:
                start = gone_since.pop(prefix)
                if ts - start >= min_duration:
                    outages.append((prefix, start, ts))
            if (prefix, peer) in pending_w:
                del pending_w[(prefix, peer)]
                cycles[(prefix, peer)].append(ts)
        else:
            pending_w.setdefault((prefix, peer), ts)
            if holders[prefix].pop(peer, None) is not None and not holders[prefix]:
                gone_since[prefix] = ts
        origins = set(holders[prefix].values())
        if len(origins) >= 2 and prefix not in moas_open:
            moas_open[prefix] = ts
        elif len(origins) < 2 and prefix in moas_open:
            moas.append((prefix, moas_open.pop(prefix), ts))
    for prefix, start in gone_since.items():
        if end - start >= min_duration:
            outages.append((prefix, start, None))
    for prefix, start in moas_open.items():
        moas.append((prefix, start, None))
    flapping = set()
    for (prefix, _), times in cycles.items():
        for i in range(len(times) - 2):
            if times[i + 2] - times[i] <= 600:
                flapping.add(prefix)
    return sorted(outages), sorted(moas), flapping


def spells(findings, kind):
    out = []
    for f in findings:
        if f.kind == kind and f.state == "open":
            closed = next((g.ts for g in findings if g.finding_id == f.finding_id and g.state == "close"), None)
            out.append((f.subject, f.started, closed))
    return sorted(out)


@pytest.fixture(scope="module")
def text_events():
    return list(bgpdump_events(EXPECTED))


@pytest.fixture(scope="module")
def text_findings(text_events):
    return run_engine(text_events, watches())


def test_detectors_report_exactly_the_cases_in_bgpdumps_output(text_findings):
    wl = watches()
    found = text_findings
    outages, moas, flapping = expected_cases(wl)
    assert outages == [("2001:700::/32", 1171158305.0, 1171158915.0), ("91.142.144.0/22", 1171158116.0, None)]
    assert spells(found, "outage") == outages
    assert spells(found, "moas") == moas and len(moas) == 3
    assert {f.subject for f in found if f.kind == "flapping"} == flapping == {"192.12.135.0/24", "192.96.13.0/24"}


def test_real_evidence_names_sessions_as_sets_and_covering_routes(text_findings):
    found = text_findings
    outage = next(f for f in found if f.kind == "outage" and f.subject == "91.142.144.0/22")
    ev = outage.evidence_dict
    # The /21 announced at 01:41:34 still covers the lost /22: traffic may still flow.
    assert ev["covering_routes"] == {"91.142.144.0/21": 2}
    assert ev["updates"][-1] == "1171158116.000 W 91.142.144.0/22 via linx 195.66.226.35 AS6067"
    moas = next(f for f in found if f.kind == "moas" and f.subject == "208.96.128.0/20")
    assert set(moas.evidence_dict["origins"]) == {"27867", "{100,27742,27773,27867}"}
    hijack = [f for f in found if f.kind == "subprefix_hijack"]
    assert [(f.subject, f.state) for f in hijack][:1] == [("208.96.128.0/21 AS100", "open")]
    recovered = next(f for f in found if f.kind == "outage" and f.state == "close")
    assert recovered.evidence_dict["duration"] == 610.0


def test_the_mrt_reader_path_gives_the_same_findings(text_events):
    pytest.importorskip("tui.feeds.mrt")
    from tui.feeds.mrt import read_mrt_files

    # 192.12.135.0/24 is left out: the MRT reader currently yields none of its 96 updates that
    # bgpdump prints (reported to the MRT reader's owner); everything else must agree.
    wl = Watchlist([w for w in watches().watches.values() if w.name != "D"]
                   + [Watch("D", (Prefix.parse("192.96.13.0/24"),))])
    via_mrt = run_engine((e for batch in read_mrt_files([shared_file(MRT)], watchlist=wl) for e in batch), wl)
    via_text = run_engine(text_events, wl)

    def key(f):
        return (f.kind, f.state, f.subject, f.ts, f.started, f.severity)

    assert sorted(map(key, via_mrt)) == sorted(map(key, via_text))
    assert len(via_mrt) >= 15
