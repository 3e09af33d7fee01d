"""Collectors and consoles through a real nats-server with JetStream on loopback.

Every wait here is bounded (a generous limit, never an assertion about speed): the tests wait
for a condition on what the consoles received, and fail saying what was missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from conftest import REPO, shared_file
from nats_lab import NatsServer, bgpdump_events, nats_server, shard_events
from nats_lab import require_nats_server as server_binary
from tui.bus.nats import NatsFollower, NatsPublisher, StreamSettings
from tui.bus.protocol import BusError, parse_bus_url
from tui.core.events import Event, FeedStatus, PeerStateChanged, RecordRejected, event_to_json

EVENTS_FILE = "mrt/bgpdump/expected/updates.20100722.2015.gz.bgp.gz"
LIMIT = 60.0
"""Seconds any one wait may take before the test gives up (a bound, not a measurement)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One JetStream server for the module; each test uses its own stream."""
    yield from nats_server(tmp_path_factory)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    """5,654 real events (RIS rrc04, 2010-07-22, as decoded by bgpdump)."""
    return bgpdump_events(shared_file(EVENTS_FILE))


def routes(events: list[Event]) -> Counter[Event]:
    """Route events (those with a prefix) as a multiset: duplicates would show as counts."""
    return Counter(e for e in events if hasattr(e, "prefix"))


def statuses(events: list[Event], feed: str, state: str) -> list[FeedStatus]:
    """FeedStatus events of ``feed`` in ``state``."""
    return [e for e in events if isinstance(e, FeedStatus) and e.feed == feed and e.state == state]


class Console:
    """A follower whose batches a background task collects, as a console's engine would get them."""

    def __init__(self, follower: NatsFollower) -> None:
        self.follower = follower
        self.events: list[Event] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Console:
        await self.follower.start()
        self.task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        async for batch in self.follower.batches():
            self.events.extend(batch)

    async def wait_for(self, what: str, condition: Callable[[list[Event]], bool]) -> None:
        """Wait (bounded) until ``condition(events)``; fail naming ``what`` otherwise."""
        deadline = time.monotonic() + LIMIT
        while not condition(self.events):
            if time.monotonic() > deadline:
                pytest.fail(f"console never saw {what}; stats {self.follower.stats()}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.follower.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, LIMIT)


class Collector:
    """A collector process publishing one shard of the capture (tests/nats_lab.py)."""

    def __init__(self, url: str, instance: str, shard: str, first: int, last: int) -> None:
        self.argv = [sys.executable, str(REPO / "tests" / "nats_lab.py"), url, instance, shard, str(first), str(last), "0.2"]
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> dict:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, cwd=REPO
        )
        return await self._line()

    async def _line(self) -> dict:
        assert self.process is not None and self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), LIMIT)
        assert line, f"collector {self.argv[3:6]} exited early with {await self.process.wait()}"
        return json.loads(line)

    async def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, exactly a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> dict:
        """Close stdin: the collector says "stopped" on the bus and exits."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        final = await self._line()
        await asyncio.wait_for(self.process.wait(), LIMIT)
        return final


def follower(url: str, **options) -> NatsFollower:
    return NatsFollower(url, idle_check=0.1, **options)


async def test_two_collectors_two_consoles_a_crash_a_restart_and_a_late_joiner(server, events):
    url = f"{server.url}?stream=SCENARIO&root=scn"
    mid = len(events) // 2
    first_half = {k: shard_events(events[:mid], f"{k}/2") for k in range(2)}
    b_all = shard_events(events, "1/2")
    consoles = [await Console(follower(url)).start() for _ in range(2)]

    # Two collectors share the watchlist: each publishes its shard of the first half.
    a, b = Collector(url, "a", "0/2", 0, mid), Collector(url, "b", "1/2", 0, mid)
    published = [await a.start(), await b.start()]
    assert [p["published"] for p in published] == [len(first_half[0]), len(first_half[1])]
    phase1 = routes(first_half[0]) + routes(first_half[1])
    assert phase1 == routes(events[:mid]), "the shards' union is the whole first half"
    for console in consoles:
        await console.wait_for("both shards' first half", lambda got: routes(got) == phase1)
        await console.wait_for("both collectors up", lambda got: statuses(got, "bus/a", "up") and statuses(got, "bus/b", "up"))
    before_crash = time.time()
    for console in consoles:  # so that the record shows b alive after the late joiner's start time
        await console.wait_for(
            "a heartbeat of b after the start time", lambda _, c=console: c.follower.monitor.instances["b"].last_ts > before_crash
        )

    # Collector b crashes: the consoles say its data stopped, not that routes went away.
    await b.kill()
    for console in consoles:
        await console.wait_for("a gap for collector b", lambda got: statuses(got, "bus/b", "gap"))
        assert routes(console.events) == phase1

    # b restarts and publishes everything again from the beginning of its input.
    again = await Collector(url, "b", "1/2", 0, len(events)).start()
    assert again["duplicates"] == len(first_half[1]), "JetStream recognised every re-published event"
    assert again["published"] == len(b_all) - len(first_half[1])
    whole = routes(first_half[0]) + routes(b_all)
    for console in consoles:
        await console.wait_for("b's second half", lambda got: routes(got) == whole)
        await console.wait_for("b back after its gap", lambda got: [s for s in statuses(got, "bus/b", "up") if s.gap_start])
        assert console.follower.duplicates == 0, "the server, not the console, dropped the duplicates"
        peer_states = [e for e in console.events if isinstance(e, PeerStateChanged)]
        assert len(peer_states) == len([e for e in first_half[0] + b_all if isinstance(e, PeerStateChanged)])

    # A console joining late replays the past from a start time, and sees the gap in it.
    late = await Console(follower(url, start=before_crash)).start()
    await late.wait_for(
        "the events published since the start time", lambda got: routes(got) == routes(b_all) - routes(first_half[1])
    )
    await late.wait_for(
        "the crash, from the heartbeats' spacing",
        lambda got: statuses(got, "bus/b", "gap") and [s for s in statuses(got, "bus/b", "up") if s.gap_start],
    )
    [closed] = [s for s in statuses(late.events, "bus/b", "up") if s.gap_start]
    assert before_crash <= closed.gap_start < closed.gap_end

    await a.stop()
    for console in [*consoles, late]:
        await console.wait_for("a's clean stop", lambda got: statuses(got, "bus/a", "ended"))
        await console.close()


async def test_publisher_in_process_counts_and_restart_dedup(server, events):
    url = f"{server.url}?stream=INPROC&root=inproc"
    sample = events[:500]
    publisher = NatsPublisher(url, "solo", heartbeat_interval=0.2, settings=StreamSettings(memory=True))
    await publisher.start()
    publisher.append(sample)
    assert await publisher.flush(LIMIT)
    assert publisher.stats()["published"] == 500 and publisher.pending == 0
    await publisher.abort()  # a crash: no "stopped" heartbeat

    restarted = NatsPublisher(url, "solo", heartbeat_interval=0.2, settings=StreamSettings(memory=True))
    await restarted.start()
    restarted.append(events[:600])
    assert await restarted.flush(LIMIT)
    assert (restarted.published, restarted.duplicates) == (100, 500)
    await restarted.close()

    console = await Console(follower(url)).start()
    await console.wait_for(
        "600 events and the clean stop", lambda got: routes(got) == routes(events[:600]) and statuses(got, "bus/solo", "ended")
    )
    await console.close()


async def test_bad_messages_on_the_bus_are_reported_not_fatal(server, events):
    import nats

    url = f"{server.url}?stream=BAD&root=bad"
    console = await Console(follower(url)).start()
    client = await nats.connect(server.url)
    await client.publish("bad.route.rrc00", b"\x1b]0;owned\x07 not json")
    await client.publish("bad.route.rrc00", b'{"kind": "announce", "ts": "yesterday"}')
    await client.publish("bad.heartbeat.x", b'{"instance": "x"}')
    await client.publish("bad.route.rrc04", event_to_json(events[0]).encode())
    await client.flush()
    await client.close()
    await console.wait_for("the good event after the bad ones", lambda got: events[0] in got)
    rejected = [e for e in console.events if isinstance(e, RecordRejected)]
    assert len(rejected) == 3 and console.follower.rejected == 3
    assert all(r.feed == "bus" and "#" in r.location for r in rejected)
    assert not any("\x1b" in r.excerpt or "\x07" in r.excerpt for r in rejected)
    await console.close()


async def test_window_and_subject_filter(server, events):
    url = f"{server.url}?stream=WINDOW&root=win"
    publisher = NatsPublisher(url, "w", heartbeat_interval=60, settings=StreamSettings(memory=True))
    await publisher.start()
    publisher.append(events[:100])
    assert await publisher.flush(LIMIT)
    middle = time.time()
    await asyncio.sleep(0.01)
    publisher.append(events[100:200])
    publisher.append([FeedStatus(1.0, "ris_live", "gap", "lost")])
    assert await publisher.flush(LIMIT)
    end = time.time()
    await asyncio.sleep(0.01)
    publisher.append(events[200:300])
    assert await publisher.flush(LIMIT)

    window = follower(url, start=middle, until=end)
    await window.start()
    got = [e async for batch in window.batches() for e in batch]
    await window.close()
    assert routes(got) == routes(events[100:200])

    feeds_only = follower(url, subjects=["win.feed.>"])
    await feeds_only.start()
    seen: list[Event] = []
    async for batch in feeds_only.batches():
        seen.extend(batch)
        if statuses(seen, "ris_live", "gap"):
            break
    await feeds_only.close()
    assert not routes(seen)
    await publisher.close()


async def test_unreachable_bus_and_bus_without_jetstream(tmp_path, server):
    import socket

    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(BusError, match="cannot reach the bus at nats://127.0.0.1"):
        await NatsFollower(f"nats://127.0.0.1:{closed_port}", connect_timeout=1).start()

    plain = NatsServer(server.binary, tmp_path, jetstream=False)
    plain.start()
    try:
        with pytest.raises(BusError, match="no JetStream"):
            await NatsPublisher(plain.url, "x", connect_timeout=5).start()
    finally:
        plain.stop()


def test_bus_address_is_reused_by_publisher_and_follower():
    address = parse_bus_url("nats://127.0.0.1:1?stream=S&root=r")
    assert NatsPublisher(address, "i").address is address
    assert NatsFollower(address).subjects == ("r.>",)


async def test_server_restart_loses_nothing_and_duplicates_nothing(tmp_path, events):
    """The bus goes away mid-stream and comes back on the same port with its file store."""
    own = NatsServer(server_binary(), tmp_path)
    own.start()
    try:
        url = f"{own.url}?stream=RESTART&root=rst"
        publisher = NatsPublisher(url, "steady", heartbeat_interval=0.2, ack_timeout=2.0)
        await publisher.start()
        console = await Console(follower(url)).start()
        publisher.append(events[:1000])
        assert await publisher.flush(LIMIT)
        await console.wait_for("the first thousand", lambda got: routes(got) == routes(events[:1000]))

        own.stop()
        await console.wait_for("the lost connection", lambda got: statuses(got, "bus", "down"))
        publisher.append(events[1000:2000])  # queued while the bus is away
        own.start(same_port=True)
        assert await publisher.flush(LIMIT), publisher.stats()
        await console.wait_for("everything, once", lambda got: routes(got) == routes(events[:2000]))
        await console.wait_for("the connection back", lambda got: statuses(got, "bus", "up")[1:])
        await publisher.close()
        await console.close()
        assert publisher.stats()["dropped"] == 0
    finally:
        own.stop()
