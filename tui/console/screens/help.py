"""``?``: every key, generated from the bindings (with the config's remapping applied)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.keys import key_to_character
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.console.actions import MODAL_BINDINGS, SECTIONS

__all__ = ["HelpScreen", "key_text", "key_for"]


def _one_key(app: App[Any], key: str) -> str:
    if key == "space":
        return "space"
    character = key_to_character(key)
    # escape and tab "are" characters too: written to the terminal, a raw ESC starts an escape
    # sequence. Only a printable character stands for its key; the rest are named (esc, tab).
    if character is not None and character.isprintable() and not character.isspace():
        return character
    return app.get_key_display(Binding(key, ""))


def key_text(app, binding: Binding) -> str:  # type: ignore[no-untyped-def]
    """The key(s) of ``binding`` as the user must type them now (after ``[keys]`` remapping)."""
    keymap = getattr(app, "_keymap", {}) or {}
    remapped = keymap.get(binding.id or "")
    keys = [k.strip() for k in (remapped or binding.key).split(",") if k.strip()]
    return " or ".join(_one_key(app, k) for k in keys)


def key_for(app, action_id: str) -> str:  # type: ignore[no-untyped-def]
    """The (first) key that runs the binding with id ``action_id`` now, as prompts name it."""
    for section in SECTIONS:
        for binding in section.bindings:
            if binding.id == action_id:
                return key_text(app, binding).split(" or ")[0]
    raise KeyError(action_id)


class HelpScreen(ModalScreen[None]):
    """A scrollable table of every key: key, what it does, its id for ``[keys]``."""

    BINDINGS: ClassVar[list[BindingType]] = [*MODAL_BINDINGS, Binding("question_mark", "close", show=False, id="help.close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; color: $accent; height: 1; }
    HelpScreen #help-note { color: $foreground-muted; height: auto; }
    HelpScreen DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """Title, the key table, a note on remapping."""
        with Vertical():
            yield Static("Watchfloor keys", id="help-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                "Remap any key in the config: [keys] then  id = \"key\"  (e.g. \"replay.toggle\" = \"p\"). "
                "Esc closes. Ctrl+P opens the command palette.",
                id="help-note",
                markup=False,
            )

    def on_mount(self) -> None:
        """Fill the table from the binding definitions."""
        table = self.query_one(DataTable)
        table.add_column(Text("Key"), key="key")
        table.add_column(Text("Action"), key="action")
        table.add_column(Text("Id (for [keys] in the config)"), key="id")
        replay = getattr(self.app, "replay", None) is not None
        for section in SECTIONS:
            title = section.title + (f" ({section.note})" if section.note else "")
            muted = section.note == "replay mode only" and not replay
            table.add_row(Text(title, style="bold"), Text(""), Text(""), key=f"section:{section.title}")
            for binding in section.bindings:
                style = "dim" if muted else ""
                table.add_row(
                    Text("  " + key_text(self.app, binding), style=style),
                    Text(binding.description, style=style),
                    Text(binding.id or "", style="dim"),
                    key=f"{section.title}:{binding.id}",
                )
        table.focus()

    def action_close(self) -> None:
        """Back."""
        self.dismiss(None)
