"""``watchfloor collect``: feeds, detectors, journal and alert sinks, without a console.

A long-running asyncio service: live feeds (RIS Live, RIPEstat through
:class:`tui.feeds.live.LiveFeeds`) and DNS probes push event batches into one queue; the engine
applies them, the detectors judge them, the journal records them, and findings go to the sinks
(``[alerts]``). SIGTERM or SIGINT stops it cleanly: feeds closed, queued events applied, the
journal committed with a final checkpoint, queued alerts delivered; exit 0.

``--from-files`` replays SOURCE files through the same path at full speed instead (the way
``watchfloor replay`` applies them: one-second batches, detector ticks every second of data
time), so the collector can be run end to end without a network.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import math
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tui.alerts import AlertDispatcher, sinks_from_config
from tui.bus.protocol import BusError, parse_bus_url
from tui.bus.shard import ALL, ShardError, parse_shard, shard_config
from tui.commands import InputError, Outcome, UsageError, add_config_argument
from tui.config import load_config
from tui.core.clock import Clock, SystemClock, VirtualClock
from tui.core.events import Event, Finding
from tui.journal.replay import Stepper, rebatch
from tui.journal.sources import open_sources, sniff
from tui.journal.store import JournalWriter
from tui.runtime import Driver, build_engine, detectors_for

__all__ = ["register", "run", "Collector"]

EPILOG = """\
Without --from-files the collector runs until SIGTERM or SIGINT (Ctrl-C), then shuts down
cleanly and exits 0. It needs at least one feed: RIS Live (unless --no-ris-live or
[feeds.ris_live] enabled = false) or DNS checks of the watched zones (unless --no-dns).

Findings go to the sinks in [alerts] (jsonl, webhooks) and to --jsonl; the journal
(--journal, else [journal] path) records every event and finding for `watchfloor replay`
and `watchfloor report`.

examples:
  watchfloor collect --config /etc/watchfloor.toml --journal /var/lib/watchfloor/nk.journal
  watchfloor collect --no-ris-live --jsonl -                      # DNS checks only, findings on stdout
  watchfloor collect --from-files updates.20141222.*.gz --journal nk.journal --jsonl findings.jsonl

