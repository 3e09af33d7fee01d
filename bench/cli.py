"""The commands as a user runs them, timed against ``bgpdump -m`` on the same MRT file.

Every measurement is a fresh process started the way a user starts it (the ``watchfloor``
script of the virtual environment: interpreter start-up and imports included), with its
output going to /dev/null, interleaved with ``bgpdump -m FILE > /dev/null`` on the same file
(the reference), and repeated: the median of the repetitions is kept for both. Wall time is
what the targets are about; the child's CPU time and peak RSS come from ``wait4`` (its own
rusage, not this process's).

The code is byte-compiled first (``compileall``), as installing a wheel does, so that start-up
is not a compilation of every module (this workplace sets PYTHONDONTWRITEBYTECODE).

The child runs with an empty configuration (``XDG_CONFIG_HOME`` pointing at an empty folder,
no ``WATCHFLOOR_CONFIG``): the built-in North Korea watch, as on a fresh machine.

Before the cases, the start-up probe: the same command on a file of 4 records, the floor under
every case. A watch-only case whose file bgpdump reads in less than twice that carries no
target (:data:`NO_WATCH_TARGET`); its row is followed by the reader's own time on the file,
in this process, labelled as an inner figure.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHFLOOR_SHARED", REPO.parent / "shared")).resolve()
MRT = SHARED / "data" / "mrt"

ET_HEADER = MRT / "bgpdump" / "updates.et-header.2015.gz"
"""One peer's full table (577,737 announcements, BGP4MP_ET): the whole-table case."""

KINDS = {
    "BGP4MP_ET": ET_HEADER,
    "BGP4MP": MRT / "bgpdump" / "updates.20070211.0141.gz",
    "BGP4MP_AS4": MRT / "bgpkit-parser" / "ripe" / "rrc15" / "2010.02" / "updates.20100227.1600.gz",
    "TABLE_DUMP": MRT / "bgpdump" / "bview.20020722.2337.gz",
    "TABLE_DUMP_V2": MRT / "pyasn" / "rib.20140523.0600_firstMB.bz2",
    "TABLE_DUMP_V2 IPv6": MRT / "pyasn" / "rib6.20151101.0600_firstMB.bz2",
}
"""One file of every MRT kind in ../shared/data, for the watch-only targets."""

WATCH_TARGET = 0.5
NO_WATCH_TARGET = {
    "BGP4MP_AS4": "bgpdump reads it in about 0.08 s, under twice the start-up of a snapshot: "
    "0.5x cannot be met by the reader; see the inner figure",
}
"""Watch-only cases without the 0.5x target, and why (bench/README.md: which cases carry it)."""

STARTUP_SOURCE = MRT / "bgpdump" / "updates.20070211.0141.gz"
STARTUP_RECORDS = 4
"""The start-up probe reads the first records of this file (IPv4 sessions only)."""


@dataclass
class Case:
    """One command line to time against bgpdump on ``file``."""

    name: str
    file: Path
    args: Callable[[Path, Path], list[str]]
    """(file, scratch folder) → the arguments after ``watchfloor``."""
    target: float | None = None
    """Largest wall-time ratio to bgpdump allowed (None: measured, no target)."""
    rss_target_mb: float | None = None
    note: str = ""
    """Why a case has no target, printed under its row."""
    inner: bool = False
    """Also time the reader alone in-process on ``file`` (an inner figure, for a case whose
    command figure is mostly start-up)."""


@dataclass
class Run:
    """One process: wall seconds, CPU seconds, peak RSS in MB, exit status."""

    wall: float
    cpu: float
    rss_mb: float
    status: int


