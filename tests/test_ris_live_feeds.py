"""LiveFeeds: RIPEstat's initial state and RIS Live together, against both loopback servers."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tests.conftest import EventLog, shared_file
from tests.servers.http_server import LoopbackHTTP, Reply, Request
from tests.servers.ripestat_server import FakeRipestat
from tests.servers.ris_live_server import Drop, FakeRisLive, Hold, Send, WaitSubscriptions
from tests.test_ris_live_client import _until
from tui.config import parse_config
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.events import FeedStatus, FullFeedPeers, RouteAnnounced, RouteSnapshot, RouteWithdrawn
from tui.core.prefixes import Prefix
from tui.core.routes import PeerStatus
from tui.feeds.live import LiveFeeds
from tui.feeds.ris_live import build_subscriptions
from tui.runtime import listen_for

NOW = 1_500_760_000.0
WATCHED = Prefix.parse("140.78.0.0/16")

# rrc00's peer 111.91.233.1 (AS45896) withdraws the watched prefix, live, after RIPEstat's snapshot.
WITHDRAW = {"type": "ris_message", "data": {"timestamp": NOW + 5, "peer": "111.91.233.1", "peer_asn": "45896",
            "id": "test", "host": "rrc00.ripe.net", "type": "UPDATE", "withdrawals": ["140.78.0.0/16"]}}


def _config(ris_url: str, stat_url: str, cache: Path):
    return parse_config(f"""
[[watch]]
name = "JKU"
prefixes = ["140.78.0.0/16"]
asns = [3333]

[feeds.ris_live]
url = "{ris_url}"
client = "watchfloor-test"
beacons = []

