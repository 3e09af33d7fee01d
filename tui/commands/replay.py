"""``watchfloor replay``: play sources back through the engine, in the console or headless."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from tui.commands import InputError, Outcome, UsageError, add_config_argument
from tui.commands.console import add_console_arguments
from tui.commands.snapshot import add_watch_argument, load_watchlist, plain, time_argument
from tui.core.clock import MAX_SPEED, VirtualClock, format_time
from tui.core.engine import Engine, LogEntry
from tui.core.events import Event, event_to_dict
from tui.core.watchlist import Watchlist
from tui.journal.replay import ReplaySession, Stepper, rebatch
from tui.journal.sources import open_sources
from tui.journal.store import JournalWriter, is_journal
from tui.runtime import detectors_for

__all__ = ["register", "run", "log_line", "log_json", "fetch_archive"]

EPILOG = """\
SOURCE is an MRT file (plain, .gz or .bz2), a RIS Live capture (one JSON object per line) or a
watchfloor journal, told apart by content. Several SOURCEs are merged in time order. Without
SOURCE, --from/--until fetch the window's MRT archives (BGPStream broker) when that is set up.

examples:
  watchfloor replay --headless updates.et-header.2015.gz
  watchfloor replay --headless --jsonl --from 2014-12-22T16:00Z --until 2014-12-23T00:00Z my.journal
  watchfloor replay --headless --watch 210.52.109.0/24 rib.gz updates.*.gz
  watchfloor replay bview.20141222.0000.gz updates.20141222.*.gz     # opens the console

exit codes: 0 done, 3 bad usage or config, 4 a SOURCE could not be read.
"""

fetch_archive: Any = None
"""Hook for ``replay --from/--until`` without SOURCE: ``fetch_archive(start, until, config) -> [paths]``.

