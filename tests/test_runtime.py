"""The runtime: one way to build the engine from the config, one driver loop for every front end."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tui.config import parse_config
from tui.core.clock import FixedClock
from tui.core.events import FeedStatus, PeerSeen
from tui.runtime import Driver, SetupError, build_engine, detectors_for


class _CountingDetector:
    name = "counting"

    def __init__(self) -> None:
        self.ticks = 0
        self.batches: list[int] = []

    def observe(self, events, view, now):
        self.batches.append(len(events))
        return []

    def tick(self, view, now):
        self.ticks += 1
        return []

    def snapshot(self):
        return {}

    def restore(self, data):
        pass


def _engine(detector):
    config = parse_config("")
    return build_engine(config, config.watchlist(), FixedClock(100.0), detectors=[detector])


async def test_the_driver_applies_every_queued_batch_then_stops_when_done():
    detector = _CountingDetector()
    engine = _engine(detector)
    queue: asyncio.Queue = asyncio.Queue()
    for n in range(3):
        await queue.put([PeerSeen(100.0 + n, "rrc00", f"192.0.2.{n}", 64500 + n)])
    seen: list[int] = []
    driver = Driver(engine, queue, after_batch=lambda batch: seen.append(len(batch)))
    await asyncio.wait_for(driver.run(done=lambda: driver.batches == 3), 30)
    assert driver.batches == 3 and seen == [1, 1, 1] and queue.empty()
    assert len(list(engine.state.peers())) == 3


async def test_the_driver_ticks_on_its_own_clock_and_runs_the_tick_hooks():
    detector = _CountingDetector()
    engine = _engine(detector)
    queue: asyncio.Queue = asyncio.Queue()
    steps = itertools.count(0, 5.0)  # every look at the clock: 5 s later
    hooked: list[float] = []
    driver = Driver(engine, queue, tick_interval=1.0, on_tick=[hooked.append], monotonic=lambda: next(steps))
    turns = 0

    def done() -> bool:
        nonlocal turns
        turns += 1
        return turns > 4

    await asyncio.wait_for(driver.run(done=done), 30)
    assert detector.ticks >= 3 and hooked == [100.0] * len(hooked) and len(hooked) == detector.ticks


async def test_the_driver_stops_when_asked_and_drains_what_is_left():
    engine = _engine(_CountingDetector())
    queue: asyncio.Queue = asyncio.Queue()
    stop = asyncio.Event()
    driver = Driver(engine, queue)
    running = asyncio.create_task(driver.run(stop=stop))
    await queue.put([FeedStatus(100.0, "test", "up")])
    for _ in range(200):
        if driver.batches:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 30)
    await queue.put([FeedStatus(101.0, "test", "down", "gone")])
    driver.drain()
    assert driver.batches == 2 and engine.feeds["test"].state == "down"


def test_the_configured_vrp_file_decides_rpki_validation(tmp_path):
    config = parse_config("")
    assert "rpki" not in {d.name for d in detectors_for(config, config.watchlist())}
    missing = parse_config(f'[rpki]\nvrp_file = "{tmp_path / "nowhere.json"}"\n')
    with pytest.raises(SetupError, match="vrp_file .*nowhere.json: cannot read"):
        detectors_for(missing, missing.watchlist())


def test_a_setup_error_is_exit_4_with_its_message(tmp_path, capsys):
    from tui.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[rpki]\nvrp_file = "{tmp_path / "nowhere.json"}"\n')
    mrt = tmp_path / "empty.mrt"
    mrt.write_bytes(bytes(12))  # an MRT header of type 0: a recognisable, empty MRT file
    assert main(["replay", "--headless", "--config", str(config), str(mrt)]) == 4
    assert "vrp_file" in capsys.readouterr().err
