"""Every key of the console, as data: one :class:`~textual.binding.Binding` each, with an id
(what ``[keys]`` in the config remaps) and a description (what ``?`` and the footer show).

The help screen is generated from these lists, so a key cannot exist without being documented.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from textual.binding import Binding

__all__ = [
    "APP_BINDINGS",
    "REPLAY_BINDINGS",
    "MAIN_BINDINGS",
    "TABLE_BINDINGS",
    "DRILL_BINDINGS",
    "HISTORY_BINDINGS",
    "MODAL_BINDINGS",
    "BindingSection",
    "SECTIONS",
    "KeymapError",
    "check_keymap",
]

APP_BINDINGS = [
    Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
    Binding("q", "quit", "Quit", id="app.quit"),
    Binding("ctrl+p", "command_palette", "Commands", id="app.commands", show=False),
]

REPLAY_BINDINGS = [
    Binding("space", "toggle_play", "Play/pause", id="replay.toggle"),
    Binding("plus,greater_than_sign", "faster", "Faster", id="replay.faster", key_display="+"),
    Binding("minus,less_than_sign", "slower", "Slower", id="replay.slower", key_display="-", show=False),
    Binding("left_square_bracket", "step(-1)", "Step back", id="replay.step_back", key_display="[", show=False),
    Binding("right_square_bracket", "step(1)", "Step", id="replay.step_forward", key_display="]", show=False),
    Binding("g", "jump", "Jump to time", id="replay.jump"),
    Binding("n", "note(1)", "Next event of note", id="replay.next_note", show=False),
    Binding("N", "note(-1)", "Previous event of note", id="replay.previous_note", key_display="N", show=False),
]

MAIN_BINDINGS = [
    Binding("1", "show_pane('visibility')", "Visibility", id="main.pane_visibility", show=False),
    Binding("2", "show_pane('events')", "Events", id="main.pane_events", show=False),
    Binding("3", "show_pane('dns')", "DNS", id="main.pane_dns", show=False),
    Binding("4", "show_pane('plot')", "Plot", id="main.pane_plot", show=False),
    Binding("z", "zoom", "Maximise", id="main.zoom"),
    Binding("slash", "filter_text", "Filter", id="main.filter_text", key_display="/"),
    Binding("s", "cycle_severity", "Severity filter", id="main.filter_severity", show=False),
    Binding("w", "cycle_watch", "Watch filter", id="main.filter_watch", show=False),
    Binding("x", "clear_filters", "Clear filters", id="main.filter_clear", show=False),
    Binding("f", "toggle_follow", "Follow / scroll-lock", id="main.follow", show=False),
]

TABLE_BINDINGS = [
    Binding("enter", "select_cursor", "Open", id="pane.open"),
]
"""On the visibility and event tables: Enter opens the prefix (the event's prefix at its time)."""

DRILL_BINDINGS = [
    Binding("escape", "back", "Back", id="drill.back"),
    Binding("r", "tab('routes')", "Routes", id="drill.routes"),
    Binding("m", "tab('related')", "More/less-specifics", id="drill.related"),
    Binding("h", "tab('history')", "History", id="drill.history"),
    Binding("p", "tab('plot')", "Plot", id="drill.plot"),
]

HISTORY_BINDINGS = [
    Binding("enter", "select_cursor", "Seek to event", id="drill.seek"),
]
"""On the drill-down's history table: Enter moves the replay to that event."""

MODAL_BINDINGS = [
    Binding("escape", "close", "Close", id="modal.close"),
]


@dataclass(frozen=True)
class BindingSection:
    """A titled group of bindings for the help screen."""

    title: str
    bindings: tuple[Binding, ...]
    note: str = ""


SECTIONS = (
    BindingSection("Everywhere", tuple(APP_BINDINGS)),
    BindingSection("Replay", tuple(REPLAY_BINDINGS), "replay mode only"),
    BindingSection("Main screen", tuple(MAIN_BINDINGS + TABLE_BINDINGS)),
    BindingSection("Prefix drill-down", tuple(DRILL_BINDINGS + HISTORY_BINDINGS)),
    BindingSection("Dialogs", tuple(MODAL_BINDINGS)),
)
"""What the help screen lists, in order."""

ALL_IDS = frozenset(b.id for section in SECTIONS for b in section.bindings if b.id)


class KeymapError(ValueError):
    """The ``[keys]`` table names an action that does not exist."""


def check_keymap(keys: dict[str, str]) -> dict[str, str]:
    """``keys`` (action id → key) checked against the known ids; raises :class:`KeymapError`."""
    for action_id in keys:
        if action_id not in ALL_IDS:
            close = difflib.get_close_matches(action_id, sorted(ALL_IDS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "press ? in the console for the list of ids"
            raise KeymapError(f"[keys] {action_id}: no such action; {hint}")
    return dict(keys)
