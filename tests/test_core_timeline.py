from __future__ import annotations

from tui.core.timeline import Timeline


def test_series_is_in_time_order_whatever_the_arrival_order():
    timeline = Timeline(bucket_seconds=60, max_buckets=3)
    timeline.sample("p", 1_800_000_000, 5, 10)  # a status stamped "now" among 2010 data
    timeline.sample("p", 1_267_286_400, 10, 10)
    timeline.count_update("p", 1_267_286_460, withdrawal=True)
    starts = [b.start for b in timeline.series("p")]
    assert starts == sorted(starts)
    timeline.sample("p", 1_267_286_520, 9, 10)  # a fourth bucket: the earliest one goes
    starts = [b.start for b in timeline.series("p")]
    assert starts[0] == 1_267_286_460 and starts[-1] == 1_800_000_000 - 1_800_000_000 % 60
