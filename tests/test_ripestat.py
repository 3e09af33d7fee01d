"""RIPEstat: parsers on the real 2017 responses, and the client against a loopback HTTP server.

Faults a server shows (429 with Retry-After, 500, an outage) come from the loopback server; a
timeout, which would make the test wait, comes from an httpx MockTransport.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import shared_file
from tests.servers.http_server import LoopbackHTTP, Reply, json_reply
from tests.servers.ripestat_server import FakeRipestat, envelope
from tui.core.clock import FixedClock, format_duration
from tui.core.engine import Engine
from tui.core.events import FeedStatus, FullFeedPeers, RecordRejected, RouteAnnounced
from tui.core.prefixes import Prefix
from tui.core.watchlist import Watch, Watchlist
from tui.feeds.http import Backoff, HttpFeedError, RetryPolicy, retry_after_seconds
from tui.feeds.ripestat import (
    RipestatClient,
    RipestatError,
    bootstrap,
    parse_announced_prefixes,
    parse_bgp_state,
    parse_country_resources,
    parse_envelope,
    parse_looking_glass,
    parse_routing_status,
    parse_time,
)

FOLDER = "ripestat/2017-07-joshglazebrook"
NOW = 1_500_760_000.0  # 2017-07-22T21:46:40Z, just after the captures


def _data(name: str) -> dict:
    return json.loads(shared_file(f"{FOLDER}/{name}").read_text())


@pytest.fixture
def folder() -> Path:
    return shared_file(FOLDER)


class Sleeps:
    """An injected sleep that records what it was asked and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _client(url: str, cache: Path, clock: FixedClock, sleeps: Sleeps, **kw) -> RipestatClient:
    policy = kw.pop("policy", RetryPolicy(attempts=4, backoff=Backoff(initial=1.0, maximum=30.0)))
    return RipestatClient(f"{url}/data/", sourceapp="watchfloor-test", cache_dir=cache, clock=clock,
                          sleep=sleeps, rand=lambda: 0.0, policy=policy, **kw)


# -- pure parsers on the captures ---------------------------------------------------------------


def test_bgp_state_routes_per_peer():
    events = parse_bgp_state(_data("bgpState.json"), source="ris-live")
    assert len(events) == 166 and all(isinstance(e, RouteAnnounced) for e in events)
    first = events[0]
    assert (first.collector, first.peer_ip, first.peer_asn) == ("rrc00", "111.91.233.1", 45896)
    assert first.as_path == (45896, 3356, 1853, 1853, 1205) and first.origin == 1205
    assert first.communities[:2] == ("1853:11", "1853:1853")
    assert first.ts == parse_time("2017-07-22T21:15:45") == 1500758145.0
    assert first.source == "ris-live"
    assert {e.collector for e in events} >= {"rrc00", "rrc21", "rrc15"}


def test_bgp_state_peer_asn_from_ris_peers_wins_over_path():
    data = _data("bgpState.json")
    events = parse_bgp_state(data, {("rrc00", "111.91.233.1"): 64999})
    assert events[0].peer_asn == 64999


def test_bgp_state_bad_entry_is_rejected_not_fatal():
    data = _data("bgpState.json")
    data["bgp_state"][3]["source_id"] = "garbage"
    data["bgp_state"][4]["target_prefix"] = "140.78.0.0/99"
    events = parse_bgp_state(data)
    rejected = [e for e in events if isinstance(e, RecordRejected)]
    assert [r.location for r in rejected] == ["bgp-state[3]", "bgp-state[4]"]
    assert sum(isinstance(e, RouteAnnounced) for e in events) == 164


