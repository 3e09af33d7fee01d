"""Snapshots (pytest-textual-snapshot) of the main screen, drill-down and help at 80x24 and 120x40.

Deterministic: a real replay (the et-header capture) paused at its end, or where it opens (its
start, saying which keys play it), so every time shown is replay time, never the wall clock.
Update with ``pytest --snapshot-update`` after a deliberate change, and look at the SVGs in the
report before committing them.
"""

from __future__ import annotations

import pytest

from test_console_support import replay_of  # noqa: F401 - a fixture
from tui.console.app import WatchfloorApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def console(replay_of, monkeypatch):  # noqa: F811 - the fixture imported above
    """A replay console over the et-header capture, positioned at its end."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    session = replay_of("mrt/bgpdump/updates.et-header.2015.gz")
    session.seek(session.end)
    return WatchfloorApp(session.engine, replay=session)


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app.redraw_now()
    # Let every resize-triggered re-render land: the plot lays its ticks out at its final size.
    for _ in range(3):
        await pilot.pause(0.05)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, console, size):
    assert snap_compare(console, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_drilldown(snap_compare, console, size):
    async def open_first_prefix(pilot) -> None:
        await _settle(pilot)
        pilot.app.screen.query_one("#visibility").move_cursor(row=0)
        await pilot.press("enter", "m")
        await pilot.pause()

    assert snap_compare(console, terminal_size=size, run_before=open_first_prefix)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, console, size):
    async def open_help(pilot) -> None:
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(console, terminal_size=size, run_before=open_help)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_replay_start(snap_compare, replay_of, monkeypatch, size):  # noqa: F811 - the fixture imported above
    """What `watchfloor replay FILE` opens on: paused at the start, saying what to press."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    session = replay_of("mrt/bgpdump/updates.et-header.2015.gz")
    assert snap_compare(WatchfloorApp(session.engine, replay=session), terminal_size=size, run_before=_settle)
