"""Collector → console over NATS JetStream, as ratios to the same path through the journal.

``.venv/bin/python bench/nats_throughput.py [--events N] [--repeats R] [--memory]``

Both paths are measured the same way, with a producer process standing for the collector and
the benchmark process standing for the console:

- bus:     producer ``NatsPublisher`` (JetStream, file storage; ``--memory`` for memory) →
           nats-server on 127.0.0.1 → ``NatsFollower`` (ordered push consumer)
- journal: producer ``JournalWriter`` (SQLite WAL, default 1 s commit interval) →
           ``JournalTail`` (default 0.05 s poll)

Two measurements per path, best (throughput) or median (latency) of ``--repeats`` runs:

- throughput: N real events (the et-header capture's bgpdump output, in batches of 100, as the
  engine hands them to its recorders) as fast as the producer can; events per second from the
  producer's first append to the consumer's receipt of the last event;
- latency to receipt: one small batch every 20 ms, each with a probe event stamped with the
  wall clock at append; the consumer's clock at receipt minus the stamp (same host, same
  clock): median and 95th percentile;
- latency to screen: the same paced probes, consumed by the console itself (the headless
  Textual app, attached as ``watchfloor attach`` attaches: the pump, the engine worker, the
  10 Hz redraw timer); a probe is on screen when the redraw that first includes it has
  refreshed the tables. This is what an operator waits for.

Prints a table with the ratios bus / journal and writes ``bench/results/nats_throughput-<UTC>.json``.
Exit status 2 when nats-server or the data is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from nats_lab import NatsServer, bgpdump_events, find_nats_server  # noqa: E402
from tui.core.events import FeedStatus  # noqa: E402

SHARED = Path(os.environ.get("WATCHFLOOR_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data" / "mrt" / "bgpdump" / "expected" / "updates.et-header.2015.gz.bgp.gz"
BATCH = 100
PACE = 0.02
PROBES = 100
PROBE_FEED = "bench-probe"
LIMIT = 300.0


def probe(index: int) -> FeedStatus:
    """An event carrying the wall clock at the moment it is handed to the producer's recorder."""
    return FeedStatus(time.time(), PROBE_FEED, "up", str(index))


# -- producers (child processes) -------------------------------------------------------------------


async def _produce(path: str, target: str, count: int, mode: str, memory: bool) -> None:
    events = bgpdump_events(DATA, limit=count)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    if path == "bus":
        from tui.bus.nats import NatsPublisher, StreamSettings

        recorder: Any = NatsPublisher(target, "bench", heartbeat_interval=60, settings=StreamSettings(memory=memory))
        await recorder.start()
    else:
        from tui.journal.store import JournalWriter

        recorder = JournalWriter(target, checkpoint_interval=1e12)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    started = time.time()
    if mode == "burst":
        for batch in batches:
            recorder.append(batch)
            if path == "bus":
                await recorder.throttle()
        recorder.append([probe(-1)])  # the end marker
    else:
        for index in range(PROBES):
            recorder.append([*batches[index % len(batches)][:10], probe(index)])
            await asyncio.sleep(PACE)
    if path == "bus":
        await recorder.close(timeout=LIMIT)
    else:
        await asyncio.get_running_loop().run_in_executor(None, recorder.close)
    print(json.dumps({"started": started}), flush=True)


# -- the consumer side (this process) ----------------------------------------------------------------


async def _consume(path: str, target: str, want_events: int, mode: str) -> dict[str, Any]:
    if path == "bus":
        from tui.bus.nats import NatsFollower

        source: Any = NatsFollower(target, new_only=True, idle_check=0.05)
        await source.start()
    else:
        from tui.journal.follow import JournalTail

        source = JournalTail(target)
    return {"source": source}


class _ProbesOnScreen:
    """The engine's recorder in the screen run: notes probes as applied, and when drawn."""

    def __init__(self) -> None:
        self.pending: list[float] = []
        self.latencies: list[float] = []

    def append(self, events: Any) -> None:
        self.pending.extend(e.ts for e in events if isinstance(e, FeedStatus) and e.feed == PROBE_FEED)

    def drawn(self, now: float) -> None:
        self.latencies.extend(now - stamp for stamp in self.pending)
        self.pending.clear()


