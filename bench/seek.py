"""Seek anywhere in a whole-table journal: the console's jump and ``snapshot --at``, as users run them.

The journal: ``watchfloor record updates.et-header.2015.gz --all --journal J`` (one peer's full
table, 577,703 routes in 89,692 rows, 21 checkpoints: 11 full, 10 deltas, 37 s of data time), recorded afresh by
every run; and, as a contrast, the watch-only journal of the same file (``record FILE
--journal J2``, the built-in North Korea watch: 15 rows).

**The console** (``--part console``): ``python -m tui replay [--all] JOURNAL`` from the current
directory, opened paused as a user opens it, in a tmux pane driven by the control-mode client
of ``bench/key_latency.py`` (same definition of a frame). A seek is ``g``, the target typed into
the jump dialog (ISO 8601 for a whole second, else Unix seconds, both forms the dialog reads),
then ``Enter``. Latency = from sending ``Enter`` to the last ``%output`` before the first
capture of the pane whose replay bar shows the target's time and share of the window (and no
dialog). The console seeks inside the key's handler, so that frame is the seek done and drawn.

Targets (:func:`choose_targets`): 10/25/50/75/90 % of the window (whole seconds), its end and
its start, the batch with the most rows after its checkpoint (the most work a seek does after
a restore), and seeded random rows of the whole-table journal (most rows lie in 5 of the 37
seconds, so a row drawn at random lands where the table fills up); the watch-only journal is
sought at the same times. Each round deals them into groups of at most :data:`GROUP` targets;
each group gets a fresh console that seeks to every target of the group
:data:`PASSES` times, in zigzag orders (low, high, next-lowest, ...) so backward and forward
jumps alternate.

Cold and warm: a replay session keeps the tables of the checkpoints it restored or played
through (``RestoredCheckpoints`` in tui/journal/replay.py, an LRU of up to 3 million routes). A
seek is *cold* when it rebuilds a checkpoint read from the journal file, *warm* when it copies
one kept from before in that process, *rows* when it restores none (it applies the rows after
the current position, or from the empty engine for the first seconds). Which one each seek was
is not guessed: before the consoles, the same seek sequences run in a child process through a
``ReplaySession`` over the same journal, with the same watchlist and detectors, that notes when
a restore reads the file; that child's time per seek is printed beside as the *inner figure*
(the seek alone, no drawing, no terminal).

**The command** (``--part snapshot``): ``watchfloor snapshot JOURNAL --at T --json >
/dev/null`` as a fresh process at the same targets, interleaved with ``watchfloor snapshot
FILE --at T --json`` (re-reading the MRT file), alternating which goes first, median of
``--snapshot-runs``, after the start-up probe of bench/cli.py. On the whole-table journal twice:
with ``--all`` (its JSON lists every route, about 25 MB, which costs about a second by itself)
and with ``--watch 175.45.176.0/22`` (the same journal, a small output: the time is the seek).

Both parts measure the checkout in the current directory (the console through ``-m tui``, the
``watchfloor`` script with that directory first on PYTHONPATH), as bench/key_latency.py does.

Usage: .venv/bin/python bench/seek.py [--case NAME] [--part PART] [--repeat R] [--quick]
       [--json PATH] [--profile DIR]

Writes bench/results/seek-<UTC time>.json. Exit status 0; 1 when the median of a kind of
console seek exceeds :data:`TARGET_MS` (``MISSED:`` lines); 2 when tmux or the data is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import cli  # noqa: E402
from key_latency import ControlClient, bar, measure  # noqa: E402

FILE = cli.ET_HEADER
WATCH_PREFIX = "175.45.176.0/22"
"""The built-in watch's first prefix: a watch-only view of the whole-table journal."""

TARGET_MS = 200.0
"""Issue 13: seek anywhere in such a journal under 0.2 s."""

GROUP = 3
"""Targets per console: few enough that the restored tables stay in the session's LRU
(3 million routes; the whole table is 577,703) between passes."""

