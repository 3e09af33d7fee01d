"""Readers: event batches from one or several MRT sources (merged in time order)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from os import PathLike
from typing import Any

from tui.core.events import Event
from tui.core.watchlist import Watchlist
from tui.feeds.mrt._decoder import FileDecoder, Output, Source
from tui.feeds.mrt._filter import WatchFilter
from tui.feeds.mrt._stats import MrtStats

__all__ = ["DEFAULT_BATCH_RECORDS", "MrtReader", "read_mrt", "read_mrt_files"]

DEFAULT_BATCH_RECORDS = 2000


class MrtReader:
    """Iterates over event batches of one or more MRT sources; ``stats`` counts as it goes.

    Iterate once. Batches come out in file (or, for several files, timestamp) order; a batch is
    yielded after every ``batch_records`` records that produced any event, and at the end.
    """

    def __init__(
        self,
        sources: list[Source],
        *,
        watchlist: Watchlist | None,
        table: bool,
        collector: str | None,
        source: str,
        batch_records: int = DEFAULT_BATCH_RECORDS,
    ) -> None:
        self._out = Output(source)
        self._watch = WatchFilter(watchlist) if watchlist is not None else None
        bulk = frozenset((4, 6)) if table else (watchlist.whole_table if watchlist is not None else frozenset())
        self._decoders = [
            FileDecoder(src, self._out, watch=self._watch, bulk=bulk, collector=collector, source_name=source)
            for src in sources
        ]
        self._batch_records = max(1, batch_records)
        self._iterator: Iterator[list[Event]] | None = None
        self._events = 0

    @property
    def stats(self) -> MrtStats:
        """Counters summed over all files (live while iterating)."""
        total = MrtStats(files=0)
        for decoder in self._decoders:
            total.add(decoder.stats)
        total.events = self._events
        return total

    @property
    def file_stats(self) -> dict[str, MrtStats]:
        """Counters per file (by path as given)."""
        return {decoder.path: decoder.stats for decoder in self._decoders}

    def __iter__(self) -> Iterator[list[Event]]:
        return self

    def __next__(self) -> list[Event]:
        if self._iterator is None:
            self._iterator = self._batches()
        return next(self._iterator)

    def _batches(self) -> Iterator[list[Event]]:
        out = self._out
        watch = self._watch
        if len(self._decoders) == 1:
            decoder = self._decoders[0]
            for _ in decoder.records(True, self._batch_records):
                if out.events or out.rib_groups:
                    yield self._take()
                if watch is not None:
                    watch.refresh()
        else:
            streams = [_tagged(i, decoder) for i, decoder in enumerate(self._decoders)]
            countdown = self._batch_records
            for _, _, process, record in heapq.merge(*streams, key=itemgetter(0, 1)):
                process(*record)
                countdown -= 1
                if not countdown:
                    countdown = self._batch_records
                    if out.events or out.rib_groups:
                        yield self._take()
                    if watch is not None:
                        watch.refresh()
        if out.events or out.rib_groups:
            yield self._take()

    def _take(self) -> list[Event]:
        self._out.flush()
        batch = self._out.events
        self._out.events = []
        self._events += len(batch)
        return batch


def _tagged(index: int, decoder: FileDecoder) -> Iterator[tuple[float, int, Callable[..., None], tuple[Any, ...]]]:
    """One file's records keyed for the merge: (ts, file index) orders them, ties by file order."""
    process = decoder.process
    for record in decoder.records():
        yield record[0], index, process, record


def read_mrt(
    path_or_file: Source,
    *,
    watchlist: Watchlist | None = None,
    table: bool = False,
    collector: str | None = None,
    source: str = "mrt",
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> MrtReader:
    """Event batches from one MRT file (path or binary file object), in file order.

    - no ``watchlist``: every route comes out as an event of its own;
    - ``watchlist``: only routes related to a specific watched prefix (equal, inside, covering)
      or originated by a watched ASN come out as events of their own; for an IP version whose
      whole table is watched (``0.0.0.0/0``, ``::/0``), every other route comes out in bulk
      (:class:`~tui.core.events.BulkRoutes`), the rest is dropped;
    - ``table``: every route of both versions that is not sent on its own comes out in bulk
      (the whole table, however the watchlist reads).

    Peer state changes, PeerSeen (once per session), FullFeedPeers (after a RIB),
    RecordRejected and a final FeedStatus ``ended`` always come out. The returned reader's
    ``stats`` counts records, rejections and truncation.
    """
    return MrtReader(
        [path_or_file], watchlist=watchlist, table=table, collector=collector, source=source, batch_records=batch_records
    )


def read_mrt_files(
    paths: Iterable[str | PathLike[str]],
    *,
    watchlist: Watchlist | None = None,
    table: bool = False,
    source: str = "mrt",
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> MrtReader:
    """Event batches from several MRT files merged in timestamp order (a RIB then updates).

    Each file's collector comes from its path (``rrc15``, ``route-views.jinx``...), else from
    its PEER_INDEX_TABLE view name, else from the file name. Otherwise as :func:`read_mrt`.
    """
    return MrtReader(
        list(paths), watchlist=watchlist, table=table, collector=None, source=source, batch_records=batch_records
    )
