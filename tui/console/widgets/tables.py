"""The console's tables: visibility, events, DNS, and the drill-down's routes and neighbours.

Every cell is a :class:`rich.text.Text` built by :func:`tui.console.text.plain` (a plain ``str``
cell would be read as Rich markup by DataTable). Colours come from component classes whose
styles use theme variables only, so switching theme recolours everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.binding import BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tui.console.actions import HISTORY_BINDINGS, TABLE_BINDINGS
from tui.console.model import (
    SEVERITY_SYMBOL,
    STATE_SYMBOL,
    Column,
    ColumnSpec,
    DnsRow,
    FitStep,
    RelatedRow,
    RouteRow,
    VisibilityRow,
    fit_columns,
    format_ts,
)
from tui.console.text import clean, plain, shorten
from tui.core.clock import format_duration
from tui.core.engine import LogEntry

__all__ = ["StateTable", "VisibilityTable", "EventTable", "DnsTable", "RoutesTable", "RelatedTable", "HistoryTable"]

Cells = tuple[Text, ...]


class StateTable(DataTable):
    """A row-cursor DataTable that replaces its rows in place, keeping the cursor on its row."""

    BINDINGS: ClassVar[list[BindingType]] = list(TABLE_BINDINGS)

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "state--ok",
        "state--warning",
        "state--critical",
        "state--unknown",
        "state--info",
        "state--muted",
    }
    """Colours of row states (``ok``/``info`` read as success, ``unknown`` muted, not alarming)."""

    DEFAULT_CSS = """
    StateTable { height: 1fr; }
    StateTable > .state--ok { color: $success; }
    StateTable > .state--info { color: $foreground; }
    StateTable > .state--warning { color: $warning; text-style: bold; }
    StateTable > .state--critical { color: $error; text-style: bold; }
    StateTable > .state--unknown { color: $secondary; text-style: italic; }
    StateTable > .state--muted { color: $foreground-muted; }
    """

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(key, label) of each column."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._shown: list[tuple[str, Cells]] = []
        self._column_keys = [key for key, _ in self.COLUMNS]
        self._keep: str | None = None
        for key, label in self.COLUMNS:
            self.add_column(Text(label), key=key)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Replace the columns (headers, fixed widths); the next :meth:`show_rows` refills the
        rows, with the cursor still on its row."""
        self._keep = self.cursor_key or self._keep
        self.clear(columns=True)
        for column in columns:
            self.add_column(Text(column.label), key=column.key, width=column.width)
        self._column_keys = [column.key for column in columns]
        self._shown = []

    def style_for(self, state: str) -> str:
        """The Rich style of ``state`` from this table's component classes."""
        return str(self.get_component_rich_style(f"state--{state}", partial=True))

    @property
    def cursor_key(self) -> str | None:
        """Key of the row under the cursor."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no cursor row
            return None

    def show_rows(self, rows: Sequence[tuple[str, Cells]], *, follow_top: bool = False) -> None:
        """Replace the rows; unchanged rows cost nothing, the cursor stays on its row's key."""
        rows = list(rows)
        if rows == self._shown:
            if follow_top and self.cursor_row != 0:
                self.move_cursor(row=0, animate=False)
            return
        keep = self.cursor_key or self._keep
        self._keep = None
        if self._shown and [k for k, _ in rows] == [k for k, _ in self._shown]:
            columns = self._column_keys
            for (key, cells), (_, old) in zip(rows, self._shown, strict=True):
                for column, new_cell, old_cell in zip(columns, cells, old, strict=True):
                    if new_cell != old_cell:
                        self.update_cell(key, column, new_cell)
            if follow_top and self.cursor_row != 0:
                self.move_cursor(row=0, animate=False)
        else:
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            if follow_top or keep is None:
                self.move_cursor(row=0, animate=False)
                self.scroll_home(animate=False)
            else:
                try:
                    self.move_cursor(row=self.get_row_index(keep), animate=False)
                except Exception:  # noqa: BLE001 - that row is gone: stay near the top
                    self.move_cursor(row=0, animate=False)
        self._shown = rows