[feeds.ripestat]
url = "{stat_url}/data/"
sourceapp = "watchfloor-test"
cache_dir = "{cache}"
""")


class GatedRipestat(FakeRipestat):
    """Holds RIPEstat's calls while ``gate`` is closed (a slow RIPEstat); closed at first unless ``start_open``.

    With ``only``, just the calls of those endpoints are held (a RIPEstat slow on one data call).
    """

    def __init__(self, folder: Path, *, start_open: bool = False, only: tuple[str, ...] = ()) -> None:
        super().__init__(folder)
        self.gate = threading.Event()
        self.only = frozenset(only)
        if start_open:
            self.gate.set()

    def __call__(self, request: Request) -> object:
        parts = request.path.strip("/").split("/")
        if not self.only or (len(parts) == 3 and parts[1] in self.only):
            self.gate.wait(30)
        return super().__call__(request)


async def test_initial_state_first_then_held_live_updates(tmp_path):
    fake_stat = GatedRipestat(shared_file("ripestat/2017-07-joshglazebrook"))
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive([[WaitSubscriptions(3), Send(WITHDRAW), Hold()]]) as ris:
            config = _config(ris.url, stat.url, tmp_path)
            watchlist = config.watchlist()
            assert len(build_subscriptions(watchlist)) == 3
            queue: asyncio.Queue = asyncio.Queue()
            clock = FixedClock(NOW)
            feeds = LiveFeeds(config, watchlist, queue, clock=clock)
            await feeds.start()
            # RIS Live delivers the withdrawal while RIPEstat is still answering: it is held back
            await _until(lambda: feeds._held and any(isinstance(e, RouteWithdrawn) for b in feeds._held for e in b),
                         "the live withdrawal, held")
            # ...while feed health is not: the console shows RIS Live's state at once
            early = [e for b in list(queue._queue) for e in b]  # noqa: SLF001 - peeking, not taking
            assert early and all(isinstance(e, FeedStatus) for e in early)
            assert {e.feed for e in early} == {"ripestat", "ris-live"}
            fake_stat.gate.set()
            await _until(feeds.bootstrapped.is_set, "the initial state")
            # the expansion of AS3333 was subscribed to as well
            await _until(lambda: len(ris.connections[0].subscriptions) == 3 + 7, "subscriptions for AS3333's prefixes")
            await feeds.stop()
        batches = []
        while not queue.empty():
            batches.append(queue.get_nowait())

    events = [e for b in batches for e in b]
    first_live = next(i for i, e in enumerate(events) if isinstance(e, RouteWithdrawn))
    last_stat = max(i for i, e in enumerate(events) if isinstance(e, RouteAnnounced | FullFeedPeers))
    assert last_stat < first_live, "RIPEstat's snapshot must be applied before any route RIS Live sent"
    seeded = [e for e in events if isinstance(e, RouteAnnounced)]
    assert len(seeded) == 166 and all(e.source == "ris-live" for e in seeded)
    assert all(r.query["sourceapp"] == ["watchfloor-test"] for r in stat.requests)
    assert "client=watchfloor-test" in ris.connections[0].path

    engine = Engine(watchlist, clock)
    for batch in batches:
        engine.ingest(batch)
    holders = {p.key.peer_ip for p, _ in engine.state.routes_to(WATCHED)}
    assert "111.91.233.1" not in holders and len(holders) == 165  # the live withdrawal won
    assert engine.feeds["ris-live"].state == "ended"
    assert feeds.baselines["AS3333"].v4_total == 158


async def test_drop_makes_ripestat_seeded_sessions_unknown(tmp_path):
    fake_stat = FakeRipestat(shared_file("ripestat/2017-07-joshglazebrook"))
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive([[WaitSubscriptions(3), Drop()], [Hold()]]) as ris:
            config = _config(ris.url, stat.url, tmp_path)
            watchlist = config.watchlist()
            clock = FixedClock(NOW)
            engine = Engine(watchlist, clock)
            gate = asyncio.Event()

            async def sleep(seconds: float) -> None:
                await gate.wait()

            queue: asyncio.Queue = asyncio.Queue()
            feeds = LiveFeeds(config, watchlist, queue, clock=clock, sleep=sleep)
            await feeds.start()

            def drained() -> bool:
                while not queue.empty():
                    engine.ingest(queue.get_nowait())
                return engine.feeds.get("ris-live") is not None and engine.feeds["ris-live"].state == "down"

            await _until(lambda: drained() and feeds.bootstrapped.is_set(), "the drop, after the initial state")
            seeded = [p for p in engine.state.peers() if p.key.peer_ip == "111.91.233.1"]
            assert seeded and seeded[0].status == PeerStatus.UNKNOWN
            assert engine.state.routes_to(WATCHED), "unknown, never withdrawn"
            assert engine.visibility(WATCHED).ratio is None
            gate.set()
            await _until(lambda: not drained() and engine.feeds["ris-live"].state == "up", "the reconnection")
            assert seeded[0].status == PeerStatus.UP
            await feeds.stop()


# After the reconnection, 12.0.1.63 (AS7018) announces the watched prefix over a new path.
REANNOUNCE = {
    "type": "ris_message",
    "data": {
        "timestamp": NOW + 60,
        "peer": "12.0.1.63",
        "peer_asn": "7018",
        "id": "test",
        "host": "rrc00.ripe.net",
        "type": "UPDATE",
        "path": [7018, 174, 1853, 1205],
        "announcements": [{"next_hop": "12.0.1.63", "prefixes": ["140.78.0.0/16"]}],
    },
}


class _LiveRun:
    """LiveFeeds into an engine; the test decides when RIS Live may reconnect."""

    def __init__(self, config, watchlist, queue_size: int = 0) -> None:
        self.recorded = EventLog()
        self.engine = Engine(watchlist, FixedClock(NOW), recorder=self.recorded)
        self.seen: list = []
        """What the feeds sent, in order."""
        self.reconnect = asyncio.Event()
        self.queue: asyncio.Queue = asyncio.Queue(queue_size)

        async def sleep(seconds: float) -> None:
            await self.reconnect.wait()

        self.feeds = LiveFeeds(config, watchlist, self.queue, clock=self.engine.clock, sleep=sleep)

    def drain(self) -> None:
        """Apply what the feeds sent so far."""
        while not self.queue.empty():
            batch = self.queue.get_nowait()
            self.seen.extend(batch)
            self.engine.ingest(batch)

    def state(self) -> str:
        """RIS Live's state in the engine, after applying what the feeds sent."""
        self.drain()
        health = self.engine.feeds.get("ris-live")
        return health.state if health else ""

    def sent_states(self) -> list[str]:
        """RIS Live's statuses as the feeds sent them."""
        self.drain()
        return [e.state for e in self.seen if isinstance(e, FeedStatus) and e.feed == "ris-live"]


