"""Building and running an engine for a command: the one place the parts meet.

Every front end (the console, ``collect``, ``attach``, ``snapshot --live``) needs the same
things: the detectors the config asks for (RPKI validation with its VRP file), an engine, and
a loop that feeds the engine from a queue of event batches and ticks its time-based checks.
They are built here, once, from the config:

- :func:`detectors_for` and :func:`build_engine`;
- :class:`Driver`, the one driver loop: wait for a batch or the next tick, apply batches for
  at most a time budget (then give the event loop back, so a console answers keys), tick the
  engine (and the hooks, e.g. the alert dispatcher's renotify timer) every ``tick_interval``;
- :func:`listen_for`: the live feeds for a fixed time, through a driver (``snapshot --live``).

Files and journals are replayed the replay's way instead (:class:`tui.journal.replay.Stepper`:
one-second batches, ticks on data time), so that a replay reproduces what was recorded.

Errors: :class:`SetupError` when a part the config names cannot be set up (the VRP file).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.config import Config
from tui.core.clock import Clock, SystemClock
from tui.core.detectors import default_detectors
from tui.core.engine import Detector, Engine, Recorder
from tui.core.events import Event
from tui.core.rpki import VrpError, VrpSet, parse_vrps
from tui.core.watchlist import Watchlist

if TYPE_CHECKING:
    import httpx

    from tui.feeds.live import LiveRun

__all__ = ["Driver", "SetupError", "build_engine", "detectors_for", "listen", "listen_for", "load_vrps"]


class SetupError(Exception):
    """A part the configuration names cannot be set up; the message says which and why."""


def load_vrps(path: str) -> VrpSet:
    """Read the ``[rpki] vrp_file``; raises :class:`SetupError` when unreadable or malformed."""
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise SetupError(f"[rpki] vrp_file {file}: cannot read: {exc.strerror or exc}") from None
    try:
        return parse_vrps(data, name=str(file))
    except VrpError as exc:
        raise SetupError(f"[rpki] vrp_file {exc}") from None


def detectors_for(config: Config, watchlist: Watchlist) -> list[Detector]:
    """Every detector, with RPKI validation when ``[rpki] vrp_file`` is set (the same set live
    and replay run, so a replay judges as the live run did)."""
    vrps = load_vrps(config.rpki_vrp_file) if config.rpki_vrp_file else None
    return list(default_detectors(watchlist, vrps=vrps))


def build_engine(
    config: Config,
    watchlist: Watchlist,
    clock: Clock,
    *,
    recorder: Recorder | None = None,
    detectors: Sequence[Detector] | None = None,
    judge: bool = True,
) -> Engine:
    """The engine a front end runs: the config's detectors (none with ``judge=False``: a tail
    of a collector's journal shows the findings that collector recorded)."""
    chosen = list(detectors) if detectors is not None else (detectors_for(config, watchlist) if judge else [])
    return Engine(watchlist, clock, detectors=chosen, recorder=recorder)


