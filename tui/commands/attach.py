"""``watchfloor attach``: a console (or a headless tail) following a running collector.

Two ways to reach the collector:

- ``--journal PATH`` (the default, same host): follow its SQLite journal. The console starts
  from the journal's latest checkpoint plus the rows after it, then applies new rows as the
  collector commits them (:class:`~tui.journal.follow.JournalTail`). ``--from`` opens a replay of
  the journal instead (seek, play, step), read-only, beside the running collector.
- ``--bus nats://HOST:PORT`` (any host): consume the collectors' JetStream stream, from its
  start, from ``--from``, or only new messages (``--new``) (:class:`~tui.bus.nats.NatsFollower`).

Any number of consoles can attach at once; none of them can slow the collector down. Without
``--bus`` the NATS client is never imported.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import math
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tui.bus.protocol import BusError, parse_bus_url
from tui.commands import InputError, Outcome, UsageError, add_config_argument
from tui.commands.console import add_console_arguments
from tui.commands.replay import log_line
from tui.commands.snapshot import add_watch_argument, load_watchlist, plain, time_argument
from tui.core.clock import SystemClock
from tui.core.engine import Engine
from tui.core.events import Event, FeedStatus, event_to_json
from tui.journal.follow import JournalTail, WriterWatch
from tui.journal.replay import ReplaySession
from tui.journal.store import JournalReader, is_journal
from tui.runtime import Driver

__all__ = [
    "register",
    "run",
    "Attachment",
    "BatchPump",
    "attach_bus",
    "attach_journal",
    "default_journal_path",
    "print_events",
]

EPILOG = """\
examples:
  watchfloor attach                                   # follow the local collector's journal
  watchfloor attach --journal /var/lib/watchfloor/watchfloor.journal
  watchfloor attach --from 2014-12-22T16:00Z          # replay a past window of that journal
  watchfloor attach --bus nats://10.0.0.5:4222        # follow collectors on another host
  watchfloor attach --bus nats://10.0.0.5:4222 --from 2014-12-22T16:00Z --until 2014-12-22T18:00Z
  watchfloor attach --headless --jsonl --bus nats://127.0.0.1:4222 --new

exit codes: 0 done, 3 bad usage or config, 4 journal or bus unreachable, 130 interrupted.
"""


def register(subparsers: Any) -> None:
    """Add the ``attach`` sub-command."""
    parser = subparsers.add_parser(
        "attach",
        help="follow a running collector: its journal on this host, or its NATS stream (--bus)",
        description="Open a console (or, with --headless, print events) fed by a running "
        "`watchfloor collect`: its journal on this host, or its JetStream stream with --bus.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--journal", metavar="PATH", help="journal the collector writes (default: the config's [journal] path)"
    )
    source.add_argument("--bus", metavar="URL", help="nats://HOST:PORT[,nats://HOST2:PORT][?stream=NAME&root=TOKEN]")
    parser.add_argument("--from", dest="start", metavar="TIME", help="start at this time (ISO 8601 or unix seconds)")
    parser.add_argument("--until", metavar="TIME", help="stop after this time (a past window)")
    parser.add_argument("--new", action="store_true", help="only what arrives from now on")
    parser.add_argument("--headless", action="store_true", help="print instead of opening the console")
    parser.add_argument("--jsonl", action="store_true", help="with --headless: every event as one JSON object per line")
    parser.add_argument("--count", type=int, metavar="N", help="with --headless: stop after N events")
    parser.add_argument(
        "--subject",
        action="append",
        default=[],
        metavar="SUBJECT",
        help="with --bus: only these subjects (repeatable; e.g. 'watchfloor.finding.>')",
    )
    parser.add_argument("--poll", type=float, default=0.05, metavar="SECONDS", help="journal poll period (default 0.05)")
    add_console_arguments(parser)
    add_watch_argument(parser)
    add_config_argument(parser)
    parser.set_defaults(func=run)


def default_journal_path(config: Any) -> Path | None:
    """The journal the collector writes when not told otherwise: ``[journal] path`` (or None)."""
    configured = getattr(config, "journal_path", "") or ""
    return Path(configured).expanduser() if configured else None


# -- the pump between a batch source and the console ----------------------------------------------


@dataclass
class Attachment:
    """What a console attached to a collector runs on: its engine, the pump and their queue."""

    engine: Any
    pump: BatchPump
    queue: asyncio.Queue[list[Event]]
    label: str


class BatchPump:
    """Feeds the console's live queue from an async batch source (the console's ``feeds`` hook).

    The console calls ``start()`` from its engine worker and ``stop()`` when it closes; batches
    go into the same queue live feeds use, so an attached console is drawn exactly like a live one.
    """

    def __init__(
        self, opener: Callable[[], Any], queue: asyncio.Queue[list[Event]], name: str, *, greeting: Sequence[Event] = ()
    ) -> None:
        self._opener = opener
        self.queue = queue
        self.name = name
        self.greeting = list(greeting)
        """Events put on the queue first (say what the console follows)."""
        self.source: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the source (connect, subscribe) and start moving its batches."""
        source = self._opener()
        if inspect.isawaitable(source):
            source = await source
        self.source = source
        if self.greeting:
            await self.queue.put(self.greeting)
        self._task = asyncio.create_task(self._run(), name=f"attach-{self.name}")

    async def _run(self) -> None:
        async for batch in self.source.batches():
            await self.queue.put(batch)

    async def stop(self) -> None:
        """Stop moving batches and close the source."""
        if self._task is not None:
            self._task.cancel()
            # Bounded: on Python 3.11 a cancellation can be lost inside asyncio.wait_for; closing
            # the source below ends its batches() loop in any case.
            await asyncio.wait([self._task], timeout=2.0)
        if self.source is not None:
            result = self.source.close()
            if inspect.isawaitable(result):
                await result
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task], timeout=5.0)