class VisibilityTable(StateTable):
    """One row per watched prefix, worst first: state, prefix, %, peers, watch, origins, trend, age.

    The columns fit the table's width (:data:`FIT_STEPS`): at 80 columns nothing is cut off
    at the right edge; state, prefix, visibility, peers and age are never cut at all."""

    DEFAULT_CSS = """
    VisibilityTable { scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
    """
    """The vertical scrollbar's column is always kept, so the fit does not depend on the row count."""

    COLUMNS = (
        ("state", "State"),
        ("prefix", "Prefix"),
        ("percent", "Vis"),
        ("peers", "Peers"),
        ("watch", "Watch"),
        ("origin", "Origin"),
        ("trend", "Trend"),
        ("changed", "Changed"),
    )

    FIT_STEPS: ClassVar[tuple[FitStep, ...]] = (
        ("label", "changed", "Age"),
        ("shrink", "trend", 5),
        ("shrink", "watch", 8),
        ("shrink", "origin", 8),
        ("shrink", "watch", 6),
        ("shrink", "origin", 6),
        ("drop", "trend", None),
        ("drop", "watch", None),
        ("drop", "origin", None),
    )
    """What gives way, in order, when the columns are wider than the table: the age's header
    (``Changed`` → ``Age``), then the sparkline (its oldest minutes; the plot pane has them
    all), then the watch and origin names (cut with ``…``), and on very narrow terminals those
    three columns go."""

    class PrefixChosen(Message):
        """Enter was pressed on a prefix row."""

        def __init__(self, table: VisibilityTable, row: VisibilityRow) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> VisibilityTable:
            """The table the row was chosen in."""
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.by_key: dict[str, VisibilityRow] = {}
        self.fitted: tuple[Column, ...] = ()
        """The columns as shown now (headers and widths), after fitting to the width."""
        self._last: tuple[list[VisibilityRow], float] | None = None

    def show(self, rows: Sequence[VisibilityRow], now: float) -> None:
        """Show ``rows`` (already worst first); ``now`` is the clock the ages are counted from."""
        rows = list(rows)
        self._last = (rows, now)
        self.by_key = {r.key: r for r in rows}
        full: list[tuple[str, dict[str, Text]]] = []
        for r in rows:
            style = self.style_for(r.state)
            age = format_duration(now - r.last_change, short=True) if r.last_change is not None else "-"
            cells = {
                "state": Text(STATE_SYMBOL[r.state], style=style),
                "prefix": plain(r.prefix),
                "percent": Text(r.percent_text, style=style, justify="right"),
                "peers": plain(r.peers_text),
                "watch": plain(shorten(r.watch, 12)),
                "origin": plain(shorten(r.origins, 16)),
                "trend": Text(r.spark, style=style, no_wrap=True),
                "changed": plain(age),
            }
            full.append((r.key, cells))
        natural = {key: max((cell_len(cells[key].plain) for _, cells in full), default=0) for key, _ in self.COLUMNS}
        available = self.scrollable_content_region.width
        specs = [ColumnSpec(key, label) for key, label in self.COLUMNS]
        # Before the first layout there is no width to fit: show everything until the resize.
        fitted = fit_columns(specs, natural, available if available > 0 else 10**6, self.FIT_STEPS, self.cell_padding)
        if fitted != self.fitted:
            self.set_columns(fitted)
            self.fitted = fitted
        out = []
        for key, cells in full:
            shown = []
            for column in fitted:
                cell = cells[column.key]
                if column.key == "trend":  # keep the newest minutes: the sparkline ends with now
                    cell = Text(cell.plain[-column.width:], style=cell.style, no_wrap=True)
                elif cell_len(cell.plain) > column.width:
                    cell = cell.copy()
                    cell.truncate(column.width, overflow="ellipsis")
                shown.append(cell)
            out.append((key, tuple(shown)))
        self.show_rows(out)

    def on_resize(self) -> None:
        """Fit the columns to the new width."""
        if self._last is not None:
            self.show(*self._last)

    @property
    def selected(self) -> VisibilityRow | None:
        """The row under the cursor."""
        key = self.cursor_key
        return self.by_key.get(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: tell the screen which prefix."""
        event.stop()
        row = self.by_key.get(event.row_key.value or "")
        if row is not None:
            self.post_message(self.PrefixChosen(self, row))


class EventTable(StateTable):
    """The event log, newest first.

    Redrawn up to ten times a second while a replay runs at full speed, with hundreds of rows
    moving each time, so it is kept incrementally: row *i* of the table is the *i*-th newest
    entry (row keys are positions), each entry's texts are made once and its cells only when
    first written, and only the rows in view are written (:meth:`_fill`; rows scrolled into
    view are written as they come). The
    row count, and so the scrollbar and the virtual size, change only when the number of
    entries does. Clearing and re-adding ~300 rows instead cost tens of milliseconds a redraw
    (DataTable measures every new cell) and, in a full-speed replay, a quarter of the console's
    time. Columns widen as their widest cell, as DataTable's own do; they never narrow."""

    COLUMNS = (("time", "Time (UTC)"), ("severity", "Sev"), ("watch", "Watch"), ("text", "Event"))

    MARGIN = 8
    """Rows written beyond each edge of the view, so a short scroll finds them written."""

    class EventChosen(Message):
        """Enter was pressed on an event."""

        def __init__(self, table: EventTable, entry: LogEntry) -> None:
            super().__init__()
            self.table = table
            self.entry = entry

        @property
        def control(self) -> EventTable:
            """The table the event was chosen in."""
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: dict[str, LogEntry] = {}
        """Shown entries by row key (``"0"`` is the newest), in row order."""
        self._order: list[LogEntry] = []
        self._rows: dict[int, _LogRow] = {}
        """Each shown entry's row, by ``id(entry)`` (the row holds the entry, so the id is its)."""
        self._want: list[_LogRow] = []
        """What each row of the table should show."""
        self._held: list[_LogRow | None] = []
        """What each row of the DataTable holds now (None: not written yet)."""

    def _row_for(self, entry: LogEntry, day: str) -> _LogRow:
        row = self._rows.get(id(entry))
        if row is not None and row.entry is entry and row.day == day:
            return row
        return _LogRow(entry, day)

    def _cells_of(self, row: _LogRow) -> Cells:
        """The row's cells, built the first time it is written."""
        if row.cells is None:
            severity = row.entry.severity
            style = self.style_for({"info": "info"}.get(severity, severity))
            time, symbol, watch, text = row.texts
            row.cells = (plain(time), Text(symbol, style=style), plain(watch), plain(text))
        return row.cells

    def show(self, entries: Sequence[LogEntry], *, follow: bool, now: float | None = None) -> None:
        """Show ``entries`` (newest first); with ``follow`` the cursor sits on the newest.

        Times on the same UTC day as ``now`` show as ``HH:MM:SSZ`` (the status line has the
        date); others in full ISO 8601."""
        entries = list(entries)
        day = format_ts(now)[:10] if now is not None else ""
        if len(entries) == len(self._order) and all(a is b for a, b in zip(entries, self._order, strict=True)) and (
            not entries or self._rows[id(entries[0])].day == day
        ):
            self._keep_cursor(None, follow)
            return
        keep = None if follow else self.selected
        rows: dict[int, _LogRow] = {}
        want: list[_LogRow] = []
        widest = [0] * len(self.COLUMNS)
        widest_row = [0] * len(self.COLUMNS)
        for position, entry in enumerate(entries):
            row = self._row_for(entry, day)
            rows[id(entry)] = row
            want.append(row)
            for column, width in enumerate(row.widths):
                if width > widest[column]:
                    widest[column], widest_row[column] = width, position
        self._rows = rows
        self._order = entries
        self._want = want
        self.entries = {str(position): entry for position, entry in enumerate(entries)}
        shown = self.row_count
        if len(want) < shown:
            # Fewer entries (a filter, a seek back): rebuild; rare, and small or user-driven.
            self.clear()
            self._held = []
            shown = 0
        for position in range(shown, len(want)):
            self.add_row(*self._cells_of(want[position]), key=str(position))
        self._held = self._held[:shown] + list(want[shown:])
        # A column widens when some row, in view or not, holds a wider cell: write that cell
        # now and let DataTable take its width (it measures only the cells it is told to).
        for column, key in enumerate(self._column_keys):
            if want and widest[column] > self.columns[ColumnKey(key)].content_width:
                position = widest_row[column]
                if position < shown:
                    cell = self._cells_of(want[position])[column]
                    self.update_cell(str(position), key, cell, update_width=True)
                    self._held[position] = None  # its other cells may still be old ones
        self._keep_cursor(keep, follow)
        self._fill_view()

    def _keep_cursor(self, keep: LogEntry | None, follow: bool) -> None:
        """Following: the cursor and the view at the newest. Else the cursor stays on its entry."""
        if follow:
            if self.cursor_row != 0:
                self.move_cursor(row=0, animate=False)
            if self.scroll_y != 0:
                self.scroll_home(animate=False)
            return
        if keep is None:
            return
        for position, entry in enumerate(self._order):
            if entry is keep:
                if position != self.cursor_row:
                    self.move_cursor(row=position, animate=False)
                return
        self.move_cursor(row=0, animate=False)  # it left the window: stay near the top

    def _fill_view(self) -> None:
        """Write the rows in view (and a margin) that do not hold what they should."""
        top = int(self.scroll_y)
        height = max(self.size.height, 1)
        self._fill(top - self.MARGIN, top + height + self.MARGIN)
        cursor = self.cursor_row
        self._fill(cursor, cursor + 1)

    def _fill(self, first: int, last: int) -> None:
        want, held = self._want, self._held
        columns = self._column_keys
        for position in range(max(0, first), min(last, len(want), len(held))):
            row = want[position]
            if held[position] is row:
                continue
            key = str(position)
            for column, cell in zip(columns, self._cells_of(row), strict=True):
                self.update_cell(key, column, cell)
            held[position] = row

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Rows scrolled into view get written before they are drawn."""
        super().watch_scroll_y(old_value, new_value)
        self._fill_view()

    def on_resize(self) -> None:
        """A taller view shows rows not written yet."""
        self._fill_view()

    @property
    def selected(self) -> LogEntry | None:
        """The entry under the cursor."""
        key = self.cursor_key
        return self.entries.get(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on an event: tell the screen."""
        event.stop()
        entry = self.entries.get(event.row_key.value or "")
        if entry is not None:
            self.post_message(self.EventChosen(self, entry))


class _LogRow:
    """One entry of the event log as the table shows it: its texts and their widths at once
    (columns are as wide as their widest cell), its cells only once it is written."""

    __slots__ = ("entry", "day", "texts", "widths", "cells")

    def __init__(self, entry: LogEntry, day: str) -> None:
        self.entry = entry
        self.day = day
        """The UTC day (``YYYY-MM-DD``) the time was written for: that day shows only the time."""
        full = format_ts(entry.ts)
        self.texts = (
            clean(full[11:] if day and full[:10] == day else full),
            SEVERITY_SYMBOL.get(entry.severity, entry.severity),
            clean(shorten(entry.watch, 12) or "-"),
            clean(entry.text),
        )
        self.widths = tuple(len(text) if text.isascii() else cell_len(text) for text in self.texts)
        self.cells: Cells | None = None


class DnsTable(StateTable):
    """Latest state of every nameserver and resolver path."""

    COLUMNS = (
        ("state", "State"),
        ("zone", "Zone"),
        ("server", "Server"),
        ("address", "Address"),
        ("transport", "Via"),
        ("rtt", "RTT"),
        ("serial", "Serial"),
        ("last", "Last ok"),
        ("diagnosis", "Diagnosis"),
    )

    def show(self, rows: Sequence[DnsRow]) -> None:
        """Show the DNS rows."""
        out = []
        for r in rows:
            style = self.style_for(r.severity)
            key = f"{r.zone}\x00{r.server}\x00{r.address}\x00{r.transport}"
            out.append(
                (
                    key,
                    (
                        Text(SEVERITY_SYMBOL.get(r.severity, "")[:1] + " " + plain(r.state).plain, style=style),
                        plain(r.zone),
                        plain(shorten(r.server, 24)),
                        plain(r.address),
                        plain(r.transport),
                        plain(r.rtt),
                        plain(r.serial),
                        plain(r.last_success),
                        plain(r.diagnosis),
                    ),
                )
            )
        self.show_rows(out)


class RoutesTable(StateTable):
    """Routes to the drilled-down prefix, one per collector and peer."""

    BINDINGS: ClassVar[list[BindingType]] = []
    COLUMNS = (
        ("collector", "Collector"),
        ("asn", "Peer AS"),
        ("path", "AS path"),
        ("origin", "Origin"),
        ("upstream", "Upstream"),
        ("since", "Since (UTC)"),
        ("peer", "Peer address"),
    )

    def show(self, rows: Sequence[RouteRow]) -> None:
        """Show the routes."""
        self.show_rows(
            [
                (
                    f"{r.collector}\x00{r.peer_ip}\x00{r.peer_asn}",
                    (
                        plain(shorten(r.collector, 14)),
                        plain(f"AS{r.peer_asn}"),
                        plain(r.as_path),
                        plain(r.origin),
                        plain(r.upstream),
                        plain(format_ts(r.since)),
                        plain(r.peer_ip),
                    ),
                )
                for r in rows
            ]
        )


class RelatedTable(StateTable):
    """More-specifics (hijack signature) and covering prefixes of the drilled-down prefix."""

    BINDINGS: ClassVar[list[BindingType]] = []
    COLUMNS = (("relation", "Relation"), ("prefix", "Prefix"), ("peers", "Peers"), ("origins", "Origins"))

    def show(self, rows: Sequence[RelatedRow]) -> None:
        """Show the related prefixes."""
        self.show_rows(
            [
                (
                    f"{r.relation}\x00{r.prefix}",
                    (
                        Text(r.relation, style=self.style_for("warning" if r.relation == "more-specific" else "info")),
                        plain(r.prefix),
                        plain(str(r.peers)),
                        plain(r.origins),
                    ),
                )
                for r in rows
            ]
        )


class HistoryTable(EventTable):
    """The drilled-down prefix's event history (same columns as the event log)."""

    BINDINGS: ClassVar[list[BindingType]] = list(HISTORY_BINDINGS)