async def _reconnect_with_changed_routes(tmp_path, prepare_refresh):
    """Bootstrap, drop RIS Live, let ``prepare_refresh(fake_stat)`` change RIPEstat, reconnect.

    Returns (engine, what the engine recorded, what the feeds sent). The second connection
    sends REANNOUNCE while the refresh is held, so the test sees which of the two wins.
    """
    fake_stat = GatedRipestat(shared_file("ripestat/2017-07-joshglazebrook"), start_open=True)  # held for the refresh
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive([[WaitSubscriptions(3), Drop()], [WaitSubscriptions(10), Send(REANNOUNCE), Hold()]]) as ris:
            config = _config(ris.url, stat.url, tmp_path)
            run = _LiveRun(config, config.watchlist())
            feeds, engine = run.feeds, run.engine
            await feeds.start()
            await _until(lambda: run.state() == "down" and feeds.bootstrapped.is_set(), "the drop, after the initial state")
            fake_stat.gate.clear()
            prepare_refresh(fake_stat)
            run.reconnect.set()
            # The live update arrives while RIPEstat is being asked again: it waits for the refresh.
            await _until(lambda: run.state() == "resyncing" and feeds._held, "the reconnection, refresh under way")
            assert any(isinstance(e, RouteAnnounced) and e.peer_ip == "12.0.1.63" for b in feeds._held for e in b)
            holder = next(p for p in engine.state.peers() if p.key.peer_ip == "111.91.233.1")
            assert holder.status == PeerStatus.UNKNOWN, "still unknown until the routes are re-read"
            fake_stat.gate.set()
            await _until(lambda: run.state() == "up", "the refresh")
            await feeds.stop()
            run.drain()
    return engine, run.recorded.events, run.seen


async def test_reconnect_rereads_routes_so_withdrawals_in_the_gap_are_not_lost(tmp_path):
    def withdraw_during_gap(fake_stat) -> None:
        data = dict(fake_stat.data["bgp-state"])
        data["bgp_state"] = [e for e in data["bgp_state"] if e["source_id"] != "00-111.91.233.1"]
        fake_stat.data["bgp-state"] = data

    engine, recorded, seen = await _reconnect_with_changed_routes(tmp_path, withdraw_during_gap)

    holders = {p.key.peer_ip: route for p, route in engine.state.routes_to(WATCHED)}
    assert "111.91.233.1" not in holders and len(holders) == 165
    assert tuple(holders["12.0.1.63"].as_path) == (7018, 174, 1853, 1205), "the live update, newer, wins"
    assert all(p.status == PeerStatus.UP for p in engine.state.peers() if p.source == "ris-live")
    states = [e.state for e in seen if isinstance(e, FeedStatus) and e.feed == "ris-live"]
    assert states[-4:] == ["down", "resyncing", "up", "ended"]
    # The journal gets plain events: the withdrawal the refresh found, and a note of the refresh.
    recorded_states = [e.state for e in recorded if isinstance(e, FeedStatus) and e.feed == "ris-live"]
    assert recorded_states[-4:] == ["resyncing", "refreshed", "up", "ended"]
    assert not any(isinstance(e, RouteSnapshot) for e in recorded)
    up = next(e for e in seen if isinstance(e, FeedStatus) and e.feed == "ris-live" and e.state == "up" and e.gap_start)
    assert up.gap_seconds is not None and "8/8 watched prefixes re-read" in up.detail
    withdrawn = [e for e in recorded if isinstance(e, RouteWithdrawn)]
    assert [(e.peer_ip, e.prefix) for e in withdrawn] == [("111.91.233.1", WATCHED)]
    refreshed = [entry.text for entry in engine.log if "refreshed" in entry.text]
    assert refreshed and "1 routes withdrawn while unheard" in refreshed[0]
    assert not any(f.kind == "feed_down" and f.state != "close" for f in engine.findings.values())