def test_looking_glass_2017_shape_and_current_shape():
    events = parse_looking_glass(_data("lookingGlass.json"))
    assert len(events) == 118 and all(isinstance(e, RouteAnnounced) for e in events)
    first = events[0]
    assert (first.collector, first.peer_ip, first.next_hop) == ("rrc11", "198.32.160.182", "198.32.160.182")
    assert first.as_path == (9002, 1853, 1205) and first.peer_asn == 9002
    assert str(first.prefix) == "140.78.0.0/16"
    current = {"query_time": "2026-06-10T22:00:00", "rrcs": [{"rrc": "RRC00", "location": "Amsterdam", "peers": [
        {"asn_origin": "1205", "as_path": "3333 1853 1205", "community": "3333:1 3333:2", "prefix": "140.78.0.0/16",
         "peer": "193.0.0.56", "origin": "IGP", "next_hop": "193.0.0.56"}]}]}
    (ev,) = parse_looking_glass(current)
    assert (ev.collector, ev.peer_asn, ev.communities) == ("rrc00", 3333, ("3333:1", "3333:2"))


def test_announced_prefixes_and_country_resources():
    prefixes = parse_announced_prefixes(_data("announcedPrefixes.json"))
    assert [str(p) for p in prefixes] == ["193.0.0.0/21", "193.0.10.0/23", "193.0.12.0/23", "193.0.18.0/23",
                                          "193.0.20.0/23", "193.0.22.0/23", "2001:67c:2e8::/48"]
    data = _data("countryResourceList.json")
    country = parse_country_resources(data)
    # the 2017 answer mixes prefixes and ranges; ranges are split into prefixes
    assert Prefix.parse("5.11.0.0/21") in country and Prefix.parse("2001:628::/29") in country
    assert Prefix.parse("192.35.240.0/22") in country and Prefix.parse("192.35.244.0/24") in country
    assert len(country) >= len(data["resources"]["ipv4"]) + len(data["resources"]["ipv6"])


def test_routing_status_baseline():
    base = parse_routing_status(_data("routingStatus.json"), "AS3333")
    assert (base.v4_seeing, base.v4_total, base.v6_seeing, base.v6_total) == (158, 158, 159, 160)
    assert base.summary() == "AS3333: seen by 158/158 v4, 159/160 v6 RIS peers"


def test_envelope_errors_say_why():
    with pytest.raises(RipestatError, match="resource not found"):
        parse_envelope(json.loads(envelope("bgp-state", None, "error", [["error", "resource not found"]])), "bgp-state")
    with pytest.raises(RipestatError, match="no data object"):
        parse_envelope({"status": "ok"}, "x")
    assert parse_envelope(json.loads(envelope("x", {"a": 1}))) == {"a": 1}


def test_retry_after_forms():
    assert retry_after_seconds("7", 0) == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
    assert retry_after_seconds("soon", 0) is None and retry_after_seconds(None, 0) is None
    # The cache-age note uses the one duration formatter.
    assert format_duration(7260) == "2h01m" and format_duration(59) == "59s" and format_duration(3 * 86400 + 3600) == "3d01h"


# -- the client against a loopback server ---------------------------------------------------------


