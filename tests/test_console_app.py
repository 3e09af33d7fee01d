"""The console driven with Textual's Pilot over real replays (shared MRT files)."""

from __future__ import annotations

import asyncio
import math

import pytest
from textual import events
from textual.widgets import DataTable, Input

from test_console_support import hostile_events, replay_of, screen_text  # noqa: F401 - replay_of is a fixture
from tui.console.actions import ALL_IDS, SECTIONS, KeymapError, check_keymap
from tui.console.app import WatchfloorApp
from tui.console.screens.drill import DrillScreen
from tui.console.screens.help import HelpScreen
from tui.console.screens.jump import JumpScreen
from tui.console.screens.main import MainScreen
from tui.console.themes import ThemeError, load_themes, pick_theme
from tui.console.widgets.tables import EventTable, HistoryTable, RelatedTable, RoutesTable, VisibilityTable
from tui.core.clock import MAX_SPEED, FixedClock
from tui.core.engine import Engine
from tui.core.events import FeedStatus, RouteAnnounced
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist

ET_HEADER = "mrt/bgpdump/updates.et-header.2015.gz"
T_EVENT_77 = 1445565706.959639  # 77.94.35.0/24 announced (row 8 of the et-header replay)


@pytest.fixture
def nk_session(replay_of):
    """The et-header capture replayed for the built-in North Korea watch, positioned at its end."""
    session = replay_of(ET_HEADER)
    session.seek(session.end)
    return session


async def _settle(pilot, app) -> None:
    await pilot.pause()
    app.redraw_now()
    await pilot.pause()