async def _on_screen(path: str, target: str, producer: Any) -> dict[str, Any]:
    """The paced run consumed by the headless console: latencies from append to redraw."""
    from tui.commands.attach import BatchPump, attach_bus
    from tui.console.app import WatchfloorApp
    from tui.core.clock import SystemClock
    from tui.core.engine import Engine
    from tui.core.watchlist import NORTH_KOREA, Watchlist

    watchlist = Watchlist([NORTH_KOREA])
    if path == "bus":
        from tui.bus.nats import NatsFollower

        attachment = attach_bus(NatsFollower(target, new_only=True, idle_check=0.05), watchlist)
        engine, pump, queue = attachment.engine, attachment.pump, attachment.queue
    else:
        from tui.journal.follow import JournalTail

        engine, queue = Engine(watchlist, SystemClock()), asyncio.Queue()
        pump = BatchPump(lambda: JournalTail(target), queue, "journal")
    probes = _ProbesOnScreen()
    engine.recorder = probes

    class TimedApp(WatchfloorApp):
        def redraw_if_changed(self) -> None:
            before = self.redraws
            super().redraw_if_changed()
            if self.redraws != before:
                probes.drawn(time.time())

    app = TimedApp(engine, feeds=pump, feed_queue=queue)
    async with app.run_test(size=(80, 24)):
        await asyncio.sleep(0.5)  # the pump is connected before the producer starts
        producer.stdin.write(b"go\n")
        await producer.stdin.drain()
        deadline = time.monotonic() + LIMIT
        while len(probes.latencies) < PROBES and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(producer.stdout.readline(), LIMIT)
    await asyncio.wait_for(producer.wait(), LIMIT)
    return {"latencies": probes.latencies}