The BGPStream feed sets it (``tui.feeds.bgpstream``); while it is None, SOURCE is required.
"""


def register(subparsers: Any) -> None:
    """Add the ``replay`` sub-command."""
    parser = subparsers.add_parser(
        "replay",
        help="replay MRT files, RIS Live captures or a journal (console, or --headless event log)",
        description="Replay sources through the same engine as live. In the console: play, pause, speed, "
        "seek. With --headless: print the event log for the watched prefixes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="MRT file, RIS Live capture or journal")
    parser.add_argument("--headless", action="store_true", help="print the event log instead of opening the console")
    parser.add_argument("--from", dest="start", metavar="TIME", help="first time to show (ISO 8601 or unix seconds)")
    parser.add_argument("--until", metavar="TIME", help="last time to show (ISO 8601 or unix seconds)")
    parser.add_argument("--jsonl", action="store_true", help="with --headless: one JSON object per event")
    parser.add_argument(
        "--collectors", metavar="LIST",
        help="with --from/--until and no SOURCE: archive collectors to fetch, comma-separated "
        "(e.g. rrc00,route-views2; default feeds.bgpstream.collectors, else all)",
    )
    parser.add_argument(
        "--bgpstream-backend", choices=("auto", "broker", "pybgpstream"), default="auto",
        help="how archives are fetched: pybgpstream when installed (auto), or the broker's HTTP API",
    )
    add_console_arguments(parser)
    add_watch_argument(parser)
    add_config_argument(parser)
    parser.set_defaults(func=run)


def log_line(entry: LogEntry) -> str:
    """One plain-text line of the event log (untrusted text escaped)."""
    watch = f" [{plain(entry.watch)}]" if entry.watch else ""
    return f"{format_time(entry.ts, precise=True)} {entry.severity:<8} {entry.kind:<9}{watch} {plain(entry.text)}"


def log_json(entry: LogEntry) -> dict[str, Any]:
    """One ``--jsonl`` object (format in docs/cli.md)."""
    return {
        "time": format_time(entry.ts, precise=True),
        "ts": entry.ts,
        "severity": entry.severity,
        "kind": entry.kind,
        "watch": entry.watch,
        "subject": entry.subject,
        "text": entry.text,
        "event": event_to_dict(entry.event) if entry.event is not None else None,
    }


def _sources(
    args: argparse.Namespace, config: Any, watchlist: Watchlist, start: float | None, until: float | None
) -> list[str]:
    if args.sources:
        return list(args.sources)
    if start is None or until is None:
        raise UsageError("give a SOURCE (MRT file, RIS Live capture or journal), or --from and --until")
    if fetch_archive is None:
        return [str(p) for p in fetch_for_replay(args, config, watchlist, start, until)]
    return [str(p) for p in fetch_archive(start, until, config)]


def fetch_for_replay(
    args: argparse.Namespace, config: Any, watchlist: Watchlist, start: float, until: float
) -> list[Path]:
    """``replay --from --until`` without SOURCE: the window's files from the public archives.

    Reads ``--collectors`` (else ``feeds.bgpstream.collectors``) and ``--bgpstream-backend`` from
    ``args``; the broker URL and cache folder from ``config``; keeps what ``watchlist`` (the
    replay's own) watches. Progress goes to
    stderr (a bar on a terminal). A backend that cannot be used is a :class:`UsageError`, a
    failed fetch an :class:`InputError`.
    """
    # The archive client (httpx, the broker, pybgpstream) only for a replay that fetches.
    from tui.feeds.bgpstream import BackendError, BgpstreamError, TextProgress, fetch_window

    text = getattr(args, "collectors", None)
    collectors = [c.strip() for c in text.split(",") if c.strip()] if text else list(config.feeds.bgpstream_collectors)
    backend = getattr(args, "bgpstream_backend", None) or "auto"

    def say(message: str) -> None:
        print(f"watchfloor: {message}", file=sys.stderr)

    def write_journal(path: Path, batches: Iterable[list[Event]]) -> None:
        with JournalWriter(path, watchlist=watchlist, background=False) as writer:
            for batch in batches:
                writer.append(batch)

    try:
        return fetch_window(
            start, until, collectors, broker_url=config.feeds.bgpstream_broker,
            cache_dir=config.feeds.bgpstream_cache_dir or None, progress=TextProgress(sys.stderr),
            backend=backend, watchlist=watchlist, log=say, write_journal=write_journal,
        )
    except BackendError as exc:
        raise UsageError(f"bgpstream: {exc}") from None
    except BgpstreamError as exc:
        raise InputError(f"bgpstream: {exc}") from None


def run(args: argparse.Namespace) -> Outcome | int:
    """Run ``watchfloor replay``."""
    watchlist, config = load_watchlist(args)
    start = time_argument(args.start, "--from")
    until = time_argument(args.until, "--until")
    if start is not None and until is not None and until < start:
        raise UsageError("--until is before --from")
    if args.jsonl and not args.headless:
        raise UsageError("--jsonl goes with --headless")
    paths = _sources(args, config, watchlist, start, until)
    if args.headless and not (len(paths) == 1 and is_journal(paths[0])):
        # Nothing to seek in: the files are read once, straight through the engine, as a
        # recording into a journal would read them (same batches, same ticks, same log).
        stream_headless(paths, watchlist, detectors_for(config, watchlist), sys.stdout, start=start, until=until,
                        jsonl=args.jsonl)
        return Outcome.OK
    session = ReplaySession.open(
        paths, watchlist, detectors=detectors_for(config, watchlist), **config.checkpoint_options(),
        log_size=1_000_000 if args.headless else 5000,
    )
    with session:
        if not args.headless:
            from tui.console.app import run_replay  # Textual only past this point

            return int(run_replay(session, config, args, start=start, until=until) or 0)
        play_headless(session, sys.stdout, start=start, until=until, jsonl=args.jsonl)
    return Outcome.OK


def _write_log(engine: Any, out: TextIO, jsonl: bool, shown: bool = True) -> int:
    """Print the engine's log entries (or drop them, before ``--from``) and empty the log."""
    printed = 0
    if shown:
        for entry in engine.log:
            out.write(json.dumps(log_json(entry), separators=(",", ":")) + "\n" if jsonl else log_line(entry) + "\n")
            printed += 1
    engine.log.clear()
    return printed


def stream_headless(
    paths: list[str], watchlist: Any, detectors: list[Any], out: TextIO, *, start: float | None, until: float | None,
    jsonl: bool,
) -> int:
    """Play file SOURCEs once through the engine at full speed, printing the log from ``start``.

    The batches and ticks are the replay's (:func:`~tui.journal.replay.rebatch`,
    :class:`~tui.journal.replay.Stepper`), so the lines are those a replay of the recorded
    journal prints, without writing that journal first.
    """
    clock = VirtualClock(0.0, math.inf)
    engine = Engine(watchlist, clock, detectors=detectors, log_size=1_000_000)
    stepper = Stepper(engine, clock, tick_interval=1.0, rerun_findings=True)
    cut = False

    def until_window(batches: Any) -> Any:
        nonlocal cut
        for batch in batches:
            if until is not None and batch and batch[-1].ts > until:
                kept = [e for e in batch if e.ts <= until]
                cut = True
                if kept:
                    yield kept
                return
            yield batch

    printed = 0
    previous: float | None = None
    silent = start is not None
    for batch in until_window(rebatch(open_sources(paths, watchlist))):
        t = max(e.ts for e in batch)
        t = t if previous is None else max(t, previous)
        if silent and t >= start:
            # What is due before --from builds the state silently, as a seek there would.
            stepper.tick_through(math.nextafter(start, -math.inf))  # type: ignore[arg-type]
            _write_log(engine, out, jsonl, shown=False)
            silent = False
        stepper.apply(batch, t)
        previous = t
        printed += _write_log(engine, out, jsonl, not silent)
    if previous is not None:
        end = until if cut and until is not None else previous
        stepper.tick_through(end)
        clock.position = end
        engine.ending(end, "window" if cut else "data")
        printed += _write_log(engine, out, jsonl, not silent)
    out.flush()
    return printed


def play_headless(session: Any, out: TextIO, *, start: float | None, until: float | None, jsonl: bool) -> int:
    """Play ``session`` at full speed, printing the event log between ``start`` and ``until``."""
    engine = session.engine
    if start is not None and start > session.start:
        # Everything before --from builds the state silently; the log starts at --from.
        session.seek(math.nextafter(start, -math.inf))
    engine.log.clear()
    if until is not None:
        session.clock.end = min(session.clock.end, max(until, session.clock.position))
    session.clock.speed = MAX_SPEED
    session.play()
    printed = 0
    ended = False
    while True:
        session.step(0.0)
        if not session.clock.playing and not ended:
            # What the window stops in the middle of: pending and still-open findings.
            engine.ending(session.clock.end, session.ending)
            ended = True
        printed += _write_log(engine, out, jsonl)
        if ended:
            break
    out.flush()
    return printed
