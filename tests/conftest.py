"""Shared fixtures: where the real data lives, and skips with a reason when it is absent."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tui.commands import Outcome

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHFLOOR_SHARED", REPO.parent / "shared")).resolve()
DATA = SHARED / "data"
LAB = SHARED / "lab"


def pytest_configure(config: pytest.Config) -> None:
    """Without ../shared/data the snapshot tests skip; their SVGs are then unused, not stale."""
    if not DATA.is_dir() and hasattr(config.option, "warn_unused_snapshots"):
        config.option.warn_unused_snapshots = True


def shared_file(relative: str) -> Path:
    """A file under ../shared/data, or skip the test saying what is missing."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real data not available: {path} (the tests read ../shared/data beside the repo)")
    return path


class EventLog:
    """An engine recorder that keeps every event it is handed, in order: a journal without SQLite."""

    def __init__(self) -> None:
        self.events: list = []

    def append(self, events) -> None:
        self.events.extend(events)


async def run_collector_until(collector, ready: Callable[[], bool]) -> None:
    """Run ``collector`` until ``ready()`` holds (or it ends by itself), then stop it: it must end OK.

    ``ready`` is asked every 0.1 s for up to a minute (a bound for a slow machine, not a timing).
    """
    task = asyncio.create_task(collector.run())
    for _ in range(600):
        if ready() or task.done():
            break
        await asyncio.sleep(0.1)
    collector.request_stop()
    assert await asyncio.wait_for(task, 30) is Outcome.OK


@pytest.fixture
def data_dir() -> Path:
    """../shared/data, or skip."""
    if not DATA.is_dir():
        pytest.skip(f"real data folder missing: {DATA}")
    return DATA