PASSES = 3
"""Seeks to each target of a group in one console: the first may be cold, the others warm."""

FRACTIONS = (0.10, 0.25, 0.50, 0.75, 0.90)


@dataclass(frozen=True)
class ConsoleCase:
    """A journal and how the console opens it."""

    name: str
    record_args: tuple[str, ...]
    """``watchfloor record FILE ... --journal J``'s extra arguments."""
    replay_args: tuple[str, ...]
    snapshot_views: tuple[tuple[str, tuple[str, ...]], ...]
    """(label, extra snapshot arguments) for the command part."""


CASES = {
    "whole-table": ConsoleCase(
        "whole-table", ("--all",), ("--all",),
        (("--all", ("--all",)), (f"--watch {WATCH_PREFIX}", ("--watch", WATCH_PREFIX))),
    ),
    "watch": ConsoleCase("watch", (), (), (("built-in watch", ()),)),
}


# -- the journal and the targets ------------------------------------------------------------------


@dataclass(frozen=True)
class JournalFacts:
    """What target selection needs of a journal (its tables are documented in docs/journal.md)."""

    start: float
    end: float
    last_seq: int
    batches: tuple[tuple[float, int], ...]
    """(replay time t, the last row at that t), in order."""
    checkpoints: tuple[tuple[int, float], ...]
    """(row, replay time), in order."""


