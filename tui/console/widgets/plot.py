"""Visibility of one prefix over time (plotext through textual-plotext), with event marks."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.console.model import format_ts
from tui.console.text import clean
from tui.core.timeline import Bucket

__all__ = ["VisibilityPlot"]


class VisibilityPlot(PlotextPlot):
    """Visibility % per time bucket; buckets with withdrawals marked ``x``, findings as lines."""

    DEFAULT_CSS = """
    VisibilityPlot { height: 1fr; min-height: 6; }
    VisibilityPlot:focus { background-tint: $foreground 5%; }
    """

    can_focus = True

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._shown: tuple[object, ...] | None = None
        self._title = ""
        self._buckets: list[Bucket] = []
        self._marks: list[float] = []

    def show(self, title: str, buckets: Sequence[Bucket], marks: Sequence[float] = ()) -> None:
        """Plot ``buckets`` (one prefix's timeline); ``marks`` are times of findings."""
        key = (title, tuple((b.start, b.visible, b.full_feed, b.withdrawals, b.announcements) for b in buckets), tuple(marks))
        if key == self._shown:
            return
        self._shown = key
        self._title = title
        self._buckets = list(buckets)
        self._marks = list(marks)
        self.refresh()

    def render(self) -> RenderResult:
        """Draw from scratch at the current size (plotext keeps state between draws otherwise)."""
        self._draw()
        return super().render()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        title, buckets = self._title, self._buckets
        plt.title(clean(title))
        known = [(b.start, b.ratio * 100) for b in buckets if b.ratio is not None]
        if not known:
            plt.title(clean(f"{title}: no visibility data yet" if title else "no prefix selected"))
            return
        xs, ys = zip(*known, strict=True)
        plt.plot(xs, ys, marker="braille", label="visible %")
        flaps = [(b.start, b.ratio * 100) for b in buckets if b.withdrawals and b.ratio is not None]
        if flaps:
            fx, fy = zip(*flaps, strict=True)
            plt.scatter(fx, fy, marker="x", label="withdrawals")
        lo, hi = min(xs), max(xs)
        if hi == lo:
            hi = lo + 60
        for ts in self._marks:
            # A mark outside the plotted window would stretch plotext's canvas to reach it.
            if lo <= ts <= hi:
                plt.vline(ts)
        plt.ylim(0, 100)
        plt.xlim(lo, hi)
        cut = 19 if hi - lo < 600 else 16  # seconds matter only in a short window
        # Labels must never crowd: plotext places colliding labels in an order that varies
        # from run to run, so give each label room (its width plus a margin).
        room = (cut - 11 + 1) + 5
        count = max(2, min(5, (self.size.width - 8) // room))
        ticks = [lo + (hi - lo) * i / (count - 1) for i in range(count)]
        plt.xticks(ticks, [format_ts(t)[11:cut] + "Z" for t in ticks])
        plt.yticks([0, 50, 100], ["0%", "50%", "100%"])