async def test_bootstrap_against_loopback_server(folder, tmp_path):
    fake = FakeRipestat(folder)
    watch = Watch("RIPE NCC", prefixes=(Prefix.parse("140.78.0.0/16"),), asns=(3333,))
    watchlist = Watchlist([watch])
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            result = await bootstrap(client, watchlist, route_source="ris-live", clock=clock)
    # every call identified itself
    assert server.requests and all(r.query.get("sourceapp") == ["watchfloor-test"] for r in server.requests)
    assert all(r.headers["user-agent"].startswith("watchfloor/") for r in server.requests)
    endpoints = [r.path.split("/")[2] for r in server.requests]
    assert endpoints[:3] == ["ris-full-table-threshold", "ris-peers", "announced-prefixes"]
    assert "bgp-state" in endpoints and "routing-status" in endpoints and "looking-glass" not in endpoints
    assert server.requests[2].query["resource"] == ["AS3333"]
    assert result.problems == [] and result.stale == [] and sleeps.calls == []

    # the watchlist grew by AS3333's prefixes, with the reason remembered
    assert len(result.expanded["AS3333"]) == 7
    reasons = {e.prefix: e.reason for e in watchlist.entries()}
    assert reasons[Prefix.parse("193.0.0.0/21")] == "AS3333"
    assert reasons[Prefix.parse("140.78.0.0/16")] == "configured"

    full = [e for e in result.events if isinstance(e, FullFeedPeers)]
    peerings = _data("risPeerings.json")
    expected_full = sum(1 for pr in peerings["peerings"] for p in pr["peers"] if p["prefix_count"] >= 500000)
    # one declaration per IP version: the capture's peers are IPv4 full tables only
    assert [e.version for e in full] == [4, 6]
    assert len(full[0].peers) == expected_full and "ris-peers" in full[0].basis
    assert full[1].peers == ()
    routes = [e for e in result.events if isinstance(e, RouteAnnounced)]
    assert len(routes) == 166 and all(r.source == "ris-live" for r in routes)
    assert result.baselines["AS3333"].v4_total == 158
    statuses = [e for e in result.events if isinstance(e, FeedStatus)]
    assert statuses[0].state == "connecting" and statuses[-1].state == "up"
    assert "166 routes" in statuses[-1].detail and "AS3333: 7 prefixes" in statuses[-1].detail

    # into the engine: visibility of the watched prefix over the declared full-feed peers
    engine = Engine(watchlist, clock)
    engine.ingest(result.events)
    vis = engine.visibility(Prefix.parse("140.78.0.0/16"))
    assert vis.basis == full[0].basis
    assert 0 < vis.visible <= vis.full_feed and vis.ratio is not None and vis.ratio > 0.9


async def test_429_with_retry_after_then_success(folder, tmp_path):
    fake = FakeRipestat(folder)
    busy = json_reply(envelope("ris-peers", None, "error", [["error", "rate limited"]]), 429, **{"Retry-After": "7"})
    fake.fail("ris-peers", busy, busy)
    clock, sleeps = FixedClock(NOW), Sleeps()
    retries: list[str] = []
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps, on_retry=retries.append) as client:
            answer = await client.call("ris-peers")
    assert not answer.stale and "rrc00" in answer.data["peers"]
    assert sleeps.calls == [7.0, 7.0]  # the server's 7 s beat the computed 1 s and 2 s
    assert len(server.requests) == 3 and client.calls == 3
    assert "HTTP 429" in retries[0] and "retry 1 in 7.0s" in retries[0]


async def test_500_retried_with_exponential_backoff_then_error(folder, tmp_path):
    fake = FakeRipestat(folder)
    fake.down = Reply(500, b"internal error")
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            with pytest.raises(HttpFeedError, match=r"HTTP 500 .*after 4 tries") as info:
                await client.call("ris-peers")
    assert info.value.status == 500
    assert sleeps.calls == [1.0, 2.0, 4.0]
    assert len(server.requests) == 4
    assert "sourceapp" not in str(info.value)  # the message names the URL without its query


async def test_retry_after_too_long_is_not_waited_for(folder, tmp_path):
    fake = FakeRipestat(folder)
    fake.fail("ris-peers", Reply(503, b"", {"Retry-After": "3600"}))
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            with pytest.raises(HttpFeedError, match="asks to wait 3600s"):
                await client.call("ris-peers")
    assert sleeps.calls == []


async def test_outage_uses_cached_expansion_and_says_how_old(folder, tmp_path):
    fake = FakeRipestat(folder)
    watch = Watch("RIPE NCC", prefixes=(Prefix.parse("140.78.0.0/16"),), asns=(3333,))
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            await bootstrap(client, Watchlist([watch]), clock=clock)
        # two hours later RIPEstat is down
        fake.down = Reply(502, b"bad gateway")
        clock.value = NOW + 7200
        later = Watchlist([watch])
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            result = await bootstrap(client, later, clock=clock)
    # the expansion survived the outage
    assert len(result.expanded["AS3333"]) == 7
    assert Prefix.parse("193.0.0.0/21") in later.prefixes()
    stale = [e for e in result.events if isinstance(e, FeedStatus) and e.state == "stale"]
    assert stale and any("prefixes of AS3333" in s.detail and "2h00m ago" in s.detail for s in stale)
    assert "HTTP 502" in stale[0].detail
    assert result.events[-1].state == "stale" and result.problems == []
    # the cached routes and full-feed set are there too
    assert sum(isinstance(e, RouteAnnounced) for e in result.events) == 166
    assert any(isinstance(e, FullFeedPeers) for e in result.events)