def read_facts(path: Path) -> JournalFacts:
    """Read the rows' times and the checkpoints' rows from a journal, read-only."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        start, end, last = conn.execute("SELECT min(t), max(t), max(seq) FROM events").fetchone()
        batches = tuple(conn.execute("SELECT t, max(seq) FROM events GROUP BY t ORDER BY t"))
        checkpoints = tuple(conn.execute("SELECT seq, t FROM checkpoints ORDER BY seq"))
    return JournalFacts(start, end, last, batches, checkpoints)


@dataclass(frozen=True)
class Target:
    """Where to seek: a name for the report, the time, and what is typed into the dialog."""

    name: str
    ts: float
    typed: str


def typed_time(ts: float) -> str:
    """What to type for ``ts``: ISO 8601 for a whole second, else Unix seconds (exact: the
    shortest text that reads back as the same float)."""
    if ts == int(ts):
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
    return repr(ts)


def shown_position(ts: float, start: float, end: float) -> tuple[str, str]:
    """(time, share) the replay bar shows at ``ts``: the same arithmetic as
    tui/console/widgets/status.py ``replay_text`` (seconds cut, share rounded to a percent)."""
    position = min(end, max(start, ts))
    span = end - start
    share = 1.0 if span <= 0 else min(1.0, max(0.0, (position - start) / span))
    shown = dt.datetime.fromtimestamp(position, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return shown, f"{share * 100:3.0f}%".strip()


def bar_position(text: str) -> tuple[str, str] | None:
    """(time, share) in the replay bar of a captured screen, or None (a prompt in its place)."""
    fields = bar(text).split()
    shown = next((f for f in fields if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f)), None)
    share = next((f for f in fields if re.fullmatch(r"\d{1,3}%", f)), None)
    return None if shown is None or share is None else (shown, share)


def choose_targets(facts: JournalFacts, randoms: int, seed: int) -> list[Target]:
    """The targets of a run, each showing a different (time, share) in the replay bar."""
    span = facts.end - facts.start
    chosen = [Target(f"{f * 100:.0f}%", float(round(facts.start + f * span)), "") for f in FRACTIONS]
    chosen += [Target("end", facts.end, ""), Target("start", facts.start, "")]
    worst = most_rows_after_checkpoint(facts)
    if worst is not None:
        chosen.append(Target(f"most rows after a checkpoint ({worst[1]})", worst[0], ""))
    rng = random.Random(seed)
    times = [t for t, _ in facts.batches]
    lasts = [seq for _, seq in facts.batches]
    for _ in range(randoms * 4):  # draws that repeat a shown position are dropped below
        row = rng.randint(1, facts.last_seq)
        index = next(i for i, last in enumerate(lasts) if last >= row)
        chosen.append(Target(f"row {row}", times[index], ""))
    out: list[Target] = []
    shown: set[tuple[str, str]] = set()
    drawn = 0
    for target in chosen:
        key = shown_position(target.ts, facts.start, facts.end)
        is_random = target.name.startswith("row ")
        if key in shown or (is_random and drawn >= randoms):
            continue
        shown.add(key)
        drawn += is_random
        out.append(Target(target.name, target.ts, typed_time(target.ts)))
    return out


def most_rows_after_checkpoint(facts: JournalFacts) -> tuple[float, int] | None:
    """(time, rows) of the batch with the most rows between it and the checkpoint before it."""
    best: tuple[float, int] | None = None
    for t, last in facts.batches:
        before = max((seq for seq, _ in facts.checkpoints if seq <= last), default=None)
        if before is None:
            continue
        if best is None or last - before > best[1]:
            best = (t, last - before)
    return best


def drop_unseen(sequence: list[Target], landed: Sequence[float], facts: JournalFacts) -> list[Target]:
    """``sequence`` without the seeks whose landing would show in the replay bar as the one
    before it did: no frame could tell them done.

    A seek does not always land on its target: when detector ticks fall between the last row
    applied and the target, the replay's clock is left at the last tick (a whole second), not
    at the target (reported, not fixed here: tui/journal/replay.py ``ReplaySession.seek``). So
    two targets in the same second with no row between them can land on the same position.
    """
    kept: list[Target] = []
    shown: tuple[str, str] | None = None
    for target, position in zip(sequence, landed, strict=True):
        key = shown_position(position, facts.start, facts.end)
        if key != shown:
            kept.append(target)
            shown = key
    return kept


def zigzag(targets: Sequence[Target], *, high_first: bool) -> list[Target]:
    """Lowest, highest, next-lowest, ... (or highest first): jumps alternate direction."""
    ordered = sorted(targets, key=lambda t: t.ts, reverse=high_first)
    out: list[Target] = []
    low, high = 0, len(ordered) - 1
    while low <= high:
        out.append(ordered[low])
        if low != high:
            out.append(ordered[high])
        low, high = low + 1, high - 1
    return out


def plan_consoles(targets: Sequence[Target], group: int, passes: int, seed: int) -> list[list[Target]]:
    """The seek sequence of each console: shuffled groups of at most ``group`` targets, each visited
    ``passes`` times in alternating zigzag orders, never the same target twice in a row (the bar
    would not change)."""
    shuffled = list(targets)
    random.Random(seed).shuffle(shuffled)
    count = max(1, -(-len(shuffled) // group))
    consoles = []
    for first in range(count):
        members = shuffled[first::count]  # dealt round, so no group is left with one target
        sequence: list[Target] = []
        for turn in range(passes):
            order = zigzag(members, high_first=turn % 2 == 1)
            if sequence and len(order) > 1 and order[0] == sequence[-1]:
                order = order[1:] + order[:1]
            if sequence and order[0] == sequence[-1]:
                continue  # a group of one: once is all the bar can show
            sequence += order
        consoles.append(sequence)
    return consoles


# -- which seeks restore what: the same sequences through a ReplaySession ---------------------------


def classify(journal: Path, whole_table: bool, consoles: list[list[float]]) -> list[list[dict[str, Any]]]:
    """Run each console's seeks in a fresh ReplaySession over ``journal`` (the console's
    watchlist, detectors and clamping); per seek: kind, checkpoint row, rows applied, seconds,
    and where the clock landed (what the replay bar will show: not always the target, see
    :func:`drop_unseen`)."""
    import argparse as _argparse

    from tui.commands.snapshot import load_watchlist
    from tui.journal.replay import ReplaySession
    from tui.runtime import detectors_for

    watchlist, config = load_watchlist(_argparse.Namespace(config=None, all=whole_table, watch=[]))
    out = []
    for seeks in consoles:
        session = ReplaySession.open(str(journal), watchlist, detectors=detectors_for(config, watchlist))
        restores, file_reads = _watch_restores(session)
        done = []
        # As the console settles its memory before it runs (tui/console/app.py _settle_memory):
        # else collections rescanning the previous sessions' tables land in these seeks.
        gc.collect()
        gc.freeze()
        with session:
            for ts in seeks:
                restores.clear()
                file_reads.clear()
                began_at = session.cursor
                began = time.perf_counter()
                session.seek(min(session.end, max(session.start, ts)))
                seconds = time.perf_counter() - began
                kind = "cold" if file_reads else "warm" if restores else "rows"
                # Rows applied: after the checkpoint restored, after the old position going
                # forward, or from the empty engine (back before the first checkpoint).
                base = restores[-1] if restores else began_at if session.cursor >= began_at else 0
                done.append({
                    "kind": kind, "checkpoint": restores[-1] if restores else None,
                    "rows": session.cursor - base, "inner_s": seconds, "landed": session.clock.now(),
                })
        out.append(done)
        del session, restores, file_reads
        gc.unfreeze()
        gc.collect()
    return out


def _watch_restores(session: Any) -> tuple[list[int], list[int]]:
    """Note each checkpoint ``session`` restores, and each it reads from the journal file to do
    so (a restore of a kept table reads none): the lists are filled as it seeks."""
    restores: list[int] = []
    file_reads: list[int] = []
    restore, read = session._restore, session.reader.checkpoint_at_or_before

    def spy_restore(seq: int, t: float) -> None:
        restores.append(seq)
        restore(seq, t)

    def spy_read(seq: int) -> Any:
        file_reads.append(seq)
        return read(seq)

    session._restore = spy_restore
    session.reader.checkpoint_at_or_before = spy_read
    return restores, file_reads


def classify_in_child(
    journal: Path, whole_table: bool, consoles: list[list[Target]], env: dict[str, str],
) -> list[list[dict[str, Any]]]:
    """:func:`classify` in a fresh interpreter that imports the current directory's ``tui``
    (and whose kept tables do not stay in this process, whose size later children inherit
    in their ``ru_maxrss``)."""
    request = {"journal": str(journal), "whole_table": whole_table, "consoles": [[t.ts for t in c] for c in consoles]}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--classify"], input=json.dumps(request),
        capture_output=True, text=True, env=env, check=False, timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"classifying the seeks failed:\n{done.stderr}")
    result: list[list[dict[str, Any]]] = json.loads(done.stdout)
    return result


# -- the console --------------------------------------------------------------------------------


@dataclass
class Seek:
    """One measured seek in a console."""

    case: str
    round: int
    console: int
    target: str
    ts: float
    typed: str
    direction: str
    first_in_console: bool
    ms: float
    kind: str
    checkpoint: int | None
    rows: int
    inner_ms: float
    landed: float
    """Where the seek left the replay's clock (the target, unless a detector tick moved it)."""