async def test_main_screen_lists_watched_prefixes_worst_first(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        table = app.screen.query_one(VisibilityTable)
        assert [str(table.by_key[k].prefix) for k in table.by_key] == ["175.45.176.0/22", "77.94.35.0/24", "210.52.109.0/24"]
        text = screen_text(app)
        assert "REPLAY" in text and "2015-10-23T02:01:55Z" in text
        assert "✖ crit  175.45.176.0/22" in text  # state as symbol and word, not only colour
        assert "mrt ended" in text  # the feed and its state


async def test_number_keys_switch_and_z_maximises_panes_at_80x24(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        screen = app.screen
        assert screen.has_class("-compact")
        assert screen.query_one("#pane-events").display and not screen.query_one("#pane-dns").display
        await pilot.press("3")
        assert screen.query_one("#pane-dns").display and not screen.query_one("#pane-events").display
        assert "no DNS checks yet" in screen_text(app)
        await pilot.press("4")
        assert app.focused is screen.query_one("#plot")
        await pilot.press("2")
        assert app.focused is screen.query_one(EventTable)
        await pilot.press("z")
        assert screen.maximized is screen.query_one("#pane-events")
        await pilot.press("z")
        assert screen.maximized is None
        await pilot.press("1")
        assert app.focused is screen.query_one(VisibilityTable)


async def test_large_terminal_shows_all_four_panes(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(140, 44)) as pilot:
        await _settle(pilot, app)
        screen = app.screen
        assert not screen.has_class("-compact")
        assert all(screen.query_one(f"#pane-{n}").display for n in ("visibility", "events", "dns", "plot"))


async def test_enter_opens_drilldown_with_routes_and_neighbours_escape_returns(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        table = app.screen.query_one(VisibilityTable)
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        drill = app.screen
        assert isinstance(drill, DrillScreen) and drill.prefix == Prefix.parse("175.45.176.0/22")
        assert drill.query_one(RoutesTable).row_count == 0  # the /22 itself is not announced ...
        related = drill.query_one(RelatedTable)
        await pilot.press("m")
        assert related.row_count == 5  # ... but its four /24s are, and 0/0 covers it
        assert "175.45.179.0/24" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        table.move_cursor(row=table.get_row_index(f"North Korea\x00{Prefix.parse('210.52.109.0/24')}"))
        await pilot.press("enter")
        await pilot.pause()
        text = screen_text(app)
        assert "2914 7018 9929 9929" in text and "AS3856" in text  # path, peer
        assert "origins AS9929" in text and "upstreams AS7018" in text


async def test_enter_on_an_event_opens_its_prefix_at_that_time(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot, app)
        await pilot.press("2")
        events = app.screen.query_one(EventTable)
        row = next(i for i, e in enumerate(events.entries.values()) if e.kind == "announce" and str(e.prefix) == "77.94.35.0/24")
        events.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause()
        drill = app.screen
        assert isinstance(drill, DrillScreen) and str(drill.prefix) == "77.94.35.0/24"
        assert nk_session.clock.now() == pytest.approx(T_EVENT_77)  # the replay moved there
        history = drill.query_one(HistoryTable)
        assert app.focused is history and history.selected is not None
        assert history.selected.ts == pytest.approx(T_EVENT_77)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_replay_keys_play_speed_and_step(nk_session):
    nk_session.seek(nk_session.start)
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    clock = nk_session.clock
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        assert not clock.playing
        await pilot.press("plus", "plus")
        assert clock.speed == 5.0
        await pilot.press("minus")
        assert clock.speed == 2.0
        await pilot.press("greater_than_sign")
        assert clock.speed == 5.0
        await pilot.press("space")
        assert clock.playing
        await pilot.press("space")
        assert not clock.playing
        nk_session.seek(nk_session.start)
        before = nk_session.cursor
        await pilot.press("right_square_bracket")
        assert nk_session.cursor == before + 1
        await pilot.press("right_square_bracket", "right_square_bracket", "left_square_bracket")
        assert nk_session.cursor == before + 2
        assert "2x" not in screen_text(app).split("\n")[1] and "5x" in screen_text(app).split("\n")[1]


async def test_g_jumps_by_relative_and_iso_time_and_refuses_nonsense(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    clock = nk_session.clock
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        end = clock.now()
        await pilot.press("g")
        assert isinstance(app.screen, JumpScreen)
        await pilot.press(*"-10s", "enter")
        assert isinstance(app.screen, MainScreen)
        assert clock.now() == pytest.approx(end - 10)
        await pilot.press("g")
        await pilot.press(*"soon", "enter")
        assert isinstance(app.screen, JumpScreen) and "ISO 8601" in screen_text(app)
        app.screen.query_one(Input).value = "2015-10-23T02:01:47Z"
        await pilot.press("enter")
        assert clock.now() == pytest.approx(1445565707.0)
        rows = app.screen.query_one(VisibilityTable).by_key.values()
        # Seeking redraws at once: at 02:01:47 only 77.94.35.0/24 had been announced.
        assert {str(r.prefix) for r in rows if r.visible} == {"77.94.35.0/24"}
        await pilot.press("g", "escape")
        assert isinstance(app.screen, MainScreen) and clock.now() == pytest.approx(1445565707.0)


async def test_n_and_shift_n_go_to_events_of_note(nk_session):
    nk_session.seek(nk_session.start)
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    clock = nk_session.clock
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        await pilot.press("n")
        first = clock.now()
        assert first > nk_session.start
        await pilot.press("n")
        assert clock.now() > first
        await pilot.press("N")
        assert clock.now() == pytest.approx(first)


async def test_help_lists_every_binding_and_keymap_remaps(nk_session):
    nk_session.seek(nk_session.start)
    app = WatchfloorApp(nk_session.engine, replay=nk_session, keymap={"replay.toggle": "p"})
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        ids = {str(table.get_row_at(i)[2].plain) for i in range(table.row_count)}
        assert ids >= ALL_IDS
        toggle = next(table.get_row_at(i) for i in range(table.row_count) if table.get_row_at(i)[2].plain == "replay.toggle")
        assert toggle[0].plain.strip() == "p"
        back = next(table.get_row_at(i) for i in range(table.row_count) if table.get_row_at(i)[2].plain == "drill.back")
        assert back[0].plain.strip() == "esc"  # named: a raw ESC written to the terminal starts a sequence
        assert not any(ch < " " for ch in screen_text(app).replace("\n", ""))
        await pilot.press("escape")
        assert not nk_session.clock.playing
        await pilot.press("p")
        assert nk_session.clock.playing


def test_every_binding_has_an_id_and_a_description():
    for section in SECTIONS:
        for binding in section.bindings:
            assert binding.id and binding.description, binding


def test_unknown_keymap_id_is_refused_with_a_suggestion():
    with pytest.raises(KeymapError, match="did you mean 'replay.toggle'"):
        check_keymap({"replay.togle": "p"})


def test_themes_are_data_and_no_color_means_mono16():
    themes = load_themes()
    assert {"dark", "light", "high-contrast", "mono16"} <= set(themes)
    assert themes["mono16"].ansi  # the terminal's own 16 colours only
    assert pick_theme(None, None, themes, environ={}) == "dark"
    assert pick_theme(None, "light", themes, environ={}) == "light"
    assert pick_theme(None, "light", themes, environ={"NO_COLOR": "1"}) == "mono16"
    assert pick_theme("high-contrast", None, themes, environ={"NO_COLOR": "1"}) == "high-contrast"
    with pytest.raises(ThemeError, match="choose one of"):
        pick_theme("neon", None, themes, environ={})


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast", "mono16"])
async def test_each_theme_renders(nk_session, theme):
    app = WatchfloorApp(nk_session.engine, replay=nk_session, theme=theme)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        assert app.theme == theme
        assert "175.45.176.0/22" in screen_text(app)


async def test_command_palette_offers_the_main_actions(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Help: list every key",
            "Replay: play / pause",
            "Replay: jump to time",
            "Show dns pane",
            "Events: filter by text",
        ):
            assert wanted in titles


async def test_event_filters_by_text_severity_and_follow(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        events = app.screen.query_one(EventTable)
        total = events.row_count
        await pilot.press("slash", *"179.0", "enter")
        assert events.row_count == 1 and "179.0" in events.selected.text
        await pilot.press("x", "s")
        warnings = [e for e in nk_session.engine.log if e.severity == "warning"]
        assert warnings and events.row_count == len(warnings)
        assert {e.severity for e in events.entries.values()} == {"warning"}
        await pilot.press("x")
        assert events.row_count == total
        await pilot.press("2", "down")  # reading older events: the log stops following
        assert not app.screen.follow and "scroll-lock" in screen_text(app)
        await pilot.press("f")
        assert app.screen.follow and events.cursor_row == 0


async def test_no_redraw_when_nothing_changed(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        drawn = app.redraws
        for _ in range(5):
            app.redraw_if_changed()
            await pilot.pause()
        assert app.redraws == drawn
        nk_session.step_events(-1)
        app.redraw_if_changed()
        assert app.redraws == drawn + 1


@pytest.mark.slow
async def test_key_press_is_answered_during_a_full_speed_replay(replay_of):
    # A watch on 64.0.0.0/4 makes the et-header capture a 54k-event replay (its full table).
    wide = Watchlist([NORTH_KOREA, Watch("64/4", prefixes=(Prefix.parse("64.0.0.0/4"),))])
    session = replay_of(ET_HEADER, wide)
    session.clock.speed = MAX_SPEED
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.action_toggle_play()  # full speed
        while session.cursor == 0:
            await asyncio.sleep(0.01)
        # The way a terminal's input thread delivers a key (Pilot.press would wait for idle,
        # which a full-speed replay never is).
        app._driver.send_message(events.Key("space", " "))
        for _ in range(1000):
            if not session.clock.playing:
                break
            await asyncio.sleep(0.01)
        paused_at = session.cursor
        assert not session.clock.playing
        assert 0 < paused_at < session.last_seq  # it took effect mid-replay
        await pilot.press("2")  # and keys keep working
        assert app.focused is app.screen.query_one(EventTable)
        assert session.cursor == paused_at
        assert math.isinf(session.clock.speed)


class SteppingClock:
    """A monotonic clock that moves ``per_read`` seconds each time it is read.

    Given to the console, it makes every full-speed replay step seem to take ``per_read``
    seconds, whatever this machine's speed: the chunk sizing can be checked without a timing.
    """

    def __init__(self, per_read: float) -> None:
        self.per_read = per_read
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.per_read
        return self.now


@pytest.mark.slow
@pytest.mark.parametrize("machine", ["slow", "quick"])
async def test_the_full_speed_chunk_follows_how_long_each_step_takes(replay_of, machine):
    """A step longer than STEP_BUDGET shrinks the next chunk at once to what the measured rate
    fits in half the budget (at least halving it, down to MIN_CHUNK); one shorter than half the
    budget grows the next by a quarter. The first chunk is FIRST_CHUNK."""
    wide = Watchlist([NORTH_KOREA, Watch("64/4", prefixes=(Prefix.parse("64.0.0.0/4"),))])
    session = replay_of(ET_HEADER, wide)  # 54k events: room for every step below
    session.clock.speed = MAX_SPEED
    budget = WatchfloorApp.STEP_BUDGET
    app = WatchfloorApp(session.engine, replay=session, monotonic=SteppingClock(budget * (1.5 if machine == "slow" else 0.1)))
    steps = 9  # "slow" is at MIN_CHUNK from the 4th step
    given: list[int] = []  # the chunk each step was given, in order
    step = session.step

    def watched_step(real_elapsed: float) -> bool:
        given.append(session.chunk)
        changed = step(real_elapsed)
        if len(given) == steps:
            session.pause()
        return changed

    session.step = watched_step
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.action_toggle_play()  # full speed
        for _ in range(3000):
            if not session.clock.playing:
                break
            await asyncio.sleep(0.01)
    assert given[0] == app.FIRST_CHUNK
    expected = [given[0]]
    took = budget * 1.5  # the slow machine's step; the quick one's is well under half the budget
    while len(expected) < steps:
        chunk = expected[-1]
        fitted = max(app.MIN_CHUNK, min(chunk // 2, int(chunk * (budget / 2) / took)))
        expected.append(fitted if machine == "slow" else chunk + max(1, chunk // 4))
    assert given == expected
    if machine == "slow":
        assert expected[-2:] == [app.MIN_CHUNK, app.MIN_CHUNK]  # and it stays there
    assert session.cursor == sum(given) < session.last_seq  # each step applied exactly its chunk


def test_the_full_speed_chunk_is_kept_within_budget_and_bounds(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    budget = app.STEP_BUDGET
    nk_session.chunk = 1000
    app._fit_chunk(budget)  # on budget: kept
    app._fit_chunk(budget / 2)  # half of it (what a chunk aims at): kept
    assert nk_session.chunk == 1000
    app._fit_chunk(budget * 2)  # twice the budget: cut to a quarter, to land on half of it
    assert nk_session.chunk == 250
    for _ in range(30):
        app._fit_chunk(0.0)
    assert nk_session.chunk == app.MAX_CHUNK  # grows no further
    for _ in range(30):
        app._fit_chunk(budget * 10)
    assert nk_session.chunk == app.MIN_CHUNK  # shrinks no further


async def test_untrusted_text_is_shown_inert(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(1419264000.0))
    app = WatchfloorApp(engine, wall_clock=lambda: 1419264000.0)
    async with app.run_test(size=(200, 50)) as pilot:
        engine.ingest(hostile_events(1419264000.0))
        await _settle(pilot, app)
        await pilot.press("z")  # the event pane, maximised, shows whole lines
        app.screen.query_one(EventTable).focus()
        await pilot.press("z")
        text = screen_text(app)
        assert "[red]x[/red]" in text and "[link=http://e.vil]y[/link]" in text
        assert "␛[2J" in text and "␛]0;pwn␇" in text
        assert "\x1b" not in text and "\x07" not in text
        segments = [seg for strip in app.screen._compositor.render_strips() for seg in strip]
        assert not any(seg.style and seg.style.link for seg in segments)  # no link was made
        await pilot.press("z", "3")
        text = screen_text(app)
        assert "[blink]ns1[/blink]" in text and "␛[2J" in text  # DNS server and diagnosis too


async def test_live_mode_without_feeds_says_why_and_has_no_replay_keys():
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(1419264000.0))
    app = WatchfloorApp(engine, feeds_note="live feeds unavailable (test)", wall_clock=lambda: 1419264000.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        text = screen_text(app)
        assert "LIVE" in text and "feeds down" in text and "unavailable (test)" in text
        assert app.check_action("toggle_play", ()) is False
        await pilot.press("space", "g")
        assert isinstance(app.screen, MainScreen)


class _QueueFeeds:
    """Stands in for tui.feeds.live.LiveFeeds: puts real-shaped batches on the app's queue."""

    def __init__(self, queue: asyncio.Queue, batches: list[list]) -> None:
        self.queue, self.batches, self.stopped = queue, batches, False

    async def start(self) -> None:
        for batch in self.batches:
            await self.queue.put(batch)

    def stop(self) -> None:
        self.stopped = True


async def test_live_batches_from_the_queue_are_applied_by_the_worker():
    t = 1419264000.0
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(t))
    queue: asyncio.Queue = asyncio.Queue()
    nk = Prefix.parse("175.45.176.0/22")
    batches = [
        [FeedStatus(t, "ris_live", "up")],
        [
            RouteAnnounced(t + i, "rrc00", f"192.0.2.{i}", 64500 + i, nk, (64500 + i, 4837, 131279), source="ris_live")
            for i in range(1, 4)
        ],
    ]
    feeds = _QueueFeeds(queue, batches)
    app = WatchfloorApp(engine, feeds=feeds, feed_queue=queue, wall_clock=lambda: t + 10)
    async with app.run_test(size=(80, 24)) as pilot:
        while engine.counters["announce"] < 3:
            await asyncio.sleep(0.01)
        await _settle(pilot, app)
        row = next(r for r in app.screen.query_one(VisibilityTable).by_key.values() if r.prefix == nk)
        assert (row.visible, row.full_feed) == (3, 3)
        assert "ris_live up 7s" in screen_text(app)  # last message at t+3, clock at t+10
        assert app.workers and all(w.group == "engine" for w in app.workers)
    assert feeds.stopped


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_live_console_with_unreachable_feeds_shows_them_down_and_keeps_running(tmp_path):
    """The real LiveFeeds, pointed at loopback ports where nothing listens: a status, not a crash."""
    import dataclasses
    import types

    from tui.config import ZoneConfig, builtin_config
    from tui.console.app import build_live
    from tui.feeds.ris_live import DEFAULT_SOURCE as RIS_LIVE_FEED

    config = builtin_config()
    port = _closed_port()
    config = dataclasses.replace(
        config,
        # Every feed on loopback: the built-in RIPEstat URL and kp.'s NS discovery would leave it.
        zones=(ZoneConfig("kp.", nameservers=(f"127.0.0.1:{port}",)),),
        feeds=dataclasses.replace(
            config.feeds,
            ris_live_url=f"ws://127.0.0.1:{port}/v1/ws/",
            ripestat_enabled=False,
        ),
    )
    engine, feeds, queue, note, journal = build_live(config, types.SimpleNamespace(journal=str(tmp_path / "live.journal")))
    assert feeds is not None and note == "" and journal is not None
    app = WatchfloorApp(engine, feeds=feeds, feed_queue=queue)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(500):
                health = engine.feeds.get(RIS_LIVE_FEED)
                if health is not None and health.state not in ("up", "unknown"):
                    break
                await asyncio.sleep(0.02)
            await _settle(pilot, app)
            text = screen_text(app)
            assert "LIVE" in text and f"{RIS_LIVE_FEED} down" in text and "cannot connect" in text
            assert engine.feeds[RIS_LIVE_FEED].state == "down"
            assert isinstance(app.screen, MainScreen)
    finally:
        journal.close()
    assert (tmp_path / "live.journal").exists()  # --journal records the live run


async def test_plot_survives_buckets_spanning_years_and_marks_outside_the_window():
    """Out-of-order or far-apart buckets once made plotext allocate without bound."""
    from textual.app import App, ComposeResult

    from tui.console.widgets.plot import VisibilityPlot
    from tui.core.timeline import Bucket

    class PlotApp(App[None]):
        def compose(self) -> ComposeResult:
            yield VisibilityPlot(id="plot")

    app = PlotApp()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(VisibilityPlot)
        plot.show("p", [Bucket(1_800_000_000.0, 5, 10), Bucket(1_267_286_400.0, 10, 10, withdrawals=1)],
                  marks=[0.0, 1_267_286_400.0, 4e9])
        await pilot.pause()
        drawn = plot.render()
        text = getattr(drawn, "plain", str(drawn))
        assert "100%" in text  # drawn, with its y axis


async def test_live_console_runs_the_dns_checks_of_watched_zones(tmp_path):
    """Bare `watchfloor` checks the watched zones too: a real NSD on loopback fills the DNS pane."""
    import dataclasses
    import types

    import dns_lab
    from tui.config import ZoneConfig, builtin_config
    from tui.console.app import build_live

    port = dns_lab.free_port()
    zone = dns_lab.zone_text("kp.", 2024010101, {"ns1.kp.": "127.0.0.1"})
    server = dns_lab.nsd(tmp_path, "kp", "127.0.0.1", port, {"kp.": zone}).start()
    try:
        config = builtin_config()
        config = dataclasses.replace(
            config,
            zones=(ZoneConfig("kp.", nameservers=(f"127.0.0.1:{port}",)),),
            feeds=dataclasses.replace(config.feeds, ris_live_enabled=False, ripestat_enabled=False),
        )
        engine, feeds, queue, note, journal = build_live(config, types.SimpleNamespace(journal=""))
        app = WatchfloorApp(engine, feeds=feeds, feed_queue=queue)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(500):
                if any(r.outcome == "ok" and r.serial == 2024010101 for r in engine.dns.values()):
                    break
                await asyncio.sleep(0.02)
            await _settle(pilot, app)
            assert "dns up" in screen_text(app)  # the checks count as a feed in the status line
            await pilot.press("3", "z")  # the DNS pane, maximised so every column shows
            await _settle(pilot, app)
            text = screen_text(app)
            assert "kp." in text and "2024010101" in text and f"127.0.0.1:{port}" in text
    finally:
        server.stop()


# -- what to do at a replay's start, [replay] autoplay --------------------------------------------


async def test_replay_opened_at_its_start_says_which_keys_play_it_until_it_moves(replay_of):
    session = replay_of(ET_HEADER)
    app = WatchfloorApp(session.engine, replay=session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        text = screen_text(app)
        bar = text.split("\n")[1]
        assert "⏸" in bar and "at start: space plays, + faster, g jump, ? keys" in bar
        assert "Replay paused at its start: nothing has been replayed yet" in text  # the event pane
        await pilot.press("plus")  # a new speed is not a start: the prompt stays, at the new speed
        bar = screen_text(app).split("\n")[1]
        assert "2x" in bar and "space plays" in bar
        await pilot.press("space")
        await _settle(pilot, app)
        assert session.clock.playing
        text = screen_text(app)
        assert "space plays" not in text and "Replay paused" not in text
        await pilot.press("space")  # paused again, wherever it got to: it has moved, no prompt
        await _settle(pilot, app)
        assert not session.clock.playing and "space plays" not in screen_text(app)


async def test_replay_prompt_names_the_remapped_keys_and_a_step_clears_it(replay_of):
    session = replay_of(ET_HEADER)
    app = WatchfloorApp(session.engine, replay=session, keymap={"replay.toggle": "p", "replay.jump": "t"})
    async with app.run_test(size=(120, 40)) as pilot:
        await _settle(pilot, app)
        text = screen_text(app)
        assert "paused at start: p plays, + faster, t jumps to a time, ? all keys" in text
        assert "Replay paused at its start" in text and "p plays (again to pause)" in text  # the event pane
        assert "space" not in text.split("\n")[1]
        await pilot.press("right_square_bracket")
        await _settle(pilot, app)
        assert session.cursor == 1 and not session.clock.playing
        assert "p plays" not in screen_text(app)


async def test_no_prompt_when_the_replay_opens_elsewhere_than_where_it_can_play(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)  # positioned at its end
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        assert not app.replay_waiting and "plays" not in screen_text(app)


async def test_replay_autoplay_and_speed_come_from_the_config(replay_of):
    from tui.config import ConfigError, parse_config
    from tui.console.app import replay_app

    session = replay_of(ET_HEADER)
    app = replay_app(session, parse_config("[replay]\nautoplay = true\nspeed = 10\n", "test.toml"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        assert session.clock.speed == 10
        # Playing, or already through the 37 s window at 10x: either way it never waited.
        assert session.clock.playing or session.clock.now() >= session.end
        assert not app.replay_waiting and "plays" not in screen_text(app)
    default = replay_of(ET_HEADER)
    app = replay_app(default, parse_config("", "test.toml"))
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        assert not default.clock.playing and default.clock.speed == 1
        assert "space plays" in screen_text(app).split("\n")[1]
    with pytest.raises(ConfigError, match=r"test.toml:2: replay.speed: expected float .*inf for as fast as possible"):
        parse_config('[replay]\nspeed = "max"\n', "test.toml")
    with pytest.raises(ConfigError, match="must be more than 0"):
        parse_config("[replay]\nspeed = 0\n", "test.toml")
    with pytest.raises(ConfigError, match="did you mean 'autoplay'"):
        parse_config("[replay]\nauto_play = true\n", "test.toml")


# -- the visibility table fits its width --------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "labels"),
    [
        ((80, 24), ["State", "Prefix", "Vis", "Peers", "Watch", "Origin", "Trend", "Age"]),
        ((120, 40), ["State", "Prefix", "Vis", "Peers", "Watch", "Origin", "Trend", "Age"]),
        ((160, 50), ["State", "Prefix", "Vis", "Peers", "Watch", "Origin", "Trend", "Changed"]),
        ((64, 24), ["State", "Prefix", "Vis", "Peers", "Watch", "Origin", "Age"]),  # the sparkline went
    ],
    ids=lambda v: f"{v[0]}x{v[1]}" if isinstance(v, tuple) else None,
)
async def test_visibility_columns_fit_the_width_and_none_is_cut(nk_session, size, labels):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot, app)
        table = app.screen.query_one(VisibilityTable)
        assert [c.label for c in table.fitted] == labels
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing off the right edge
        region = table.region
        lines = screen_text(app).split("\n")[region.y : region.bottom]
        shown = [line[region.x : region.right] for line in lines]
        assert shown[0].split() == labels  # every header whole, in order
        assert table.row_count == 3
        for index in range(table.row_count):
            line = shown[1 + index]
            cells = [cell.plain.strip() for cell in table.get_row_at(index)]
            assert all(cell in line for cell in cells), (cells, line)
        assert ("North Korea" in shown[1]) == (size[0] >= 80)  # at 64, cut to "North…"


# -- the one-line DNS summary -------------------------------------------------------------------


async def test_dns_summary_without_results_says_so_in_every_lower_pane(nk_session):
    app = WatchfloorApp(nk_session.engine, replay=nk_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        for key in ("2", "3", "4"):
            await pilot.press(key)
            assert "╰─ DNS kp.: no results yet ─" in screen_text(app)
    engine = Engine(Watchlist([Watch("v4", prefixes=(Prefix.parse("192.0.2.0/24"),))]), FixedClock(1419264000.0))
    app = WatchfloorApp(engine, wall_clock=lambda: 1419264000.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot, app)
        assert "╰─ DNS: no zones watched ─" in screen_text(app)


@pytest.mark.lab
async def test_dns_summary_line_tells_zone_health_from_real_checks(tmp_path):
    """A real NSD for kp. and a port where nothing listens: one of two nameservers answers."""
    import dns_lab
    from tui.config import ZoneConfig
    from tui.core.clock import SystemClock
    from tui.core.detectors.dns import DnsMonitor
    from tui.feeds.dns_probe import DnsProber, ProbeSettings

    dns_lab.require("nsd")
    port = dns_lab.free_port()
    zone = dns_lab.zone_text("kp.", 2024010101, {"ns1.kp.": "127.0.0.1"})
    server = dns_lab.nsd(tmp_path, "kp", "127.0.0.1", port, {"kp.": zone}).start()
    closed = dns_lab.free_port()  # chosen while NSD holds its port: nothing listens here

    async def check(engine, zones):
        prober = DnsProber(zones, ProbeSettings(timeout=1.0, retries=0))
        try:
            await prober.run_once(engine.ingest)
        finally:
            await prober.aclose()

    kp = ZoneConfig("kp.", nameservers=(f"127.0.0.1:{port}", f"127.0.0.1:{closed}"))
    try:
        engine = Engine(Watchlist([NORTH_KOREA]), SystemClock(), detectors=[DnsMonitor()])
        await check(engine, [kp])
        app = WatchfloorApp(engine)
        async with app.run_test(size=(80, 24)) as pilot:
            await _settle(pilot, app)
            for key in ("2", "3", "4"):  # whichever pane is below the visibility pane
                await pilot.press(key)
                line = next(line for line in screen_text(app).split("\n") if "DNS kp.:" in line)
                assert line.startswith("╰─ DNS kp.: ▲ warn, 1/2 nameservers answering (")
                assert "routing: unknown" in line  # loopback: no route to judge by
            assert app.screen.query_one("#pane-visibility").has_class("-dns-warning")

        both = Engine(Watchlist([NORTH_KOREA, Watch("Lab", zones=("down.lab.",))]), SystemClock(), detectors=[DnsMonitor()])
        await check(both, [kp])
        app = WatchfloorApp(both)
        async with app.run_test(size=(80, 24)) as pilot:
            await _settle(pilot, app)
            assert "╰─ DNS: ▲ 1 warn (kp.) · ? 1 no results yet (down.lab.) ─" in screen_text(app)
            await check(both, [ZoneConfig("down.lab.", nameservers=(f"127.0.0.1:{closed}",))])
            await _settle(pilot, app)
            assert "╰─ DNS: ✖ 1 down (down.lab.) · ▲ 1 warn (kp.) ─" in screen_text(app)
            assert app.screen.query_one("#pane-visibility").has_class("-dns-critical")
    finally:
        server.stop()
