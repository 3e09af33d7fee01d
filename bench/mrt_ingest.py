"""In-process MRT reader figures (a part, not the product): the reader alone against ``bgpdump -m``.

These are *inner* figures, labelled as such: the commands users run are timed by
``bench/cli.py``, and only those figures are the product's. For each file, in the same run and
best of N:

- ``bgpdump``: wall time of ``bgpdump -m FILE`` with output to /dev/null (the reference);
- ``full``: ``read_mrt(FILE, table=True)`` applied to a fresh RouteState - every prefix kept;
- ``watch``: ``read_mrt(FILE, watchlist=<built-in North Korea watch>)`` - only watched routes;

each as a ratio to bgpdump. Wall time is what the targets are about; CPU time (the reader's
``time.process_time``, bgpdump's ``RUSAGE_CHILDREN``) is reported beside it because it is far less
disturbed by other work on a shared machine. The reader is timed in-process (interpreter start
and imports excluded: it runs inside a running application); bgpdump's time includes starting
the process, as ``bgpdump -m FILE > /dev/null`` does.

Plus the peak RSS of a fresh subprocess that loads the full table: its
``getrusage(RUSAGE_SELF).ru_maxrss`` (which includes the interpreter), cross-checked with
``VmHWM`` from /proc (Linux counts the forking parent in ru_maxrss, so the RSS subprocess is
started first, while this process is still small).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tui.core.routes import RouteState  # noqa: E402
from tui.core.watchlist import NORTH_KOREA, Watchlist  # noqa: E402
from tui.feeds.mrt import read_mrt  # noqa: E402

SHARED = Path(os.environ.get("WATCHFLOOR_SHARED", REPO.parent / "shared")).resolve()
MRT = SHARED / "data" / "mrt"
FILES = [
    MRT / "bgpdump" / "updates.et-header.2015.gz",
    MRT / "bgpkit-parser" / "ripe" / "rrc15" / "2010.02" / "updates.20100227.1600.gz",
    MRT / "bgpkit-parser" / "ripe" / "rrc15" / "2010.02" / "updates.20100227.1610.gz",
    MRT / "bgpdump" / "updates.20070211.0141.gz",
    MRT / "bgpdump" / "bview.20020722.2337.gz",
    MRT / "pyasn" / "rib.20140523.0600_firstMB.bz2",
    MRT / "pyasn" / "rib6.20151101.0600_firstMB.bz2",
]
"""The update files, and one file of every other MRT kind that bench/cli.py times as a command."""
RSS_FILE = FILES[0]


@dataclass
class FileResult:
    """Best-of-N timings for one file (seconds, wall and CPU) and the ratios to bgpdump."""

    file: str
    repeats: int
    bgpdump_s: float
    full_s: float
    watch_s: float
    bgpdump_cpu_s: float
    full_cpu_s: float
    watch_cpu_s: float
    routes_full: int
    events_watch: int

    @property
    def full_ratio(self) -> float:
        """Full-state time / bgpdump time."""
        return self.full_s / self.bgpdump_s

    @property
    def watch_ratio(self) -> float:
        """Watchlist-only time / bgpdump time."""
        return self.watch_s / self.bgpdump_s

    def ratios(self) -> dict[str, float]:
        """All four ratios (wall and CPU)."""
        return {
            "full_ratio": self.full_ratio,
            "watch_ratio": self.watch_ratio,
            "full_cpu_ratio": self.full_cpu_s / self.bgpdump_cpu_s,
            "watch_cpu_ratio": self.watch_cpu_s / self.bgpdump_cpu_s,
        }


def time_bgpdump(path: Path, bgpdump: str) -> tuple[float, float]:
    """Wall and CPU time of ``bgpdump -m path > /dev/null`` (stderr too: it logs otherwise)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([bgpdump, "-m", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_full(path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds to load every route of ``path`` into a fresh RouteState; routes."""
    cpu, start = time.process_time(), time.perf_counter()
    state = RouteState()
    for batch in read_mrt(path, table=True):
        state.apply_all(batch)
    return time.perf_counter() - start, time.process_time() - cpu, state.route_count()


def time_watch(path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds to read ``path`` keeping only the built-in watchlist; events."""
    cpu, start = time.process_time(), time.perf_counter()
    watchlist = Watchlist([NORTH_KOREA])
    events = 0
    for batch in read_mrt(path, watchlist=watchlist):
        events += len(batch)
    return time.perf_counter() - start, time.process_time() - cpu, events


def bench_file(path: Path, repeats: int, bgpdump: str) -> FileResult:
    """Interleave the three measurements ``repeats`` times; keep the best of each."""
    inf = float("inf")
    best = {name: [inf, inf] for name in ("bgpdump", "full", "watch")}
    routes = events = 0

    def keep(name: str, wall: float, cpu: float) -> None:
        best[name][0] = min(best[name][0], wall)
        best[name][1] = min(best[name][1], cpu)

    for _ in range(repeats):
        keep("bgpdump", *time_bgpdump(path, bgpdump))
        wall, cpu, routes = time_full(path)
        keep("full", wall, cpu)
        gc.collect()  # the last table is garbage now: do not time its collection below
        wall, cpu, events = time_watch(path)
        keep("watch", wall, cpu)
    return FileResult(
        str(path.relative_to(SHARED)),
        repeats,
        best["bgpdump"][0],
        best["full"][0],
        best["watch"][0],
        best["bgpdump"][1],
        best["full"][1],
        best["watch"][1],
        routes,
        events,
    )


_RSS_PROBE = """
import resource, sys
sys.path.insert(0, {repo!r})
from tui.core.routes import RouteState
from tui.feeds.mrt import read_mrt
state = RouteState()
path = {path!r}
if path:
    for batch in read_mrt(path, table=True):
        state.apply_all(batch)
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm, state.route_count())
"""


def peak_rss_mb(path: Path | None) -> tuple[float, float, int]:
    """(ru_maxrss MB, VmHWM MB, routes) of a fresh interpreter loading ``path``'s full table
    (None: the interpreter and the reader's imports alone)."""
    code = _RSS_PROBE.format(repo=str(REPO), path=str(path) if path else "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    maxrss, hwm, routes = done.stdout.split()
    return int(maxrss) / 1024, int(hwm) / 1024, int(routes)


def run(repeats: int, files: list[Path] | None = None) -> dict[str, object]:
    """Run the whole benchmark; returns a JSON-compatible result."""
    bgpdump = shutil.which("bgpdump")
    if bgpdump is None:
        raise SystemExit("bgpdump is not installed (Debian package 'bgpdump'); it is the reference of this benchmark")
    # First, while this process is small (see the module docstring).
    rss, hwm, rss_routes = peak_rss_mb(RSS_FILE)
    bare, _, _ = peak_rss_mb(None)
    results = []
    for path in files or FILES:
        if not path.exists():
            print(f"skipping {path}: not found", file=sys.stderr)
            continue
        results.append(bench_file(path, repeats, bgpdump))
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "files": [asdict(r) | r.ratios() for r in results],
        "rss": {
            "file": str(RSS_FILE.relative_to(SHARED)),
            "peak_mb": rss,
            "vm_hwm_mb": hwm,
            "routes": rss_routes,
            "interpreter_mb": bare,
        },
    }


def table(result: dict[str, Any]) -> str:
    """The result as a plain-text table."""
    lines = [
        f"{'':44} {'wall seconds (best of N)':^26}  {'ratio to bgpdump':^27}",
        f"{'file':44} {'bgpdump':>8} {'full':>8} {'watch':>8}  {'full':>6} {'watch':>6} {'cpu:full':>8} {'watch':>6}",
    ]
    for item in result["files"]:
        name = item["file"].removeprefix("data/mrt/")
        lines.append(
            f"{name[-44:]:44} {item['bgpdump_s']:8.3f} {item['full_s']:8.3f} {item['watch_s']:8.3f}  "
            f"{item['full_ratio']:6.2f} {item['watch_ratio']:6.2f} {item['full_cpu_ratio']:8.2f} {item['watch_cpu_ratio']:6.2f}"
        )
    rss = result["rss"]
    lines.append(
        f"peak RSS loading the full table of {rss['file']}: {rss['peak_mb']:.0f} MB ru_maxrss, "
        f"{rss['vm_hwm_mb']:.0f} MB VmHWM ({rss['routes']} routes; interpreter + imports alone: "
        f"{rss['interpreter_mb']:.0f} MB)"
    )
    lines.append(
        f"(inner figures, no targets: those are the commands'); "
        f"load average at the start {result['load_average'][0]:.2f} on {result['cpus']} CPUs"
    )
    return "\n".join(lines)


def save(result: dict[str, object], folder: Path) -> Path:
    """Write the result to ``folder/mrt_ingest-<time>.json``; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mrt_ingest-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(table(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))