async def _run_once(path: str, target: str, count: int, mode: str, memory: bool) -> dict[str, Any]:
    """One producer process, this process consuming; returns seconds or latencies."""
    producer = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", "producer", "--path", path, "--target", target,
        "--events", str(count), "--mode", mode, *(["--memory"] if memory else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert producer.stdout is not None and producer.stdin is not None
    line = await asyncio.wait_for(producer.stdout.readline(), LIMIT)
    if line.strip() != b"ready":
        raise SystemExit(f"producer for {path} did not start: {line!r}")
    if mode == "screen":
        return await _on_screen(path, target, producer)
    source = (await _consume(path, target, count, mode))["source"]
    received = 0
    latencies: list[float] = []
    finished = 0.0
    producer.stdin.write(b"go\n")
    await producer.stdin.drain()
    deadline = time.monotonic() + LIMIT
    async for batch in source.batches():
        now = time.time()
        for event in batch:
            if isinstance(event, FeedStatus) and event.feed == PROBE_FEED:
                if event.detail == "-1":
                    finished = now
                else:
                    latencies.append(now - event.ts)
            elif not isinstance(event, FeedStatus):
                received += 1
        if finished or (mode == "paced" and len(latencies) >= PROBES) or time.monotonic() > deadline:
            break
    summary = json.loads(await asyncio.wait_for(producer.stdout.readline(), LIMIT))
    await asyncio.wait_for(producer.wait(), LIMIT)
    result = source.close()
    if asyncio.iscoroutine(result):
        await result
    if mode == "burst":
        if not finished:
            raise SystemExit(f"{path}: the end marker never arrived ({received} of {count} events)")
        return {"events": received, "seconds": finished - summary["started"]}
    return {"latencies": latencies}


def measure(server: NatsServer, path: str, count: int, repeats: int, memory: bool, workdir: Path) -> dict[str, Any]:
    """Throughput (best of ``repeats``) and latency (all probes of every run) for one path."""
    runs: list[dict[str, Any]] = []
    latencies: list[float] = []
    on_screen: list[float] = []
    for repeat in range(repeats):
        for mode in ("burst", "paced", "screen"):
            if path == "bus":
                target = f"{server.url}?stream=BENCH_{mode}_{repeat}&root=bench{mode}{repeat}"
            else:
                target = str(workdir / f"bench-{mode}-{repeat}.journal")
            outcome = asyncio.run(_run_once(path, target, count, mode, memory))
            if mode == "burst":
                runs.append(outcome)
            elif mode == "paced":
                latencies.extend(outcome["latencies"])
            else:
                on_screen.extend(outcome["latencies"])
    best = min(runs, key=lambda r: r["seconds"])
    ordered = sorted(latencies)
    screen = sorted(on_screen)
    return {
        "events": best["events"],
        "seconds": best["seconds"],
        "events_per_second": best["events"] / best["seconds"],
        "latency_median": statistics.median(ordered),
        "latency_p95": ordered[int(0.95 * (len(ordered) - 1))],
        "probes": len(ordered),
        "screen_median": statistics.median(screen),
        "screen_p95": screen[int(0.95 * (len(screen) - 1))],
        "screen_probes": len(screen),
    }


def table(result: dict[str, Any]) -> str:
    """The human-readable result."""
    bus, journal = result["bus"], result["journal"]
    lines = [
        f"{'path':<10}{'events':>9}{'events/s':>12}{'receipt p50':>14}{'receipt p95':>14}{'screen p50':>14}{'screen p95':>14}",
        *(
            f"{name:<10}{r['events']:>9}{r['events_per_second']:>12,.0f}"
            f"{r['latency_median'] * 1000:>12.1f}ms{r['latency_p95'] * 1000:>12.1f}ms"
            f"{r['screen_median'] * 1000:>12.1f}ms{r['screen_p95'] * 1000:>12.1f}ms"
            for name, r in (("bus", bus), ("journal", journal))
        ),
        f"ratio bus/journal: throughput {result['ratio_throughput']:.2f}x, "
        f"publish to receipt p50 {result['ratio_latency_median']:.3f}x, p95 {result['ratio_latency_p95']:.3f}x, "
        f"publish to screen p50 {result['ratio_screen_median']:.3f}x, p95 {result['ratio_screen_p95']:.3f}x",
        f"(bus storage: {'memory' if result['memory'] else 'file'}; journal commit interval 1 s, poll 0.05 s; "
        f"nats-server {result['nats_server']})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both paths and print the ratios."""
    parser = argparse.ArgumentParser(prog="bench/nats_throughput.py", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events in the throughput run (default 50000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per path (default 3)")
    parser.add_argument("--memory", action="store_true", help="JetStream memory storage instead of file")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where to write the JSON result")
    parser.add_argument("--role", choices=["producer"], help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=["bus", "journal"], help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["burst", "paced", "screen"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "producer":
        asyncio.run(_produce(args.path, args.target, args.events, args.mode, args.memory))
        return 0
    binary = find_nats_server()
    if binary is None or not DATA.exists():
        print(f"needs nats-server (found: {binary}) and {DATA}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="watchfloor-bench-") as tmp:
        workdir = Path(tmp)
        server = NatsServer(binary, workdir / "nats")
        (workdir / "nats").mkdir()
        server.start()
        try:
            version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
            bus = measure(server, "bus", args.events, args.repeats, args.memory, workdir)
            journal = measure(server, "journal", args.events, args.repeats, args.memory, workdir)
        finally:
            server.stop()
    result = {
        "bus": bus,
        "journal": journal,
        "ratio_throughput": bus["events_per_second"] / journal["events_per_second"],
        "ratio_latency_median": bus["latency_median"] / journal["latency_median"],
        "ratio_latency_p95": bus["latency_p95"] / journal["latency_p95"],
        "ratio_screen_median": bus["screen_median"] / journal["screen_median"],
        "ratio_screen_p95": bus["screen_p95"] / journal["screen_p95"],
        "memory": args.memory,
        "nats_server": version,
        "events_file": str(DATA),
        "batch": BATCH,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(table(result))
    args.results.mkdir(parents=True, exist_ok=True)
    saved = args.results / f"nats_throughput-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    saved.write_text(json.dumps(result, indent=2))
    print(f"result written to {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
