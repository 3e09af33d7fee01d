"""``g``: jump the replay to a time typed as ISO 8601, a time of day, or relative (-10m, +1h)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.console.actions import MODAL_BINDINGS
from tui.console.model import JumpError, format_ts, parse_jump

__all__ = ["JumpScreen"]


class JumpScreen(ModalScreen[float | None]):
    """Asks for a time; dismisses with the target (seconds) or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = list(MODAL_BINDINGS)

    DEFAULT_CSS = """
    JumpScreen { align: center middle; }
    JumpScreen > Vertical {
        width: 70; max-width: 95%; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    JumpScreen #jump-error { color: $error; height: auto; }
    JumpScreen .hint { color: $foreground-muted; }
    """

    def __init__(self, now: float, start: float, end: float) -> None:
        super().__init__()
        self.now = now
        self.start = start
        self.end = end

    def compose(self) -> ComposeResult:
        """The prompt."""
        with Vertical():
            yield Static(f"Jump to a time (now {format_ts(self.now)})", markup=False)
            yield Static(
                f"window {format_ts(self.start)} → {format_ts(self.end)}; "
                "e.g. 2015-10-23T02:01:30Z, 02:01:30, -10m, +1h30m",
                classes="hint",
                markup=False,
            )
            yield Input(placeholder="time", id="jump-input")
            yield Static("", id="jump-error", markup=False)

    def on_mount(self) -> None:
        """Ready to type."""
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, message: Input.Submitted) -> None:
        try:
            target = parse_jump(message.value, self.now)
        except JumpError as exc:
            self.query_one("#jump-error", Static).update(str(exc))
            return
        self.dismiss(target)

    def action_close(self) -> None:
        """Cancel."""
        self.dismiss(None)