async def test_reconnect_when_ripestat_fails_keeps_routes_and_says_so(tmp_path):
    def ripestat_down(fake_stat) -> None:
        fake_stat.down = Reply(500, b"internal error")

    engine, recorded, seen = await _reconnect_with_changed_routes(tmp_path, ripestat_down)

    assert len(engine.state.routes_to(WATCHED)) == 166, "nothing withdrawn on a failed refresh"
    up = next(e for e in seen if isinstance(e, FeedStatus) and e.feed == "ris-live" and e.state == "up" and e.gap_start)
    assert "0/8 watched prefixes re-read" in up.detail and "kept as they were" in up.detail
    assert any(isinstance(e, FeedStatus) and e.feed == "ripestat" and e.state == "error" for e in seen)
    assert not any(isinstance(e, RouteWithdrawn) for e in recorded)


async def test_a_drop_during_the_refresh_abandons_it_and_the_next_reconnection_refreshes(tmp_path):
    fake_stat = GatedRipestat(shared_file("ripestat/2017-07-joshglazebrook"), start_open=True)
    script = [[WaitSubscriptions(3), Drop()], [WaitSubscriptions(10), Send(REANNOUNCE), Drop()], [WaitSubscriptions(10), Hold()]]
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive(script) as ris:
            config = _config(ris.url, stat.url, tmp_path)
            run = _LiveRun(config, config.watchlist(), queue_size=1)  # bounded, as the collector's is
            await run.feeds.start()
            await _until(lambda: run.state() == "down" and run.feeds.bootstrapped.is_set(), "the drop, after the initial state")
            fake_stat.gate.clear()  # the first refresh never gets its answer
            run.reconnect.set()
            await _until(lambda: run.sent_states().count("resyncing") == 2, "a drop mid-refresh, and a second reconnection")
            assert run.sent_states()[-4:] == ["down", "resyncing", "down", "resyncing"], "no false up in between"
            live_path = tuple(REANNOUNCE["data"]["path"])
            reannounced = [i for i, e in enumerate(run.seen) if isinstance(e, RouteAnnounced) and e.as_path == live_path]
            statuses = [(i, e.state) for i, e in enumerate(run.seen) if isinstance(e, FeedStatus) and e.feed == "ris-live"]
            first_refresh = next(i for i, state in statuses if state == "resyncing")
            second_drop = [i for i, state in statuses if state == "down"][-1]
            assert len(reannounced) == 1, "what was held when the refresh was abandoned went out, once"
            assert first_refresh < reannounced[0] < second_drop, "held during the refresh, out ahead of the drop"
            fake_stat.gate.set()
            await _until(lambda: run.state() == "up", "the second refresh")
            await run.feeds.stop()
            run.drain()
    assert run.sent_states()[-2:] == ["up", "ended"] and run.sent_states().count("up") == 2  # start, and now
    # The second refresh read RIPEstat after the live update, so RIPEstat's (unchanged) path stands.
    routes = {p.key.peer_ip: route for p, route in run.engine.state.routes_to(WATCHED)}
    assert tuple(routes["12.0.1.63"].as_path) == (7018, 3356, 1853, 1853, 1205)
    assert all(p.status == PeerStatus.UP for p in run.engine.state.peers() if p.source == "ris-live")


async def test_listen_for_returns_the_engine(tmp_path):
    fake_stat = FakeRipestat(shared_file("ripestat/2017-07-joshglazebrook"))
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive([[WaitSubscriptions(3), Send(WITHDRAW), Hold()]]) as ris:
            config = _config(ris.url, stat.url, tmp_path)
            watchlist = config.watchlist()
            heard = await listen_for(0.5, watchlist, config, clock=FixedClock(NOW), initial_wait=30)
    engine = heard.engine
    assert heard.initial_state.complete and not heard.initial_state.missing
    assert len(engine.state.routes_to(WATCHED)) in (165, 166)  # the withdrawal may come after 0.5 s
    assert engine.feeds["ripestat"].state == "up"
    assert engine.feeds["ris-live"].state == "ended"
    assert Prefix.parse("193.0.0.0/21") in watchlist.prefixes()


