"""Keys answered at once during a full-speed replay, and a screen that stays right meanwhile.

Latency itself is a bench figure (bench/key_latency.py), never asserted here. These tests pin
the behaviour it rests on: the engine gives the UI the loop back between chunks until the UI
has nothing left to do, a step never applies more than a chunk at any speed, the event log is
kept incrementally yet shows exactly what a fresh draw shows, a hidden event log catches up
when it comes into view, and the footer is rebuilt only when its keys change.
"""

from __future__ import annotations

import asyncio

import pytest
from textual import events

from test_console_support import replay_of, screen_text  # noqa: F401 - replay_of is a fixture
from tui.console.app import WatchfloorApp
from tui.console.model import LogFilter, filter_log
from tui.console.screens.base import KeyFooter
from tui.console.widgets.tables import EventTable
from tui.core.clock import MAX_SPEED, FixedClock
from tui.core.engine import Engine
from tui.core.events import FeedStatus
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist

ET_HEADER = "mrt/bgpdump/updates.et-header.2015.gz"
MRT_2007 = "mrt/bgpdump/updates.20070211.0141.gz"
BUSY_2007 = Watchlist([
    NORTH_KOREA,
    Watch("busy", tuple(Prefix.parse(p) for p in (
        "12.170.126.0/24", "64.201.12.0/24", "200.189.160.0/24", "193.242.111.0/24", "62.24.238.0/24",
        "194.88.240.0/23", "194.42.208.0/20", "69.51.0.0/19", "80.67.142.0/23", "201.244.136.0/21",
    ))),
])
"""The busiest prefixes of the 2007 LINX file: a log of thousands of entries."""
WIDE = Watchlist([NORTH_KOREA, Watch("64/4", prefixes=(Prefix.parse("64.0.0.0/4"),))])
"""The et-header capture through a /4: a 54k-event replay."""


async def _settle(pilot, app) -> None:
    await pilot.pause()
    app.redraw_now()
    await pilot.pause()


def _lower_pane(app) -> str:
    text = screen_text(app)
    return next((title[0] for title in ("2 Events", "3 DNS", "4 Plot") if f"─ {title}" in text), "")


async def test_yielding_to_the_ui_lets_a_whole_chain_of_hops_through():
    """One key press is several hops (driver, app, screen, update timer): all of them run
    before the next engine chunk, not one hop per chunk."""
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(1419264000.0))
    app = WatchfloorApp(engine, wall_clock=lambda: 1419264000.0)
    async with app.run_test(size=(80, 24)):
        loop = asyncio.get_running_loop()
        done: list[int] = []

        def hop(n: int) -> None:
            done.append(n)
            if n < 20:
                loop.call_soon(hop, n + 1)

        loop.call_soon(hop, 1)
        await app._yield_to_ui()
        assert done == list(range(1, 21))


@pytest.mark.slow
async def test_pane_key_during_a_full_speed_replay_is_drawn_between_two_chunks(replay_of):
    session = replay_of(ET_HEADER, WIDE)
    session.clock.speed = MAX_SPEED
    app = WatchfloorApp(session.engine, replay=session)
    steps = 0
    step = session.step

    def counted(real_elapsed: float) -> bool:
        nonlocal steps
        steps += 1
        return step(real_elapsed)

    session.step = counted  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.action_toggle_play()
        while session.cursor < 2000:  # well into the replay, the chunk fitted to the budget
            await asyncio.sleep(0.01)
        for key in "3423":
            before = steps
            # The way a terminal's input thread delivers a key (Pilot.press would wait for idle).
            app._driver.send_message(events.Key(key, key))
            while _lower_pane(app) != key and session.clock.playing:
                await asyncio.sleep(0.002)
            assert session.clock.playing, "the replay ended before the key was drawn"
            # Counted in engine chunks, not in milliseconds: the key's hops all ran between two
            # chunks (here 0 or 1 chunk in between; when each hop waited for a chunk, 9 to 11).
            assert steps - before <= 4, f"key {key} waited {steps - before} chunks"
        assert session.cursor < session.last_seq


async def test_a_fast_speed_never_applies_more_than_a_chunk_per_step(replay_of):
    """At 1000x a step once applied everything due at once: the whole capture in one go."""
    reference = replay_of(ET_HEADER, WIDE)
    reference.clock.speed = MAX_SPEED
    reference.play()
    while reference.clock.playing:
        reference.step(0.0)
    session = replay_of(ET_HEADER, WIDE)
    session.chunk = 500
    session.clock.speed = 1000.0
    session.play()
    steps = 0
    while session.clock.playing:
        before = session.cursor
        session.step(0.05)  # 50 s of data per step at 1000x: more than the whole window
        assert session.cursor - before <= 500
        assert session.clock.position <= session.end
        steps += 1
    assert steps > session.last_seq // 500  # it took many steps, and it got to the end
    assert session.cursor == session.last_seq == reference.cursor
    assert session.clock.position == session.end
    for prefix in ("175.45.176.0/22", "210.52.109.0/24", "64.0.0.0/4"):
        assert session.engine.state.visibility(Prefix.parse(prefix)) == reference.engine.state.visibility(Prefix.parse(prefix))
    assert [e.text for e in session.engine.log] == [e.text for e in reference.engine.log]


