"""The console app: one engine, shown live or in replay, never behind the feeds.

How the UI keeps up (DESIGN.md, "Many feeds, one engine"):

- events are applied by a worker in the ``engine`` group: in live mode it drains the feeds'
  queue (:class:`tui.runtime.Driver`), in replay it drives the :class:`ReplayControl`. It runs
  on the app's event loop in chunks of a few milliseconds of work; between two replay chunks it
  gives the loop back until the UI has nothing left to run, so a key press is handled and drawn
  between two chunks (not one hop of it per chunk);
- the screen is redrawn by a timer (:attr:`WatchfloorApp.REFRESH_INTERVAL`, 10 Hz) that reads
  ``engine.revision`` and redraws the tables only when it moved. Nothing changed, nothing sent:
  that is what keeps it usable over a slow SSH link.

Entry points for the commands: :func:`run_live` (bare ``watchfloor``) and :func:`run_replay`
(``watchfloor replay SOURCE...`` without ``--headless``).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import math
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol

from textual import work
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from tui.config import ReplayConfig
from tui.console.actions import APP_BINDINGS, REPLAY_BINDINGS, check_keymap
from tui.console.messages import FeedTrouble, ReplayEnded
from tui.console.screens.base import ConsoleScreen
from tui.console.screens.drill import DrillScreen
from tui.console.screens.help import HelpScreen, key_for
from tui.console.screens.jump import JumpScreen
from tui.console.screens.main import MainScreen
from tui.console.themes import THEMES_DIR, load_themes, pick_theme
from tui.core.clock import MAX_SPEED, SystemClock, VirtualClock
from tui.core.events import FeedStatus
from tui.core.prefixes import Prefix
from tui.journal.store import JournalWriter
from tui.runtime import Driver, build_engine

__all__ = ["ReplayControl", "WatchfloorApp", "replay_app", "run_attached", "run_live", "run_replay"]


class ReplayControl(Protocol):
    """What the console needs from a replay (``tui.journal.replay.ReplaySession`` has it)."""

    engine: Any
    clock: VirtualClock

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...

    def step(self, real_elapsed: float) -> bool: ...
    def play(self) -> None: ...
    def pause(self) -> None: ...
    def toggle(self) -> None: ...
    def faster(self) -> float: ...
    def slower(self) -> float: ...
    def seek(self, ts: float) -> Any: ...
    def step_events(self, n: int) -> Any: ...
    def next_event_of_note(self) -> Any: ...
    def previous_event_of_note(self) -> Any: ...


_EXIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Signals on which the console exits as ``q`` does (see :meth:`WatchfloorApp._exit_on_signals`)."""


