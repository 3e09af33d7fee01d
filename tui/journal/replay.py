"""The replay engine: a journal played back through the same engine as live, on a virtual clock.

Every replay reads a journal, so every replay can seek. A journal given as SOURCE is read in
place; anything else (MRT files, RIS Live captures, several sources at once) is first recorded
into a temporary journal by :func:`record_sources`, which applies each batch to the engine
*exactly as the replay will* (same batches, same clock, same detector ticks) and stores
checkpoints of that engine. So for sources, "seek to T" (checkpoint + the rows after it) gives
the same state as playing every event up to T, and two replays of the same input give the same
state and events.

How events are applied, live and in replay alike:

- Rows are handed to :meth:`Engine.ingest` in the batches they were recorded in, with the
  virtual clock set to the batch's replay time ``t`` (see :mod:`tui.journal.store`). Frame
  timing therefore decides only *how many* batches a :meth:`ReplaySession.step` applies, never
  how they are cut, so detectors see the same batches whatever the speed.
- Time-based detector checks (:meth:`Engine.tick`) run at every multiple of ``tick_interval``
  seconds of data time, after the batches at or before it and before the ones after it.
- Findings: when the session has detectors, Finding events found in the journal are *not*
  re-applied; the detectors run again and produce the findings (so a replay shows what the
  detectors conclude, as live did). Without detectors the recorded findings are applied as
  they were recorded. ``findings="recorded"`` / ``"rerun"`` forces either.

:meth:`ReplaySession.step_events` may stop inside a recorded batch; the rest of that batch is
then applied as a batch of its own.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from tui.core.clock import MAX_SPEED, TimeFormatError, VirtualClock, format_time, parse_time
from tui.core.engine import Detector, Engine, FeedHealth, LogEntry, describe
from tui.core.events import Event, Finding, RouteAnnounced, RouteWithdrawn
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState
from tui.core.watchlist import Watchlist
from tui.journal.sources import open_sources
from tui.journal.store import Checkpoint, JournalReader, JournalWriter, checkpoint_of, is_journal, is_logged

__all__ = [
    "ReplaySession",
    "Stepper",
    "TimeFormatError",
    "format_time",
    "next_tick",
    "parse_time",
    "rebatch",
    "record_batches",
    "record_sources",
]

PathArg = str | PathLike[str]

DEFAULT_CHUNK = 2000
"""Most events one :meth:`ReplaySession.step` applies (at any speed), so a UI stays responsive."""

JUMP_ROWS = 500
"""A forward seek loads a checkpoint instead of applying rows when that skips more rows than this."""

MAX_BATCH = 5000
"""Largest batch :func:`rebatch` builds from a file source."""


# -- batching -----------------------------------------------------------------------------------


def rebatch(
    batches: Iterable[Sequence[Event]], *, until: float | None = None, max_batch: int = MAX_BATCH
) -> Iterator[list[Event]]:
    """Regroup a file source's events into batches of one second of data time each.

    File readers cut batches wherever their buffers happen to end; one batch per second makes
    seeking land on a second and keeps batches the same for every replay. With ``until`` the
    stream stops at the first event later than it (sources are in time order).
    """
    current: list[Event] = []
    second: int | None = None
    for batch in batches:
        for event in batch:
            if until is not None and event.ts > until:
                if current:
                    yield current
                return
            this = int(math.floor(event.ts))
            if current and (this != second or len(current) >= max_batch):
                yield current
                current = []
            second = this
            current.append(event)
    if current:
        yield current


def _boundary_below(t: float, interval: float) -> float:
    """The largest multiple of ``interval`` strictly below ``t``."""
    boundary = math.floor(t / interval) * interval
    return boundary - interval if boundary >= t else boundary


TICK_BURST = 600.0
"""Seconds of silence after the last batch during which detectors are ticked every interval."""

TICK_THINNING = 10.0
"""Past the burst, about one tick per this share of the silence so far (a long gap stays cheap)."""

TICK_MAX_STEP = 3600.0
"""Longest spacing between ticks in a silence."""


def next_tick(after: float, anchor: float, interval: float) -> float:
    """The first tick time after ``after``, the last batch having been at ``anchor``.

    Every ``interval`` for :data:`TICK_BURST` seconds after a batch, then thinning out
    (power-of-two multiples of ``interval``, at most :data:`TICK_MAX_STEP`). Tick times are
    multiples of their spacing, so they depend on the data only, never on frame timing.
    """
    step = interval
    silence = after - anchor
    if silence >= TICK_BURST:
        wanted = min(silence / TICK_THINNING, TICK_MAX_STEP)
        while step * 2 <= wanted:
            step *= 2
    return math.floor(after / step) * step + step


class Stepper:
    """Applies batches to an engine the one deterministic way recording and replay share."""

    def __init__(self, engine: Engine, clock: VirtualClock, *, tick_interval: float = 1.0, rerun_findings: bool) -> None:
        self.engine = engine
        self.clock = clock
        self.tick_interval = tick_interval
        self.rerun_findings = rerun_findings
        self.ticked_until: float | None = None
        """The last tick already run (None before the first batch)."""
        self.anchor: float | None = None
        """Replay time of the last batch applied."""

    def apply(self, events: Sequence[Event], t: float) -> None:
        """Run the ticks due before ``t``, then ingest ``events`` at replay time ``t``."""
        self._ticks(t, inclusive=False)
        if self.rerun_findings:
            events = [e for e in events if not isinstance(e, Finding)]
        if events:
            self.clock.position = t
            self.engine.ingest(events)
        # The ingest ticked the detectors at t: the next tick is the first boundary after it.
        self.restored_at(t)

    def tick_through(self, t: float) -> None:
        """Run the ticks due at or before ``t`` (every batch at or before ``t`` is applied)."""
        self._ticks(t, inclusive=True)

    def _ticks(self, t: float, *, inclusive: bool) -> None:
        if self.ticked_until is None or self.anchor is None or not self.engine.detectors:
            return
        boundary = next_tick(self.ticked_until, self.anchor, self.tick_interval)
        while boundary < t or (inclusive and boundary == t):
            self.clock.position = boundary
            self.engine.tick()
            self.ticked_until = boundary
            boundary = next_tick(boundary, self.anchor, self.tick_interval)

    def restored_at(self, t: float | None) -> None:
        """The state is right after a batch at ``t`` (None: before any batch)."""
        self.anchor = t
        self.ticked_until = None if t is None else _boundary_below(t, self.tick_interval)


def _batch_time(events: Sequence[Event], previous: float | None) -> float:
    t = max(e.ts for e in events)
    return t if previous is None else max(t, previous)


def record_sources(
    sources: Sequence[PathArg],
    watchlist: Watchlist,
    writer: JournalWriter,
    *,
    engine: Engine | None = None,
    tick_interval: float = 1.0,
    rerun_findings: bool | None = None,
) -> Engine:
    """Record file sources into ``writer`` (see :func:`record_batches`), one batch per second."""
    batches = rebatch(open_sources(sources, watchlist))
    return record_batches(
        batches, watchlist, writer, engine=engine, tick_interval=tick_interval, rerun_findings=rerun_findings
    )


def record_batches(
    batches: Iterable[Sequence[Event]],
    watchlist: Watchlist,
    writer: JournalWriter,
    *,
    engine: Engine | None = None,
    tick_interval: float = 1.0,
    rerun_findings: bool | None = None,
) -> Engine:
    """Record batches into ``writer``: every event as given, checkpoints of ``engine``.

    Each batch is applied to ``engine`` first, the replay's way (:class:`Stepper`), then
    appended, so the checkpoints hold exactly the state a replay of the journal reaches at the
    same row (give ``engine`` the detectors the replay will run). Returns the engine, left at
    the end of the data.
    """
    if engine is None:
        engine = Engine(watchlist, VirtualClock(0.0, math.inf))
    clock = engine.clock if isinstance(engine.clock, VirtualClock) else VirtualClock(0.0, math.inf)
    engine.clock = clock
    rerun = bool(engine.detectors) if rerun_findings is None else rerun_findings
    stepper = Stepper(engine, clock, tick_interval=tick_interval, rerun_findings=rerun)
    writer.attach(engine)
    previous = writer.last_t
    for batch in batches:
        if not batch:
            continue
        t = _batch_time(batch, previous)
        stepper.apply(batch, t)
        writer.append(batch)
        previous = t
    return engine


# -- the session --------------------------------------------------------------------------------


RESTORED_ROUTES = 3_000_000
"""Routes kept in memory across the checkpoints a session restored (about 50 bytes each)."""


class RestoredCheckpoints:
    """The last checkpoints a replay restored, rebuilt, so that going back to one is a copy.

    Rebuilding a whole table from a checkpoint costs a pass over each of its routes (most of a
    seek's time); copying the tables of one already rebuilt is one C-level copy per table. The
    oldest are dropped once more than :data:`RESTORED_ROUTES` routes are kept.
    """

    def __init__(self, budget: int = RESTORED_ROUTES) -> None:
        self.budget = budget
        self._kept: OrderedDict[int, tuple[dict[str, Any], RouteState]] = OrderedDict()

    def has(self, seq: int) -> bool:
        """Whether the checkpoint at row ``seq`` is kept."""
        return seq in self._kept

    def take(self, seq: int) -> tuple[dict[str, Any], RouteState] | None:
        """The checkpoint at row ``seq`` as kept (its data less the table, and the table), or None."""
        return self._kept.pop(seq, None)

    def keep(self, seq: int, data: dict[str, Any], table: RouteState) -> None:
        """Keep the checkpoint at row ``seq`` (the most recently used)."""
        self._kept[seq] = (data, table)
        while len(self._kept) > 1 and sum(t.route_count_at_most() for _, t in self._kept.values()) > self.budget:
            self._kept.popitem(last=False)


class ReplaySession:
    """A journal played back through an :class:`Engine` under a :class:`VirtualClock`.

    Invariant: the engine holds every row with replay time ``t <= clock.position`` (up to
    :attr:`cursor`), except right after :meth:`open`, where nothing is applied yet and the first
    :meth:`step` applies the rows at ``start``; and inside a MAX_SPEED run, where the clock is
    pulled along with the rows applied so far.
    """

    def __init__(
        self,
        reader: JournalReader,
        engine: Engine,
        clock: VirtualClock,
        *,
        rerun_findings: bool,
        tick_interval: float = 1.0,
        chunk: int = DEFAULT_CHUNK,
        workdir: Path | None = None,
    ) -> None:
        self.reader = reader
        self.engine = engine
        self.clock = clock
        self.chunk = chunk
        self.cursor = 0
        """Sequence number of the last row applied (0: none)."""
        self._stepper = Stepper(engine, clock, tick_interval=tick_interval, rerun_findings=rerun_findings)
        self._restored = RestoredCheckpoints()
        self._checkpoint_rows = reader.checkpoint_rows()
        self._workdir = workdir
        bounds = reader.bounds()
        self.last_seq = bounds[2] if bounds else 0

    @classmethod
    def open(
        cls,
        source: PathArg | Sequence[PathArg],
        watchlist: Watchlist,
        *,
        detectors: Sequence[Detector] = (),
        findings: str | None = None,
        checkpoint_interval: float = 300.0,
        checkpoint_changes: int = 50_000,
        checkpoint_rows: int = 2_000,
        keep_all_routes: bool = False,
        log_size: int = 5000,
        tick_interval: float = 1.0,
        chunk: int = DEFAULT_CHUNK,
        tmp_dir: PathArg | None = None,
    ) -> ReplaySession:
        """Open a journal, or record file sources into a temporary journal first.

        ``findings`` is ``"rerun"`` (detectors produce them; the default when detectors are
        given) or ``"recorded"`` (the journal's findings are applied; the default without).
        Raises :class:`~tui.journal.store.JournalError` or the sources' errors.
        """
        paths = [source] if isinstance(source, str | PathLike) else list(source)
        if findings not in (None, "rerun", "recorded"):
            raise ValueError(f"findings must be 'rerun' or 'recorded', not {findings!r}")
        rerun = bool(detectors) if findings is None else findings == "rerun"
        clock = VirtualClock(0.0, 0.0)
        engine = Engine(watchlist, clock, keep_all_routes=keep_all_routes, detectors=detectors, log_size=log_size)
        workdir: Path | None = None
        if len(paths) == 1 and is_journal(paths[0]):
            reader = JournalReader(paths[0])
        else:
            workdir = Path(tempfile.mkdtemp(prefix="watchfloor-replay-", dir=tmp_dir))
            try:
                journal = workdir / "replay.journal"
                writer = JournalWriter(
                    journal, watchlist=watchlist, checkpoint_interval=checkpoint_interval,
                    checkpoint_changes=checkpoint_changes, checkpoint_rows=checkpoint_rows, background=False,
                )
                try:
                    record_sources(
                        paths, watchlist, writer, engine=engine, tick_interval=tick_interval, rerun_findings=rerun
                    )
                finally:
                    writer.close()
                reader = JournalReader(journal)
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
        bounds = reader.bounds()
        start, end = (bounds[0], bounds[1]) if bounds else (0.0, 0.0)
        clock.start, clock.end, clock.position = start, end, start
        clock.playing = False
        session = cls(reader, engine, clock, rerun_findings=rerun, tick_interval=tick_interval, chunk=chunk, workdir=workdir)
        session._reset()
        return session

    # -- window ---------------------------------------------------------------------------------

    @property
    def start(self) -> float:
        """Replay time of the first row."""
        return self.clock.start

    @property
    def end(self) -> float:
        """Replay time of the last row (or the limit set on the clock)."""
        return self.clock.end

    @property
    def position(self) -> float:
        """Where the clock is."""
        return self.clock.position

    @property
    def ending(self) -> str:
        """What the window's end is: ``"data"`` (the journal's last row) or ``"window"`` (an earlier
        ``--until``), for the summaries of what is still under way there (:meth:`Engine.ending`)."""
        bounds = self.reader.bounds()
        return "window" if bounds is not None and self.clock.end < bounds[1] else "data"

    def refresh(self) -> bool:
        """Pick up rows a writer appended since (``attach``); True when the journal grew."""
        bounds = self.reader.bounds()
        if bounds is None or bounds[2] <= self.last_seq:
            return False
        if self.last_seq == 0:
            self.clock.start = self.clock.position = bounds[0]
        self.last_seq = bounds[2]
        self.clock.end = bounds[1]
        self._checkpoint_rows = self.reader.checkpoint_rows()
        return True

    # -- controls -------------------------------------------------------------------------------

    def play(self) -> None:
        """Start (or resume) playing at the current speed."""
        self.clock.playing = self.clock.position < self.clock.end or self.cursor < self._end_seq()

    def pause(self) -> None:
        """Stop the clock."""
        self.clock.playing = False

    def toggle(self) -> None:
        """Play when paused, pause when playing."""
        if self.clock.playing:
            self.pause()
        else:
            self.play()

    def faster(self) -> float:
        """Next speed up the ladder; returns it."""
        return self.clock.faster()

    def slower(self) -> float:
        """Next speed down the ladder; returns it."""
        return self.clock.slower()

    def step(self, real_elapsed: float) -> bool:
        """Advance by ``real_elapsed`` wall seconds at the current speed; True when state changed."""
        if not self.clock.playing:
            return False
        revision = self.engine.revision
        if self.clock.speed == MAX_SPEED:
            self._step_chunk()
        else:
            target = self.clock.advance(real_elapsed)
            due = self.reader.last_seq_at(target)
            if due - self.cursor > self.chunk:
                # More rows due than one step may apply (a fast speed over a dense stretch):
                # apply a chunk, as at MAX_SPEED, and let the clock wait for the rest.
                stop = self.cursor + self.chunk
                self._goto(stop, jump=False)
                t = self.reader.t_of(stop)
                self.clock.position = t if t is not None else self.clock.position
                self.clock.playing = True  # advance() stops the clock at the end: rows remain
            else:
                self._goto(due, jump=False)
                self._stepper.tick_through(target)
                self.clock.position = target
        return self.engine.revision != revision

    def _end_seq(self) -> int:
        return self.reader.last_seq_at(self.clock.end)

    def _step_chunk(self) -> None:
        end_seq = self._end_seq()
        if self.cursor < end_seq:
            # A recorded batch may hold thousands of rows; stopping inside one keeps each step
            # short so a key press is answered at once (findings do not depend on batching).
            stop = min(self.cursor + self.chunk, end_seq)
            self._goto(stop, jump=False)
            t = self.reader.t_of(stop)
            self.clock.position = t if t is not None else self.clock.position
        if self.cursor >= end_seq:
            self._stepper.tick_through(self.clock.end)
            self.clock.position = self.clock.end
            self.clock.playing = False

    def seek(self, ts: float) -> None:
        """Jump to ``ts``: the nearest checkpoint at or before it, then the rows after it."""
        self._goto(self.reader.last_seq_at(ts))
        position = self.clock.seek(ts)
        if ts >= self.clock.start:
            self._stepper.tick_through(position)
            # Each tick put the clock at its own time; the seek lands where it was asked to.
            self.clock.position = position

    def step_events(self, n: int) -> None:
        """Move by ``n`` events (back when negative); the clock goes to the last applied row."""
        target = max(0, min(self.last_seq, self.cursor + n))
        self._goto(target)
        t = self.reader.t_of(target) if target else None
        self.clock.position = self.clock.start if t is None else t

    def next_event_of_note(self) -> float | None:
        """Seek to the next event of note after the clock; returns its time, or None."""
        position = self.clock.position
        pending_here = self.cursor < self.reader.last_seq_at(position)
        t = self.reader.next_note(position, inclusive=pending_here)
        if t is not None and t <= self.clock.end:
            self.seek(t)
            return t
        return None

    def previous_event_of_note(self) -> float | None:
        """Seek to the last event of note before the clock; returns its time, or None."""
        t = self.reader.previous_note(self.clock.position)
        if t is not None:
            self.seek(t)
        return t

    def history(self, prefix: Prefix | str, since: float | None = None, until: float | None = None) -> list[Event]:
        """Recorded route events of ``prefix`` and its more-specifics, and findings about it."""
        wanted = prefix if isinstance(prefix, Prefix) else Prefix.parse(prefix)
        return self.reader.history(wanted, since, until)

    def close(self) -> None:
        """Close the journal; a temporary one is deleted."""
        self.reader.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> ReplaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- moving the cursor ----------------------------------------------------------------------

    def _goto(self, target: int, *, jump: bool = True) -> None:
        """Make the engine hold exactly rows 1..target.

        Backwards always goes through a checkpoint; forwards only when ``jump`` and the
        checkpoint saves applying at least :data:`JUMP_ROWS` rows (playing never jumps, so the
        log grows event by event).
        """
        if target == self.cursor:
            return
        if target < self.cursor:
            position = self.reader.checkpoint_position(target) if target else None
            if position is None:
                self._reset()
            else:
                self._restore(*position)
        elif jump and target - self.cursor > JUMP_ROWS:
            position = self.reader.checkpoint_position(target)
            if position is not None and position[0] > self.cursor + JUMP_ROWS:
                self._restore(*position)
        self._apply_rows(target)

    def _reset(self) -> None:
        self.engine.reset()
        self.cursor = 0
        self._stepper.restored_at(None)

    def _restore(self, seq: int, t: float) -> None:
        """Put the engine in the state of the checkpoint at row ``seq`` (replay time ``t``)."""
        data, table = self._restored_checkpoint(seq)
        self.engine.reset()
        self.engine.restore(data["engine"], state=table.copy())
        self.engine.timeline.restore(data.get("timeline", {}))
        self.engine.feeds = {h["name"]: FeedHealth(**h) for h in data.get("feeds", ())}
        self.engine.counters.update(data.get("counters", {}))
        self.cursor = seq
        self._stepper.restored_at(t)
        self._refill_log()

    def _restored_checkpoint(self, seq: int, checkpoint: Checkpoint | None = None) -> tuple[dict[str, Any], RouteState]:
        """The checkpoint at row ``seq`` restored (its data less the table, and the table),
        from those kept or from the file (``checkpoint`` when the caller has read it); kept as
        the most recently used.

        A delta checkpoint's table is applied to its base's, which is restored (and kept) the
        same way: seeking about between the checkpoints of one base reads that base once.
        """
        cached = self._restored.take(seq)
        if cached is None:
            checkpoint = checkpoint or self.reader.checkpoint_at(seq)
            assert checkpoint is not None  # seq is a row of the checkpoints table
            base = None
            if checkpoint.base is not None:
                # Read (and checked to be a whole one) only when not kept already.
                found = None if self._restored.has(checkpoint.base) else self.reader.base_checkpoint(checkpoint)
                base = self._restored_checkpoint(checkpoint.base, found)[1]
            table = self.reader.route_state(checkpoint, base)
            data = checkpoint.data
            # What the rest of a restore needs; the table's own columns are not kept twice.
            data["engine"] = {k: v for k, v in data["engine"].items() if k != "state"}
            cached = data, table
        self._restored.keep(seq, *cached)
        return cached

    def _apply_rows(self, target: int) -> None:
        """Apply rows cursor+1..target, batch by batch."""
        if target <= self.cursor:
            return
        group: list[Event] = []
        group_batch: int | None = None
        group_t = 0.0
        group_end = self.cursor
        for row in self.reader.rows(self.cursor, target):
            if row.batch != group_batch and group:
                self._stepper.apply(group, group_t)
                self._passed(group_end, group_t)
                group = []
            group_batch, group_t, group_end = row.batch, row.t, row.seq
            group.append(row.event)
        if group:
            self._stepper.apply(group, group_t)
            self._passed(group_end, group_t)
        self.cursor = target

    def _passed(self, seq: int, t: float) -> None:
        """The engine is now right after row ``seq``: at a checkpoint, keep a copy of its state.

        Playing through a checkpoint costs a copy of the tables; seeking back to it later is
        then as cheap, instead of rebuilding the table from the journal.
        """
        if seq in self._checkpoint_rows and not self._restored.has(seq):
            self._restored.keep(seq, checkpoint_of(self.engine, with_table=False), self.engine.state.copy())

    def _refill_log(self) -> None:
        """After a restore, fill the event log from the logged rows before the cursor (as recorded).

        Only rows the log shows are read (the journal marks them): a whole table's bulk rows,
        tens of thousands of them before any checkpoint, are not even decoded.
        """
        log = self.engine.log
        log.clear()
        watchlist = self.engine.watchlist
        entries: list[LogEntry] = []
        for row in self.reader.logged_rows(self.cursor, log.maxlen or 5000):
            event = row.event
            if isinstance(event, Finding) and self._stepper.rerun_findings:
                continue  # the detectors' own findings are in the restored state, not the journal's
            if not is_logged(event, watchlist):
                continue  # an older journal marks no rows; this session's watchlist decides
            relations = watchlist.relations(event.prefix) if isinstance(event, RouteAnnounced | RouteWithdrawn) else []
            severity, kind, watch, subject, text = describe(event, watchlist, relations)
            entries.append(LogEntry(event.ts, severity, kind, watch, subject, text, getattr(event, "prefix", None), event))
        log.extend(entries)
