"""``watchfloor record``: read sources once and keep them as a journal that replays and seeks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.commands import Outcome, UsageError, add_config_argument
from tui.commands.snapshot import add_watch_argument, load_watchlist
from tui.core.clock import format_time
from tui.journal.replay import record_sources
from tui.journal.sources import sniff
from tui.journal.store import JournalReader, JournalWriter

__all__ = ["register", "run"]

EPILOG = """\
SOURCE is an MRT file (plain, .gz or .bz2), a RIS Live capture (one JSON object per line) or a
watchfloor journal, told apart by content. Several SOURCEs are merged in time order. Only what
concerns the watched prefixes is kept (plus the sessions heard from), so a journal of a full
table stays small. Checkpoints of the route state are stored every journal.checkpoint_interval
seconds of data (config; 300 by default).

examples:
  watchfloor record --journal nk-2014-12-22.journal bview.20141222.0000.gz updates.20141222.*.gz
  watchfloor record --journal capture.journal --watch 193.0.0.0/21 ris-live-capture.ndjson
  watchfloor replay --headless nk-2014-12-22.journal

exit codes: 0 written, 3 bad usage or config (or the journal path exists), 4 a SOURCE could not
be read or the journal could not be written.
"""


def register(subparsers: Any) -> None:
    """Add the ``record`` sub-command."""
    parser = subparsers.add_parser(
        "record",
        help="record sources into a journal (a replay source that seeks)",
        description="Read SOURCEs and write them to a new journal (SQLite) with route-state checkpoints.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="MRT file, RIS Live capture or journal")
    parser.add_argument("--journal", required=True, metavar="PATH", help="journal file to create (must not exist)")
    add_watch_argument(parser)
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    """Run ``watchfloor record``."""
    watchlist, config = load_watchlist(args)
    target = Path(args.journal)
    if target.exists():
        raise UsageError(f"{target}: already exists; record writes a new journal, choose another --journal path")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such directory for --journal")
    for source in args.sources:
        sniff(source)  # fail on a bad SOURCE before creating anything
    writer = JournalWriter(target, watchlist=watchlist, background=False, **config.checkpoint_options())
    try:
        record_sources(args.sources, watchlist, writer)
    except KeyboardInterrupt:
        # What was read so far is a valid journal: keep it, it replays up to where it stopped.
        writer.close()
        print(f"interrupted: {writer.appended} events kept in {target}", file=sys.stderr)
        raise
    except Exception:
        writer.close(checkpoint=False)
        target.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        raise
    writer.close()
    span = ""
    if writer.appended:
        with JournalReader(target) as reader:
            bounds = reader.bounds()
        if bounds:
            span = f", {format_time(bounds[0])} to {format_time(bounds[1])}"
    print(f"recorded {writer.appended} events, {writer.checkpoints} checkpoints{span} into {target}", file=sys.stderr)
    return Outcome.OK