def dialog_holds(text: str, typed: str) -> bool:
    """Whether the jump dialog's input shows ``typed`` (not the hint or the title)."""
    return "Jump to a time" in text and any(typed in line and "▊" in line for line in text.splitlines())


def seek_shown(text: str, wanted: tuple[str, str]) -> bool:
    """Whether the dialog is gone and the replay bar shows the ``wanted`` (time, share)."""
    return "Jump to a time" not in text and bar_position(text) == wanted


def run_console(
    command: list[str], sequence: list[Target], landed: list[float], facts: JournalFacts, env: dict[str, str],
    size: tuple[int, int], rng: random.Random,
) -> list[float]:
    """Open the console, seek to each target in turn (``landed``: where each seek puts the
    clock); the milliseconds of each seek."""
    client = ControlClient(command, size[0], size[1], env)
    out = []
    try:
        client.until(lambda t: "REPLAY" in t and "1 Visibility" in t, timeout=300)
        for target, position in zip(sequence, landed, strict=True):
            client.send("g")
            client.until(lambda t: "Jump to a time" in t)
            client.send("-l", target.typed)
            client.until(functools.partial(dialog_holds, typed=target.typed))
            time.sleep(rng.uniform(0.05, 0.25))  # anywhere in the input's cursor blink
            wanted = shown_position(position, facts.start, facts.end)
            try:
                ms, _ = measure(client, "Enter", functools.partial(seek_shown, wanted=wanted), timeout=60)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}: seeking to {target} (bar {wanted}); the screen:\n{client.screen()}") from None
            out.append(ms)
            time.sleep(0.3)  # let the frames after the seek (the event pane's hint going) pass
        client.send("q")
        client.until(lambda t: "EXITED 0" in t)
    finally:
        client.close()
    return out