exit codes: 0 stopped cleanly (or all files read), 3 bad usage or config, 4 nothing to collect,
a SOURCE or the VRP file could not be read, or the journal could not be written.
"""


def register(subparsers: Any) -> None:
    """Add the ``collect`` sub-command."""
    parser = subparsers.add_parser(
        "collect",
        help="run feeds, detectors, journal and alerts headless (a service)",
        description="Collect events from the live feeds (or files), detect findings, journal them and send alerts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_argument(parser)
    parser.add_argument("--journal", metavar="PATH", help="journal to append to (default: [journal] path; none if unset)")
    parser.add_argument("--jsonl", metavar="PATH", help="also write findings as JSON lines to PATH (\"-\" for stdout)")
    parser.add_argument("--ris-live-url", metavar="URL", help="RIS Live websocket URL (overrides [feeds.ris_live] url)")
    parser.add_argument("--no-dns", action="store_true", help="do not run DNS checks")
    parser.add_argument("--no-ris-live", action="store_true", help="do not connect to RIS Live")
    parser.add_argument(
        "--from-files", nargs="+", metavar="FILE",
        help="read these SOURCE files (MRT, RIS Live capture, journal) at full speed instead of live feeds",
    )
    parser.add_argument("--quiet", action="store_true", help="no status lines on stderr")
    # Multi-host (docs/multi-console.md): publish to NATS JetStream, share a watchlist.
    parser.add_argument("--bus", metavar="URL", help="also publish every event to NATS JetStream (nats://HOST:PORT)")
    parser.add_argument("--shard", metavar="K/N", help="watch only shard K of N of the watchlist (0 <= K < N)")
    parser.add_argument("--bus-name", metavar="NAME", help="this collector's name on the bus (default: host[-KofN])")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    """Run ``watchfloor collect``."""
    config = load_config(args.config)
    shard, bus = _bus_options(args)
    if shard is not None:
        config = shard_config(config, shard)
    watchlist = config.watchlist()
    say: Callable[[str], None] = (lambda text: None) if args.quiet else _stderr
    collector = Collector(
        config,
        watchlist,
        journal=args.journal if args.journal is not None else (config.journal_path or None),
        jsonl=args.jsonl,
        ris_live_url=args.ris_live_url,
        dns=not args.no_dns,
        ris_live=not args.no_ris_live and config.feeds.ris_live_enabled,
        files=args.from_files,
        say=say,
        bus=bus,
    )
    return asyncio.run(collector.run())


def _bus_options(args: argparse.Namespace) -> tuple[Any, Any]:
    """``--shard`` and ``--bus`` parsed: (Shard or None, NatsPublisher or None); NATS only with --bus."""
    shard = None
    if getattr(args, "shard", None):
        try:
            shard = parse_shard(args.shard)
        except ShardError as exc:
            raise UsageError(f"--shard: {exc}") from None
    if not getattr(args, "bus", None):
        if getattr(args, "bus_name", None):
            raise UsageError("--bus-name goes with --bus")
        return shard, None
    try:
        address = parse_bus_url(args.bus)
    except BusError as exc:
        raise UsageError(f"--bus: {exc}") from None
    from tui.bus.nats import NatsPublisher, default_instance_name  # the NATS client (nats-py, optional) only with --bus

    name = args.bus_name or default_instance_name(shard or ALL)
    return shard, NatsPublisher(address, name, shard=shard or ALL)


def _stderr(text: str) -> None:
    print(f"watchfloor collect: {text}", file=sys.stderr, flush=True)


class _Tee:
    """The engine's recorder: events to the journal, findings to the alert dispatcher."""

    def __init__(self, writer: Any, dispatcher: Any, clock: Clock) -> None:
        self.writer = writer
        self.dispatcher = dispatcher
        self.clock = clock
        self.findings: list[Finding] = []
        self.extra: list[Any] = []
        """More recorders (the NATS publisher of ``--bus``)."""

    def append(self, events: Sequence[Event]) -> None:
        if self.writer is not None:
            self.writer.append(events)
        for recorder in self.extra:
            recorder.append(events)
        found = [e for e in events if isinstance(e, Finding)]
        if found:
            self.findings.extend(found)
            self.dispatcher.publish(found, self.clock.now())