async def test_outage_without_cache_keeps_configured_watchlist(folder, tmp_path):
    fake = FakeRipestat(folder)
    fake.down = Reply(500, b"")
    watch = Watch("RIPE NCC", prefixes=(Prefix.parse("140.78.0.0/16"),), asns=(3333,))
    watchlist = Watchlist([watch])
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps, policy=RetryPolicy(attempts=2)) as client:
            result = await bootstrap(client, watchlist, clock=clock)
    assert watchlist.prefixes() == [Prefix.parse("140.78.0.0/16")]
    assert watchlist.watched_asns() == {3333: ["RIPE NCC"]}
    errors = [e for e in result.events if isinstance(e, FeedStatus) and e.state == "error"]
    assert any("prefixes of AS3333" in e.detail and "HTTP 500" in e.detail for e in errors)
    assert result.events[-1].state == "error" and "call(s) failed" in result.events[-1].detail


async def test_bgp_state_failure_falls_back_to_looking_glass(folder, tmp_path):
    fake = FakeRipestat(folder)
    fake.fail("bgp-state", *[Reply(500, b"")] * 2)
    watchlist = Watchlist([Watch("x", prefixes=(Prefix.parse("140.78.0.0/16"),))])
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps, policy=RetryPolicy(attempts=2)) as client:
            result = await bootstrap(client, watchlist, clock=clock)
    assert [r.query["resource"] for r in server.requests if "looking-glass" in r.path] == [["140.78.0.0/16"]]
    assert sum(isinstance(e, RouteAnnounced) for e in result.events) == 118


async def test_young_cache_is_used_without_asking(folder, tmp_path):
    fake = FakeRipestat(folder)
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            await client.call("announced-prefixes", {"resource": "AS3333"})
            clock.value += 60
            again = await client.call("announced-prefixes", {"resource": "AS3333"})
    assert len(server.requests) == 1 and again.fetched == NOW and not again.stale


async def test_country_expansion(folder, tmp_path):
    fake = FakeRipestat(folder)
    watchlist = Watchlist([Watch("Austria", countries=("AT",))])
    clock, sleeps = FixedClock(NOW), Sleeps()
    with LoopbackHTTP(fake) as server:
        async with _client(server.url, tmp_path, clock, sleeps) as client:
            result = await bootstrap(client, watchlist, clock=clock)
    calls = [r for r in server.requests if "country-resource-list" in r.path]
    assert calls[0].query["resource"] == ["at"] and calls[0].query["v4_format"] == ["prefix"]
    assert len(watchlist.prefixes()) == len(result.expanded["country AT"]) > 1700
    # a country is too big to fetch every route at start: limited, and said
    bgp_calls = [r for r in server.requests if "bgp-state" in r.path]
    assert len(bgp_calls) == 20
    assert any("first 400 watched prefixes" in n for n in result.notes)


async def test_timeout_is_retried_then_reported(tmp_path):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    clock, sleeps = FixedClock(NOW), Sleeps()
    client = RipestatClient("http://127.0.0.1:9/data", cache_dir=tmp_path, clock=clock, sleep=sleeps,
                            rand=lambda: 0.0, transport=httpx.MockTransport(handler), policy=RetryPolicy(attempts=3))
    async with client:
        with pytest.raises(HttpFeedError, match="timed out"):
            await client.call("ris-peers")
    assert len(seen) == 3 and sleeps.calls == [1.0, 2.0]
    assert seen[0].url.params["sourceapp"] == "watchfloor"
