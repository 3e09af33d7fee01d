"""Following a journal another process writes: several tails, live, without disturbing it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, shared_file
from nats_lab import bgpdump_events
from tui.core.events import Event, RecordRejected
from tui.journal.follow import JournalTail
from tui.journal.store import JournalError, JournalReader, JournalWriter

EVENTS_FILE = "mrt/bgpdump/expected/updates.20100722.2015.gz.bgp.gz"
LIMIT = 60.0

WRITER = """
import sys, time, json
sys.path.insert(0, sys.argv[3])
sys.path.insert(0, sys.argv[3] + "/tests")
from pathlib import Path
from nats_lab import bgpdump_events
from tui.journal.store import JournalWriter

events = bgpdump_events(Path(sys.argv[2]))
writer = JournalWriter(sys.argv[1], commit_interval=0.02, checkpoint_interval=60)
print("ready", flush=True)
sys.stdin.readline()  # the test's tails are open: go
batches = 0
for start in range(0, len(events), 97):
    writer.append(events[start:start + 97])
    batches += 1
    time.sleep(0.002)
writer.close()
print(json.dumps({"events": len(events), "batches": batches}), flush=True)
"""


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return bgpdump_events(shared_file(EVENTS_FILE))


def write_journal(path: Path, events: list[Event], batch: int = 97) -> None:
    with JournalWriter(path, background=False, checkpoint_interval=60) as writer:
        for start in range(0, len(events), batch):
            writer.append(events[start : start + batch])


async def follow(tail: JournalTail, want: int) -> list[list[Event]]:
    """Batches from ``tail`` until ``want`` events came (bounded)."""
    got: list[list[Event]] = []
    deadline = time.monotonic() + LIMIT
    async for batch in tail.batches():
        got.append(batch)
        if sum(map(len, got)) >= want:
            return got
        if time.monotonic() > deadline:
            break
    pytest.fail(f"tail got {sum(map(len, got))} of {want} events")


async def test_two_tails_follow_a_journal_another_process_is_writing(tmp_path, events):
    path = tmp_path / "live.journal"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(shared_file(EVENTS_FILE)), str(REPO)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        tails = [JournalTail(path, poll_interval=0.005), JournalTail(path, poll_interval=0.02)]
        writer.stdin.write("go\n")
        writer.stdin.flush()
        results = await asyncio.gather(*(follow(t, len(events)) for t in tails))
        summary = json.loads(writer.stdout.readline())
        assert writer.wait(LIMIT) == 0
    finally:
        writer.kill()
    assert summary == {"events": len(events), "batches": (len(events) + 96) // 97}
    for tail, batches in zip(tails, results):
        assert [e for b in batches for e in b] == events, "every event once, in order"
        # Batches arrive as the writer cut them (a poll may split one only at its row limit).
        assert all(len(b) <= 97 for b in batches)
        assert tail.cursor == len(events) and tail.rejected == 0
        tail.close()


def test_tail_positions_and_idle_polls(tmp_path, events):
    path = tmp_path / "j.journal"
    write_journal(path, events[:500])
    with JournalTail.at_end(path) as tail:
        assert tail.poll() == []
        assert tail.poll() == [], "an idle poll reads nothing"
        write_journal(path, events[500:700])
        got = [e for b in tail.poll() for e in b]
        assert got == events[500:700]
    with JournalTail(path, after_seq=650, max_rows=20) as tail:
        got = []
        while batch := tail.poll():
            got += [e for b in batch for e in b]
        assert got == events[650:700], "row limits only split the reading, never lose rows"


def test_damaged_rows_are_reported_and_skipped(tmp_path, events):
    path = tmp_path / "damaged.journal"
    write_journal(path, events[:10])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET payload = ? WHERE seq = 4", ('{"kind": "announce", "ts": "\x1b[2J"}',))
        conn.execute("UPDATE events SET payload = ? WHERE seq = 6", ("[1, 2]",))
    with JournalTail(path) as tail:
        got = [e for b in tail.poll() for e in b]
    assert len(got) == 10 and tail.rejected == 2
    bad = [e for e in got if isinstance(e, RecordRejected)]
    assert [b.location for b in bad] == ["damaged.journal event #4", "damaged.journal event #6"]
    assert "\x1b" not in bad[0].excerpt
    assert [e for e in got if not isinstance(e, RecordRejected)] == [e for i, e in enumerate(events[:10]) if i not in (3, 5)]


def test_tail_refuses_what_is_not_a_journal(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(JournalError, match="not a watchfloor journal"):
        JournalTail(other)
    with pytest.raises(JournalError, match="no such journal"):
        JournalTail(tmp_path / "missing.journal")


def test_tails_do_not_block_the_writer(tmp_path, events):
    """A writer commits and checkpoints its WAL while tails sit between polls."""
    path = tmp_path / "busy.journal"
    writer = JournalWriter(path, background=False, commit_interval=0.0)
    tails = [JournalTail(path) for _ in range(3)]
    for start in range(0, 2000, 100):
        writer.append(events[start : start + 100])
        for tail in tails:
            tail.poll()
    busy, log_frames, checkpointed = writer._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "no reader held the WAL"
    writer.close()
    for tail in tails:
        assert tail.cursor == 2000
        tail.close()
    with JournalReader(path) as reader:
        assert reader.count() == 2000


# -- the command ----------------------------------------------------------------------------------


def attach(*args: str, timeout: float = LIMIT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WATCHFLOOR_CONFIG"}
    env.update(PYTHONPATH=str(REPO), XDG_CONFIG_HOME="/nonexistent-watchfloor-test")  # the built-in config
    return subprocess.run(
        [sys.executable, "-m", "tui", "attach", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout
    )


def test_attach_headless_prints_a_past_window(tmp_path, events):
    path = tmp_path / "window.journal"
    write_journal(path, events)
    start, until = events[1000].ts, events[3000].ts
    done = attach("--journal", str(path), "--headless", "--jsonl", "--from", str(start), "--until", str(until))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    from tui.core.events import event_from_dict

    got = [event_from_dict(d) for d in lines]
    with JournalReader(path) as reader:  # the window is in replay time, the journal's t column
        expected = [row.event for row in reader.rows(0) if start <= row.t <= until]
    assert got == expected and 1000 < len(got) < 3000
    assert f"{len(got)} events from" in done.stderr


def test_attach_headless_log_lines_and_count(tmp_path, events):
    path = tmp_path / "log.journal"
    write_journal(path, events)
    done = attach("--journal", str(path), "--headless", "--from", str(events[0].ts), "--count", "40", "--watch", "0.0.0.0/0")
    assert done.returncode == 0, done.stderr
    assert "40 events from" in done.stderr
    assert "announce" in done.stdout or "withdraw" in done.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--journal", "/nonexistent/x.journal", "--headless"], 4, "no journal there"),
        (["--bus", "http://127.0.0.1:4222", "--headless"], 3, "scheme must be nats://"),
        (["--journal", "x", "--bus", "nats://127.0.0.1:1"], 2, "not allowed with"),
        (["--new", "--from", "2015-01-01", "--headless"], 3, "contradict"),
        (["--jsonl"], 3, "go with --headless"),
        (["--subject", "a.>", "--headless"], 3, "--subject goes with --bus"),
        (["--headless"], 3, "which journal?"),
        (["--from", "yesterday", "--headless"], 3, "--from: not a time"),
    ],
)
def test_attach_usage_errors(args, code, message):
    done = attach(*args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr


def test_attach_without_bus_never_imports_nats(tmp_path, events):
    path = tmp_path / "plain.journal"
    write_journal(path, events[:50])
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        f"rc = main(['attach', '--journal', {str(path)!r}, '--headless', '--jsonl', '--from', '0', '--until', '2015-01-01'])\n"
        "assert rc == 0, rc\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'nats', 'textual', 'rich'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=LIMIT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
