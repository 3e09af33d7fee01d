"""BGPStream: broker listing, resumable downloads and replay, against a broker on loopback.

The broker serves a listing in the broker's format and the real MRT files of ../shared/data/mrt
(rrc06 and route-views.jinx, 2015-04-01 00:00 UTC) with Range support.
"""

from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

import httpx
import pytest

from tests.conftest import shared_file
from tests.servers.broker_server import FakeBroker, Listed
from tests.servers.http_server import LoopbackHTTP
from tui.cli import main
from tui.core.events import PeerStateChanged, RecordRejected, RouteAnnounced, RouteWithdrawn
from tui.core.prefixes import Prefix
from tui.core.watchlist import Watch, Watchlist
from tui.feeds.bgpstream import (
    INSTALL_HINT,
    BgpstreamError,
    DumpFile,
    broker_params,
    cache_path,
    download,
    elem_to_events,
    events_from_pybgpstream,
    fetch_window,
    list_dumps,
    parse_broker_response,
    pybgpstream_available,
    select_dumps,
)
from tui.feeds.mrt import read_mrt_files

START, UNTIL = 1427846400, 1427847300  # 2015-04-01 00:00-00:15 UTC
RRC06 = "mrt/libbgpstream/ris.rrc06.updates.1427846400.gz"
JINX = "mrt/libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2"
RRC06_URL = "/ris/rrc06/2015.04/updates.20150401.0000.gz"
JINX_URL = "/route-views.jinx/bgpdata/2015.04/UPDATES/updates.20150401.0000.bz2"
WATCHED = ("2620:110:9000::/44", "199.38.164.0/23")


def _listed() -> tuple[Listed, Listed]:
    return (
        Listed(RRC06_URL, shared_file(RRC06), "ris", "rrc06", "updates", START, 300),
        Listed(JINX_URL, shared_file(JINX), "routeviews", "route-views.jinx", "updates", START, 900),
    )


def _watchlist() -> Watchlist:
    return Watchlist([Watch("ad hoc", tuple(Prefix.parse(p) for p in WATCHED))])


def _routes(paths) -> list[tuple]:
    out = []
    for batch in read_mrt_files(paths, watchlist=_watchlist()):
        for e in batch:
            if isinstance(e, RouteAnnounced):
                out.append(("A", e.ts, e.collector, e.peer_ip, e.peer_asn, str(e.prefix), e.as_path, e.next_hop))
            elif isinstance(e, RouteWithdrawn):
                out.append(("W", e.ts, e.collector, e.peer_ip, e.peer_asn, str(e.prefix)))
    return out


class Broker:
    """The fake broker on a loopback HTTP server."""

    def __init__(self, pages) -> None:
        self.fake = FakeBroker(pages)
        self.server = LoopbackHTTP(self.fake)

    def __enter__(self) -> Broker:
        self.server.__enter__()
        self.fake.base = self.server.url
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    @property
    def url(self) -> str:
        return f"{self.server.url}/v2/"

    def file_requests(self):
        return [r for r in self.server.requests if r.path != "/v2/data"]


# -- pure -----------------------------------------------------------------------------------------


def test_broker_params_repeat_array_names():
    params = broker_params(100, 200, ["rrc00", "route-views2"], data_added_since=150, min_initial_time=160)
    assert params == [("collectors[]", "rrc00"), ("collectors[]", "route-views2"), ("types[]", "ribs"),
                      ("types[]", "updates"), ("intervals[]", "100,200"), ("dataAddedSince", "150"),
                      ("minInitialTime", "160")]


def test_broker_response_errors():
    with pytest.raises(BgpstreamError, match="broker reported an error: bad collector"):
        parse_broker_response({"time": 1, "error": "bad collector", "data": None})
    with pytest.raises(BgpstreamError, match="incomplete resource"):
        parse_broker_response({"time": 1, "error": None, "data": {"resources": [{"url": "x"}]}})
    with pytest.raises(BgpstreamError, match="no time"):
        parse_broker_response({"error": None, "data": {"resources": []}})


