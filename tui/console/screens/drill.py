"""Drill-down on one prefix: routes per collector and peer, neighbours, origins, history, plot."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static, TabbedContent, TabPane

from tui.console.actions import DRILL_BINDINGS
from tui.console.model import (
    STATE_SYMBOL,
    format_ts,
    origins_and_upstreams,
    related_rows,
    route_rows,
    visibility_state,
)
from tui.console.screens.base import ConsoleScreen
from tui.console.text import plain
from tui.console.widgets.plot import VisibilityPlot
from tui.console.widgets.tables import EventTable, HistoryTable, RelatedTable, RoutesTable
from tui.core.engine import LogEntry, describe
from tui.core.events import Finding
from tui.core.prefixes import Prefix

__all__ = ["DrillScreen", "history_entries"]


def history_entries(engine: Any, prefix: Prefix, items: Iterable[Any] | None = None, limit: int = 500) -> list[LogEntry]:
    """The prefix's history, newest first: from ``items`` (events or log entries, e.g. read
    back from the journal) or else from the engine's event log."""
    out: list[LogEntry] = []
    if items is None:
        for entry in reversed(engine.log):
            if _concerns(entry.prefix, entry.subject, prefix):
                out.append(entry)
                if len(out) >= limit:
                    break
        return out
    for item in items:
        if isinstance(item, LogEntry):
            out.append(item)
            continue
        relations = engine.watchlist.relations(item.prefix) if getattr(item, "prefix", None) is not None else []
        severity, kind, watch, subject, text = describe(item, engine.watchlist, relations)
        out.append(LogEntry(item.ts, severity, kind, watch, subject, text, getattr(item, "prefix", None), item))
    out.sort(key=lambda e: e.ts, reverse=True)
    return out[:limit]


def _concerns(other: Prefix | None, subject: str, prefix: Prefix) -> bool:
    if other is not None:
        return prefix.contains(other) or other.contains(prefix)
    return subject == str(prefix)


class DrillScreen(ConsoleScreen):
    """Everything about one prefix; Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = list(DRILL_BINDINGS)

    DEFAULT_CSS = """
    DrillScreen #drill-summary { height: auto; max-height: 5; padding: 0 1; background: $surface; }
    DrillScreen TabbedContent { height: 1fr; }
    DrillScreen TabPane { padding: 0; }
    DrillScreen #drill-summary .label { color: $foreground-muted; }
    """

    def __init__(self, prefix: Prefix, *, watch: str = "", at: float | None = None) -> None:
        super().__init__()
        self.prefix = prefix
        self.watch_name = watch
        """The watch it was opened from (not ``watch``: that is Textual's ``DOMNode.watch`` method)."""
        self.at = at
        """The time of the event this was opened from: its history row gets the cursor."""

    def compose(self) -> ComposeResult:
        """Summary, then tabs."""
        yield from self.compose_top()
        yield Static(id="drill-summary")
        with TabbedContent(initial="routes"):
            with TabPane("Routes (r)", id="routes"):
                yield RoutesTable(id="routes-table")
            with TabPane("More/less-specifics (m)", id="related"):
                yield RelatedTable(id="related-table")
            with TabPane("History (h)", id="history"):
                yield HistoryTable(id="history-table")
            with TabPane("Plot (p)", id="plot"):
                yield VisibilityPlot(id="drill-plot")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        """Fill everything, focus the routes (or the history, when opened from an event)."""
        self.refresh_status()
        self.refresh_data()
        if self.at is not None:
            self.action_tab("history")
        else:
            self.query_one(RoutesTable).focus()

    def refresh_data(self) -> None:
        """Redraw from the engine."""
        if not self.is_mounted:
            return
        engine = self.watchfloor.engine
        routes = route_rows(engine, self.prefix)
        origins, upstreams = origins_and_upstreams(routes)
        vis = engine.state.visibility(self.prefix)
        watches = engine.watchlist.watches_of(self.prefix)
        watch = self.watch_name or (watches[0] if watches else "")
        state = visibility_state(vis.ratio, engine.watchlist.thresholds(watch))
        percent = "unknown" if vis.ratio is None else f"{vis.ratio * 100:.1f}%"
        summary = Text(no_wrap=False)
        summary.append(f"{STATE_SYMBOL[state]}  ", style="bold")
        summary.append_text(plain(self.prefix, "bold"))
        summary.append(f"  {percent} ({vis.visible}/{vis.full_feed} full-feed peers")
        summary.append(f", {vis.unknown} unknown)" if vis.unknown else ")")
        if watch:
            summary.append("  watch ")
            summary.append_text(plain(watch))
        summary.append("\norigins ")
        summary.append_text(plain(", ".join(f"AS{o}" for o in origins) or "none"))
        summary.append("   upstreams ")
        summary.append_text(plain(", ".join(f"AS{u}" for u in upstreams) or "none"))
        summary.append(f"   sessions {len(routes)}   basis ")
        summary.append_text(plain(vis.basis or "-"))
        if self.at is not None:
            summary.append(f"\nopened at {format_ts(self.at)}")
        self.query_one("#drill-summary", Static).update(summary)
        self.query_one(RoutesTable).show(routes)
        self.query_one(RelatedTable).show(related_rows(engine, self.prefix))
        self._refresh_history()
        key = str(self.prefix)
        marks = [f.started for f in engine.findings.values() if isinstance(f, Finding) and f.subject == key]
        self.query_one("#drill-plot", VisibilityPlot).show(f"{key} visibility", engine.timeline.series(key), marks)

    def _refresh_history(self) -> None:
        app = self.watchfloor
        replay = app.replay
        items = None
        if replay is not None and hasattr(replay, "history"):
            try:
                items = replay.history(self.prefix, replay.start, replay.clock.now())
            except Exception as exc:  # noqa: BLE001 - history is a nicety: fall back to the log
                self.log.warning(f"replay history failed: {exc!r}")
                items = None
        entries = history_entries(app.engine, self.prefix, items)
        table = self.query_one(HistoryTable)
        first = not table.entries
        table.show(entries, follow=False)
        if first and self.at is not None:
            for index, entry in enumerate(entries):
                if entry.ts <= self.at:
                    table.move_cursor(row=index, animate=False)
                    break

    def action_back(self) -> None:
        """Back to where we came from."""
        self.app.pop_screen()

    def action_tab(self, name: str) -> None:
        """Switch tab and focus its content."""
        self.query_one(TabbedContent).active = name
        target = {"routes": RoutesTable, "related": RelatedTable, "history": HistoryTable, "plot": VisibilityPlot}[name]
        self.query_one(target).focus()

    @on(EventTable.EventChosen, "#history-table")
    def _seek_to_event(self, message: EventTable.EventChosen) -> None:
        message.stop()
        self.watchfloor.seek(message.entry.ts)
