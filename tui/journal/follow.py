"""Following a journal that another process (``watchfloor collect``) is writing.

SQLite in WAL mode lets any number of readers run beside one writer without blocking it: each
poll is one short read of the rows committed so far. :class:`JournalTail` remembers the last
row it returned (``seq``) and asks only for rows after it; ``PRAGMA data_version`` tells it,
without reading any table page, whether another connection committed since the last look, so
an idle tail costs almost nothing however often it polls.

Rows become visible when the writer commits: :class:`~tui.journal.store.JournalWriter` commits
at least once a second, so a tail trails the collector by up to about that plus one poll.

A tail never writes and never holds a transaction open between polls, so it cannot stall the
collector or stop SQLite from checkpointing its WAL.

A quiet journal and a dead collector look the same in the rows, so a tail given a
:class:`WriterWatch` also checks, about once a second, whether a writer still holds the
journal's lock (:func:`~tui.journal.store.writer_running`). When none does, it says so: the
``journal`` feed goes ``down``, and every feed the collector was running goes into a ``gap``,
so the console shows that data as *unknown*, not as current. When a collector writes again,
its first rows come with ``journal up`` and the gap's length; its feeds come back as they
report ``up`` themselves.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path

from tui.core.clock import format_time
from tui.core.events import Event, EventDecodeError, FeedStatus, RecordRejected, event_from_dict
from tui.journal.store import JournalError, JournalReader, writer_running

__all__ = ["JournalTail", "WriterWatch", "JOURNAL_FEED"]

JOURNAL_FEED = "journal"
"""Feed name of rows a tail could not read (shown as rejected records)."""

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class JournalTail:
    """New rows of a journal, in the batches they were written in, as they are committed."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        after_seq: int = 0,
        poll_interval: float = 0.05,
        max_rows: int = 5000,
    ) -> None:
        """Start after row ``after_seq`` (0: from the first row); raises JournalError."""
        self.path = Path(path)
        self.cursor = after_seq
        """Sequence number of the last row returned."""
        self.poll_interval = poll_interval
        self.max_rows = max_rows
        self.rows_read = 0
        self.rejected = 0
        self.last_t: float | None = None
        """Replay time of the last row returned."""
        self.writer_watch: WriterWatch | None = None
        """Set it to report a collector that stopped writing (see the module doc)."""
        self.caught_up = False
        """Whether the last poll read everything committed (not cut at ``max_rows``)."""
        self._data_version: int | None = None
        with JournalReader(self.path):
            pass  # refuses what is not a journal this version reads, with a clear message
        try:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal to follow it: {exc}") from None

    @classmethod
    def at_end(cls, path: str | PathLike[str], **options: object) -> JournalTail:
        """A tail that starts after the last row committed now (only new rows)."""
        with JournalReader(path) as reader:
            bounds = reader.bounds()
        return cls(path, after_seq=bounds[2] if bounds else 0, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the read-only connection."""
        self._conn.close()

    def __enter__(self) -> JournalTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def changed(self) -> bool:
        """Whether anything may have been committed since the last poll (cheap)."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return False
        self._data_version = version
        return True

    def poll(self, *, force: bool = False) -> list[list[Event]]:
        """Rows committed after the cursor (at most ``max_rows``), grouped by batch."""
        return [events for _, events in self.poll_timed(force=force)]

    def poll_timed(self, *, force: bool = False) -> list[tuple[float, list[Event]]]:
        """Like :meth:`poll`, with each batch's replay time ``t`` (see :mod:`tui.journal.store`)."""
        if not force and self._data_version is not None and not self.changed():
            self.caught_up = True
            return []
        if self._data_version is None:
            self.changed()
        try:
            rows = self._conn.execute(
                "SELECT seq, batch, t, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (self.cursor, self.max_rows),
            ).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot read new rows: {exc}") from None
        self.caught_up = len(rows) < self.max_rows
        if not self.caught_up:
            # More may be waiting: make the next poll look again even if nothing new commits.
            self._data_version = None
        return list(self._group(rows))

    def _group(self, rows: list[tuple[int, int, float, str]]) -> Iterator[tuple[float, list[Event]]]:
        current: list[Event] = []
        current_batch: int | None = None
        current_t = 0.0
        for seq, batch, t, payload in rows:
            if batch != current_batch and current:
                yield current_t, current
                current = []
            current_batch, current_t = batch, t
            current.append(self._decode(seq, t, payload))
            self.cursor = seq
            self.last_t = t
            self.rows_read += 1
        if current:
            yield current_t, current

    def _decode(self, seq: int, t: float, payload: str) -> Event:
        try:
            data = json.loads(payload)
            if not isinstance(data, dict):
                raise EventDecodeError("not a JSON object")
            return event_from_dict(data)
        except (ValueError, TypeError, EventDecodeError) as exc:
            # One damaged row must not stop the console: it is shown, counted, and skipped.
            self.rejected += 1
            excerpt = _UNPRINTABLE.sub("?", str(payload)[:80])
            return RecordRejected(t, JOURNAL_FEED, f"{self.path.name} event #{seq}", f"cannot read: {exc!s:.160}", excerpt)

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Batches forever, polling every ``poll_interval`` seconds while nothing is new."""
        while True:
            found = self.poll_timed()
            for _, batch in self.watched(found):
                yield batch
            if not found:
                await asyncio.sleep(self.poll_interval)

    def watched(self, found: list[tuple[float, list[Event]]]) -> list[tuple[float, list[Event]]]:
        """``found`` with the :attr:`writer_watch`'s statuses put where they belong."""
        watch = self.writer_watch
        if watch is None:
            return found
        out: list[tuple[float, list[Event]]] = []
        if found:
            first_t = found[0][0]
            resumed = watch.resumed(first_t)
            if resumed:
                out.append((first_t, resumed))
            for t, batch in found:
                watch.note(batch)
                out.append((t, batch))
        if not self.caught_up:
            return out  # rows the old writer committed are still to be read: not gone yet
        stopped = watch.check(self.last_t)
        if stopped:
            out.append((stopped[0].ts, stopped))
        return out


class WriterWatch:
    """Turns "is a collector still writing this journal?" into feed status events.

    ``feeds`` are the feeds' states when following starts (the console's engine knows them);
    later ones are read from the rows. Time: a ``down`` is stamped with the last row's replay
    time (when the data stopped being current), the ``up`` with the first new row's.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        feeds: Mapping[str, str] | None = None,
        *,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        probe: Callable[[Path], bool | None] = writer_running,
    ) -> None:
        self.path = Path(path)
        self.feeds = {name: state for name, state in (feeds or {}).items() if name != JOURNAL_FEED}
        self.check_interval = check_interval
        self._monotonic = monotonic
        self._wall = wall
        self._probe = probe
        self._next_check = float("-inf")
        self.gone_since: float | None = None
        """Replay time the data stopped at, while no writer holds the journal."""

    def note(self, batch: Sequence[Event]) -> None:
        """Follow the feeds' states through the rows."""
        for event in batch:
            if isinstance(event, FeedStatus) and event.feed != JOURNAL_FEED:
                self.feeds[event.feed] = event.state

    def check(self, last_t: float | None) -> list[Event]:
        """At most every ``check_interval``: the statuses for a writer that went away, if it did."""
        now = self._monotonic()
        if now < self._next_check:
            return []
        self._next_check = now + self.check_interval
        running = self._probe(self.path)
        if running is None:
            return []  # cannot tell on this system: say nothing rather than guess
        if running:
            return []  # the ``up`` waits for the new writer's first rows
        if self.gone_since is not None:
            return []
        ts = last_t if last_t is not None else self._wall()
        self.gone_since = ts
        when = format_time(ts)
        events: list[Event] = [FeedStatus(
            ts, JOURNAL_FEED, "down",
            f"no collector is writing {self.path.name} (stopped or killed): what is shown is as of {when}",
        )]
        for name, state in sorted(self.feeds.items()):
            # "unknown": the feed never reported a state (rows only), so nothing says it was live.
            if state not in ("ended", "down", "gap", "unknown"):
                events.append(FeedStatus(ts, name, "gap", f"its collector is not running; no data since {when}"))
                self.feeds[name] = "gap"
        return events

    def resumed(self, first_t: float) -> list[Event]:
        """Before the first rows after a gap: ``journal up`` with the gap's length."""
        if self.gone_since is None:
            return []
        start, self.gone_since = self.gone_since, None
        return [FeedStatus(first_t, JOURNAL_FEED, "up", f"a collector writes {self.path.name} again", start, first_t)]
