"""The main screen: visibility, event log, DNS and plot panes.

Large terminals get a 2x2 grid. Small ones (80x24 is the design target) get the visibility pane
on top and one of events / DNS / plot below, switched with 2/3/4; ``z`` maximises any pane.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.events import Resize
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from tui.console.actions import MAIN_BINDINGS
from tui.console.model import (
    LastChange,
    LogFilter,
    State,
    ZoneHealth,
    dns_rows,
    dns_summary,
    filter_log,
    replay_advice,
    visibility_rows,
    zone_health,
)
from tui.console.screens.base import ConsoleScreen
from tui.console.text import plain
from tui.console.widgets.plot import VisibilityPlot
from tui.console.widgets.tables import DnsTable, EventTable, VisibilityTable
from tui.core.detectors.dns import dns_rows as core_dns_rows
from tui.core.events import Finding, Severity
from tui.core.prefixes import Prefix, PrefixError

__all__ = ["MainScreen", "Pane", "COMPACT_WIDTH", "COMPACT_HEIGHT"]

COMPACT_WIDTH = 120
COMPACT_HEIGHT = 36
"""Below either size the panes stack (one lower pane at a time) instead of forming a grid."""

_SEVERITIES = (Severity.INFO, Severity.WARNING, Severity.CRITICAL)


class Pane(Vertical):
    """A titled, maximisable box around one of the main views."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    Pane {
        border: round $border-blurred;
        border-title-color: $foreground-muted;
        border-subtitle-color: $foreground-muted;
        height: 1fr;
    }
    Pane:focus-within { border: round $border; border-title-color: $accent; border-title-style: bold; }
    Pane > .hint { color: $foreground-muted; padding: 0 1; }
    Pane > .prompt { color: $accent; text-style: bold; padding: 0 1; }
    """


class MainScreen(ConsoleScreen):
    """The watch floor at a glance."""

    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)

    DEFAULT_CSS = """
    MainScreen #panes {
        layout: grid;
        grid-size: 2 2;
        grid-columns: 2fr 1fr;
        grid-rows: 1fr 1fr;
        height: 1fr;
    }
    MainScreen.-compact #panes { layout: vertical; }
    MainScreen.-compact #pane-visibility { height: auto; max-height: 45%; min-height: 5; }
    MainScreen.-compact #pane-visibility VisibilityTable { height: auto; max-height: 100%; scrollbar-size-horizontal: 0; }
    MainScreen.-compact #pane-events, MainScreen.-compact #pane-dns, MainScreen.-compact #pane-plot { display: none; }
    MainScreen.-compact #pane-events.-lower, MainScreen.-compact #pane-dns.-lower, MainScreen.-compact #pane-plot.-lower {
        display: block;
    }
    MainScreen #event-filter { display: none; height: 3; }
    MainScreen #event-filter.-open { display: block; }
    MainScreen #dns-hint { display: none; }
    MainScreen #dns-hint.-empty { display: block; }
    MainScreen #events-hint { display: none; }
    MainScreen #events-hint.-waiting { display: block; }
    MainScreen #pane-visibility { border-subtitle-align: left; }
    MainScreen #pane-visibility.-dns-critical { border-subtitle-color: $error; border-subtitle-style: bold; }
    MainScreen #pane-visibility.-dns-warning { border-subtitle-color: $warning; border-subtitle-style: bold; }
    MainScreen #pane-visibility.-dns-ok { border-subtitle-color: $success; }
    """
    """The DNS summary sits in the visibility pane's bottom border: on an 80x24 screen it stays
    in view whichever pane is below, and costs no row. In the stacked layout the visibility
    table has no horizontal scrollbar: its columns fit the width (an auto-height table with a
    stable gutter would otherwise keep a blank row for one), and left/right still scroll."""

    lower = reactive("events")
    """Which pane sits under the visibility pane in the compact layout."""
    follow = reactive(True)
    """Event log follows the newest event (False: scroll-lock, the cursor stays on its event)."""
    log_filter: reactive[LogFilter] = reactive(LogFilter, always_update=True)
    """What the event log shows."""

    def __init__(self) -> None:
        super().__init__()
        self.last_change = LastChange()
        self._plotted: str | None = None
        self._advice = ""
        self._events_stale = False
        """The event log was hidden at the last redraw, so it shows an older log."""
        self.zones: list[ZoneHealth] = []
        """Every watched zone's DNS verdict, as last drawn (the summary line)."""

    def compose(self) -> ComposeResult:
        """Status, the four panes, footer."""
        yield from self.compose_top()
        with Vertical(id="panes"):
            with Pane(id="pane-visibility") as pane:
                pane.border_title = "1 Visibility"
                yield VisibilityTable(id="visibility")
            with Pane(id="pane-plot") as pane:
                pane.border_title = "4 Plot"
                yield VisibilityPlot(id="plot")
            with Pane(id="pane-events") as pane:
                pane.border_title = "2 Events"
                yield Input(placeholder="filter events (Enter to apply, Esc to cancel)", id="event-filter")
                yield Static("", id="events-hint", classes="prompt", markup=False)
                yield EventTable(id="events")
            with Pane(id="pane-dns") as pane:
                pane.border_title = "3 DNS"
                yield Static(
                    "no DNS checks yet: add zones to the watchlist ([[watch]] zones = [...]) "
                    "or the DNS checks are not running",
                    id="dns-hint",
                    classes="hint",
                    markup=False,
                )
                yield DnsTable(id="dns")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        """Lay out for the current size and show what the engine holds."""
        self._layout_for(self.app.size.width, self.app.size.height)
        self.watch_lower(self.lower)
        self.query_one(VisibilityTable).focus()
        self.refresh_status()
        self.refresh_data()

    def on_resize(self, event: Resize) -> None:
        """Switch between the grid and the stacked layout."""
        self._layout_for(event.size.width, event.size.height)
        self._catch_up()
        self.call_after_refresh(self._show_dns_summary)

    def _layout_for(self, width: int, height: int) -> None:
        self.set_class(width < COMPACT_WIDTH or height < COMPACT_HEIGHT, "-compact")

    def watch_lower(self, lower: str) -> None:
        """Show the chosen lower pane in the compact layout.

        The class goes on the panes, not on the screen: a class change restyles the node's
        whole subtree, and the screen's is every widget on it (tens of milliseconds a key)."""
        for name in ("events", "dns", "plot"):
            self.query_one(f"#pane-{name}", Pane).set_class(name == lower, "-lower")
        self._catch_up()

    def watch_maximized(self) -> None:
        """A zoom in or out may bring the event log into view."""
        self._catch_up()

    def watch_follow(self, follow: bool) -> None:
        """Say in the pane's subtitle whether the log follows."""
        self._update_events_subtitle()
        if follow and self.is_mounted:
            self.refresh_data()

    def watch_log_filter(self, log_filter: LogFilter) -> None:
        """Redraw the log for the new filter."""
        self._update_events_subtitle()
        if self.is_mounted:
            self.refresh_data()

    def _update_events_subtitle(self) -> None:
        if not self.is_mounted:
            return
        parts = [self.log_filter.describe(), "following" if self.follow else "scroll-lock"]
        # A Text, not a str: a str border title is read as markup, and the filter is typed text.
        self.query_one("#pane-events", Pane).border_subtitle = plain(" ".join(p for p in parts if p))

    def refresh_status(self) -> None:
        """Status line and replay bar, and the event pane's prompt while the replay waits."""
        super().refresh_status()
        app = self.watchfloor
        hint = self.query_one("#events-hint", Static)
        waiting = app.replay_waiting
        if waiting:
            advice = replay_advice(app.replay_keys(), at_start=app.replay_at_start)
            if advice != self._advice:  # its height depends on it: update only when it changes
                self._advice = advice
                hint.update(advice)
        hint.set_class(waiting, "-waiting")

    def _show_dns_summary(self) -> None:
        """The one DNS line, fitted to the visibility pane's bottom border."""
        if not self.is_mounted:
            return
        pane = self.query_one("#pane-visibility", Pane)
        # Of the pane's outer width, corners, a rule and a space each side take six cells.
        text, state = dns_summary(self.zones, max(20, pane.size.width - 4))
        pane.border_subtitle = plain(text)
        for name in (State.CRITICAL, State.WARNING, State.OK, State.UNKNOWN):
            pane.set_class(name == state, f"-dns-{name}")

    # -- data -----------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Redraw tables and plot from the engine."""
        if not self.is_mounted:
            return
        app = self.watchfloor
        engine = app.engine
        self.last_change.update(engine.log)
        visibility = self.query_one(VisibilityTable)
        visibility.show(visibility_rows(engine, self.last_change), app.now())
        if self._events_in_view():
            self._show_events()
        else:
            self._events_stale = True  # drawn when it comes into view (:meth:`_catch_up`)
        core_rows = core_dns_rows(engine)
        rows = dns_rows(engine, core_rows)
        self.query_one("#dns-hint").set_class(not rows, "-empty")
        self.query_one(DnsTable).show(rows)
        self.zones = zone_health(engine, core_rows)
        self._show_dns_summary()
        self._update_events_subtitle()
        self.refresh_plot(force=True)

    def _show_events(self) -> None:
        app = self.watchfloor
        self._events_stale = False
        self.query_one(EventTable).show(filter_log(app.engine.log, self.log_filter), follow=self.follow, now=app.now())

    def _events_in_view(self) -> bool:
        """Whether the event log is on screen (not the hidden lower pane, nor behind a zoom)."""
        pane = self.query_one("#pane-events", Pane)
        if not pane.display:
            return False
        maximized = self.maximized
        return maximized is None or maximized is pane or maximized in pane.children

    def _catch_up(self) -> None:
        """The event log comes into view: draw what it missed while hidden."""
        if self._events_stale and self.is_mounted and self._events_in_view():
            self._show_events()

    def refresh_plot(self, *, force: bool = False) -> None:
        """Plot the prefix under the visibility cursor."""
        row = self.query_one(VisibilityTable).selected
        if row is None:
            return
        key = str(row.prefix)
        if key == self._plotted and not force:
            return
        self._plotted = key
        engine = self.watchfloor.engine
        marks = [f.started for f in engine.findings.values() if isinstance(f, Finding) and f.subject == key]
        pane = self.query_one("#pane-plot", Pane)
        pane.border_title = f"4 Plot {key}"
        self.query_one(VisibilityPlot).show(f"{key} visibility ({row.watch})", engine.timeline.series(key), marks)

    @on(DataTable.RowHighlighted, "#visibility")
    def _visibility_moved(self) -> None:
        self.refresh_plot()

    @on(DataTable.RowHighlighted, "#events")
    def _events_moved(self, message: DataTable.RowHighlighted) -> None:
        # Moving off the newest event means the operator is reading: stop following.
        if message.cursor_row > 0 and self.follow:
            self.follow = False

    # -- opening things -------------------------------------------------------------------------

    @on(VisibilityTable.PrefixChosen)
    def _open_prefix(self, message: VisibilityTable.PrefixChosen) -> None:
        self.watchfloor.open_prefix(message.row.prefix, watch=message.row.watch)

    @on(EventTable.EventChosen)
    def _open_event(self, message: EventTable.EventChosen) -> None:
        entry = message.entry
        prefix = entry.prefix
        if prefix is None:
            prefix = _prefix_of_subject(entry.subject)
        if prefix is None:
            self.notify("this event is not about a prefix", severity="information", timeout=3)
            return
        self.watchfloor.open_prefix(prefix, watch=entry.watch.split(", ")[0], at=entry.ts)

    # -- actions --------------------------------------------------------------------------------

    def action_show_pane(self, name: str) -> None:
        """Focus a pane (and in the stacked layout, bring it up)."""
        if self.maximized is not None:
            self.minimize()
        if name != "visibility":
            self.lower = name
        target = {"visibility": "#visibility", "events": "#events", "dns": "#dns", "plot": "#plot"}[name]
        self.query_one(target).focus()

    def action_zoom(self) -> None:
        """Maximise the focused pane, or restore the layout."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def action_filter_text(self) -> None:
        """Open the event filter input."""
        self.action_show_pane("events")
        box = self.query_one("#event-filter", Input)
        box.value = self.log_filter.text
        box.add_class("-open")
        box.focus()

    @on(Input.Submitted, "#event-filter")
    def _filter_submitted(self, message: Input.Submitted) -> None:
        self.log_filter = LogFilter(message.value.strip(), self.log_filter.min_severity, self.log_filter.watch)
        self._close_filter()

    def _close_filter(self) -> None:
        self.query_one("#event-filter", Input).remove_class("-open")
        self.query_one(EventTable).focus()

    def key_escape(self) -> None:
        """Escape closes the filter input, or restores a maximised pane."""
        box = self.query_one("#event-filter", Input)
        if box.has_class("-open"):
            self._close_filter()
        elif self.maximized is not None:
            self.minimize()

    def action_cycle_severity(self) -> None:
        """Show info+, warning+, critical only, in turn."""
        current = _SEVERITIES.index(self.log_filter.min_severity)
        nxt = _SEVERITIES[(current + 1) % len(_SEVERITIES)]
        self.log_filter = LogFilter(self.log_filter.text, nxt, self.log_filter.watch)

    def action_cycle_watch(self) -> None:
        """Show all watches, then each watch alone, in turn."""
        names = ["", *sorted(self.watchfloor.engine.watchlist.watches)]
        current = names.index(self.log_filter.watch) if self.log_filter.watch in names else 0
        self.log_filter = LogFilter(self.log_filter.text, self.log_filter.min_severity, names[(current + 1) % len(names)])

    def action_clear_filters(self) -> None:
        """Show every event again."""
        self.log_filter = LogFilter()

    def action_toggle_follow(self) -> None:
        """Follow the newest event, or lock the log where it is."""
        self.follow = not self.follow


def _prefix_of_subject(subject: str) -> Prefix | None:
    """A finding's subject is often a prefix: use it when it parses."""
    try:
        return Prefix.parse(subject) if "/" in subject else None
    except PrefixError:
        return None