def console_part(
    case: ConsoleCase, journal: Path, facts: JournalFacts, targets: list[Target], rounds: int, passes: int,
    size: tuple[int, int], seed: int, env: dict[str, str], profile: Path | None, say: Any,
) -> list[Seek]:
    """Every round's consoles over ``journal``; each seek measured and classified."""
    seeks: list[Seek] = []
    for round_no in range(rounds):
        consoles = plan_consoles(targets, GROUP, passes, seed + round_no)
        while True:  # until every seek planned shows in the bar (dropping one changes what follows)
            kinds = classify_in_child(journal, "--all" in case.replay_args, consoles, env)
            seen = [
                drop_unseen(sequence, [k["landed"] for k in classified], facts)
                for sequence, classified in zip(consoles, kinds, strict=True)
            ]
            if seen == consoles:
                break
            consoles = seen
        for number, (sequence, classified) in enumerate(zip(consoles, kinds, strict=True)):
            python = [sys.executable]
            if profile is not None:
                profile.mkdir(parents=True, exist_ok=True)
                python += ["-m", "cProfile", "-o", str(profile / f"seek-{case.name}-{round_no + 1}-{number + 1}.prof")]
            command = [*python, "-m", "tui", "replay", *case.replay_args, str(journal)]
            landed = [k["landed"] for k in classified]
            rng = random.Random(seed * 1000 + round_no * 100 + number)
            times = run_console(command, sequence, landed, facts, env, size, rng)
            position = facts.start
            for index, (target, ms, what) in enumerate(zip(sequence, times, classified, strict=True)):
                seeks.append(Seek(
                    case.name, round_no + 1, number + 1, target.name, target.ts, target.typed,
                    "forward" if target.ts >= position else "backward", index == 0, ms,
                    what["kind"], what["checkpoint"], what["rows"], what["inner_s"] * 1000.0, what["landed"],
                ))
                position = what["landed"]
        say(f"  {case.name} console round {round_no + 1}/{rounds} done ({len(consoles)} consoles)")
    return seeks


def summarise_seeks(seeks: list[Seek]) -> list[dict[str, Any]]:
    """Per case and kind: count, median, max, and the inner figure's median."""
    out = []
    for case in dict.fromkeys(s.case for s in seeks):
        for kind in ("cold", "warm", "rows"):
            mine = [s for s in seeks if s.case == case and s.kind == kind]
            if not mine:
                continue
            out.append({
                "case": case, "kind": kind, "seeks": len(mine),
                "median_ms": statistics.median(s.ms for s in mine), "max_ms": max(s.ms for s in mine),
                "inner_median_ms": statistics.median(s.inner_ms for s in mine),
                "first_in_console_median_ms": (
                    statistics.median(s.ms for s in mine if s.first_in_console)
                    if any(s.first_in_console for s in mine) else None
                ),
            })
    return out


