"""File sources for replay, snapshot and record: told apart by content, never by name.

A SOURCE is one of

- an MRT file (RIS ``bview``/``updates``, RouteViews ``rib``/``updates``), plain, gzip or bzip2;
- a RIS Live capture: one ``{"type": "ris_message", ...}`` JSON envelope per line, as saved
  from the stream (plain, gzip or bzip2);
- a watchfloor journal (an SQLite file written by ``watchfloor record`` or the collector).

:func:`sniff` reads the first bytes (through the decompressor their magic calls for: gzip,
bzip2 or xz, the MRT reader's own :func:`~tui.feeds.mrt.compression_of`) and decides;
:func:`open_sources` reads any mix of them as one stream of event batches in time order. A
missing or unrecognised file raises :class:`SourceError` (exit code 4) saying what was
expected. This sits above the feeds and the journal store: it reads both.
"""

from __future__ import annotations

import heapq
import lzma
import re
import struct
from collections.abc import Iterator, Sequence
from os import PathLike
from pathlib import Path

from tui.core.events import Event
from tui.core.watchlist import Watchlist
from tui.feeds.mrt import compression_of, open_decompressed, read_mrt_files
from tui.feeds.ris_messages import read_capture
from tui.journal.store import SQLITE_MAGIC, JournalError, read_journal

__all__ = ["EXPECTED", "SourceError", "SourceKind", "open_sources", "sniff"]

EXPECTED = (
    "expected an MRT file (plain, gzip, bzip2 or xz), a RIS Live capture (one JSON object per line) "
    "or a watchfloor journal"
)


class SourceKind:
    """What :func:`sniff` can say a file is."""

    MRT = "mrt"
    RIS_LIVE = "ris-live"
    JOURNAL = "journal"


class SourceError(Exception):
    """A SOURCE file is missing, unreadable or of no known kind (exit code 4)."""


# MRT types (RFC 6396 and the deprecated ones bgpdump still reads): 5 BGP .. 10 BGP4PLUS_01,
# 11 OSPFv2, 12 TABLE_DUMP, 13 TABLE_DUMP_V2, 16 BGP4MP, 17 BGP4MP_ET, 32/33 ISIS, 48/49 OSPFv3.
_MRT_TYPES = frozenset({5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 32, 33, 48, 49})
_MAX_MRT_RECORD = 1 << 24
_RIS_LIVE_LINE = re.compile(rb'^\s*\{\s*"type"\s*:\s*"(ris_[a-z_]+|pong)"')
def _looks_like_mrt(head: bytes) -> bool:
    if len(head) < 12:
        return False
    _, mrt_type, subtype, length = struct.unpack("!IHHI", head[:12])
    return mrt_type in _MRT_TYPES and subtype < 64 and length < _MAX_MRT_RECORD


def sniff(path: str | PathLike[str]) -> str:
    """Which :class:`SourceKind` ``path`` holds; raises :class:`SourceError`."""
    file = Path(path)
    if not file.exists():
        raise SourceError(f"{file}: no such file; {EXPECTED}")
    if file.is_dir():
        raise SourceError(f"{file}: is a directory; {EXPECTED}")
    try:
        with open(file, "rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise SourceError(f"{file}: cannot read: {exc.strerror or exc}") from None
    if not head:
        raise SourceError(f"{file}: the file is empty; {EXPECTED}")
    if head.startswith(SQLITE_MAGIC):
        return SourceKind.JOURNAL
    compression = compression_of(head)
    if compression:
        try:
            with open_decompressed(file) as handle:
                head = handle.read(64)
        except (OSError, EOFError, ValueError, lzma.LZMAError) as exc:
            raise SourceError(f"{file}: {compression} data cannot be decompressed ({exc}); {EXPECTED}") from None
    if _RIS_LIVE_LINE.match(head):
        return SourceKind.RIS_LIVE
    if _looks_like_mrt(head):
        return SourceKind.MRT
    what = f"{compression}-compressed data" if compression else "content"
    shown = head[:24].decode("latin-1").encode("unicode_escape").decode("ascii")
    raise SourceError(f"{file}: {what} not recognised (starts with {shown!r}); {EXPECTED}")


def _read_ris_live(path: Path) -> Iterator[list[Event]]:
    """A RIS Live capture, plain or compressed."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    if compression_of(head):
        yield from read_capture(path, opener=lambda: open_decompressed(path))
    else:
        yield from read_capture(path)


def _single(kind: str, paths: list[Path], watchlist: Watchlist | None, table: bool) -> Iterator[list[Event]]:
    """The batches of several sources of one kind."""
    if kind == SourceKind.MRT:
        yield from read_mrt_files(paths, watchlist=watchlist, table=table)
    elif kind == SourceKind.RIS_LIVE:
        if len(paths) == 1:
            yield from _read_ris_live(paths[0])
        else:
            yield from _merge([_read_ris_live(p) for p in paths])
    else:
        if len(paths) == 1:
            yield from _read_journal(paths[0])
        else:
            yield from _merge([_read_journal(p) for p in paths])


def _read_journal(path: Path) -> Iterator[list[Event]]:
    """A journal's batches; a damaged or too new journal is a :class:`SourceError`."""
    try:
        yield from read_journal(path)
    except JournalError as exc:
        raise SourceError(str(exc)) from None


def _events(batches: Iterator[list[Event]]) -> Iterator[Event]:
    for batch in batches:
        yield from batch


def _merge(streams: Sequence[Iterator[list[Event]]], size: int = 1000) -> Iterator[list[Event]]:
    """Merge several time-ordered batch streams into one, event by event."""
    merged = heapq.merge(*(_events(s) for s in streams), key=lambda e: e.ts)
    batch: list[Event] = []
    for event in merged:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def open_sources(
    paths: Sequence[str | PathLike[str]], watchlist: Watchlist | None = None, *, table: bool = False
) -> Iterator[list[Event]]:
    """Every SOURCE as one stream of event batches in time order.

    Every file is sniffed before anything is read, so a bad SOURCE fails at once with
    :class:`SourceError`. MRT files go to the MRT reader together (it merges them and filters
    on ``watchlist`` early; ``table`` sends every other route in bulk, as a whole-table watch
    does); the kinds are then merged event by event on their timestamps.
    """
    if not paths:
        raise SourceError(f"no SOURCE given; {EXPECTED}")
    by_kind: dict[str, list[Path]] = {}
    for path in paths:
        by_kind.setdefault(sniff(path), []).append(Path(path))
    return _open(by_kind, watchlist, table)


def _open(by_kind: dict[str, list[Path]], watchlist: Watchlist | None, table: bool) -> Iterator[list[Event]]:
    streams = [_single(kind, files, watchlist, table) for kind, files in by_kind.items()]
    if len(streams) == 1:
        yield from streams[0]
    else:
        yield from _merge(streams)