async def test_ripestat_disabled_passes_live_batches_straight_through(tmp_path):
    async with FakeRisLive([[WaitSubscriptions(3), Send(WITHDRAW), Hold()]]) as ris:
        config = parse_config(f"""
[[watch]]
name = "JKU"
prefixes = ["140.78.0.0/16"]
asns = [3333]
[feeds.ris_live]
url = "{ris.url}"
beacons = []
[feeds.ripestat]
enabled = false
""")
        queue: asyncio.Queue = asyncio.Queue()
        feeds = LiveFeeds(config, config.watchlist(), queue, clock=FixedClock(NOW))
        assert feeds.bootstrapped.is_set()
        await feeds.start()
        seen: list = []

        def got_withdrawal() -> bool:
            while not queue.empty():
                seen.extend(queue.get_nowait())
            return any(isinstance(e, RouteWithdrawn) for e in seen)

        await _until(got_withdrawal, "the withdrawal")
        await feeds.stop()
    assert not any(getattr(e, "feed", "") == "ripestat" for e in seen)


def test_no_feeds_enabled_starts_nothing():
    config = parse_config("[feeds.ris_live]\nenabled = false\n[feeds.ripestat]\nenabled = false\n")
    feeds = LiveFeeds(config, config.watchlist(), asyncio.Queue())
    assert feeds.client is None and feeds.bootstrapped.is_set()


async def test_snapshot_live_prints_the_same_json_as_for_files(tmp_path, capsys):
    import json

    from tui.cli import main

    fake_stat = FakeRipestat(shared_file("ripestat/2017-07-joshglazebrook"))
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive([[WaitSubscriptions(3), Send(WITHDRAW), Hold()]]) as ris:
            config = tmp_path / "config.toml"
            # the configured RIS Live URL is unusable: --ris-live-url must win
            config.write_text(f"""
[[watch]]
name = "JKU"
prefixes = ["140.78.0.0/16"]
asns = [3333]
[feeds.ris_live]
url = "ws://127.0.0.1:9/none/"
beacons = []
[feeds.ripestat]
url = "{stat.url}/data/"
cache_dir = "{tmp_path / 'cache'}"
""")
            # the command runs its own event loop: a thread, while this loop serves RIS Live
            # (a generous --initial-wait: RIPEstat's answers must all be in, however slow this machine)
            code = await asyncio.to_thread(
                main, ["snapshot", "--live", "1", "--initial-wait", "30", "--json", "--ris-live-url", ris.url,
                       "--config", str(config)]
            )
            assert ris.connections and ris.connections[0].path.startswith("/v1/ws/?client=watchfloor")
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code in (0, 1)
    row = next(p for p in data["prefixes"] if p["prefix"] == "140.78.0.0/16")
    assert row["watch"] == "JKU" and row["origins"] == [1205] and len(row["routes"]) >= 165
    assert "ris-peers" in data["peers"]["full_feed_basis"]
    assert any(p["prefix"] == "193.0.0.0/21" for p in data["prefixes"])  # AS3333 expanded
    assert data["initial_state"] == {"source": "ripestat", "complete": True, "timed_out": False, "missing": [],
                                     "detail": data["feeds"]["ripestat"]["detail"]}


def test_snapshot_live_option_errors(capsys):
    from tui.cli import main

    assert main(["snapshot", "--live", "0"]) == 3
    assert "above 0" in capsys.readouterr().err
    assert main(["snapshot", "--live", "5", "--ris-live-url", "http://x/"]) == 3
    assert "ws://" in capsys.readouterr().err
    assert main(["snapshot"]) == 3
    assert "--live SECONDS" in capsys.readouterr().err
    assert main(["snapshot", "--live", "5", "--initial-wait", "-1"]) == 3
    assert "--initial-wait" in capsys.readouterr().err
    assert main(["snapshot", "--initial-wait", "5", "x.mrt"]) == 3
    assert "goes with --live" in capsys.readouterr().err
