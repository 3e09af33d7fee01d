"""``watchfloor collect --bus --shard`` and ``watchfloor attach --bus``, end to end, as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, shared_file
from nats_lab import NatsServer, nats_server
from real_cases import CONFIG_2007, MRT_2007
from tui.bus.shard import Shard, shard_watches
from tui.config import parse_config
from tui.core.events import Event, FeedStatus, Finding, event_from_dict, event_to_json
from tui.journal.store import JournalReader

MRT, CONFIG = MRT_2007, CONFIG_2007
LIMIT = 120.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    yield from nats_server(tmp_path_factory)


def watchfloor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=LIMIT
    )


def journal_events(path: Path) -> list[Event]:
    with JournalReader(path) as reader:
        return [e for batch in reader.batches() for e in batch]


def routes(events: list[Event]) -> Counter[Event]:
    return Counter(e for e in events if hasattr(e, "prefix"))


def test_sharded_collectors_publish_the_union_once(tmp_path, server):
    config = tmp_path / "watchfloor.toml"
    config.write_text(CONFIG)
    url = f"{server.url}?stream=COLLECT&root=col"
    mrt = str(shared_file(MRT))
    started = time.time()
    runs = []
    for k in range(2):
        journal = tmp_path / f"shard{k}.journal"
        done = watchfloor(
            "collect", "--config", str(config), "--from-files", mrt, "--journal", str(journal),
            "--bus", url, "--shard", f"{k}/2", "--bus-name", f"test-{k}",
        )
        assert done.returncode == 0, done.stderr
        assert f"as test-{k}" in done.stderr
        runs.append(journal_events(journal))
    # Each shard recorded routes of its own prefixes only (and their more- or less-specifics).
    for k, run in enumerate(runs):
        own = [p for w in shard_watches(parse_config(CONFIG).watches, Shard(k, 2)) for p in w.prefixes]
        seen = {e.prefix for e in run if hasattr(e, "prefix")}
        assert seen and all(any(o.contains(p) or p.contains(o) for o in own) for p in seen)

    # A restarted shard re-publishes the same events: the bus already has every one of them.
    again = watchfloor(
        "collect", "--config", str(config), "--from-files", mrt, "--bus", url, "--shard", "1/2", "--bus-name", "test-1",
    )
    assert again.returncode == 0, again.stderr
    published = [line for line in again.stderr.splitlines() if line.startswith("watchfloor collect: bus:")]
    assert published and " 0 events published" in published[0] and f" {len(runs[1])} already there" in published[0]

    # A console on another host sees the union, each event once, findings of both shards included.
    shown = watchfloor("attach", "--bus", url, "--headless", "--jsonl", "--from", str(started), "--until", str(time.time()))
    assert shown.returncode == 0, shown.stderr
    got = [event_from_dict(json.loads(line)) for line in shown.stdout.splitlines()]
    assert routes(got) == routes(runs[0]) + routes(runs[1])
    findings = Counter(event_to_json(e) for e in got if isinstance(e, Finding))
    assert findings and findings == Counter(event_to_json(e) for run in runs for e in run if isinstance(e, Finding))
    ended = {e.feed for e in got if isinstance(e, FeedStatus) and e.state == "ended" and e.feed.startswith("bus/")}
    assert ended == {"bus/test-0", "bus/test-1"}
    assert "0 duplicates dropped" in shown.stderr


def test_collect_bus_usage_errors(tmp_path, server):
    config = tmp_path / "watchfloor.toml"
    config.write_text(CONFIG)
    mrt = str(shared_file(MRT))
    bad_shard = watchfloor("collect", "--config", str(config), "--from-files", mrt, "--shard", "2/2")
    assert bad_shard.returncode == 3 and "--shard: bad shard '2/2'" in bad_shard.stderr
    bad_url = watchfloor("collect", "--config", str(config), "--from-files", mrt, "--bus", "ftp://x")
    assert bad_url.returncode == 3 and "scheme must be nats://" in bad_url.stderr
    name_alone = watchfloor("collect", "--config", str(config), "--from-files", mrt, "--bus-name", "x")
    assert name_alone.returncode == 3 and "--bus-name goes with --bus" in name_alone.stderr