def missed(summary: list[dict[str, Any]]) -> list[str]:
    """The kinds of console seek whose median is over :data:`TARGET_MS`."""
    return [
        f"console seek {row['case']} {row['kind']}: median {row['median_ms']:.0f} ms, target {TARGET_MS:.0f} ms"
        for row in summary if row["median_ms"] > TARGET_MS
    ]


def seek_table(seeks: list[Seek], summary: list[dict[str, Any]]) -> str:
    """The console figures: per kind, then per target."""
    lines = [
        f"{'case':<12} {'kind':<5} {'n':>4} {'median':>8} {'max':>8} {'1st seek':>9} {'inner':>8}",
    ]
    for row in summary:
        first = row["first_in_console_median_ms"]
        lines.append(
            f"{row['case']:<12} {row['kind']:<5} {row['seeks']:>4} {row['median_ms']:>5.0f} ms {row['max_ms']:>5.0f} ms "
            f"{(f'{first:.0f} ms' if first is not None else '-'):>9} {row['inner_median_ms']:>5.0f} ms"
        )
    lines.append("")
    lines.append(f"{'case':<12} {'target':<38} {'shown':<9} kind: ms of each seek (inner ms)")
    for case in dict.fromkeys(s.case for s in seeks):
        for name in dict.fromkeys(s.target for s in seeks if s.case == case):
            mine = [s for s in seeks if s.case == case and s.target == name]
            shown = dt.datetime.fromtimestamp(mine[0].ts, dt.UTC).strftime("%H:%M:%S")
            by_kind = []
            for kind in ("cold", "warm", "rows"):
                of_kind = [s for s in mine if s.kind == kind]
                if of_kind:
                    figures = " ".join(f"{s.ms:.0f}" for s in of_kind)
                    inner = statistics.median(s.inner_ms for s in of_kind)
                    by_kind.append(f"{kind}: {figures} ({inner:.0f})")
            elsewhere = sorted({s.landed for s in mine if s.landed != s.ts})
            if elsewhere:  # see drop_unseen
                by_kind.append("clock left at " + ", ".join(
                    dt.datetime.fromtimestamp(t, dt.UTC).strftime("%H:%M:%S.%f")[:12] for t in elsewhere
                ))
            lines.append(f"{case:<12} {name:<38} {shown:<9} {'; '.join(by_kind)}")
    return "\n".join(lines)


# -- the command: snapshot --at -------------------------------------------------------------------


@dataclass
class SnapshotFigure:
    """One target of one view: the journal's and the MRT file's medians, and every run."""

    case: str
    view: str
    target: str
    at: str
    journal_s: float
    mrt_s: float
    journal_cpu_s: float
    mrt_cpu_s: float
    journal_rss_mb: float
    mrt_rss_mb: float
    runs: list[dict[str, float]] = field(default_factory=list)
    mrt_runs: list[dict[str, float]] = field(default_factory=list)


def snapshot_part(
    case: ConsoleCase, journal: Path, targets: list[Target], runs: int, env: dict[str, str], scratch: Path, say: Any,
) -> list[SnapshotFigure]:
    """``snapshot JOURNAL --at T --json`` against ``snapshot FILE --at T --json``, per view and target."""
    figures = []
    for view, extra in case.snapshot_views:
        for target in targets:
            at = target.typed
            mine: list[cli.Run] = []
            reread: list[cli.Run] = []
            for rep in range(runs):
                order = ("journal", "mrt") if rep % 2 == 0 else ("mrt", "journal")
                for which in order:
                    source = journal if which == "journal" else FILE
                    run = cli.measure([*cli.watchfloor(), "snapshot", str(source), *extra, "--at", at, "--json"], env, scratch)
                    if run.status not in (0, 1):  # 1: a watched prefix below its visibility_warn
                        raise RuntimeError(f"snapshot {source} {' '.join(extra)} --at {at} exited with {run.status}")
                    (mine if which == "journal" else reread).append(run)
            figure = SnapshotFigure(
                case.name, view, target.name, at,
                statistics.median(r.wall for r in mine), statistics.median(r.wall for r in reread),
                statistics.median(r.cpu for r in mine), statistics.median(r.cpu for r in reread),
                max(r.rss_mb for r in mine), max(r.rss_mb for r in reread),
                [asdict(r) for r in mine], [asdict(r) for r in reread],
            )
            figures.append(figure)
        say(f"  {case.name} snapshot {view} done")
    return figures


