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
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from os import PathLike
from pathlib import Path

from tui.core.events import Event, EventDecodeError, RecordRejected, event_from_dict
from tui.journal.store import JournalError, JournalReader

__all__ = ["JournalTail", "JOURNAL_FEED"]

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
        if len(rows) == self.max_rows:
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
            found = self.poll()
            for batch in found:
                yield batch
            if not found:
                await asyncio.sleep(self.poll_interval)
