"""Time-bucketed history per prefix: visibility samples and update counts, for plots.

Bounded: each series keeps at most ``max_buckets`` buckets, dropping the oldest.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["Bucket", "Timeline"]


@dataclass(slots=True)
class Bucket:
    """One time bucket of one prefix."""

    start: float
    visible: int | None = None
    full_feed: int | None = None
    announcements: int = 0
    withdrawals: int = 0

    @property
    def ratio(self) -> float | None:
        """Visibility at the end of the bucket, or None when unknown."""
        if self.visible is None or not self.full_feed:
            return None
        return self.visible / self.full_feed


class Timeline:
    """Per-key series of :class:`Bucket` (keys are prefix strings)."""

    def __init__(self, bucket_seconds: float = 60.0, max_buckets: int = 1440) -> None:
        self.bucket_seconds = bucket_seconds
        self.max_buckets = max_buckets
        self._series: dict[str, OrderedDict[float, Bucket]] = {}

    def _bucket(self, key: str, ts: float) -> Bucket:
        start = ts - ts % self.bucket_seconds
        series = self._series.setdefault(key, OrderedDict())
        bucket = series.get(start)
        if bucket is None:
            bucket = series[start] = Bucket(start)
            if len(series) > self.max_buckets:
                del series[min(series)]  # the earliest in time, not the first to arrive
        return bucket

    def count_update(self, key: str, ts: float, *, withdrawal: bool) -> None:
        """Count one announcement or withdrawal of ``key`` at ``ts``."""
        bucket = self._bucket(key, ts)
        if withdrawal:
            bucket.withdrawals += 1
        else:
            bucket.announcements += 1

    def sample(self, key: str, ts: float, visible: int, full_feed: int) -> None:
        """Record the visibility of ``key`` at ``ts`` (the last sample in a bucket wins)."""
        bucket = self._bucket(key, ts)
        bucket.visible = visible
        bucket.full_feed = full_feed

    def series(self, key: str, since: float | None = None) -> list[Bucket]:
        """Buckets of ``key`` in time order, carrying the last known visibility forward."""
        out = []
        last: tuple[int | None, int | None] = (None, None)
        # Buckets are created in arrival order; a late or early event (feeds are not ordered
        # across each other) must not put the series out of time order.
        for _, bucket in sorted(self._series.get(key, {}).items()):
            if bucket.visible is None:
                bucket = Bucket(bucket.start, last[0], last[1], bucket.announcements, bucket.withdrawals)
            else:
                last = (bucket.visible, bucket.full_feed)
            if since is None or bucket.start >= since:
                out.append(bucket)
        return out

    def recent_ratios(self, key: str, count: int) -> list[float | None]:
        """The last ``count`` visibility ratios of ``key`` (for sparklines)."""
        return [b.ratio for b in self.series(key)[-count:]]

    def keys(self) -> list[str]:
        """Every key with history."""
        return list(self._series)

    def clear(self) -> None:
        """Forget everything (used when seeking backwards)."""
        self._series.clear()

    def to_snapshot(self) -> dict[str, list[list[float | int | None]]]:
        """Every bucket as JSON-compatible data (journal checkpoints keep the plots after a seek)."""
        return {
            key: [[b.start, b.visible, b.full_feed, b.announcements, b.withdrawals] for b in series.values()]
            for key, series in self._series.items()
        }

    def restore(self, data: dict[str, list[list[Any]]]) -> None:
        """Replace the content with a :meth:`to_snapshot` result (rows of start, visible,
        full_feed, announcements, withdrawals)."""
        self._series = {
            key: OrderedDict((row[0], Bucket(row[0], row[1], row[2], row[3], row[4])) for row in rows)
            for key, rows in data.items()
        }
