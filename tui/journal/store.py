"""The journal: every event as it arrived, plus checkpoints, in one SQLite file.

Layout (schema version :data:`SCHEMA_VERSION`):

- ``schema_version(version, written_by, created)``: one row; a file with a newer version is
  refused rather than misread.
- ``events(seq, batch, t, ts, kind, prefix, watch, finding_id, note, logged, payload)``: one
  row per event in arrival order (``seq``). ``payload`` is :func:`tui.journal.codec.encode_event`:
  the event's JSON, or a packed binary form for the bulk routes of a whole table. ``batch``
  numbers the :meth:`JournalWriter.append` call the event came in, so a replay hands the
  engine the same batches the live run did. ``t`` is the *replay time* of the row: the
  latest event time seen so far, shared by every row of a batch. It never goes backwards even
  when feeds deliver slightly out of order, so "everything up to time T" is always a prefix of
  the journal. ``prefix``, ``watch``, ``finding_id``, ``note`` (an event of note: see
  :func:`is_of_note`) and ``logged`` (an event the event log shows: see :func:`is_logged`)
  are indexed for drill-down, navigation and refilling the log after a seek.
- ``checkpoints(seq, t, payload)``: the engine's checkpoint (plus its timeline and feed health)
  taken right after the row ``seq`` was applied (:func:`tui.journal.codec.encode_checkpoint`:
  the route table as a few compressed byte columns), whenever ``checkpoint_interval`` seconds
  of data time or ``checkpoint_changes`` route changes passed since the previous one, whichever
  comes first: a whole table that arrives within a minute still gets checkpoints all along it.
  A checkpoint is framed when it is taken and compressed in a thread of its own (zlib works
  without the GIL) while the rows after it are stored; it is inserted with the rows that follow
  it, and always before a ``checkpoint()`` call or ``close`` returns.
  Seeking to T = restore the last checkpoint with ``t <= T``, then apply the rows after it.

Journals of schema version 1 (JSON rows, JSON checkpoints of the old route mirrors) are still
read: their rows replay as they were written; their checkpoints are passed over, so a seek
replays from the start. They are not appended to.

Durability: WAL mode with ``synchronous=NORMAL``. A WAL commit is written to the operating
system before ``COMMIT`` returns, so killing the process (``kill -9``) loses only the open,
uncommitted transaction; :class:`JournalWriter` commits at least every ``commit_interval``
seconds (1 s), from a background thread when appends stop. A power failure may additionally
lose the transactions since the last WAL sync, never the file's consistency; pass
``durable=True`` (``synchronous=FULL``) when that matters more than write speed.

Readers (:class:`JournalReader`) open the file read-only and can run while a writer appends
(WAL lets them read the last committed state without blocking it).

One writer at a time: :class:`JournalWriter` holds an exclusive ``flock`` on ``<journal>-writer``
(beside SQLite's own ``-wal`` and ``-shm``; left in place, it holds only the writer's pid) for
as long as it is open. A second collector pointed at the same journal is refused instead of
interleaving its batches, and a console can tell a quiet collector from one that is gone
(:func:`writer_running`): the operating system releases the lock when the writer dies, even by
``kill -9``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from tui import __version__
from tui.core.engine import describe
from tui.core.events import (
    BulkRoutes,
    DnsProbeResult,
    Event,
    FeedStatus,
    Finding,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
    WatchExpanded,
)
from tui.core.memory import paused_collection
from tui.core.prefixes import Prefix, PrefixError
from tui.core.routes import RouteState
from tui.core.watchlist import Watchlist
from tui.journal.codec import (
    CodecError,
    checkpoint_frame,
    compress_checkpoint,
    decode_checkpoint,
    decode_event,
    encode_event,
)

try:
    import fcntl
except ImportError:  # not POSIX: no writer lock, and liveness reads as unknown
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "SCHEMA_VERSION",
    "SQLITE_MAGIC",
    "Checkpoint",
    "JournalError",
    "JournalReader",
    "JournalWriter",
    "Row",
    "checkpoint_of",
    "is_journal",
    "is_logged",
    "is_of_note",
    "read_journal",
    "writer_lock_path",
    "writer_running",
]

SCHEMA_VERSION = 2
"""Bumped whenever a reader of the old layout would misread the new one."""

READABLE_VERSIONS = (1, 2)
"""Schema versions this code reads (it writes only :data:`SCHEMA_VERSION`)."""

SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_DDL = """
CREATE TABLE schema_version (version INTEGER NOT NULL, written_by TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    batch INTEGER NOT NULL,
    t REAL NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    prefix TEXT,
    watch TEXT,
    finding_id TEXT,
    note INTEGER NOT NULL DEFAULT 0,
    logged INTEGER NOT NULL DEFAULT 0,
    payload BLOB NOT NULL
);
CREATE INDEX events_t ON events (t, seq);
CREATE INDEX events_prefix ON events (prefix, t) WHERE prefix IS NOT NULL;
CREATE INDEX events_watch ON events (watch, t) WHERE watch IS NOT NULL;
CREATE INDEX events_finding ON events (finding_id) WHERE finding_id IS NOT NULL;
CREATE INDEX events_note ON events (t) WHERE note = 1;
CREATE INDEX events_logged ON events (seq) WHERE logged = 1;
CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, t REAL NOT NULL, payload BLOB NOT NULL);
CREATE INDEX checkpoints_t ON checkpoints (t);
"""


class JournalError(Exception):
    """A file is not a journal this version can read, or the journal cannot be written."""


def is_journal(path: str | PathLike[str]) -> bool:
    """True when ``path`` starts like an SQLite database (the journal's container)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def is_of_note(event: Event, watchlist: Watchlist | None = None) -> bool:
    """Whether ``[``/``]``-style navigation stops at ``event``.

    Events of note: announcements and withdrawals concerning a watch, sessions going down, feed
    problems (down, gap, error, rejected records), findings, and DNS answers that are not ok.
    """
    if isinstance(event, RouteAnnounced | RouteWithdrawn):
        if watchlist is None:
            return True
        as_path = event.as_path if isinstance(event, RouteAnnounced) else None
        return watchlist.is_relevant(event.prefix, as_path)
    if isinstance(event, PeerStateChanged):
        return not event.is_up
    if isinstance(event, FeedStatus):
        return event.state not in ("up", "connecting", "ended") or event.gap_start is not None
    if isinstance(event, RecordRejected | Finding):
        return True
    if isinstance(event, DnsProbeResult):
        return event.outcome != "ok"
    return False


def is_logged(event: Event, watchlist: Watchlist | None = None) -> bool:
    """Whether the event log shows ``event`` (what a seek refills it with, as the engine logs).

    Route events concerning a watch (a whole table's others are not logged, see the engine),
    session and feed changes, rejected records, findings, and DNS answers that are not ok.
    """
    if isinstance(event, RouteAnnounced | RouteWithdrawn):
        if watchlist is None:
            return True
        as_path = event.as_path if isinstance(event, RouteAnnounced) else None
        return bool(watchlist.relations(event.prefix)) or watchlist.is_relevant(event.prefix, as_path)
    if isinstance(event, DnsProbeResult):
        return event.outcome != "ok"
    return isinstance(event, PeerStateChanged | FeedStatus | RecordRejected | Finding | WatchExpanded)


def _index_columns(event: Event, watchlist: Watchlist | None) -> tuple[str | None, str | None, str | None]:
    """(prefix, watch, finding_id) for the indexed columns of ``event``."""
    prefix: str | None = None
    watch: str | None = None
    finding_id: str | None = None
    if isinstance(event, RouteAnnounced | RouteWithdrawn):
        prefix = str(event.prefix)
        if watchlist is not None:
            watch = describe(event, watchlist, watchlist.relations(event.prefix))[2] or None
    elif isinstance(event, Finding):
        finding_id = event.finding_id
        watch = event.watch or None
        try:
            prefix = str(Prefix.parse(event.subject, strict=True))
        except PrefixError:
            prefix = None
    elif isinstance(event, DnsProbeResult) and watchlist is not None:
        watch = ", ".join(watchlist.zones().get(event.zone, [])) or None
    return prefix, watch, finding_id


@dataclass(frozen=True, slots=True)
class Row:
    """One stored event with its position in the journal."""

    seq: int
    batch: int
    t: float
    event: Event


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored checkpoint: the engine state right after row ``seq`` (replay time ``t``)."""

    seq: int
    t: float
    data: dict[str, Any]

    @property
    def base(self) -> int | None:
        """For a delta checkpoint (its route table stored as changes), the row of the full
        checkpoint those changes are counted from; None for a full one."""
        base = self.data.get("base")
        return base if isinstance(base, int) else None


def _check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """The journal's schema version; refuses files that are not journals, or too new or old ones."""
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            raise JournalError(f"{path}: an SQLite file but not a watchfloor journal (no schema_version table)") from None
        raise JournalError(f"{path}: cannot read the journal: {exc}") from None
    if row is None:
        raise JournalError(f"{path}: journal has an empty schema_version table; the file is damaged")
    if row[0] > SCHEMA_VERSION:
        raise JournalError(
            f"{path}: journal schema version {row[0]} is newer than this watchfloor {__version__} reads "
            f"(up to {SCHEMA_VERSION}); upgrade watchfloor to read it"
        )
    if row[0] not in READABLE_VERSIONS:
        raise JournalError(f"{path}: journal schema version {row[0]} is older than {READABLE_VERSIONS[0]} and not supported")
    return int(row[0])


class JournalWriter:
    """Appends events to a journal; implements the engine's ``Recorder`` protocol.

    Two ways to feed it, one format:

    - as the live engine's recorder (``Engine(recorder=writer)`` then :meth:`attach`): it gets
      what the engine applied, plus findings, after each batch;
    - directly (:func:`tui.journal.replay.record_sources`): raw source batches, with
      :meth:`attach` pointing at an engine that has just ingested the same batch.

    Either way a checkpoint is taken after an append that moves data time at least
    ``checkpoint_interval`` seconds past the previous checkpoint, or that brings the route
    changes since it (a route event is one; bulk routes count each prefix) to
    ``checkpoint_changes``; never mid-batch, and on close.

    ``background`` runs the thread that commits during quiet spells; ``compress_in_thread``
    compresses each checkpoint in a thread of its own (``False``: inline, as it is taken).
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        watchlist: Watchlist | None = None,
        checkpoint_interval: float = 300.0,
        checkpoint_changes: int = 50_000,
        checkpoint_rows: int = 2_000,
        commit_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
        durable: bool = False,
        compress_in_thread: bool = True,
    ) -> None:
        self.path = Path(path)
        self.watchlist = watchlist
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_changes = checkpoint_changes
        self.checkpoint_rows = checkpoint_rows
        self.commit_interval = commit_interval
        self._clock = clock
        self._lock = threading.RLock()
        self._checkpoint_source: Callable[[bool], dict[str, Any]] | None = None
        self._track_changes: Callable[[], None] = lambda: None
        self._writer_lock = _WriterLock.take(self.path)
        try:
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            fresh = self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:
                # Not executescript: it would COMMIT on its own, and the schema must appear whole.
                self._conn.execute("BEGIN")
                for statement in _DDL.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self._conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?)", (SCHEMA_VERSION, f"watchfloor {__version__}", time.time())
                )
                self._conn.execute("COMMIT")
            elif _check_schema(self._conn, self.path) != SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path}: written by an older watchfloor (journal schema version 1); it can be read "
                    "and replayed, not appended to: give this run a new journal"
                )
        except sqlite3.DatabaseError as exc:
            self._writer_lock.release()
            raise JournalError(f"{self.path}: cannot open the journal for writing: {exc}") from None
        except JournalError:
            self._writer_lock.release()
            raise
        last = self._conn.execute("SELECT max(seq), max(batch), max(t) FROM events").fetchone()
        self.last_seq: int = last[0] or 0
        self._batch: int = last[1] or 0
        self.last_t: float | None = last[2]
        cp = self._conn.execute("SELECT max(t) FROM checkpoints").fetchone()[0]
        self._next_checkpoint_t: float | None = None if cp is None else cp + checkpoint_interval
        self._changes = 0
        """Route changes appended since the last full checkpoint."""
        self._rows = 0
        """Rows appended since the last checkpoint, full or delta."""
        self._base_seq: int | None = None
        """The row of this writer's last full checkpoint: what a delta checkpoint is relative to."""
        self._compressing: _Compression | None = None
        """The last checkpoint taken, while a thread compresses it (at most one at a time)."""
        self._compress_in_thread = compress_in_thread
        self.appended = 0
        """Events appended by this writer (committed or not)."""
        self.committed = 0
        """Events appended by this writer and committed (safe from a process crash)."""
        self.checkpoints = 0
        self._in_transaction = False
        self._last_commit = self._clock()
        self._closed = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if background:
            self._flusher = threading.Thread(target=self._flush_loop, name="journal-commit", daemon=True)
            self._flusher.start()

    # -- the Recorder protocol ------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> None:
        """Store one batch (one replay step); commits when ``commit_interval`` has passed."""
        if not events:
            return
        with self._lock:
            if self._closed:
                raise JournalError(f"{self.path}: journal already closed")
            batch_t = max(e.ts for e in events)
            if self.last_t is not None:
                batch_t = max(batch_t, self.last_t)
            self._batch += 1
            rows: list[tuple[Any, ...]] = []
            watchlist = self.watchlist
            self._rows += len(events)
            for event in events:
                self.last_seq += 1
                if event.__class__ is BulkRoutes:
                    # A whole table's routes: nothing to index, never of note, never logged.
                    self._changes += len(event.announced) + len(event.withdrawn)
                    rows.append(
                        (self.last_seq, self._batch, batch_t, event.ts, "bulk", None, None, None, 0, 0, encode_event(event))
                    )
                    continue
                self._changes += 1
                prefix, watch, finding_id = _index_columns(event, watchlist)
                rows.append(
                    (self.last_seq, self._batch, batch_t, event.ts, event.KIND, prefix, watch, finding_id,
                     1 if is_of_note(event, watchlist) else 0, 1 if is_logged(event, watchlist) else 0,
                     encode_event(event))
                )
            self._begin()
            self._conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self.appended += len(rows)
            self.last_t = batch_t
            if self._next_checkpoint_t is None:
                self._next_checkpoint_t = batch_t + self.checkpoint_interval
            full = batch_t >= self._next_checkpoint_t or self._changes >= self.checkpoint_changes
            delta = self._rows >= self.checkpoint_rows and self._base_seq is not None
            if (full or delta) and self._checkpoint_source is not None:
                self._write_checkpoint(delta=not full)
            else:
                self._store_compressed(wait=False)
            if self._clock() - self._last_commit >= self.commit_interval:
                self._commit()

    # -- checkpoints ----------------------------------------------------------------------------

    def attach(self, engine: Any) -> None:
        """Take checkpoints from ``engine`` (its state must include every appended event)."""
        self._checkpoint_source = lambda delta: checkpoint_of(engine, table_delta=delta)
        self._track_changes = lambda: engine.state.track_changes()

    def checkpoint(self) -> None:
        """Store a checkpoint now (after the last appended event)."""
        with self._lock:
            taken = self._rows == 0 and self.checkpoints > 0  # this writer's last one is after this row
            if self._checkpoint_source is not None and self.last_seq and self.last_t is not None and not taken:
                self._begin()
                self._write_checkpoint(delta=self._base_seq is not None)
                self._store_compressed(wait=True)

    def _write_checkpoint(self, *, delta: bool) -> None:
        """Store a checkpoint after the last row: the whole route table, or with ``delta``
        (and a full checkpoint before it from this writer) only what changed since that one.

        Full checkpoints come every ``checkpoint_interval`` of data time or
        ``checkpoint_changes`` route changes; deltas every ``checkpoint_rows`` rows between
        them, so that a seek never applies more rows than that after a restore, while a
        checkpoint costs what changed rather than the whole table.
        """
        assert self._checkpoint_source is not None and self.last_t is not None
        data = self._checkpoint_source(delta)
        if data["engine"].get("state", {}).get("delta"):
            data["base"] = self._base_seq
        else:
            # Full (asked for, or the engine's table was replaced since and tracks nothing).
            self._base_seq = self.last_seq
            self._track_changes()
            self._next_checkpoint_t = self.last_t + self.checkpoint_interval
            self._changes = 0
        # Framed here, while the state is that of this row; compressed by zlib in a thread of
        # its own (it releases the GIL), while the rows after it go on being read and stored.
        frame = checkpoint_frame(data)
        self._store_compressed(wait=True)
        job = _Compression(self.last_seq, self.last_t, frame)
        if self._compress_in_thread:
            self._compressing = job.start()
        else:
            self._insert_checkpoint(job.run())
        self.checkpoints += 1
        self._rows = 0

    def _store_compressed(self, *, wait: bool) -> None:
        """Insert the checkpoint being compressed once it is (at once with ``wait``)."""
        job = self._compressing
        if job is not None and (wait or job.done()):
            self._compressing = None
            self._begin()
            self._insert_checkpoint(job.result(self.path))

    def _insert_checkpoint(self, job: _Compression) -> None:
        self._conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (job.seq, job.t, job.payload))

    # -- transactions ---------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_transaction:
            self._conn.execute("BEGIN")
            self._in_transaction = True

    def _commit(self) -> None:
        self._store_compressed(wait=False)
        if self._in_transaction:
            self._conn.execute("COMMIT")
            self._in_transaction = False
        self.committed = self.appended
        self._last_commit = self._clock()

    def commit(self) -> None:
        """Commit whatever is pending now."""
        with self._lock:
            if not self._closed:
                self._commit()

    def _flush_loop(self) -> None:
        # Appends commit on their own while events flow; this covers the quiet spells, so an
        # event never waits more than about one commit interval to become crash-safe.
        while not self._stop.wait(self.commit_interval / 2):
            with self._lock:
                if self._closed:
                    return
                if self._in_transaction and self._clock() - self._last_commit >= self.commit_interval / 2:
                    try:
                        self._commit()
                    except sqlite3.Error:
                        return

    def close(self, *, checkpoint: bool = True) -> None:
        """Commit, store a final checkpoint (so seeking to the end is cheap), and close."""
        with self._lock:
            if self._closed:
                return
            if checkpoint:
                self.checkpoint()
            self._store_compressed(wait=True)
            self._commit()
            self._closed = True
        self._stop.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        self._conn.close()
        self._writer_lock.release()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Compression:
    """One checkpoint's frame (row ``seq``, time ``t``) being compressed, inline or in a thread."""

    def __init__(self, seq: int, t: float, frame: bytes) -> None:
        self.seq, self.t = seq, t
        self._frame = frame
        self.payload = b""
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def run(self) -> _Compression:
        try:
            self.payload = compress_checkpoint(self._frame)
        except BaseException as exc:  # handed to the writer's thread, raised there by result()
            self._error = exc
        self._frame = b""
        return self

    def start(self) -> _Compression:
        self._thread = threading.Thread(target=self.run, name="journal-checkpoint", daemon=True)
        self._thread.start()
        return self

    def done(self) -> bool:
        return self._thread is None or not self._thread.is_alive()

    def result(self, path: Path) -> _Compression:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise JournalError(f"{path}: checkpoint at row {self.seq} could not be compressed: {self._error}")
        return self


