"""The RIS Live websocket client against a real websocket server on loopback.

The server replays the real captures in ../shared/data/ris-live, honours the subscriptions,
answers pings, drops the connection mid-stream, and sends a broken line and a ris_error. The
client's backoff sleep is injected: the test holds the client in its gap, looks at the engine
(sessions unknown, routes kept), then lets it reconnect.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

import pytest

from tests.conftest import shared_file
from tests.servers.ris_live_server import Close, Drop, FakeRisLive, Hold, Send, SendRaw, WaitSubscriptions, matches
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.events import FeedStatus, RecordRejected
from tui.core.prefixes import Prefix
from tui.core.routes import PeerStatus
from tui.core.watchlist import Watch, Watchlist
from tui.feeds.http import Backoff
from tui.feeds.ris_live import RisLiveClient, build_subscriptions, with_client_id

WATCHED = ("196.50.70.0/24", "2001:7fb:fe00::/40")
BEACONS = ("84.205.64.0/24",)
START = 1_700_000_000.0


def _captured(relative: str) -> list[dict]:
    return [json.loads(line) for line in shared_file(relative).read_text().splitlines() if line.strip()]


def _watchlist() -> Watchlist:
    return Watchlist([Watch("test", prefixes=tuple(Prefix.parse(p) for p in WATCHED), asns=(37650,))])


async def _until(predicate: Callable[[], bool], what: str, guard: float = 20.0) -> None:
    """Wait for a condition; the guard only stops a hung test, it is not a timing assertion."""
    loop = asyncio.get_running_loop()
    end = loop.time() + guard
    while not predicate():
        if loop.time() > end:
            pytest.fail(f"gave up waiting for: {what}")
        await asyncio.sleep(0.01)


class Harness:
    """A client feeding an engine, with a clock that only moves when the client sleeps."""

    def __init__(self, url: str, watchlist: Watchlist, **client_args) -> None:
        self.clock = FixedClock(START)
        self.engine = Engine(watchlist, self.clock)
        self.statuses: list[FeedStatus] = []
        self.sleeps: list[float] = []
        self.gate = asyncio.Event()
        self.client = RisLiveClient(
            url, watchlist, self.sink, client_id="watchfloor-test", beacons=BEACONS, clock=self.clock,
            sleep=self.sleep, rand=lambda: 0.0, **client_args,
        )

    async def sink(self, batch) -> None:
        self.statuses.extend(e for e in batch if isinstance(e, FeedStatus))
        self.engine.ingest(batch)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.value += seconds
        await self.gate.wait()
        self.gate.clear()

    def states(self) -> list[str]:
        return [s.state for s in self.statuses]

    async def finish(self, task: asyncio.Task) -> None:
        self.client.stop()
        self.gate.set()
        await asyncio.wait_for(task, 20)


def _ris_live_peers(engine: Engine):
    return [p for p in engine.state.peers() if p.source == "ris-live"]


async def test_replay_drop_gap_and_reconnect():
    ten = _captured("ris-live/morrowc-rislive/10-msg.ndjson")
    twenty = _captured("ris-live/morrowc-rislive/20-msg.ndjson")
    libbgpstream = shared_file("ris-live/libbgpstream/ris-live-stream.json").read_text().splitlines()
    peer_down = json.loads(libbgpstream[1])
    ris_error = libbgpstream[2]
    # The rrc19 peer's route to a watched prefix, withdrawn after the reconnection.
    withdraw = json.loads(json.dumps(ten[0]))
    withdraw["data"].update(timestamp=1558620100.0, withdrawals=["196.50.70.0/24"])
    del withdraw["data"]["announcements"], withdraw["data"]["path"]

    watchlist = _watchlist()
    n_subs = len(build_subscriptions(watchlist, BEACONS))
    first = [WaitSubscriptions(n_subs), *(Send(m) for m in ten), SendRaw('{"type": "ris_message", "data": {'),
             SendRaw(ris_error), Drop()]
    second = [WaitSubscriptions(n_subs), *(Send(m) for m in twenty), Send(peer_down), Send(withdraw), Hold()]
    async with FakeRisLive([first, second]) as server:
        h = Harness(server.url, watchlist)
        task = asyncio.create_task(h.client.run())
        await _until(lambda: "down" in h.states(), "the drop")

        # -- in the gap: the client sleeps in its backoff ------------------------------------------
        assert h.sleeps == [1.0]
        health = h.engine.feeds["ris-live"]
        assert health.state == "down" and "connection lost" in health.detail
        peers = _ris_live_peers(h.engine)
        assert peers and all(p.status == PeerStatus.UNKNOWN for p in peers)
        # routes are kept, not withdrawn, and visibility says it cannot tell
        held = h.engine.state.routes_to(Prefix.parse("196.50.70.0/24"))
        assert [(p.key.collector, p.key.peer_ip) for p, _ in held] == [("rrc19", "196.60.9.165")]
        vis = h.engine.visibility(Prefix.parse("196.50.70.0/24"))
        assert vis.full_feed == 0 and vis.ratio is None and vis.unknown == len(peers)
        # the beacon (subscribed as a canary) arrived; unwatched routes were filtered by the server
        # (the engine keeps no route for it: it is not watched, only counted as proof of life)
        assert h.client.stats.beacon_updates == 1 and h.client.stats.last_beacon == 1558620047.06
        assert h.engine.counters["dropped_unwatched"] == 1
        assert server.connections[0].filtered_out == 3
        # the broken line and the ris_error were reported, not fatal
        assert h.client.stats.rejected == 1 and health.rejected == 1
        rejected = [e.event for e in h.engine.log if isinstance(e.event, RecordRejected)]
        assert rejected[0].reason.startswith("not JSON")
        assert any("this is a test error message" in e.text for e in h.engine.log if e.kind == "feed")
        assert h.client.stats.errors == 1

        # -- reconnect ------------------------------------------------------------------------------
        h.gate.set()
        await _until(lambda: len(server.connections) == 2 and server.connections[1].sent >= 2, "replay after reconnect")
        await _until(lambda: not h.engine.state.routes_to(Prefix.parse("196.50.70.0/24")), "the withdrawal")

        ups = [s for s in h.statuses if s.state == "up"]
        assert len(ups) == 2
        assert ups[0].gap_start is None
        assert ups[1].gap_start == START and ups[1].gap_end == START + 1.0 and ups[1].gap_seconds == 1.0
        assert h.engine.feeds["ris-live"].gaps == 1
        assert any("gap of 1.0s" in e.text for e in h.engine.log)
        assert all(p.status != PeerStatus.UNKNOWN for p in _ris_live_peers(h.engine))
        # RIS_PEER_STATE down after the reconnection: that session is down
        down = [p for p in h.engine.state.peers() if p.key.peer_ip == "195.66.224.59"]
        assert down and down[0].status == PeerStatus.DOWN
        assert h.engine.state.routes_to(Prefix.parse("2001:7fb:fe13::/48"))
        # 20-msg holds nothing watched: all filtered out by the subscriptions
        assert server.connections[1].filtered_out == len(twenty)
        assert "client=watchfloor-test" in server.connections[0].path
        assert h.client.stats.acknowledged == 2 * n_subs
        await h.finish(task)
    assert h.states()[-1] == "ended"


async def test_subscriptions_sent_as_documented():
    watchlist = _watchlist()
    async with FakeRisLive([[Hold()]]) as server:
        h = Harness(server.url, watchlist)
        task = asyncio.create_task(h.client.run())
        await _until(h.client.connected.is_set, "connected")
        subs = list(server.connections[0].subscriptions)
        assert len(subs) == len(build_subscriptions(watchlist, BEACONS)) == 5
        assert {"type": "UPDATE", "prefix": "196.50.70.0/24", "moreSpecific": True, "lessSpecific": True} in subs
        assert {"type": "UPDATE", "prefix": "2001:7fb:fe00::/40", "moreSpecific": True, "lessSpecific": True} in subs
        assert {"type": "UPDATE", "path": "37650$"} in subs
        assert {"type": "UPDATE", "prefix": "84.205.64.0/24", "moreSpecific": True, "lessSpecific": False} in subs
        assert {"type": "RIS_PEER_STATE"} in subs
        assert server.connections[0].options == {"includeRaw": False, "acknowledge": True}
        # the watchlist grows (RIPEstat expansion): only the new filter is sent
        watchlist.expand("test", [Prefix.parse("175.45.176.0/22")], "AS131279")
        assert await h.client.refresh_subscriptions() == 1
        await _until(lambda: len(server.connections[0].subscriptions) == len(subs) + 1, "the new subscription")
        assert server.connections[0].subscriptions[-1]["prefix"] == "175.45.176.0/22"
        await h.finish(task)


async def test_ping_keepalive_answered_by_pong():
    async with FakeRisLive([[Hold()]]) as server:
        h = Harness(server.url, _watchlist(), ping_interval=0.05, idle_timeout=30.0)
        task = asyncio.create_task(h.client.run())
        await _until(lambda: server.connections and server.connections[0].pings >= 3, "three pings")
        assert h.client.stats.connects == 1 and "down" not in h.states()
        await h.finish(task)


async def test_silent_server_is_detected_and_reconnected():
    async with FakeRisLive([[Hold()]], answer_pings=False) as server:
        h = Harness(server.url, _watchlist(), ping_interval=0.05, idle_timeout=0.3)
        task = asyncio.create_task(h.client.run())
        await _until(lambda: "down" in h.states(), "idle detection")
        down = next(s for s in h.statuses if s.state == "down")
        assert "nothing received for" in down.detail
        h.gate.set()
        await _until(lambda: len(server.connections) >= 2, "reconnection")
        await h.finish(task)


async def test_clean_close_by_server_is_a_gap_too():
    watchlist = _watchlist()
    n_subs = len(build_subscriptions(watchlist, BEACONS))
    async with FakeRisLive([[WaitSubscriptions(n_subs), Close(1001, "going away")], [Hold()]]) as server:
        h = Harness(server.url, watchlist)
        task = asyncio.create_task(h.client.run())
        await _until(lambda: "down" in h.states(), "close")
        assert "code 1001: going away" in next(s for s in h.statuses if s.state == "down").detail
        h.gate.set()
        await _until(lambda: h.states().count("up") == 2, "reconnect")
        assert h.statuses[-1].gap_seconds == 1.0
        await h.finish(task)


async def test_unreachable_server_backs_off_exponentially():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens on `port` now: every connection attempt is refused
    h = Harness(f"ws://127.0.0.1:{port}/v1/ws/", _watchlist(), backoff=Backoff(initial=1.0, maximum=5.0))
    h.gate.set()

    async def sleep(seconds: float) -> None:
        h.sleeps.append(seconds)
        if len(h.sleeps) == 5:
            h.client.stop()

    h.client.sleep = sleep
    await asyncio.wait_for(h.client.run(), 20)
    assert h.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    downs = [s for s in h.statuses if s.state == "down"]
    assert len(downs) == 5 and all("cannot connect" in d.detail for d in downs)
    assert h.states()[0] == "connecting" and h.states()[-1] == "ended"


def test_backoff_jitter_stays_within_bounds():
    backoff = Backoff(initial=1.0, maximum=60.0, jitter=0.5)
    assert backoff.delay(0, lambda: 0.0) == 1.0
    assert backoff.delay(0, lambda: 0.999) == pytest.approx(0.5005)
    assert backoff.delay(10, lambda: 0.0) == 60.0
    assert backoff.delay(3, lambda: 0.5) == pytest.approx(6.0)
    # A socket refused all day: over a thousand attempts must still give the capped delay.
    assert backoff.delay(5000, lambda: 0.0) == 60.0


def test_client_id_is_added_to_the_url():
    assert with_client_id("wss://ris-live.ripe.net/v1/ws/", "wf") == "wss://ris-live.ripe.net/v1/ws/?client=wf"
    assert with_client_id("ws://127.0.0.1:1/v1/ws/?client=old&x=1", "new") == "ws://127.0.0.1:1/v1/ws/?x=1&client=new"


def test_fake_server_filter_semantics():
    msg = {"type": "ris_message", "data": {"type": "UPDATE", "path": [1, 2, [3, 4]],
           "announcements": [{"next_hop": "192.0.2.1", "prefixes": ["10.1.2.0/24"]}]}}
    assert matches({"prefix": "10.0.0.0/8"}, msg)
    assert not matches({"prefix": "10.0.0.0/8", "moreSpecific": False}, msg)
    assert matches({"prefix": "10.1.2.128/25", "lessSpecific": True}, msg)
    assert not matches({"prefix": "10.1.2.128/25"}, msg)
    assert matches({"path": "4$"}, msg) and not matches({"path": "2$"}, msg)
    assert not matches({"type": "RIS_PEER_STATE"}, msg)
