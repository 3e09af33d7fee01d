"""Where the time of ``watchfloor snapshot FILE --all --json`` goes, phase by phase.

Inner figures, labelled so: each phase is timed in this process (CPU seconds, best of N, the
garbage collector tuned as the CLI tunes it), doing what the command does in that order:

- imports: the modules the command imports (byte-compiled), timed once, at the start;
- read: the MRT file into events (``open_sources``: sniff, decompress, decode; ``BulkRoutes``
  for the whole table);
- rebatch: events regrouped into one batch per second of data, as the command does;
- engine: the batches applied (``Engine.ingest``: the table, the watched prefixes' detectors);
- snapshot data: what the output says of each watch (``snapshot_data``: entries, routes,
  more-specifics of the watched prefixes; the whole-table listing is left for the writer);
- output, in three nested parts: ``table_rows`` (every prefix of the table sorted in address
  order, with its cell: full-feed peers holding it, its origins), the listing's columns (that,
  plus each prefix's text and each distinct cell's JSON), and ``write_json`` (all of the output,
  into a string: the columns again, and the writing).

Then the command itself, as users run it (a fresh process, output to /dev/null, median of N
CPU and wall seconds and peak RSS from ``wait4``), next to the sum of the phases: what the
phases leave out is interpreter start-up, parsing the arguments, the configuration and exit.

Usage: .venv/bin/python bench/whole_table_phases.py [--repeat N] [FILE]
(default FILE: ../shared/data/mrt/bgpdump/updates.et-header.2015.gz, N = 3)
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cli import ET_HEADER, REPO, child_environment, measure, watchfloor  # noqa: E402


def phases(path: Path, repeats: int) -> tuple[float, dict[str, float]]:
    """Import seconds and the best CPU seconds of each phase over ``repeats`` runs."""
    clock = time.process_time
    started = clock()
    from tui.cli import _tune_collector
    from tui.commands.snapshot import WHOLE_TABLE, TableListing, snapshot_data, write_json
    from tui.core.clock import FixedClock
    from tui.core.engine import Engine
    from tui.core.watchlist import NORTH_KOREA, Watchlist
    from tui.journal.replay import rebatch
    from tui.journal.sources import open_sources

    imports = clock() - started
    _tune_collector()
    best: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        start = clock()
        result = work()
        best[name] = min(best.get(name, float("inf")), clock() - start)
        return result

    def one_pass() -> None:
        watchlist = Watchlist([NORTH_KOREA, WHOLE_TABLE])
        events = timed("read: MRT records to events", lambda: [e for b in open_sources([path], watchlist) for e in b])
        batches = timed("rebatch: one batch per second of data", lambda: list(rebatch([events])))
        engine = Engine(watchlist, FixedClock())
        timed("engine: apply the batches", lambda: [engine.ingest(b) for b in batches])
        data = timed("snapshot data: the watches' entries", lambda: snapshot_data(engine, engine.last_event_ts))
        listing = next(p["more_specifics"] for p in data["prefixes"] if isinstance(p["more_specifics"], TableListing))
        timed("output: table_rows (sort, cells)", lambda: engine.state.table_rows(4))
        timed("output: columns (table_rows, texts, JSON cells)", listing._columns)
        timed("output: write_json (all of the output)", lambda: write_json(data, io.StringIO()))

    for _ in range(repeats):
        one_pass()
        gc.collect()
    return imports, best


def command(path: Path, repeats: int) -> dict[str, float]:
    """Median CPU and wall seconds and peak RSS of the command itself, as a user runs it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "tui")], check=True)
    with tempfile.TemporaryDirectory() as scratch:
        env = child_environment(Path(scratch))
        runs = [measure([*watchfloor(), "snapshot", str(path), "--all", "--json"], env, Path(scratch))
                for _ in range(repeats)]
    return {
        "cpu_s": statistics.median(r.cpu for r in runs),
        "wall_s": statistics.median(r.wall for r in runs),
        "rss_mb": max(r.rss_mb for r in runs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("file", nargs="?", type=Path, default=ET_HEADER)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.file.exists():
        print(f"missing {args.file} (../shared/data, or WATCHFLOOR_SHARED)", file=sys.stderr)
        return 2
    print(f"{args.file.name}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    imports, best = phases(args.file, args.repeat)
    print(f"inner figures (in-process CPU seconds, best of {args.repeat}):")
    print(f"  {'imports (byte-compiled)':52} {imports:6.3f}")
    for name, seconds in best.items():
        print(f"  {name:52} {seconds:6.3f}")
    before_output = sum(v for k, v in best.items() if not k.startswith("output:"))
    total = imports + before_output + best["output: write_json (all of the output)"]
    print(f"  {'sum (imports .. snapshot data, write_json)':52} {total:6.3f}")
    figures = command(args.file, max(args.repeat, 5))
    print(f"the command (fresh process, median of {max(args.repeat, 5)}): cpu {figures['cpu_s']:.3f} s, "
          f"wall {figures['wall_s']:.3f} s, peak RSS {figures['rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