def checkpoint_of(engine: Any, *, with_table: bool = True, table_delta: bool = False) -> dict[str, Any]:
    """What a journal checkpoint holds of ``engine``: its own checkpoint, timeline, feeds, counters."""
    return {
        "engine": engine.checkpoint(with_table=with_table, table_delta=table_delta),
        "timeline": engine.timeline.to_snapshot(),
        "feeds": [asdict(h) for h in engine.feeds.values()],
        "counters": dict(engine.counters),
    }


def writer_lock_path(path: str | PathLike[str]) -> Path:
    """The file a journal's writer holds locked: ``<journal>-writer``."""
    journal = Path(path)
    return journal.with_name(journal.name + "-writer")


def writer_running(path: str | PathLike[str]) -> bool | None:
    """Whether a :class:`JournalWriter` has ``path`` open now (None where this cannot be told)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(writer_lock_path(path), os.O_RDONLY)
    except FileNotFoundError:
        return False  # never written by this version, or by nobody
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class _WriterLock:
    """The exclusive lock a writer holds on ``<journal>-writer`` while it is open."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def take(cls, journal: Path) -> _WriterLock:
        if fcntl is None:
            return cls(None)
        lock_path = writer_lock_path(journal)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"{journal}: cannot create the writer lock {lock_path.name}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise JournalError(
                f"{journal}: another process{who} is writing this journal; two writers would interleave "
                "their events (attach to it instead, or give this collector its own --journal)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # The file stays: removing it would let a writer that opened it just before lock
            # a name nobody else sees any more.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class JournalReader:
    """Read-only access to a journal; safe while a writer is appending."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise JournalError(f"{self.path}: no such journal")
        if not is_journal(self.path):
            raise JournalError(f"{self.path}: not a watchfloor journal (not an SQLite file)")
        try:
            self._conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False)
            self.version = _check_schema(self._conn, self.path)
            """The journal's schema version (1 is read without its checkpoints)."""
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- size and time --------------------------------------------------------------------------

    def bounds(self) -> tuple[float, float, int] | None:
        """(first t, last t, last seq), or None for an empty journal."""
        row = self._conn.execute("SELECT min(t), max(t), max(seq) FROM events").fetchone()
        return None if row[2] is None else (row[0], row[1], row[2])

    def count(self) -> int:
        """Number of stored events."""
        count: int = self._conn.execute("SELECT count(*) FROM events").fetchone()[0]
        return count

    def last_seq_at(self, t: float) -> int:
        """The last row whose replay time is at most ``t`` (0 when none)."""
        row = self._conn.execute("SELECT seq FROM events WHERE t <= ? ORDER BY t DESC, seq DESC LIMIT 1", (t,)).fetchone()
        return row[0] if row else 0

    def t_of(self, seq: int) -> float | None:
        """Replay time of row ``seq``."""
        row = self._conn.execute("SELECT t FROM events WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def batch_end(self, seq: int) -> int:
        """The last row of the batch that row ``seq`` belongs to."""
        row = self._conn.execute(
            "SELECT max(seq) FROM events WHERE batch = (SELECT batch FROM events WHERE seq = ?)", (seq,)
        ).fetchone()
        return row[0] or seq

    # -- rows -----------------------------------------------------------------------------------

    def rows(self, after_seq: int, until_seq: int | None = None, *, limit: int | None = None) -> Iterator[Row]:
        """Rows with ``after_seq < seq <= until_seq`` in order; raises :class:`JournalError` on a bad row."""
        sql = "SELECT seq, batch, t, payload FROM events WHERE seq > ?"
        params: list[Any] = [after_seq]
        if until_seq is not None:
            sql += " AND seq <= ?"
            params.append(until_seq)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for seq, batch, t, payload in self._conn.execute(sql, params):
            yield Row(seq, batch, t, self._decode(seq, payload))

    def _decode(self, seq: int, payload: bytes | str) -> Event:
        try:
            return decode_event(payload)
        except CodecError as exc:
            raise JournalError(f"{self.path}: event #{seq} cannot be read: {exc}") from None

    def batches(self) -> Iterator[list[Event]]:
        """Every event, grouped into the batches they were appended in (a journal as a source)."""
        current: list[Event] = []
        current_batch = None
        for row in self.rows(0):
            if row.batch != current_batch and current:
                yield current
                current = []
            current_batch = row.batch
            current.append(row.event)
        if current:
            yield current

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint_rows(self) -> set[int]:
        """The rows checkpoints were taken after (none for a version 1 journal)."""
        if self.version < 2:
            return set()
        return {seq for (seq,) in self._conn.execute("SELECT seq FROM checkpoints")}

    def checkpoint_position(self, seq: int) -> tuple[int, float] | None:
        """(row, replay time) of the latest checkpoint at or before row ``seq``, without loading it."""
        if self.version < 2:
            return None
        row = self._conn.execute(
            "SELECT seq, t FROM checkpoints WHERE seq <= ? ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def checkpoint_at_or_before(self, seq: int) -> Checkpoint | None:
        """The latest checkpoint taken at or before row ``seq`` (none in a version 1 journal:
        its checkpoints hold the old route mirrors, so a seek replays its rows instead)."""
        if self.version < 2:
            return None
        row = self._conn.execute(
            "SELECT seq, t, payload FROM checkpoints WHERE seq <= ? ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()
        if row is None:
            return None
        try:
            data = decode_checkpoint(row[2])
        except CodecError as exc:
            raise self.damaged_checkpoint(row[0], exc) from None
        return Checkpoint(row[0], row[1], data)

    def checkpoint_at(self, seq: int) -> Checkpoint | None:
        """The checkpoint taken right after row ``seq``, or None."""
        found = self.checkpoint_at_or_before(seq)
        return found if found is not None and found.seq == seq else None

    def base_checkpoint(self, delta: Checkpoint) -> Checkpoint:
        """The full checkpoint that the delta checkpoint ``delta`` is relative to.

        Raises :class:`JournalError` when it is missing or is itself a delta.
        """
        found = None if delta.base is None else self.checkpoint_at(delta.base)
        if found is None or found.base is not None:
            raise JournalError(
                f"{self.path}: the checkpoint after row {delta.seq} is stored as changes since the one "
                f"after row {delta.base}, which is missing or not whole; seek elsewhere"
            )
        return found

    def route_state(self, checkpoint: Checkpoint, base: RouteState | None = None) -> RouteState:
        """The route table of ``checkpoint``; a delta one is applied to its base checkpoint's
        table (``base`` when the caller has it restored already, else read here).

        Raises :class:`JournalError` for a damaged checkpoint or a missing base.
        """
        data = checkpoint.data.get("engine", checkpoint.data)["state"]
        if checkpoint.base is not None and base is None:
            base = self.route_state(self.base_checkpoint(checkpoint))
        try:
            with paused_collection():
                return RouteState.from_snapshot(data, base)
        except (KeyError, ValueError) as exc:
            raise self.damaged_checkpoint(checkpoint.seq, exc) from None

    def damaged_checkpoint(self, seq: int, problem: Exception) -> JournalError:
        """The error for the checkpoint at row ``seq`` when it cannot be read or restored
        (decoding here, rebuilding its table or engine state in the caller)."""
        return JournalError(f"{self.path}: checkpoint at event #{seq} is damaged: {problem}")

    def logged_rows(self, before_seq: int, count: int) -> list[Row]:
        """The last ``count`` rows the event log shows (``logged``) at or before row ``before_seq``,
        in order: what a seek refills the log with, without reading the table's bulk rows."""
        if self.version < 2:
            return list(self.rows(max(0, before_seq - count), before_seq))
        found = self._conn.execute(
            "SELECT seq, batch, t, payload FROM events WHERE logged = 1 AND seq <= ? ORDER BY seq DESC LIMIT ?",
            (before_seq, count),
        ).fetchall()
        return [Row(seq, batch, t, self._decode(seq, payload)) for seq, batch, t, payload in reversed(found)]

    def checkpoint_count(self) -> int:
        """Number of stored checkpoints."""
        count: int = self._conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        return count

    # -- navigation and drill-down --------------------------------------------------------------

    def next_note(self, after_t: float, *, inclusive: bool = False) -> float | None:
        """Replay time of the first event of note after ``after_t`` (or at it, with ``inclusive``)."""
        op = ">=" if inclusive else ">"
        row = self._conn.execute(f"SELECT min(t) FROM events WHERE note = 1 AND t {op} ?", (after_t,)).fetchone()
        found: float | None = row[0]
        return found

    def previous_note(self, before_t: float) -> float | None:
        """Replay time of the last event of note strictly before ``before_t``."""
        row = self._conn.execute("SELECT max(t) FROM events WHERE note = 1 AND t < ?", (before_t,)).fetchone()
        found: float | None = row[0]
        return found

    def history(
        self, prefix: Prefix, since: float | None = None, until: float | None = None, *, more_specifics: bool = True
    ) -> list[Event]:
        """Route events (and findings about it) for ``prefix`` with ``since <= t <= until``.

        With ``more_specifics`` the events of prefixes inside it are included: that is where a
        sub-prefix hijack shows.
        """
        lo = float("-inf") if since is None else since
        hi = float("inf") if until is None else until
        if more_specifics:
            rows = self._conn.execute(
                "SELECT seq, prefix, payload FROM events WHERE prefix IS NOT NULL AND t >= ? AND t <= ? ORDER BY seq",
                (lo, hi),
            )
        else:
            rows = self._conn.execute(
                "SELECT seq, prefix, payload FROM events WHERE prefix = ? AND t >= ? AND t <= ? ORDER BY seq",
                (str(prefix), lo, hi),
            )
        out: list[Event] = []
        parsed: dict[str, Prefix | None] = {}
        for seq, text, payload in rows:
            other = parsed.get(text, _UNSET)
            if other is _UNSET:
                try:
                    other = parsed[text] = Prefix.parse(text)
                except PrefixError:
                    other = parsed[text] = None
            if other is not None and prefix.contains(other):
                out.append(self._decode(seq, payload))
        return out

    def events_of_finding(self, finding_id: str) -> list[Event]:
        """Every recorded state of one finding, in order."""
        rows = self._conn.execute("SELECT seq, payload FROM events WHERE finding_id = ? ORDER BY seq", (finding_id,))
        return [self._decode(seq, payload) for seq, payload in rows]


_UNSET: Any = object()


def read_journal(path: str | PathLike[str]) -> Iterator[list[Event]]:
    """A journal as a replay source: its batches in order."""
    with JournalReader(path) as reader:
        yield from reader.batches()
