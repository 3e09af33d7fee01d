"""Live equals replay: the journal of a live collector run replays to what the run showed.

The collector runs live against the loopback RIS Live and RIPEstat servers (real 2017 RIPEstat
answers) with a watch by country only: its prefixes exist only through RIPEstat's expansion
(140.78.0.0/16 is one), and RIS Live then withdraws the prefix at one of the sessions RIPEstat
said held it. Replaying the journal the collector wrote must give the same routes, the same
findings and the same event log as the live engine had: the expansion travels in the journal
(WatchExpanded), not in the configuration.
"""

from __future__ import annotations

from tests.conftest import run_collector_until, shared_file
from tests.servers.http_server import LoopbackHTTP
from tests.servers.ripestat_server import FakeRipestat
from tests.servers.ris_live_server import FakeRisLive, Hold, Send, WaitSubscriptions
from tests.test_ris_live_feeds import NOW, WATCHED, WITHDRAW
from tui.commands.collect import Collector
from tui.config import parse_config
from tui.core.clock import MAX_SPEED, FixedClock
from tui.core.detectors import default_detectors
from tui.core.events import WatchExpanded
from tui.feeds.ripestat import parse_country_resources
from tui.journal.replay import ReplaySession
from tui.journal.store import JournalReader


def _routes(engine) -> dict:
    return {
        (info.key, version, key): (route.as_path, route.next_hop, route.communities)
        for info in engine.state.peers() for version in (4, 6) for key, route in info.table(version).items()
    }


async def test_a_live_run_replays_to_the_same_routes_findings_and_log(tmp_path):
    journal = tmp_path / "live.journal"
    fake_stat = FakeRipestat(shared_file("ripestat/2017-07-joshglazebrook"))
    # RIS Live sends the withdrawal once the client subscribed to the country's prefixes too.
    subscriptions = 1 + len(parse_country_resources(fake_stat.data["country-resource-list"]))
    with LoopbackHTTP(fake_stat) as stat:
        async with FakeRisLive([[WaitSubscriptions(subscriptions), Send(WITHDRAW), Hold()]]) as ris:
            config = parse_config(f"""
[[watch]]
name = "Austria"
countries = ["AT"]

[feeds.ris_live]
url = "{ris.url}"
client = "watchfloor-test"
beacons = []

[feeds.ripestat]
url = "{stat.url}/data/"
sourceapp = "watchfloor-test"
cache_dir = "{tmp_path / 'cache'}"
""")
            assert not config.watchlist().prefixes()  # nothing to watch but what RIPEstat finds
            collector = Collector(config, config.watchlist(), journal=str(journal), dns=False, clock=FixedClock(NOW + 10),
                                  sinks=[], install_signals=False, say=lambda text: None)

            def withdrawn() -> bool:
                engine = collector.engine
                return engine is not None and any(
                    e.kind == "withdraw" and e.prefix == WATCHED for e in engine.log
                )

            await run_collector_until(collector, withdrawn)
    live = collector.engine
    assert len(live.state.routes_to(WATCHED)) == 165  # RIPEstat's 166, less the live withdrawal
    assert WATCHED in live.watchlist.prefixes()
    with JournalReader(journal) as reader:
        expansions = [e for batch in reader.batches() for e in batch if isinstance(e, WatchExpanded)]
    assert [(e.watch, e.reason) for e in expansions] == [("Austria", "country AT")] and WATCHED in expansions[0].prefixes

    watchlist = config.watchlist()  # the configuration alone: the journal must bring the rest
    with ReplaySession.open(journal, watchlist, detectors=default_detectors(watchlist)) as replay:
        replay.clock.speed = MAX_SPEED
        replay.play()
        while replay.clock.playing:
            replay.step(0.0)
        assert _routes(replay.engine) == _routes(live) and len(_routes(live)) == 165
        assert replay.engine.watchlist.prefixes() == live.watchlist.prefixes()
        assert replay.engine.findings == live.findings
        assert [(e.ts, e.kind, e.text) for e in replay.engine.log] == [(e.ts, e.kind, e.text) for e in live.log]
        # A seek restores the expansion from the checkpoint, not from the configuration.
        replay.seek(replay.start)
        replay.seek(replay.end)
        assert _routes(replay.engine) == _routes(live)
        assert WATCHED in replay.engine.watchlist.prefixes()