def snapshot_table(figures: list[SnapshotFigure]) -> str:
    """Per view: each target's medians, then the median and max over the targets."""
    lines = [f"{'case':<12} {'view':<24} {'target':<38} {'journal s':>9} {'MRT s':>7} {'ratio':>6} {'RSS MB':>7}"]
    views = dict.fromkeys((f.case, f.view) for f in figures)
    for case, view in views:
        mine = [f for f in figures if f.case == case and f.view == view]
        for f in mine:
            lines.append(
                f"{case:<12} {view:<24} {f.target:<38} {f.journal_s:>9.3f} {f.mrt_s:>7.3f} {f.journal_s / f.mrt_s:>6.2f} "
                f"{f.journal_rss_mb:>7.0f}"
            )
        journal = [f.journal_s for f in mine]
        mrt = [f.mrt_s for f in mine]
        lines.append(
            f"{case:<12} {view:<24} {'median over the targets (max)':<38} {statistics.median(journal):>9.3f} "
            f"{statistics.median(mrt):>7.3f} {statistics.median(journal) / statistics.median(mrt):>6.2f}   "
            f"(max {max(journal):.3f} / {max(mrt):.3f})"
        )
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------


def checkout_environment(config_home: Path) -> dict[str, str]:
    """Children's environment: no watchfloor configuration (the built-in watch), the current
    directory's ``tui`` first (the venv's ``watchfloor`` script would import its own checkout),
    and a terminal for the console."""
    env = cli.child_environment(config_home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH", "")) if p)
    env["TERM"] = "xterm-256color"
    env.pop("NO_COLOR", None)
    return env


def record(case: ConsoleCase, journal: Path, env: dict[str, str], scratch: Path) -> cli.Run:
    """``watchfloor record FILE [--all] --journal J``."""
    run = cli.measure([*cli.watchfloor(), "record", str(FILE), *case.record_args, "--journal", str(journal)], env, scratch)
    if run.status != 0:
        raise RuntimeError(f"record {FILE} {' '.join(case.record_args)} exited with {run.status}")
    return run


def main(argv: list[str] | None = None) -> int:
    """Parse options, record the journals, measure, print and save."""
    parser = argparse.ArgumentParser(prog="bench/seek.py", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="a journal (repeatable; default both)")
    parser.add_argument("--part", action="append", choices=("console", "snapshot"), help="(repeatable; default both)")
    parser.add_argument("--repeat", type=int, default=3, help="console rounds per case, every target in each (default 3)")
    parser.add_argument("--snapshot-runs", type=int, default=5, help="snapshot runs per target and side (default 5)")
    parser.add_argument("--randoms", type=int, default=6, help="random targets besides the fixed ones (default 6)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one round, two passes, 2 random targets, 1 run")
    parser.add_argument("--size", default="80x24", help="terminal size (default 80x24)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, help="write the results here instead of bench/results/seek-<UTC time>.json")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="run each console under cProfile, DIR/seek-<case>-<round>-<console>.prof (slower: not for figures)",
    )
    parser.add_argument("--classify", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.classify:
        request = json.loads(sys.stdin.read())
        print(json.dumps(classify(Path(request["journal"]), request["whole_table"], request["consoles"])))
        return 0
    names = args.case or list(CASES)
    parts = args.part or ["console", "snapshot"]
    rounds, passes, randoms, runs = (1, 2, 2, 1) if args.quick else (args.repeat, PASSES, args.randoms, args.snapshot_runs)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if not FILE.exists():
        print(f"missing {FILE} (set WATCHFLOOR_SHARED to the shared folder)", file=sys.stderr)
        return 2
    if "console" in parts and shutil.which("tmux") is None:
        print("tmux is not installed (Debian package tmux)", file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path.cwd() / "tui")], check=True)
    results: dict[str, Any] = {
        "when": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "python": sys.version.split()[0], "cpus": os.cpu_count(),
        "checkout": os.getcwd(), "size": args.size, "rounds": rounds, "passes": passes, "snapshot_runs": runs,
        "seed": args.seed, "cases": {},
    }
    seeks: list[Seek] = []
    figures: list[SnapshotFigure] = []
    with tempfile.TemporaryDirectory(prefix="wf-seek-") as scratch_dir:
        scratch = Path(scratch_dir)
        env = checkout_environment(scratch / "config")
        loads: dict[str, Any] = {"start": os.getloadavg()}
        if "snapshot" in parts and cli.STARTUP_SOURCE.exists():  # the probe's file, as cli.run has it
            cli.last_startup = cli.measure_startup(runs, env, scratch)
            results["startup"] = asdict(cli.last_startup)
        # The targets are drawn from the whole-table journal's rows (where its table fills up)
        # and used on both journals, whose windows are the same file's.
        journals = {name: scratch / f"{name}.journal" for name in dict.fromkeys(["whole-table", *names])}
        recorded = {name: record(CASES[name], path, env, scratch) for name, path in journals.items()}
        whole = read_facts(journals["whole-table"])
        for name in names:
            case = CASES[name]
            journal = journals[name]
            facts = read_facts(journal)
            same_window = (facts.start, facts.end) == (whole.start, whole.end)
            targets = choose_targets(whole if same_window else facts, randoms, args.seed)
            results["cases"][name] = {
                "record_s": recorded[name].wall, "rows": facts.last_seq, "checkpoints": list(facts.checkpoints),
                "window": [facts.start, facts.end], "targets": [asdict(t) for t in targets],
            }
            say(f"recorded {name}: {facts.last_seq} rows, {len(facts.checkpoints)} checkpoints, {len(targets)} targets")
            if "console" in parts:
                seeks += console_part(case, journal, facts, targets, rounds, passes, (width, height), args.seed, env,
                                      args.profile, say)
                loads[f"{name} console done"] = os.getloadavg()
            if "snapshot" in parts:
                figures += snapshot_part(case, journal, targets, runs, env, scratch, say)
                loads[f"{name} snapshot done"] = os.getloadavg()
    summary = summarise_seeks(seeks)
    results.update({
        "load_average": loads, "console_summary": summary, "seeks": [asdict(s) for s in seeks],
        "snapshots": [asdict(f) for f in figures],
    })
    load_text = ", ".join(f"{k} {v[0]:.1f}" for k, v in loads.items())
    print(f"seek, {len(names)} journal(s) of {FILE.name}; load average (1 min): {load_text}; {os.cpu_count()} CPUs")
    if seeks:
        print(f"\nconsole: g, target, Enter → the frame showing it (tmux {args.size}, {rounds} round(s), "
              f"{passes} passes per console; inner = the seek alone in a ReplaySession, no drawing)")
        print(seek_table(seeks, summary))
    if figures:
        startup = cli.last_startup
        print(f"\nsnapshot --at as a fresh process, median of {runs}, interleaved with re-reading the MRT file"
              + (f" (start-up: {startup.wall:.3f} s, cpu {startup.cpu:.3f} s)" if startup else ""))
        print(snapshot_table(figures))
    saved = args.json or HERE / "results" / f"seek-{results['when']}.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults written to {saved}")
    lines = missed(summary)
    for line in lines:
        print(f"MISSED: {line}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