def test_select_takes_last_rib_before_window_and_overlapping_updates():
    def dump(collector, kind, t, d, fmt="mrt"):
        return DumpFile(f"http://x/{collector}/{kind}.{t}", "ris", collector, kind, t, d, fmt)

    dumps = [
        dump("rrc00", "ribs", 1000, 120), dump("rrc00", "ribs", 29800, 120), dump("rrc00", "ribs", 30100, 120),
        dump("rrc00", "updates", 29700, 300), dump("rrc00", "updates", 30000, 300), dump("rrc00", "updates", 30600, 300),
        dump("rrc01", "ribs", 2000, 120), dump("rrc00", "updates", 30300, 300, fmt="ris-live"),
    ]
    chosen = select_dumps(dumps, 30000, 30500)
    assert [(d.collector, d.type, d.initial_time) for d in chosen] == [
        ("rrc01", "ribs", 2000), ("rrc00", "updates", 29700), ("rrc00", "ribs", 29800), ("rrc00", "updates", 30000)]


def test_cache_path_keeps_collector_for_the_mrt_reader(tmp_path):
    from tui.feeds.mrt import collector_from_path

    d = DumpFile("https://data.ris.ripe.net/rrc06/2015.04/updates.20150401.0000.gz", "ris", "rrc06", "updates", 0, 300)
    assert cache_path(tmp_path, d) == tmp_path / "ris" / "rrc06" / "updates.20150401.0000.gz"
    assert collector_from_path(cache_path(tmp_path, d)) == "rrc06"
    rv = DumpFile("http://archive.routeviews.org/route-views.jinx/bgpdata/2015.04/UPDATES/updates.20150401.0000.bz2",
                  "routeviews", "route-views.jinx", "updates", 0, 900)
    assert collector_from_path(cache_path(tmp_path, rv)) == "route-views.jinx"
    evil = DumpFile("http://x/../../etc/passwd", "../..", "../x", "updates", 0, 1)
    assert tmp_path in cache_path(tmp_path, evil).parents


# -- against the loopback broker ------------------------------------------------------------------


def test_listing_follows_pages_like_libbgpstream():
    rrc06, jinx = _listed()
    with Broker([[rrc06], [jinx]]) as broker, httpx.Client() as client:
        dumps = list_dumps(client, broker.url, START, UNTIL, ["rrc06", "route-views.jinx"])
    assert [d.collector for d in dumps] == ["rrc06", "route-views.jinx"]
    # the second answer reaches the end of the window: no third question
    first, second = broker.fake.queries
    assert first.query["intervals[]"] == [f"{START - 8 * 3600},{UNTIL}"]
    assert first.query["collectors[]"] == ["rrc06", "route-views.jinx"]
    assert first.query["types[]"] == ["ribs", "updates"]
    assert "dataAddedSince" not in first.query
    assert second.query["dataAddedSince"] == [str(broker.fake.response_time)]
    assert second.query["minInitialTime"] == [str(START + 300)]


def test_interrupted_download_resumes_with_range(tmp_path):
    rrc06, _ = _listed()
    original = rrc06.local.read_bytes()
    with Broker([[rrc06]]) as broker, httpx.Client() as client:
        broker.fake.cut_next[RRC06_URL] = 4000
        dest = tmp_path / "rrc06" / "updates.gz"
        with pytest.raises(BgpstreamError, match="interrupted at byte 4000"):
            download(client, f"{broker.server.url}{RRC06_URL}", dest)
        part = dest.with_name(dest.name + ".part")
        assert part.stat().st_size == 4000 and not dest.exists()
        seen: list[tuple[int, int | None]] = []
        download(client, f"{broker.server.url}{RRC06_URL}", dest, progress=lambda n, d, t: seen.append((d, t)))
        requests = broker.file_requests()
    assert dest.read_bytes() == original and not part.exists()
    assert "range" not in requests[0].headers and requests[1].headers["range"] == "bytes=4000-"
    assert seen[-1] == (len(original), len(original)) and seen[0][0] > 4000