# -- headless output --------------------------------------------------------------------------


def print_events(batch: list[Event], out: TextIO, *, jsonl: bool, engine: Any) -> int:
    """Write ``batch``, which ``engine`` has applied: each event as JSON (``jsonl``), else the
    engine's event-log lines."""
    if jsonl:
        for event in batch:
            out.write(event_to_json(event) + "\n")
        out.flush()
        engine.log.clear()
        return len(batch)
    for entry in engine.log:
        out.write(log_line(entry) + "\n")
    engine.log.clear()
    out.flush()
    return len(batch)


# -- run ------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> Outcome | int:
    """Run ``watchfloor attach``."""
    watchlist, config = load_watchlist(args)
    start = time_argument(args.start, "--from")
    until = time_argument(args.until, "--until")
    if start is not None and until is not None and until < start:
        raise UsageError("--until is before --from")
    if args.new and start is not None:
        raise UsageError("--new and --from contradict each other: give one")
    if (args.jsonl or args.count is not None) and not args.headless:
        raise UsageError("--jsonl and --count go with --headless")
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.subject and not args.bus:
        raise UsageError("--subject goes with --bus")
    if args.poll <= 0:
        raise UsageError("--poll must be more than 0 seconds")
    if args.bus:
        return _run_bus(args, watchlist, config, start, until)
    return _run_journal(args, watchlist, config, start, until)


# -- over the bus ---------------------------------------------------------------------------------


def _follower(args: argparse.Namespace, start: float | None, until: float | None) -> Any:
    try:
        address = parse_bus_url(args.bus)
    except BusError as exc:
        raise UsageError(f"--bus: {exc}") from None
    from tui.bus.nats import NatsFollower  # the NATS client (nats-py, optional) only with --bus

    return NatsFollower(address, start=start, new_only=args.new, until=until, subjects=args.subject)


def _run_bus(args: argparse.Namespace, watchlist: Any, config: Any, start: float | None, until: float | None) -> Outcome | int:
    follower = _follower(args, start, until)
    if args.headless:
        engine = Engine(watchlist, SystemClock())
        if start is None and not args.new:
            # Printing a whole retained stream is rarely what a tail is for.
            follower.new_only = True
        try:
            return asyncio.run(_headless_bus(follower, engine, args, sys.stdout))
        except BusError as exc:
            raise InputError(str(exc)) from None
    return _console(args, config, attach_bus(follower, watchlist))


async def _started(source: Any) -> Any:
    """``source`` connected; a failure reaches the console's feed-trouble line with its message."""
    await source.start()
    return source


async def _headless_bus(follower: Any, engine: Any, args: argparse.Namespace, out: TextIO) -> Outcome:
    await follower.start()
    try:
        printed = await _drain(follower.batches(), engine, args, out)
    finally:
        await follower.close()
    stats = follower.stats()
    print(
        f"watchfloor attach: {printed} events from {follower.address.display}, "
        f"{stats['duplicates']} duplicates dropped, {stats['rejected']} rejected",
        file=sys.stderr,
    )
    return Outcome.OK


