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
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.events import Event, FeedStatus, RecordRejected, RouteAnnounced
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watchlist
from tui.journal.follow import JournalTail, WriterWatch
from tui.journal.store import JournalError, JournalReader, JournalWriter

EVENTS_FILE = "mrt/bgpdump/expected/updates.20100722.2015.gz.bgp.gz"
NK_PREFIX = Prefix.parse("175.45.176.0/22")
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
    for tail, batches in zip(tails, results, strict=True):
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
    done = attach(
        "--journal",
        str(path),
        "--headless",
        "--from",
        str(events[0].ts),
        "--count",
        "40",
        "--watch",
        "0.0.0.0/1",
        "--watch",
        "128.0.0.0/1",
    )
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


def _status(ts, feed, state):
    return FeedStatus(ts, feed, state, "")


def test_tail_says_when_the_collector_is_gone_and_when_one_writes_again(tmp_path, events):
    path = tmp_path / "j.journal"
    first = JournalWriter(path, background=False)
    first.append([_status(events[0].ts, "ris-live", "up"), _status(events[0].ts, "mrt", "ended")] + events[:50])
    first.commit()
    tail = JournalTail(path)
    tail.writer_watch = WriterWatch(path, {"ripestat": "up", "journal": "up"}, check_interval=0)
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(0.0))

    def step() -> list[list[Event]]:
        batches = [batch for _, batch in tail.watched(tail.poll_timed())]
        for batch in batches:
            engine.ingest(batch)
        return batches

    assert sum(map(len, step())) == 52, "a running collector: rows only"
    engine.ingest(
        [announce_nk := RouteAnnounced(events[49].ts, "rrc00", "192.0.2.1", 3356, NK_PREFIX, (3356, 131279), "", (), "ris-live")]
    )
    assert (engine.visibility(NK_PREFIX).visible, engine.visibility(NK_PREFIX).unknown) == (1, 0)
    first.close()

    gone = step()
    assert len(gone) == 1
    statuses = [(e.feed, e.state) for e in gone[0]]
    assert statuses == [("journal", "down"), ("ripestat", "gap"), ("ris-live", "gap")], "ended feeds stay ended"
    assert all(e.ts == events[49].ts for e in gone[0]), "stamped with the data's time, not the wall clock"
    assert "no collector is writing j.journal" in gone[0][0].detail
    assert (engine.visibility(NK_PREFIX).visible, engine.visibility(NK_PREFIX).unknown) == (0, 1), "unknown, not current"
    assert engine.state.holds(announce_nk.peer, NK_PREFIX)
    assert step() == [], "said once"

    later = events[60].ts
    with JournalWriter(path, background=False) as second:
        second.append([_status(later, "ris-live", "connecting")])
        second.commit()
        back = step()
        assert [(e.feed, e.state) for e in back[0]] == [("journal", "up")]
        assert (back[0][0].gap_start, back[0][0].gap_end) == (events[49].ts, later)
        assert [(e.feed, e.state) for e in back[1]] == [("ris-live", "connecting")]
        assert engine.visibility(NK_PREFIX).unknown == 1, "unknown until the feed itself is up"
        second.append([_status(later + 1, "ris-live", "up")])
        second.commit()
        step()
        assert (engine.visibility(NK_PREFIX).visible, engine.visibility(NK_PREFIX).unknown) == (1, 0)
    tail.close()


STUCK_WRITER = """
import sys, time
sys.path.insert(0, sys.argv[2])
sys.path.insert(0, sys.argv[2] + "/tests")
from pathlib import Path
from nats_lab import bgpdump_events
from tui.journal.store import JournalWriter

events = bgpdump_events(Path(sys.argv[3]))[:3000]
writer = JournalWriter(sys.argv[1], commit_interval=0.02)
for start in range(0, len(events), 100):
    writer.append(events[start:start + 100])
writer.commit()
print("written", flush=True)
time.sleep(600)
"""


async def _until_journal_news(tail: JournalTail, got: list[list[Event]]) -> None:
    async for batch in tail.batches():
        got.append(batch)
        if any(isinstance(e, FeedStatus) and e.feed == "journal" for e in batch):
            return


async def test_a_collector_killed_with_sigkill_shows_as_gone_after_its_last_rows(tmp_path, events):
    path = tmp_path / "killed.journal"
    writer = subprocess.Popen(
        [sys.executable, "-c", STUCK_WRITER, str(path), str(REPO), str(shared_file(EVENTS_FILE))],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "written"
        idle = JournalTail(path, poll_interval=0.01)
        idle.writer_watch = WriterWatch(path, check_interval=0.01)
        seen: list[list[Event]] = []
        with pytest.raises(TimeoutError):  # alive, if idle: it must not be reported gone
            await asyncio.wait_for(_until_journal_news(idle, seen), 1.5)
        assert sum(map(len, seen)) == 3000
        idle.close()
    finally:
        writer.kill()  # SIGKILL
        writer.wait(LIMIT)
    # A console that attaches now has 3000 rows to read, 700 per poll: "gone" only after them all.
    tail = JournalTail(path, poll_interval=0.01, max_rows=700)
    tail.writer_watch = WriterWatch(path, check_interval=0.0)
    got: list[list[Event]] = []
    await asyncio.wait_for(_until_journal_news(tail, got), LIMIT)
    assert [e for b in got[:-1] for e in b] == events[:3000], "every committed row first, then the news"
    assert [(e.feed, e.state) for e in got[-1]] == [("journal", "down")]
    assert got[-1][0].ts == events[2999].ts
    tail.close()