@dataclass
class Result:
    """A case's medians, and every run."""

    name: str
    file: str
    command: str
    repeats: int
    wall_s: float
    cpu_s: float
    rss_mb: float
    bgpdump_wall_s: float
    bgpdump_cpu_s: float
    ratio: float
    cpu_ratio: float
    target: float | None
    rss_target_mb: float | None
    runs: list[dict[str, float]] = field(default_factory=list)
    bgpdump_runs: list[dict[str, float]] = field(default_factory=list)
    note: str = ""
    inner_s: float | None = None
    """The reader alone in-process (read_mrt with the built-in watch), best of the repeats."""
    inner_cpu_s: float | None = None

    def missed(self) -> list[str]:
        """What this case misses of its targets (empty when it meets them)."""
        out = []
        if self.target is not None and self.ratio > self.target:
            out.append(f"{self.name}: {self.ratio:.2f}x bgpdump, target {self.target}x")
        if self.rss_target_mb is not None and self.rss_mb > self.rss_target_mb:
            out.append(f"{self.name}: peak RSS {self.rss_mb:.0f} MB, target {self.rss_target_mb:.0f} MB")
        return out


def cases() -> list[Case]:
    """Every case: watch-only snapshots of each MRT kind, the whole table, record, replay."""
    out = [
        Case(
            f"snapshot watch {kind}", path, lambda f, _: ["snapshot", str(f), "--json"],
            target=None if kind in NO_WATCH_TARGET else WATCH_TARGET,
            note=NO_WATCH_TARGET.get(kind, ""), inner=kind in NO_WATCH_TARGET,
        )
        for kind, path in KINDS.items()
    ]
    out += [
        Case("snapshot whole table", ET_HEADER, lambda f, _: ["snapshot", str(f), "--all", "--json"],
             target=2.0, rss_target_mb=300.0),
        Case("record watch", ET_HEADER, lambda f, tmp: ["record", "--journal", str(tmp / "j.journal"), str(f)],
             target=3.0),
        Case("record whole table", ET_HEADER,
             lambda f, tmp: ["record", "--all", "--journal", str(tmp / "j.journal"), str(f)], target=3.0),
        Case("replay --headless watch", ET_HEADER, lambda f, _: ["replay", "--headless", str(f)]),
        Case("replay --headless whole table", ET_HEADER, lambda f, _: ["replay", "--headless", "--all", str(f)]),
    ]
    return out


def watchfloor() -> list[str]:
    """How a user starts watchfloor here: the virtual environment's script."""
    script = Path(sys.executable).with_name("watchfloor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui"]