async def _fresh_text(session, size, keys=()) -> str:
    """The screen a console opened now on ``session`` shows (everything drawn from scratch)."""
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot, app)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        return screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_event_log_kept_incrementally_shows_what_a_fresh_draw_shows(replay_of, size):
    session = replay_of(MRT_2007, BUSY_2007)
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot, app)
        table = app.screen.query_one(EventTable)
        for count in (3, 40, 7, 250, 1, 600, 2000):  # a few rows, then more than the log shows
            session.step_events(count)
            await _settle(pilot, app)
            wanted = filter_log(session.engine.log, LogFilter())
            assert list(table.entries.values()) == wanted
            assert table.row_count == len(wanted)
        incremental = screen_text(app)
        await pilot.press("2", "ctrl+end")  # the oldest rows, never in view until now
        await pilot.pause()
        scrolled = screen_text(app)
        assert table.selected is wanted[-1]
    assert incremental == await _fresh_text(session, size)
    assert scrolled == await _fresh_text(session, size, ("2", "ctrl+end"))
    assert wanted[-1].text[:20] in scrolled


async def test_scroll_lock_keeps_the_cursor_on_its_event_as_new_ones_arrive(replay_of):
    session = replay_of(MRT_2007, BUSY_2007)
    session.step_events(400)
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        table = app.screen.query_one(EventTable)
        await pilot.press("2", "down", "down", "down")
        assert not app.screen.follow
        reading = table.selected
        session.step_events(30)
        await _settle(pilot, app)
        assert table.selected is reading
        assert table.cursor_row == list(table.entries.values()).index(reading) > 3
        assert reading.text[:20] in screen_text(app)  # and it is in view


async def test_time_column_widens_for_an_older_event_arriving_out_of_view():
    """A live feed may deliver an event from another day behind newer ones: its full date
    widens the time column even while it sits below the view, as a fresh draw would."""
    day = 1419264000.0  # 2014-12-22T16:00:00Z
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(day))
    app = WatchfloorApp(engine, wall_clock=lambda: day + 600)
    async with app.run_test(size=(80, 24)) as pilot:
        engine.ingest([FeedStatus(day + i, "ris_live", "up", f"message {i}") for i in range(40)])
        await _settle(pilot, app)
        engine.ingest([FeedStatus(day - 86400, "ris_live", "up", "from yesterday")])
        engine.ingest([FeedStatus(day + 100 + i, "ris_live", "up", f"later {i}") for i in range(30)])
        await _settle(pilot, app)
        table = app.screen.query_one(EventTable)
        assert table.columns[table.ordered_columns[0].key].content_width == len("2014-12-21T16:00:00Z")
        incremental = screen_text(app)
        fresh = WatchfloorApp(engine, wall_clock=lambda: day + 600)
    async with fresh.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, fresh)
        assert screen_text(fresh) == incremental


async def test_hidden_event_log_catches_up_when_shown(replay_of):
    session = replay_of(MRT_2007, BUSY_2007)
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        await pilot.press("3")  # the DNS pane below: the event log is hidden
        session.step_events(500)
        await _settle(pilot, app)
        table = app.screen.query_one(EventTable)
        newest = session.engine.log[-1]
        await pilot.press("2")
        await pilot.pause()
        assert table.selected is newest and table.cursor_row == 0
        assert list(table.entries.values()) == filter_log(session.engine.log, LogFilter())
        await pilot.press("4", "z")  # the plot maximised hides the log too
        session.step_events(50)
        await _settle(pilot, app)
        await pilot.press("z", "2")
        await pilot.pause()
        assert table.selected is session.engine.log[-1]


async def test_footer_is_rebuilt_only_when_its_keys_change(replay_of):
    session = replay_of(ET_HEADER)
    session.seek(session.end)
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        footer = app.screen.query_one(KeyFooter)
        assert "Open" in screen_text(app).splitlines()[-1]
        keys = list(footer.children)
        await pilot.press("2")  # another table: the same keys
        await pilot.pause()
        assert list(footer.children) == keys
        await pilot.press("4")  # the plot: nothing to open
        await pilot.pause()
        assert "Open" not in screen_text(app).splitlines()[-1]
        await pilot.press("1")
        await pilot.pause()
        assert "Open" in screen_text(app).splitlines()[-1]
