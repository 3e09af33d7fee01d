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

__all__ = ["ConsoleScreen"]


class ConsoleScreen(Screen):
    """A screen that the app's refresh timer redraws when the engine's revision moves."""

    def compose_top(self) -> ComposeResult:
        """Status line, and the replay bar in replay mode."""
        yield StatusLine(id="status")
        if self.watchfloor.replay is not None:
            yield ReplayBar(id="replay-bar")

    def compose_bottom(self) -> ComposeResult:
        """The footer with the most used keys."""
        yield Footer()

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