def measure(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Run:
    """Run ``argv`` with output to /dev/null; its wall time and its own rusage."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)


last_startup: Run | None = None
"""The start-up probe of the last :func:`run` (median wall and CPU seconds)."""


def startup_file(folder: Path) -> Path:
    """A small MRT file for the start-up probe: the first records of :data:`STARTUP_SOURCE`."""
    import gzip
    import struct

    raw = gzip.decompress(STARTUP_SOURCE.read_bytes())
    pos = 0
    for _ in range(STARTUP_RECORDS):
        pos += 12 + struct.unpack_from(">I", raw, pos + 8)[0]
    path = folder / "startup.mrt"
    path.write_bytes(raw[:pos])
    return path


def measure_startup(repeats: int, env: dict[str, str], scratch: Path) -> Run:
    """Median wall and CPU of ``watchfloor snapshot SMALL --json``: what every case pays
    before its first record (interpreter, imports, config, engine, output, exit)."""
    command = [*watchfloor(), "snapshot", str(startup_file(scratch)), "--json"]
    runs = [measure(command, env, scratch) for _ in range(max(repeats, 5))]
    return Run(
        statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
        max(r.rss_mb for r in runs), max(r.status for r in runs),
    )


def inner_seconds(path: Path, repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of the reader alone, in this process, with the built-in watch."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    from mrt_ingest import time_watch

    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        wall, cpu, _events = time_watch(path)
        best = [min(best[0], wall), min(best[1], cpu)]
    return best[0], best[1]


def child_environment(config_home: Path) -> dict[str, str]:
    """The user's environment without any watchfloor configuration."""
    env = {k: v for k, v in os.environ.items() if k != "WATCHFLOOR_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(config_home)
    return env


def run(repeats: int = 5, only: str | None = None, say: Callable[[str], None] = print) -> list[Result]:
    """Time every case (or those whose name contains ``only``), interleaved with bgpdump."""
    bgpdump = shutil.which("bgpdump")
    if bgpdump is None:
        raise SystemExit("bgpdump is not installed (Debian package 'bgpdump'); it is the reference")
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "tui")], check=True)
    chosen = [c for c in cases() if only is None or only in c.name]
    missing = sorted({str(c.file) for c in chosen if not c.file.exists()})
    if missing:
        raise SystemExit(f"benchmark data missing: {', '.join(missing)} (set WATCHFLOOR_SHARED)")
    results = []
    with tempfile.TemporaryDirectory(prefix="watchfloor-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        env = child_environment(scratch / "config")
        if STARTUP_SOURCE.exists():
            global last_startup
            startup = last_startup = measure_startup(repeats, env, scratch)
            say(f"{'(start-up: snapshot of ' + str(STARTUP_RECORDS) + ' records)':<34} {'':>9} {startup.wall:>9.3f} "
                f"{'':>6} {'':>6} {startup.rss_mb:>7.0f}  - (cpu {startup.cpu:.3f} s: the floor under every case)")
        for case in chosen:
            runs: list[Run] = []
            references: list[Run] = []
            for rep in range(repeats):
                command = [*watchfloor(), *case.args(case.file, scratch)]
                # Alternate which goes first: neither always meets a warm (or a cold) cache.
                order = ("ref", "cmd") if rep % 2 == 0 else ("cmd", "ref")
                for which in order:
                    if which == "ref":
                        references.append(measure([bgpdump, "-m", str(case.file)], env, scratch))
                    else:
                        runs.append(measure(command, env, scratch))
                        for leftover in scratch.glob("j.journal*"):
                            leftover.unlink()
            bad = [r.status for r in runs if r.status not in (0, 1)]
            if bad:
                raise SystemExit(f"{case.name}: watchfloor exited with {bad[0]} ({' '.join(command)})")
            wall = statistics.median(r.wall for r in runs)
            cpu = statistics.median(r.cpu for r in runs)
            ref_wall = statistics.median(r.wall for r in references)
            ref_cpu = statistics.median(r.cpu for r in references)
            result = Result(
                case.name, str(case.file.relative_to(SHARED)), "watchfloor " + " ".join(case.args(Path("FILE"), Path("TMP"))),
                repeats, wall, cpu, max(r.rss_mb for r in runs), ref_wall, ref_cpu, wall / ref_wall, cpu / ref_cpu,
                case.target, case.rss_target_mb,
                [asdict(r) for r in runs], [asdict(r) for r in references], case.note,
            )
            if case.inner:
                result.inner_s, result.inner_cpu_s = inner_seconds(case.file, repeats)
            say(row(result))
            results.append(result)
    return results


HEADER = f"{'case':<34} {'bgpdump s':>9} {'command s':>9} {'ratio':>6} {'cpu':>6} {'RSS MB':>7}  target"


def row(result: Result) -> str:
    """One line of the table."""
    target = f"<= {result.target}x" if result.target is not None else "-"
    if result.rss_target_mb is not None:
        target += f", <= {result.rss_target_mb:.0f} MB"
    verdict = "" if not result.missed() else "  MISSED"
    line = (
        f"{result.name:<34} {result.bgpdump_wall_s:>9.3f} {result.wall_s:>9.3f} {result.ratio:>6.2f} "
        f"{result.cpu_ratio:>6.2f} {result.rss_mb:>7.0f}  {target}{verdict}"
    )
    if result.note:
        line += f"\n{'':<4}no target: {result.note}"
    if result.inner_s is not None and result.inner_cpu_s is not None:
        line += (
            f"\n{'':<4}inner figure (the reader alone in-process, no start-up, best of {result.repeats}): "
            f"{result.inner_s:.3f} s = {result.inner_s / result.bgpdump_wall_s:.2f}x bgpdump "
            f"(cpu {result.inner_cpu_s:.3f} s = {result.inner_cpu_s / result.bgpdump_cpu_s:.2f}x)"
        )
    return line