def test_fetch_window_then_replay_gives_the_same_events(tmp_path):
    rrc06, jinx = _listed()
    with Broker([[rrc06, jinx]]) as broker:
        broker.fake.cut_next[JINX_URL] = 10_000
        sleeps: list[float] = []
        logs: list[str] = []
        paths = fetch_window(START, UNTIL, ["rrc06", "route-views.jinx"], broker_url=broker.url, cache_dir=tmp_path,
                             backend="broker", sleep=sleeps.append, rand=lambda: 0.0, log=logs.append)
        # the cut download was retried once, resuming
        ranges = [r.headers.get("range") for r in broker.file_requests() if r.path == JINX_URL]
        assert ranges == [None, "bytes=10000-"] and sleeps == [1.0]
        assert any("interrupted at byte 10000" in line for line in logs)
        # a second fetch uses the cache: no download at all
        before = len(broker.file_requests())
        again = fetch_window(START, UNTIL, ["rrc06", "route-views.jinx"], broker_url=broker.url, cache_dir=tmp_path,
                             backend="broker")
        assert again == paths and len(broker.file_requests()) == before
    # in time order, then by collector name
    assert [p.read_bytes() for p in paths] == [jinx.local.read_bytes(), rrc06.local.read_bytes()]
    downloaded = _routes(paths)
    assert downloaded == _routes([jinx.local, rrc06.local])
    assert {r[2] for r in downloaded} == {"rrc06", "route-views.jinx"}
    assert any(r[0] == "W" and r[5] == "2620:110:9004::/48" for r in downloaded)


def test_replay_command_from_until_end_to_end(tmp_path, capsys):
    rrc06, jinx = _listed()
    with Broker([[rrc06, jinx]]) as broker:
        config = tmp_path / "config.toml"
        config.write_text(f'[feeds.bgpstream]\nbroker = "{broker.url}"\ncache_dir = "{tmp_path / "cache"}"\n')
        watch = [arg for p in WATCHED for arg in ("--watch", p)]
        code = main(["replay", "--headless", "--from", "2015-04-01T00:00:00Z", "--until", "2015-04-01T00:15:00Z",
                     "--collectors", "rrc06,route-views.jinx", "--bgpstream-backend", "broker", *watch,
                     "--config", str(config)])
        fetched = capsys.readouterr()
    assert code == 0, fetched.err
    assert "2 dump files (0 RIB, 2 updates)" in fetched.err
    code = main(["replay", "--headless", "--from", "2015-04-01T00:00:00Z", "--until", "2015-04-01T00:15:00Z",
                 *watch, "--config", str(config), str(rrc06.local), str(jinx.local)])
    direct = capsys.readouterr()
    assert code == 0

    def routes(text: str) -> list[str]:
        return [line for line in text.splitlines() if " announce " in line or " withdraw " in line]

    assert routes(fetched.out) and routes(fetched.out) == routes(direct.out)


def test_broker_unreachable_is_an_input_error(tmp_path, capsys):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BgpstreamError, match=r"cannot reach the broker .*after 2 tries"):
        fetch_window(START, UNTIL, ["rrc06"], broker_url=f"http://127.0.0.1:{port}/v2/", cache_dir=tmp_path,
                     backend="broker", attempts=2, sleep=lambda s: None)


def test_broker_lists_nothing(tmp_path):
    with Broker([[]]) as broker, pytest.raises(BgpstreamError, match="no MRT dumps for rrc99"):
        fetch_window(START, UNTIL, ["rrc99"], broker_url=broker.url, cache_dir=tmp_path, backend="broker")


