"""Events per second through the console (headless Textual app) versus the engine alone.

Both replay the same journal at full speed: the et-header capture (one PCH session sending a
full table) recorded for the North Korea watch plus a watch on 64.0.0.0/4, which keeps about
54,000 of its events. The engine-alone run calls ``ReplaySession.step`` in a loop; the console
run opens the app with ``App.run_test`` (headless), presses play at max speed and waits for
the end, redrawing on its 10 Hz timer meanwhile. The ratio (console / engine) says what the UI
costs; 1.0 would be free.

Usage: .venv/bin/python bench/console_throughput.py [MRT FILE] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui.console.app import WatchfloorApp  # noqa: E402
from tui.core.clock import MAX_SPEED  # noqa: E402
from tui.core.prefixes import Prefix  # noqa: E402
from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist  # noqa: E402
from tui.journal.replay import ReplaySession  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrt" / "bgpdump" / "updates.et-header.2015.gz"


def watchlist() -> Watchlist:
    """North Korea plus a /4 so the replay carries tens of thousands of events."""
    return Watchlist([NORTH_KOREA, Watch("64/4", prefixes=(Prefix.parse("64.0.0.0/4"),))])


def engine_alone(path: str) -> tuple[int, float]:
    """(events, seconds) replaying at full speed with no UI."""
    with ReplaySession.open([path], watchlist()) as session:
        session.clock.speed = MAX_SPEED
        session.play()
        began = time.perf_counter()
        while session.clock.playing:
            session.step(0.0)
        return session.cursor, time.perf_counter() - began


async def _console(path: str) -> tuple[int, float, int, int]:
    with ReplaySession.open([path], watchlist()) as session:
        session.clock.speed = MAX_SPEED
        app = WatchfloorApp(session.engine, replay=session)
        async with app.run_test(size=(120, 40)):
            began = time.perf_counter()
            app.action_toggle_play()
            while session.clock.playing:
                await asyncio.sleep(0.005)
            took = time.perf_counter() - began
            return session.cursor, took, app.redraws, session.chunk


def console(path: str) -> tuple[int, float, int, int]:
    """(events, seconds, redraws, final chunk) replaying at full speed in the headless console."""
    return asyncio.run(_console(path))


def main() -> int:
    """Run both a few times; print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine_runs = [engine_alone(args.file) for _ in range(args.repeat)]
    console_runs = [console(args.file) for _ in range(args.repeat)]
    events = engine_runs[0][0]
    engine_rate = events / statistics.median(t for _, t in engine_runs)
    console_rate = console_runs[0][0] / statistics.median(t for _, t, _, _ in console_runs)
    print(f"input: {args.file} ({events} events in the replay journal)")
    print(f"engine alone : {engine_rate:10.0f} events/s  (median of {args.repeat})")
    print(
        f"console      : {console_rate:10.0f} events/s  (median of {args.repeat}; "
        f"{console_runs[0][2]} redraws, final chunk {console_runs[0][3]} rows)"
    )
    print(f"ratio console/engine: {console_rate / engine_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