class Driver:
    """The one loop that feeds an engine from a queue of event batches, and ticks it.

    ``run`` returns when ``stop`` is set, ``done()`` turns true, or the event loop's clock
    passes ``deadline``; whatever is still queued then is the caller's to :meth:`drain`.
    ``after_batch`` sees each batch once the engine applied it (attach prints it); ``on_tick``
    hooks run with the clock's time at every tick; ``on_turn`` after every wake-up (the
    collector looks for feeds that died there).
    """

    def __init__(
        self,
        engine: Engine,
        queue: asyncio.Queue[list[Event]],
        *,
        tick_interval: float = 1.0,
        budget: float = 0.05,
        on_tick: Sequence[Callable[[float], Any]] = (),
        after_batch: Callable[[list[Event]], Any] | None = None,
        on_turn: Callable[[], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.tick_interval = tick_interval
        self.budget = budget
        """Seconds of queued batches applied per turn before the event loop gets a turn."""
        self.on_tick = list(on_tick)
        self.after_batch = after_batch
        self.on_turn = on_turn
        self._monotonic = monotonic
        self.batches = 0
        """Batches applied so far."""

    async def run(
        self,
        *,
        stop: asyncio.Event | None = None,
        done: Callable[[], bool] | None = None,
        deadline: float | None = None,
    ) -> None:
        """Apply batches as they come and tick, until stopped (see the class docstring)."""
        loop = asyncio.get_running_loop()
        next_tick = self._monotonic() + self.tick_interval
        getter: asyncio.Future[list[Event]] | None = None
        waiter = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            while not (stop is not None and stop.is_set()) and not (done is not None and done()):
                now = self._monotonic()
                if deadline is not None and loop.time() >= deadline:
                    return
                timeout = max(0.0, next_tick - now)
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - loop.time()))
                if done is not None:
                    timeout = min(timeout, 0.2)  # done() is looked at again at least this often
                if getter is None:
                    getter = asyncio.ensure_future(self.queue.get())
                wanted: set[asyncio.Future[Any]] = {getter} if waiter is None else {getter, waiter}
                finished, _ = await asyncio.wait(wanted, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if getter in finished:
                    batch = getter.result()
                    getter = None
                    self._apply(batch)
                    until = self._monotonic() + self.budget
                    while not self.queue.empty() and self._monotonic() < until:
                        self._apply(self.queue.get_nowait())
                if self._monotonic() >= next_tick:
                    self.tick()
                    next_tick = self._monotonic() + self.tick_interval
                if self.on_turn is not None:
                    self.on_turn()
                await asyncio.sleep(0)  # a console's keys and redraws between two turns
        finally:
            if waiter is not None:
                waiter.cancel()
            if getter is not None:
                if getter.done() and not getter.cancelled():
                    self._apply(getter.result())
                else:
                    getter.cancel()

    def tick(self) -> None:
        """Run the engine's time-based checks and the tick hooks now."""
        self.engine.tick()
        now = self.engine.clock.now()
        for hook in self.on_tick:
            hook(now)

    def drain(self) -> None:
        """Apply every batch still queued (at shutdown)."""
        while not self.queue.empty():
            self._apply(self.queue.get_nowait())

    def _apply(self, batch: list[Event]) -> None:
        self.engine.ingest(batch)
        self.batches += 1
        if self.after_batch is not None:
            self.after_batch(batch)


def listen(seconds: float, watchlist: Watchlist, config: Config, **options: Any) -> LiveRun:
    """:func:`listen_for` from synchronous code (``snapshot --live``), in an event loop of its own.

    Here rather than in the command so that a snapshot of files never imports asyncio.
    """
    return asyncio.run(listen_for(seconds, watchlist, config, **options))


async def listen_for(
    seconds: float,
    watchlist: Watchlist,
    config: Config,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    ris_live_url: str | None = None,
    ripestat_url: str | None = None,
    initial_wait: float | None = None,
    ris_live_options: dict[str, Any] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> LiveRun:
    """Listen to the live feeds for ``seconds`` from the start, waiting for the initial state at
    most ``initial_wait`` (default: ``seconds``, counted from the start too).

    A longer ``initial_wait`` keeps the feeds running past ``seconds`` until the initial state
    is in or that time is up. When it is up, what RIPEstat answered so far is applied, then what
    RIS Live said meanwhile.
    """
    # The live feeds (websockets, httpx) are imported for the commands that listen, not by all.
    from tui.feeds.live import GIVE_UP_GRACE, LiveFeeds, LiveRun

    clock = clock or SystemClock()
    engine = engine or Engine(watchlist, clock)
    queue: asyncio.Queue[list[Event]] = asyncio.Queue()
    options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    feeds = LiveFeeds(config, watchlist, queue, clock=clock, transport=transport, ris_live_url=ris_live_url,
                      ripestat_url=ripestat_url, ris_live_options=ris_live_options, **options)
    driver = Driver(engine, queue)
    loop = asyncio.get_running_loop()
    wait = seconds if initial_wait is None else initial_wait
    started = loop.time()
    await feeds.start()
    try:
        await driver.run(done=feeds.bootstrapped.is_set, deadline=started + wait)
        if not feeds.bootstrapped.is_set():
            feeds.give_up_initial_state(f"gave up waiting after {wait:g} s (--initial-wait SECONDS waits longer)")
            await driver.run(done=feeds.bootstrapped.is_set, deadline=loop.time() + GIVE_UP_GRACE)
        await driver.run(deadline=started + seconds)
    finally:
        await feeds.stop()
        driver.drain()
    assert feeds.initial_state is not None  # stop() settles it
    return LiveRun(engine, feeds.initial_state)