class Collector:
    """The collector service; every slow or outside thing is injectable for tests."""

    def __init__(
        self,
        config: Any,
        watchlist: Any,
        *,
        journal: str | None = None,
        jsonl: str | None = None,
        ris_live_url: str | None = None,
        dns: bool = True,
        ris_live: bool = True,
        files: Sequence[str] | None = None,
        clock: Clock | None = None,
        detectors: Sequence[Any] | None = None,
        sinks: Sequence[Any] | None = None,
        http_transport: Any = None,
        say: Callable[[str], None] = _stderr,
        tick_interval: float = 1.0,
        install_signals: bool = True,
        bus: Any = None,
    ) -> None:
        self.config = config
        self.watchlist = watchlist
        self.journal_path = journal
        self.jsonl = jsonl
        self.ris_live_url = ris_live_url
        self.dns = dns
        self.ris_live = ris_live
        self.files = list(files) if files else None
        self.clock = clock
        self._detectors = detectors
        self._sinks = sinks
        self.http_transport = http_transport
        self.say = say
        self.tick_interval = tick_interval
        self.install_signals = install_signals
        self.bus = bus
        """A started-on-run publisher (``--bus``): start(), append(events), throttle(), close()."""
        self.stopping: asyncio.Event | None = None
        """Set to stop a live run (made inside the event loop; SIGTERM/SIGINT set it)."""
        self.engine: Any = None
        self.writer: Any = None
        self.dispatcher: Any = None
        self.tee: _Tee | None = None

    def request_stop(self) -> None:
        """Ask a live run to shut down (what SIGTERM does)."""
        if self.stopping is not None:
            self.stopping.set()

    # -- set-up ---------------------------------------------------------------------------------

    def _detector_list(self) -> list[Any]:
        if self._detectors is not None:
            return list(self._detectors)
        detectors = detectors_for(self.config, self.watchlist)
        if self.config.rpki_vrp_file:
            vrps = next(d.vrps for d in detectors if hasattr(d, "vrps"))
            self.say(f"RPKI: {len(vrps)} VRPs from {self.config.rpki_vrp_file}")
        return detectors

    def _open_journal(self) -> Any:
        if not self.journal_path:
            self.say("no journal (--journal or [journal] path): events are not recorded")
            return None
        path = Path(self.journal_path).expanduser()
        if not path.parent.is_dir():
            raise UsageError(f"{path.parent}: no such directory for the journal")
        return JournalWriter(path, watchlist=self.watchlist, **self.config.checkpoint_options())

    def _setup(self, clock: Clock) -> None:
        detectors = self._detector_list()
        sinks = list(self._sinks) if self._sinks is not None else sinks_from_config(
            self.config.alerts, jsonl=self.jsonl, transport=self.http_transport
        )
        self.dispatcher = AlertDispatcher(
            sinks, min_severity=self.config.alerts.min_severity, renotify=self.config.alerts.renotify,
            on_error=self.say,
        )
        self.writer = self._open_journal()
        self.tee = _Tee(self.writer, self.dispatcher, clock)
        if self.bus is not None:
            self.tee.extra.append(self.bus)
        self.engine = build_engine(self.config, self.watchlist, clock, detectors=detectors, recorder=self.tee)
        if self.writer is not None:
            self.writer.attach(self.engine)
        self.dispatcher.start()

    async def _shutdown(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as exc:  # noqa: BLE001 - report, and still deliver alerts
                self.say(f"closing the journal failed: {exc}")
        if self.dispatcher is not None:
            await self.dispatcher.aclose()
            failed = sum(s.failed for s in self.dispatcher.stats.values())
            if failed:
                self.say(f"{failed} alert(s) could not be delivered (see messages above)")

    def _summary(self, what: str) -> None:
        assert self.engine is not None and self.tee is not None
        opened = len(self.engine.open_findings())
        applied = sum(v for k, v in self.engine.counters.items() if k != "finding")
        where = f"; journal {self.journal_path}" if self.writer is not None else ""
        self.say(f"{what}: {applied} events, {len(self.tee.findings)} finding events, {opened} findings open{where}")

    # -- running --------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        """Run until stopped (live) or until the files are read; returns the exit code."""
        if self.bus is not None:
            await self._start_bus()
        try:
            if self.files:
                return await self._run_files(self.files)
            return await self._run_live()
        finally:
            if self.bus is not None:
                await self.bus.close()
                stats = self.bus.stats()
                self.say(
                    f"bus: {stats['published']} events published as {stats['instance']}, "
                    f"{stats['duplicates']} already there, {stats['dropped']} dropped, {stats['pending']} unsent"
                )

    async def _start_bus(self) -> None:
        try:
            await self.bus.start()
        except BusError as exc:
            raise InputError(str(exc)) from None
        self.say(f"publishing to {self.bus.address.display} stream {self.bus.address.stream} as {self.bus.instance}")

    async def _run_files(self, files: Sequence[str]) -> Outcome:
        for path in files:
            sniff(path)  # a bad SOURCE fails before anything is created
        clock = VirtualClock(0.0, math.inf)
        self._setup(clock)
        stepper = Stepper(self.engine, clock, tick_interval=self.tick_interval, rerun_findings=True)
        previous: float | None = None
        try:
            for batch in rebatch(open_sources(files, self.watchlist)):
                if not batch:
                    continue
                t = max(e.ts for e in batch)
                t = t if previous is None else max(t, previous)
                stepper.apply(batch, t)
                previous = t
                await asyncio.sleep(0)  # let the alert workers deliver as we go
                if self.bus is not None:
                    await self.bus.throttle()  # the bus sets the pace of a full-speed read
            if previous is not None:
                stepper.tick_through(previous)
        finally:
            self._summary("files read")
            await self._shutdown()
        return Outcome.OK

    async def _run_live(self) -> Outcome:
        clock = self.clock or SystemClock()
        queue: asyncio.Queue[list[Event]] = asyncio.Queue(maxsize=1000)
        stopping = self.stopping = asyncio.Event()
        starters = self._feeds(clock, queue)
        if not starters:
            raise InputError(
                "nothing to collect: RIS Live is off (--no-ris-live or disabled) or unavailable, and no DNS "
                "checks (--no-dns, or no zones in the watches); enable a feed"
            )
        self._setup(clock)
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if self.install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, stopping.set)
                    handled.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass
        tasks: list[asyncio.Task[Any]] = []
        stoppers: list[Callable[[], Any]] = []
        try:
            for name, start, stop in starters:
                outcome = start()
                if inspect.isawaitable(outcome):
                    tasks.append(asyncio.ensure_future(outcome))
                stoppers.append(stop)
                self.say(f"started {name}")
            await self._loop(queue, stopping, clock, tasks)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            for stop in stoppers:
                try:
                    outcome = stop()
                    if inspect.isawaitable(outcome):
                        await asyncio.wait_for(outcome, timeout=5.0)
                except Exception as exc:  # noqa: BLE001 - shutdown goes on whatever a feed does
                    self.say(f"stopping a feed failed: {type(exc).__name__}: {exc}")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            Driver(self.engine, queue).drain()
            self._summary("stopped")
            await self._shutdown()
        return Outcome.OK

    async def _loop(self, queue: asyncio.Queue[list[Event]], stopping: asyncio.Event, clock: Clock, tasks: list[Any]) -> None:
        def feeds_alive() -> None:
            for task in [t for t in tasks if t.done()]:
                tasks.remove(task)
                if not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    self.say(f"a feed stopped: {type(exc).__name__}: {exc}")

        driver = Driver(self.engine, queue, tick_interval=self.tick_interval, on_tick=[self.dispatcher.tick],
                        on_turn=feeds_alive)
        await driver.run(stop=stopping)

    def _feeds(self, clock: Clock, queue: asyncio.Queue[list[Event]]) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
        """(name, start, stop) of the live feeds; an absent module is reported, not fatal."""
        zones = self.config.all_zones() if self.dns else []
        if not self.ris_live and not zones:
            return []
        try:
            # Imported here: --from-files needs no network libraries, and without them the
            # collector still runs what it can (said, not fatal).
            from tui.feeds.live import LiveFeeds
        except ImportError as exc:
            self.say(f"live feeds unavailable ({exc}); running without RIS Live, RIPEstat and DNS checks")
            return []
        kwargs: dict[str, Any] = {"clock": clock, "routing": self.ris_live, "dns": bool(zones)}
        if self.ris_live_url:
            kwargs["ris_live_url"] = self.ris_live_url
        if self.http_transport is not None:
            kwargs["transport"] = self.http_transport
        feeds = LiveFeeds(self.config, self.watchlist, queue, **kwargs)
        names = []
        if self.ris_live:
            names.append(f"live feeds (RIS Live {self.ris_live_url or self.config.feeds.ris_live_url})")
        if zones:
            names.append(f"DNS checks of {', '.join(z.name for z in zones)}")
        return [(" and ".join(names), feeds.start, feeds.stop)]
