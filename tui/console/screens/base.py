"""What every full screen of the console shares: the status line, the replay bar, the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tui.console.model import replay_prompts
from tui.console.widgets.status import ReplayBar, StatusLine

if TYPE_CHECKING:
    from tui.console.app import WatchfloorApp

__all__ = ["ConsoleScreen", "KeyFooter"]


class KeyFooter(Footer):
    """Textual's footer, rebuilt only when the keys it shows change.

    Textual's footer recomposes (unmounts and mounts a widget per key) on every focus change,
    which here is every pane switch, and costs 15-60 ms a time; most switches show the same keys.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[object, ...] | None = None

    def _signature(self, screen: Screen) -> tuple[object, ...]:
        """What :meth:`Footer.compose` reads: the bindings it may show, their state and display."""
        app = self.app
        keys = tuple(
            (key, binding.key, app.get_key_display(binding), binding.description, binding.action, binding.group,
             binding.tooltip, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
            if binding.show or key == app.COMMAND_PALETTE_BINDING
        )
        return (*keys, self.compact, self.show_command_palette)

    def bindings_changed(self, screen: Screen) -> None:
        """Recompose only when what the footer would show differs from what it shows."""
        if screen is self.screen and screen.app.app_focus:
            shown = self._signature(screen)
            if self._bindings_ready and shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)


class ConsoleScreen(Screen):
    """A screen that the app's refresh timer redraws when the engine's revision moves."""

    def compose_top(self) -> ComposeResult:
        """Status line, and the replay bar in replay mode."""
        yield StatusLine(id="status")
        if self.watchfloor.replay is not None:
            yield ReplayBar(id="replay-bar")

    def compose_bottom(self) -> ComposeResult:
        """The footer with the most used keys."""
        yield KeyFooter()

    @property
    def watchfloor(self) -> WatchfloorApp:
        """The app, typed."""
        return cast("WatchfloorApp", self.app)

    def refresh_status(self) -> None:
        """Redraw the status line and replay bar (cheap; called every tick that moved time)."""
        app = self.watchfloor
        now = app.now()
        self.query_one(StatusLine).show(app.mode, now, app.engine.feeds.values(), app.engine.open_findings())
        replay = app.replay
        if replay is not None:
            clock = replay.clock
            prompts = replay_prompts(app.replay_keys(), at_start=app.replay_at_start) if app.replay_waiting else ()
            self.query_one(ReplayBar).show(clock.now(), replay.start, replay.end, clock.speed, app.replay_playing, prompts)

    def refresh_data(self) -> None:
        """Redraw what depends on engine state (called when the revision moved)."""

    def on_screen_resume(self) -> None:
        """Coming back to this screen: it missed redraws while hidden."""
        self.refresh_status()
        self.refresh_data()
