"""The console attached to a collector: state from the journal, then rows (or bus messages) as they come."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from conftest import shared_file
from nats_lab import bgpdump_events, nats_server
from test_console_support import screen_text
from tui.commands.attach import attach_bus, attach_journal
from tui.console.app import WatchfloorApp
from tui.core.events import Event, RouteAnnounced
from tui.core.watchlist import Watch, Watchlist
from tui.journal.store import JournalWriter

EVENTS_FILE = "mrt/bgpdump/expected/updates.20100722.2015.gz.bgp.gz"
LIMIT = 60.0
SPLIT = 3000


@pytest.fixture(scope="module")
def captured() -> list[Event]:
    """The capture as recorded in 2010 (what a collector fed from files journals)."""
    return bgpdump_events(shared_file(EVENTS_FILE))


@pytest.fixture(scope="module")
def events(captured) -> list[Event]:
    """The capture moved to end now, as a live collector would have recorded it.

    Heartbeat gaps are in bus time (now), so over the bus the data must be current too.
    """
    shift = time.time() - 60 - captured[-1].ts
    return [replace(e, ts=e.ts + shift) for e in captured]


@pytest.fixture(scope="module")
def watched(events):
    """A prefix announced before SPLIT, and one first announced after it."""
    early = next(e.prefix for e in events[:SPLIT] if isinstance(e, RouteAnnounced))
    seen = {e.prefix for e in events[:SPLIT] if hasattr(e, "prefix")}
    late = next(e.prefix for e in events[SPLIT:] if isinstance(e, RouteAnnounced) and e.prefix not in seen)
    return early, late, Watchlist([Watch("attached", (early, late))])


async def until_true(pilot, what, condition) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the attached console never showed {what}")
        await pilot.pause(0.02)


async def test_console_attached_to_a_journal(tmp_path, captured, watched):
    """Old data on purpose: the console must not mix today's time into the journal's timeline."""
    early, late, watchlist = watched
    events = captured
    path = tmp_path / "collector.journal"
    with JournalWriter(path, watchlist=watchlist, background=False, checkpoint_interval=60) as writer:
        for start in range(0, SPLIT, 100):
            writer.append(events[start : min(start + 100, SPLIT)])
    attachment = attach_journal(path, watchlist, poll=0.01)
    engine = attachment.engine
    assert engine.visibility(early).visible > 0, "the console opens on the journal's current state"
    assert engine.visibility(late).visible == 0
    app = WatchfloorApp(engine, feeds=attachment.pump, feed_queue=attachment.queue)
    async with app.run_test(size=(120, 40)) as pilot:
        # The collector goes on writing while the console is open.
        with JournalWriter(path, watchlist=watchlist, background=False) as writer:
            for start in range(SPLIT, len(events), 100):
                writer.append(events[start : start + 100])
        await until_true(pilot, "the late prefix", lambda: engine.visibility(late).visible > 0)
        await until_true(pilot, "every row", lambda: attachment.pump.source.cursor == len(events))
        app.redraw_now()
        await pilot.pause()
        text = screen_text(app)
        assert str(late) in text and "journal up" in text
    assert attachment.pump.source is not None and attachment.pump._task.done()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from nats_server(tmp_path_factory)


async def test_console_attached_to_the_bus(server, events, watched):
    from tui.bus.nats import NatsFollower, NatsPublisher, StreamSettings

    early, late, watchlist = watched
    url = f"{server.url}?stream=CONSOLE&root=con"
    publisher = NatsPublisher(url, "collector-1", heartbeat_interval=0.2, settings=StreamSettings(memory=True))
    await publisher.start()
    publisher.append(events[:SPLIT])
    assert await publisher.flush(LIMIT)
    attachment = attach_bus(NatsFollower(url, idle_check=0.1), watchlist)
    engine = attachment.engine
    app = WatchfloorApp(engine, feeds=attachment.pump, feed_queue=attachment.queue)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_true(pilot, "the stream's past", lambda: engine.visibility(early).visible > 0)
        publisher.append(events[SPLIT:])
        await until_true(pilot, "the late prefix", lambda: engine.visibility(late).visible > 0)
        await publisher.abort()  # the collector dies
        await until_true(
            pilot,
            "the collector's gap",
            lambda: engine.feeds.get("bus/collector-1") and engine.feeds["bus/collector-1"].state == "gap",
        )
        app.redraw_now()
        await pilot.pause()
        text = screen_text(app)
        assert "bus/collector-1 gap" in text and str(late) in text