class WatchfloorApp(App[int]):
    """The console over one engine; ``replay`` set means replay mode, else live."""

    TITLE = "Watchfloor"
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS, *REPLAY_BINDINGS]

    REFRESH_INTERVAL = 0.1
    """Seconds between redraw checks: at most 10 redraws a second however fast events come."""
    STEP_BUDGET = 0.02
    """Seconds of engine work per worker turn at full speed before the UI gets the loop back
    (the longest a key press waits for the engine; chunks aim at half of it)."""
    PLAY_TICK = 0.05
    """Seconds between replay steps when not at full speed (and poll period when paused)."""
    LIVE_BUDGET = 0.05
    """Seconds of queued live batches applied per worker turn."""
    UI_TURNS = 64
    """Most loop turns the replay gives the UI between two chunks (see :meth:`_yield_to_ui`)."""
    MIN_CHUNK = 1
    MAX_CHUNK = 20000
    """Bounds of the replay's rows-per-step at full speed (see :meth:`_fit_chunk`)."""
    FIRST_CHUNK = 32
    """Rows of the first full-speed step: small, the rate is not known yet."""

    def __init__(
        self,
        engine: Any,
        *,
        replay: ReplayControl | None = None,
        feeds: Any = None,
        feed_queue: asyncio.Queue[Any] | None = None,
        theme: str | None = None,
        configured_theme: str | None = None,
        keymap: dict[str, str] | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        themes_dir: Any = THEMES_DIR,
        feeds_note: str = "",
    ) -> None:
        super().__init__()
        self.engine = replay.engine if replay is not None else engine
        self.replay = replay
        self.feeds = feeds
        self.feed_queue = feed_queue
        self.feeds_note = feeds_note
        """Why there are no live feeds (shown in the status line and log), or empty."""
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._drawn_revision = -1
        self._drawn_time: tuple[Any, ...] = ()
        self.redraws = 0
        """How many times the tables were redrawn (the bench and tests read it)."""
        self._replay_opened_at = replay.clock.now() if replay is not None else None
        self._replay_moved = False
        """Set once the replay has played, stepped or jumped: from then on no prompt is shown."""
        if replay is not None and isinstance(getattr(replay, "chunk", None), int):
            replay.chunk = min(replay.chunk, self.FIRST_CHUNK)  # type: ignore[attr-defined]
        for loaded in load_themes(themes_dir).values():
            self.register_theme(loaded)
        self.theme = pick_theme(theme, configured_theme, self.available_themes)
        self._keys = check_keymap(keymap or {})
        if self._keys:
            self.set_keymap(self._keys)
        self._signals_handled: list[tuple[int, Any]] = []
        """(signal, the handler it had) for each signal the app took over while it runs."""

    # -- the clock shown --------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``live`` or ``replay``."""
        return "replay" if self.replay is not None else "live"

    def now(self) -> float:
        """The time the console shows: replay position, or the wall clock."""
        if self.replay is not None:
            return self.replay.clock.now()
        return self._wall_clock()

    @property
    def replay_playing(self) -> bool:
        """Whether the replay is running."""
        if self.replay is None:
            return False
        playing = getattr(self.replay, "playing", None)
        return bool(self.replay.clock.playing if playing is None else playing)

    @property
    def replay_waiting(self) -> bool:
        """Whether the replay sits paused where it opened, never played nor moved (and not at
        its end): the screen then says which keys play it (:meth:`replay_keys`)."""
        replay = self.replay
        if replay is None or self._replay_moved or self.replay_playing:
            return False
        now = replay.clock.now()
        return now == self._replay_opened_at and now < replay.end

    @property
    def replay_at_start(self) -> bool:
        """Whether the replay is at the very start of its window."""
        return self.replay is not None and self.replay.clock.now() <= self.replay.start

    def replay_keys(self) -> dict[str, str]:
        """The keys the replay prompt names, as bound now (``[keys]`` remapping applied)."""
        ids = ("replay.toggle", "replay.faster", "replay.jump", "replay.next_note", "app.help")
        return {action_id: key_for(self, action_id) for action_id in ids}

    # -- lifecycle --------------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        """The main screen."""
        return MainScreen()

    def on_mount(self) -> None:
        """Start the redraw timer and the engine worker."""
        self._exit_on_signals()
        self.set_interval(self.REFRESH_INTERVAL, self.redraw_if_changed, name="redraw")
        if self.replay is not None:
            self._drive_replay()
        else:
            if self.feeds_note:
                self._note_feed_trouble("feeds", self.feeds_note)
            if self.feeds is not None and self.feed_queue is not None:
                self._consume_feeds()  # ticks the detectors as it goes
            else:
                self.set_interval(1.0, self._live_tick, name="detector-tick")

    def _exit_on_signals(self) -> None:
        """Leave as ``q`` does on SIGTERM, and on SIGHUP (the SSH session or terminal went away).

        Python's default for both ends the process at once: the terminal stays in the app's
        mode, a replay's temporary journal (tens of MB for a whole table) stays in the temporary
        directory, and a live journal's last checkpoint is not written. Exiting the app instead
        lets each command's own cleanup run; the exit status is the shell's 128 + the signal.
        """
        loop = asyncio.get_running_loop()
        for signum in _EXIT_SIGNALS:
            previous = signal.getsignal(signum)
            if previous == signal.SIG_IGN:
                continue  # ignored on purpose (nohup): stays so
            try:
                loop.add_signal_handler(signum, self.exit, None, 128 + signum)
            except (NotImplementedError, RuntimeError, ValueError):
                return  # not the main thread, or no such signals here: keep the defaults
            self._signals_handled.append((signum, previous))

    async def on_unmount(self) -> None:
        """Give the signals back and stop the feeds (their sockets and tasks)."""
        loop = asyncio.get_running_loop()
        while self._signals_handled:
            signum, previous = self._signals_handled.pop()
            loop.remove_signal_handler(signum)  # which sets SIG_DFL: put back the command's own
            if previous is not None:  # None: a handler set outside Python, which SIG_DFL replaced
                signal.signal(signum, previous)
        if self.feeds is not None and hasattr(self.feeds, "stop"):
            try:
                result = self.feeds.stop()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # noqa: BLE001 - shutting down: nothing left to tell
                self.log.warning(f"stopping feeds failed: {exc!r}")

    def redraw_if_changed(self) -> None:
        """The timer: redraw tables when the revision moved, the status line when time moved."""
        screen = self._console_screen()
        if screen is None:
            return
        now = self.now()
        shown_time = (int(now), self.replay_playing, getattr(self.replay.clock, "speed", 0) if self.replay else 0)
        revision = self.engine.revision
        if revision != self._drawn_revision:
            self._drawn_revision = revision
            self.redraws += 1
            screen.refresh_data()
            screen.refresh_status()
            self._drawn_time = shown_time
        elif shown_time != self._drawn_time or (self.replay is not None and self.replay_playing):
            self._drawn_time = shown_time
            screen.refresh_status()

    def redraw_now(self) -> None:
        """Redraw at once (after a seek or step: the operator is waiting for it)."""
        self._drawn_revision = -1
        self.redraw_if_changed()

    # -- workers ----------------------------------------------------------------------------------

    @work(group="engine", exclusive=True, name="replay-driver")
    async def _drive_replay(self) -> None:
        """Apply due replay events, at most :attr:`STEP_BUDGET` of work per turn of the loop.

        At full speed, and at any speed when more rows are due than a step applies, it steps
        again as soon as the UI has had its turn (:meth:`_yield_to_ui`); else it sleeps
        :attr:`PLAY_TICK` between steps."""
        replay = self.replay
        assert replay is not None
        last = self._monotonic()
        was_playing = self.replay_playing
        while True:
            now = self._monotonic()
            elapsed, last = now - last, now
            if self.replay_playing:
                self._replay_moved = True  # also when it was started without a key ([replay] autoplay)
                if math.isinf(replay.clock.speed) or replay.clock.speed == MAX_SPEED:
                    deadline = now + self.STEP_BUDGET
                    while self.replay_playing:
                        began = self._monotonic()
                        replay.step(elapsed)
                        elapsed = 0.0
                        ended = self._monotonic()
                        self._fit_chunk(ended - began)
                        if ended + (ended - began) > deadline:  # another chunk would overrun the turn
                            break
                    await self._yield_to_ui()
                else:
                    before = getattr(replay, "cursor", None)
                    began = self._monotonic()
                    replay.step(elapsed)
                    took = self._monotonic() - began
                    chunk = getattr(replay, "chunk", None)
                    # A step applies at most a chunk: when it did, more rows are due (a fast
                    # speed over a dense stretch), so go on at once, keys first, as at max.
                    capped = isinstance(before, int) and isinstance(chunk, int) and replay.cursor - before >= chunk  # type: ignore[attr-defined]
                    if capped or took > self.STEP_BUDGET:
                        self._fit_chunk(took)
                    if capped:
                        await self._yield_to_ui()
                    else:
                        await asyncio.sleep(self.PLAY_TICK)
            else:
                await asyncio.sleep(self.PLAY_TICK)
            playing = self.replay_playing
            if was_playing and not playing and replay.clock.now() >= replay.end:
                self.post_message(ReplayEnded())
            was_playing = playing

    async def _yield_to_ui(self) -> None:
        """Give the loop back until the UI has nothing left ready to run.

        A key press travels through several hops (driver, app, screen, the screen's update
        timer) before it is drawn, each one turn of the event loop. A single ``sleep(0)``
        between engine chunks lets only one hop through, so a key would wait a chunk per
        hop; yielding until no other callback is ready lets the whole chain finish first.
        """
        ready = getattr(asyncio.get_running_loop(), "_ready", None)  # CPython's run queue
        for _ in range(self.UI_TURNS):
            await asyncio.sleep(0)
            if ready is not None and not ready:
                return

    def _fit_chunk(self, took: float) -> None:
        """Size the replay's full-speed chunk so one step stays within :attr:`STEP_BUDGET`.

        One chunk is applied without yielding, so its duration is the worst delay a key press
        can see. On an overrun the chunk shrinks at once to what the rate just measured allows
        (rows cost from microseconds to milliseconds, depending on the watches and detectors:
        halving from thousands took seconds of blocked keys); it grows by a quarter at most
        while well under, so one cheap chunk does not make the next one long.
        """
        chunk = getattr(self.replay, "chunk", None)
        if not isinstance(chunk, int):
            return
        target = self.STEP_BUDGET / 2
        if took > self.STEP_BUDGET and chunk > self.MIN_CHUNK:
            fitted = int(chunk * target / took)
            self.replay.chunk = max(self.MIN_CHUNK, min(chunk // 2, fitted))  # type: ignore[union-attr]
        elif took < target and chunk < self.MAX_CHUNK:
            self.replay.chunk = min(self.MAX_CHUNK, chunk + max(1, chunk // 4))  # type: ignore[union-attr]

    @work(group="engine", exclusive=True, name="live-feeds")
    async def _consume_feeds(self) -> None:
        """Start the feeds, then apply their batches as they come (the runtime's one driver loop)."""
        assert self.feed_queue is not None
        try:
            result = self.feeds.start()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # noqa: BLE001 - a feed that cannot start is shown, never fatal
            self.post_message(FeedTrouble("feeds", f"cannot start: {exc}"))
        await Driver(self.engine, self.feed_queue, budget=self.LIVE_BUDGET, monotonic=self._monotonic).run()

    def _live_tick(self) -> None:
        """Time-based detector checks of a live console without feeds."""
        self.engine.tick()

    def on_feed_trouble(self, message: FeedTrouble) -> None:
        """Show a feed failure in the status line and event log."""
        self._note_feed_trouble(message.feed, message.detail)

    def _note_feed_trouble(self, feed: str, detail: str) -> None:
        self.engine.ingest([FeedStatus(self._wall_clock(), feed, "down", detail)])

    def on_replay_ended(self, _message: ReplayEnded) -> None:
        """Say so (the bar alone is easy to miss), and log what the window stops in the middle of."""
        assert self.replay is not None
        ongoing = self.engine.ending(self.replay.end, getattr(self.replay, "ending", "data"))
        note = f"; {len(ongoing)} findings ongoing at its end (see the event log)" if ongoing else ""
        self.notify(f"end of the replay window{note} (g to jump, [ ] to step)", timeout=4)
        self.redraw_now()

    # -- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Replay keys exist only in replay mode."""
        if action in ("toggle_play", "faster", "slower", "step", "jump", "note") and self.replay is None:
            return False
        return True

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_play(self) -> None:
        """Play or pause the replay."""
        assert self.replay is not None
        self._replay_moved = True
        self.replay.toggle()
        self.screen_status()

    def action_faster(self) -> None:
        """Next speed up: 1x .. 1000x, then as fast as possible."""
        assert self.replay is not None
        self.replay.faster()
        self.screen_status()

    def action_slower(self) -> None:
        """Next speed down."""
        assert self.replay is not None
        self.replay.slower()
        self.screen_status()

    def action_step(self, count: int) -> None:
        """Apply (or undo) ``count`` events."""
        assert self.replay is not None
        self._replay_moved = True
        self.replay.step_events(count)
        self.redraw_now()

    def action_note(self, direction: int) -> None:
        """Go to the next (1) or previous (-1) event of note."""
        assert self.replay is not None
        self._replay_moved = True
        found = self.replay.next_event_of_note() if direction > 0 else self.replay.previous_event_of_note()
        if found is None or found is False:
            self.notify("no " + ("later" if direction > 0 else "earlier") + " event of note", timeout=3)
        self.redraw_now()

    def action_jump(self) -> None:
        """Ask for a time and seek there."""
        assert self.replay is not None

        def done(target: float | None) -> None:
            if target is not None:
                self.seek(target)

        self.push_screen(JumpScreen(self.now(), self.replay.start, self.replay.end), done)

    def seek(self, ts: float) -> None:
        """Move the replay to ``ts`` (clamped to the window) and redraw at once."""
        if self.replay is None:
            return
        self._replay_moved = True
        if ts < self.replay.start or ts > self.replay.end:
            self.notify("outside the replay window: moved to its edge", timeout=3)
        self.replay.seek(min(self.replay.end, max(self.replay.start, ts)))
        self.redraw_now()

    def open_prefix(self, prefix: Prefix, *, watch: str = "", at: float | None = None) -> None:
        """Open the drill-down on ``prefix``; from an event in replay, seek to its time first."""
        if at is not None and self.replay is not None:
            self.seek(at)
        self.push_screen(DrillScreen(prefix, watch=watch, at=at))

    def screen_status(self) -> None:
        """Redraw the status line and replay bar now."""
        screen = self._console_screen()
        if screen is not None:
            screen.refresh_status()

    def _console_screen(self) -> ConsoleScreen | None:
        """The active screen when it is one of ours (not a dialog; none while shutting down)."""
        if not self.is_running:  # shutting down: a timer may still tick while widgets are removed
            return None
        try:
            screen = self.screen
        except ScreenStackError:  # a timer firing while the app closes
            return None
        return screen if isinstance(screen, ConsoleScreen) else None

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: the main actions, then Textual's own (theme, quit, ...)."""
        yield SystemCommand("Help: list every key", "Show the key bindings and their ids", self.action_help)
        if self.replay is not None:
            yield SystemCommand("Replay: play / pause", "Start or stop the replay", self.action_toggle_play)
            yield SystemCommand("Replay: faster", "Next speed up (up to max)", self.action_faster)
            yield SystemCommand("Replay: slower", "Next speed down", self.action_slower)
            yield SystemCommand("Replay: jump to time", "ISO 8601 or relative like -10m", self.action_jump)
            yield SystemCommand(
                "Replay: next event of note", "Seek to the next finding or session change", lambda: self.action_note(1)
            )
            yield SystemCommand("Replay: previous event of note", "Seek to the previous one", lambda: self.action_note(-1))
        if isinstance(screen, MainScreen):
            for name in ("visibility", "events", "dns", "plot"):
                yield SystemCommand(f"Show {name} pane", f"Focus the {name} pane", lambda n=name: screen.action_show_pane(n))
            yield SystemCommand("Events: filter by text", "Only events containing a text", screen.action_filter_text)
            yield SystemCommand("Events: cycle severity filter", "info+, warning+, critical", screen.action_cycle_severity)
            yield SystemCommand("Events: clear filters", "Show every event", screen.action_clear_filters)
            yield SystemCommand(
                "Events: follow / scroll-lock", "Follow the newest event or stay put", screen.action_toggle_follow
            )
        yield from super().get_system_commands(screen)


# -- entry points ---------------------------------------------------------------------------------


def _keymap(config: Any) -> dict[str, str]:
    """The config's ``[keys]``, checked; raises :class:`~tui.console.actions.KeymapError`."""
    return check_keymap(dict(getattr(config, "keys", {}) or {}))


def _app_options(config: Any, theme: str | None) -> dict[str, Any]:
    """The app's theme and keymap options, checked before anything starts (a
    :class:`~tui.console.themes.ThemeError` or a KeymapError says what is wrong)."""
    options: dict[str, Any] = {"theme": theme, "configured_theme": getattr(config, "theme", None), "keymap": _keymap(config)}
    pick_theme(options["theme"], options["configured_theme"], load_themes(THEMES_DIR))
    return options


def replay_app(
    session: ReplayControl,
    config: Any,
    args: Any = None,
    *,
    start: float | None = None,
    until: float | None = None,
    theme: str | None = None,
) -> WatchfloorApp:
    """The console over a replay session, set up as ``watchfloor replay`` opens it.

    ``start``/``until`` narrow the window (``--from``/``--until``): the replay opens at
    ``start`` and stops at ``until``. ``[replay] speed`` sets the speed it opens at and
    ``[replay] autoplay`` starts it at once; otherwise it waits, paused, saying which key plays.
    """
    options = _app_options(config, theme or getattr(args, "theme", None))
    if until is not None and session.start <= until < session.end:
        session.clock.end = until
    if start is not None and session.start < start <= session.end:
        session.seek(start)
    settings = getattr(config, "replay", None) or ReplayConfig()
    session.clock.speed = settings.speed
    if settings.autoplay:
        session.play()
    return WatchfloorApp(session.engine, replay=session, **options)


def run_replay(
    session: ReplayControl,
    config: Any,
    args: Any = None,
    *,
    start: float | None = None,
    until: float | None = None,
    theme: str | None = None,
) -> int:
    """Open the console over a replay session (``watchfloor replay SOURCE...``); see :func:`replay_app`."""
    app = replay_app(session, config, args, start=start, until=until, theme=theme)
    _settle_memory()
    app.run()
    return app.return_code or 0


def _settle_memory() -> None:
    """Collect once, then exempt what exists from later collections (``gc.freeze``).

    Opening a replay leaves a few hundred thousand long-lived objects (modules, the journal,
    Textual); a full collection rescans them all, and one that lands in a full-speed replay
    holds the loop, and so the keys, for tens of milliseconds. Frozen, they are not rescanned.
    """
    gc.collect()
    gc.freeze()


def run_attached(engine: Any, feeds: Any, queue: asyncio.Queue[Any], config: Any, args: Any, label: str) -> int:
    """Open the console over a running collector (``watchfloor attach``).

    ``feeds`` is the attach command's pump (``start()``/``stop()``) putting the batches of a
    journal tail or a NATS consumer on ``queue``: the console runs exactly as live, fed by it.
    """
    options = _app_options(config, getattr(args, "theme", None))
    app = WatchfloorApp(engine, feeds=feeds, feed_queue=queue, **options)
    app.sub_title = f"attached to {label}"
    app.run()
    return app.return_code or 0


def build_live(config: Any, args: Any) -> tuple[Any, Any, asyncio.Queue[Any], str, Any]:
    """The live engine, its feeds (or None and why not) and their queue, and the journal writer."""
    clock = SystemClock()
    watchlist = config.watchlist()
    journal = None
    journal_path = getattr(args, "journal", None) or ""
    if journal_path:
        journal = JournalWriter(journal_path, watchlist=watchlist, **config.checkpoint_options())
    engine = build_engine(config, watchlist, clock, recorder=journal)
    if journal is not None:
        journal.attach(engine)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    try:
        # Imported here: an installation without the live feeds' libraries still opens the console.
        from tui.feeds.live import LiveFeeds
    except ImportError as exc:
        return engine, None, queue, f"live feeds unavailable ({exc}); showing an empty watch floor", journal
    try:
        feeds = LiveFeeds(config, watchlist, queue, clock=clock, dns=True)
    except Exception as exc:  # noqa: BLE001 - a feed that cannot be set up is shown, never fatal
        return engine, None, queue, f"live feeds could not be set up: {exc}", journal
    return engine, feeds, queue, "", journal


def run_live(config: Any, args: Any) -> int:
    """Open the live console (bare ``watchfloor``)."""
    options = _app_options(config, getattr(args, "theme", None))
    engine, feeds, queue, note, journal = build_live(config, args)
    app = WatchfloorApp(engine, feeds=feeds, feed_queue=queue, feeds_note=note, **options)
    try:
        app.run()
    finally:
        if journal is not None:
            journal.close()
    return app.return_code or 0