@pytest.mark.skipif(pybgpstream_available(), reason="pybgpstream is installed here")
def test_asking_for_pybgpstream_without_it_says_how_to_install(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[feeds.bgpstream]\ncache_dir = "{tmp_path}"\nbroker = "http://127.0.0.1:9/v2/"\n')
    code = main(["replay", "--headless", "--from", "2015-04-01T00:00:00Z", "--until", "2015-04-01T00:15:00Z",
                 "--bgpstream-backend", "pybgpstream", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 3
    assert "watchfloor[bgpstream]" in err and "libbgpstream" in err
    assert INSTALL_HINT.split(".")[0] in err


# -- the pybgpstream element mapping --------------------------------------------------------------
# pybgpstream needs the libbgpstream C library, which no registry here provides; these stand-ins
# carry exactly the BGPElem attributes documented in SPECS.md C.1.


def _elem(kind, **fields):
    return SimpleNamespace(type=kind, time=1427846404.0, collector="rrc06", peer_address="202.249.2.185",
                           peer_asn=25152, fields=fields)


def test_elements_become_the_same_events_as_mrt():
    (a,) = elem_to_events(_elem("A", prefix="192.108.199.0/24", **{"next-hop": "202.249.2.185",
                                "as-path": "25152 2914 {1880,1881}", "communities": {"2914:420", "2914:1214"}}))
    assert isinstance(a, RouteAnnounced) and a.origin == (1880, 1881) and a.communities == ("2914:1214", "2914:420")
    (w,) = elem_to_events(_elem("W", prefix="192.108.199.0/24"))
    assert isinstance(w, RouteWithdrawn) and w.peer == a.peer
    (s,) = elem_to_events(_elem("S", **{"old-state": "established", "new-state": "idle"}))
    assert isinstance(s, PeerStateChanged) and not s.is_up
    (bad,) = elem_to_events(_elem("A", prefix="192.108.199.0/33"))
    assert isinstance(bad, RecordRejected)
    assert elem_to_events(_elem("X")) == []


def test_pybgpstream_is_asked_for_the_window_and_the_watched_prefixes():
    asked = {}

    def factory(**kwargs):
        asked.update(kwargs)
        return [_elem("A", prefix="2620:110:9000::/44", **{"as-path": "25152 2914", "next-hop": "2001:db8::1"})]

    batches = list(events_from_pybgpstream(START, UNTIL, ["rrc06"], watchlist=_watchlist(), stream_factory=factory))
    assert asked == {"from_time": START, "until_time": UNTIL, "record_types": ["ribs", "updates"],
                     "collectors": ["rrc06"], "filter": "prefix any 199.38.164.0/23 2620:110:9000::/44"}
    assert len(batches) == 1 and isinstance(batches[0][0], RouteAnnounced)


@pytest.mark.lab
@pytest.mark.skipif(shutil.which("bgpdump") is None, reason="Debian bgpdump not installed")
def test_elements_from_bgpdump_match_the_mrt_reader():
    """Elements built from bgpdump's reading of a file give the events the MRT reader gives."""
    path = shared_file(RRC06)
    text = subprocess.run(["bgpdump", "-m", str(path)], capture_output=True, text=True, check=True).stdout
    events = []
    for line in text.splitlines():
        f = line.split("|")
        if f[2] == "A":
            events += elem_to_events(SimpleNamespace(type="A", time=float(f[1]), collector="rrc06", peer_address=f[3],
                                     peer_asn=int(f[4]), fields={"prefix": f[5], "as-path": f[6], "next-hop": f[8],
                                                                 "communities": f[11].split()}))
        elif f[2] == "W":
            events += elem_to_events(SimpleNamespace(type="W", time=float(f[1]), collector="rrc06", peer_address=f[3],
                                                     peer_asn=int(f[4]), fields={"prefix": f[5]}))
    wl = _watchlist()
    mine = [("A" if isinstance(e, RouteAnnounced) else "W", e.ts, e.peer_ip, str(e.prefix))
            for e in events if wl.is_relevant(e.prefix)]
    reader = [(r[0], r[1], r[3], r[5]) for r in _routes([path])]
    assert mine and sorted(mine) == sorted(reader)