async def _drain(batches: AsyncIterator[list[Event]], engine: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Apply and print ``batches`` through the runtime's driver loop until they end (or --count)."""
    queue: asyncio.Queue[list[Event]] = asyncio.Queue(maxsize=100)
    finished = asyncio.Event()
    printed = 0

    async def pump() -> None:
        sent = 0
        try:
            async for batch in batches:
                if args.count is not None:
                    batch = batch[: args.count - sent]  # the engine sees no more than is printed
                if batch:
                    await queue.put(batch)
                    sent += len(batch)
                if args.count is not None and sent >= args.count:
                    return
        finally:
            finished.set()

    def show(batch: list[Event]) -> None:
        nonlocal printed
        printed += print_events(batch, out, jsonl=args.jsonl, engine=engine)

    def done() -> bool:
        return (args.count is not None and printed >= args.count) or (finished.is_set() and queue.empty())

    moving = asyncio.create_task(pump(), name="attach-headless")
    try:
        await Driver(engine, queue, after_batch=show).run(done=done)
    finally:
        moving.cancel()
        await asyncio.gather(moving, return_exceptions=True)
    return printed


# -- over the journal -----------------------------------------------------------------------------


def _journal_path(args: argparse.Namespace, config: Any) -> Path:
    path = Path(args.journal).expanduser() if args.journal else default_journal_path(config)
    if path is None:
        raise UsageError(
            "which journal? give --journal PATH (what `watchfloor collect --journal` writes), set [journal] path "
            "in the config, or attach to a bus with --bus nats://HOST:PORT"
        )
    if not path.exists():
        raise InputError(f"{path}: no journal there; start `watchfloor collect` (it writes one) or give --journal PATH")
    if not is_journal(path):
        raise InputError(f"{path}: not a watchfloor journal (not an SQLite file)")
    return path


def _run_journal(
    args: argparse.Namespace, watchlist: Any, config: Any, start: float | None, until: float | None
) -> Outcome | int:
    path = _journal_path(args, config)
    if args.headless:
        return _headless_journal(path, watchlist, args, start, until, sys.stdout)
    if start is not None:
        return _replay_console(path, watchlist, config, args, start, until)
    return _console(args, config, attach_journal(path, watchlist, poll=args.poll))


def _tail_from(path: Path, start: float | None, poll: float) -> Any:
    """A tail positioned just before ``start`` (replay time), or at the end when None."""
    if start is None:
        return JournalTail.at_end(path, poll_interval=poll)
    with JournalReader(path) as reader:
        after = reader.last_seq_at(math.nextafter(start, -math.inf))
    return JournalTail(path, after_seq=after, poll_interval=poll)


def _headless_journal(
    path: Path, watchlist: Any, args: argparse.Namespace, start: float | None, until: float | None, out: TextIO
) -> Outcome:
    engine = Engine(watchlist, SystemClock())
    tail = _tail_from(path, start, args.poll)
    if until is None:
        # Following: say when the collector is gone. A past window is complete as it is.
        tail.writer_watch = WriterWatch(path)
    printed = 0

    async def batches() -> AsyncIterator[list[Event]]:
        # The window is in replay time (the journal's ``t``), as for `watchfloor replay`.
        while True:
            found = tail.watched(tail.poll_timed())
            for t, batch in found:
                if until is not None and t > until:
                    return
                yield batch
            if not found:
                if until is not None and time.time() > until:
                    return  # caught up with a window that lies in the past
                await asyncio.sleep(tail.poll_interval)

    try:
        printed = asyncio.run(_drain(batches(), engine, args, out))
    finally:
        tail.close()
    print(f"watchfloor attach: {printed} events from {path}, {tail.rejected} unreadable rows", file=sys.stderr)
    return Outcome.OK


def attach_journal(path: Path, watchlist: Any, *, poll: float = 0.05) -> Attachment:
    """An engine holding the journal's current state, and a pump that will feed it new rows."""
    # The collector's detectors already ran: show the findings it recorded, do not rerun them.
    with ReplaySession.open(path, watchlist, findings="recorded") as session:
        session.seek(session.end)  # the latest checkpoint + the rows after it
        engine, cursor = session.engine, session.cursor
        # Stamped with the journal's time, not the wall clock: a journal of old data (a collector
        # fed from files) must not get a sample from today in the middle of its timeline.
        said_at = session.end if cursor else time.time()
    engine.clock = SystemClock()
    queue: asyncio.Queue[list[Event]] = asyncio.Queue()
    hello = [FeedStatus(said_at, "journal", "up", f"following {path.name} from event #{cursor}")]

    feeds = {name: health.state for name, health in engine.feeds.items()}

    def opener() -> Any:
        tail = JournalTail(path, after_seq=cursor, poll_interval=poll)
        tail.writer_watch = WriterWatch(path, feeds)
        return tail

    return Attachment(engine, BatchPump(opener, queue, f"journal {path}", greeting=hello), queue, f"journal {path}")


def attach_bus(follower: Any, watchlist: Any) -> Attachment:
    """An empty engine, and a pump that will connect ``follower`` and feed it the stream."""
    queue: asyncio.Queue[list[Event]] = asyncio.Queue()
    label = f"bus {follower.address.display}"
    return Attachment(Engine(watchlist, SystemClock()), BatchPump(lambda: _started(follower), queue, label), queue, label)


def _replay_console(
    path: Path, watchlist: Any, config: Any, args: argparse.Namespace, start: float, until: float | None
) -> int:
    session = ReplaySession.open(path, watchlist, findings="recorded")
    with session:
        from tui.console.app import run_replay  # Textual only past this point

        return int(run_replay(session, config, args, start=start, until=until) or 0)


def _console(args: argparse.Namespace, config: Any, attachment: Attachment) -> int:
    """Open the console in live mode, fed by the attachment's pump instead of live feeds."""
    from tui.console.app import run_attached  # Textual only past this point

    return int(run_attached(attachment.engine, attachment.pump, attachment.queue, config, args, plain(attachment.label)) or 0)
