"""The SQLite journal: format, schema version, commits, checkpoints, crash safety, concurrent readers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from tui.core.aspath import parse_path
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.events import (
    DnsProbeResult,
    Finding,
    PeerStateChanged,
    RouteAnnounced,
    RouteWithdrawn,
    event_to_json,
)
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watchlist
from tui.journal.store import JournalError, JournalReader, JournalWriter, is_journal, writer_running

NK = Prefix.parse("175.45.176.0/22")
NK_MORE = Prefix.parse("175.45.177.0/24")
OTHER = Prefix.parse("8.8.8.0/24")
WATCHLIST = Watchlist([NORTH_KOREA])


def announce(ts, peer_ip, prefix, path="3356 4837 131279"):
    return RouteAnnounced(ts, "rrc00", peer_ip, int(path.split()[0]), prefix, parse_path(path), peer_ip, (), "test")


def withdraw(ts, peer_ip, prefix, asn=3356):
    return RouteWithdrawn(ts, "rrc00", peer_ip, asn, prefix, "test")


class TickingClock:
    """A monotonic clock a test moves by hand (the commit policy reads it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def committed_rows(path) -> int:
    """Rows another connection can see (i.e. committed)."""
    with JournalReader(path) as reader:
        return reader.count()


def test_rows_keep_order_batches_and_a_replay_time_that_never_goes_back(tmp_path):
    path = tmp_path / "j.journal"
    with JournalWriter(path, watchlist=WATCHLIST, background=False) as writer:
        writer.append([announce(10.0, "192.0.2.1", NK), announce(12.0, "192.0.2.2", NK_MORE)])
        writer.append([withdraw(11.0, "192.0.2.1", NK)])  # late: its replay time stays 12
        writer.append([announce(15.5, "192.0.2.3", OTHER, "2914 15169")])
    assert is_journal(path)
    with JournalReader(path) as reader:
        rows = list(reader.rows(0))
        assert [(r.seq, r.batch, r.t) for r in rows] == [(1, 1, 12.0), (2, 1, 12.0), (3, 2, 12.0), (4, 3, 15.5)]
        assert rows[2].event == withdraw(11.0, "192.0.2.1", NK)
        assert reader.bounds() == (12.0, 15.5, 4)
        assert reader.last_seq_at(12.0) == 3 and reader.last_seq_at(11.9) == 0
        assert [list(b) for b in reader.batches()] == [[r.event for r in rows[:2]], [rows[2].event], [rows[3].event]]
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT kind, prefix, watch, note, payload FROM events ORDER BY seq").fetchall()
    assert stored[0] == ("announce", "175.45.176.0/22", "North Korea", 1, event_to_json(rows[0].event).encode())
    assert stored[1][:4] == ("announce", "175.45.177.0/24", "North Korea", 1)
    assert stored[3][:4] == ("announce", "8.8.8.0/24", None, 0)  # not of note: unrelated to any watch
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_events_of_note_and_history(tmp_path):
    path = tmp_path / "j.journal"
    finding = Finding(30.0, "f1", "North Korea", "visibility", "warning", "open", "175.45.176.0/22", "dropped", 30.0)
    dns_ok = DnsProbeResult(40.0, "kp.", "ns1.kp.", "127.0.0.1", 53, "udp", "kp.", "SOA", "ok")
    dns_bad = DnsProbeResult(50.0, "kp.", "ns1.kp.", "127.0.0.1", 53, "udp", "kp.", "SOA", "timeout")
    with JournalWriter(path, watchlist=WATCHLIST, background=False) as writer:
        writer.append([announce(10.0, "192.0.2.1", OTHER, "2914 15169")])
        writer.append([announce(20.0, "192.0.2.1", NK_MORE)])
        writer.append([finding])
        writer.append([dns_ok])
        writer.append([dns_bad])
        writer.append([PeerStateChanged(60.0, "rrc00", "192.0.2.1", 3356, "ESTABLISHED", "IDLE", "test")])
    with JournalReader(path) as reader:
        assert reader.next_note(0.0) == 20.0
        assert reader.next_note(20.0) == 30.0
        assert reader.next_note(30.0) == 50.0  # the ok DNS answer at 40 is not of note
        assert reader.previous_note(60.0) == 50.0
        assert reader.next_note(60.0) is None
        history = reader.history(NK)
        assert history == [announce(20.0, "192.0.2.1", NK_MORE), finding]
        assert reader.history(NK, more_specifics=False) == [finding]
        assert reader.history(NK, since=25.0) == [finding]
        assert reader.events_of_finding("f1") == [finding]


def test_checkpoints_follow_data_time_and_close(tmp_path):
    path = tmp_path / "j.journal"
    engine = Engine(WATCHLIST, FixedClock())
    with JournalWriter(path, watchlist=WATCHLIST, checkpoint_interval=30.0, background=False) as writer:
        engine.recorder = writer
        writer.attach(engine)
        for second in range(0, 100, 5):
            engine.ingest([announce(float(second), f"192.0.2.{second % 7 + 1}", NK)])
    with JournalReader(path) as reader:
        # After t=30, 60 and 90 (30 s of data after the previous one), and one at close (t=95).
        seqs = [reader.checkpoint_at_or_before(s) for s in range(1, 21)]
        taken = sorted({(c.seq, c.t) for c in seqs if c is not None})
        assert taken == [(7, 30.0), (13, 60.0), (19, 90.0), (20, 95.0)]
        last = reader.checkpoint_at_or_before(20)
        assert last is not None
        # The one at close holds the changes since the full one after row 19, and restores
        # to the engine's table.
        assert last.base == 19 and last.data["engine"]["state"]["delta"]
        assert reader.route_state(last).to_snapshot() == engine.checkpoint()["state"]
        assert reader.checkpoint_at(19).base is None  # type: ignore[union-attr]
        assert last.data["timeline"] == engine.timeline.to_snapshot()


def _checkpoints_of_a_real_table(path, **options):
    """Record the et-header capture's table (whole-table watch) with a checkpoint every 100k changes."""
    from tests.conftest import shared_file
    from tui.commands.snapshot import WHOLE_TABLE
    from tui.journal.sources import open_sources

    watchlist = Watchlist([NORTH_KOREA, WHOLE_TABLE])
    engine = Engine(watchlist, FixedClock())
    with JournalWriter(path, watchlist=watchlist, checkpoint_changes=100_000, background=False, **options) as writer:
        writer.attach(engine)
        for batch in open_sources([shared_file("mrt/bgpdump/updates.et-header.2015.gz")], watchlist):
            engine.ingest(batch)
            writer.append(batch)
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT seq, t, payload FROM checkpoints ORDER BY seq").fetchall(), engine
    finally:
        connection.close()


def test_checkpoints_compressed_in_a_thread_are_those_compressed_inline(tmp_path):
    threaded, engine = _checkpoints_of_a_real_table(tmp_path / "threaded.journal")
    inline, _ = _checkpoints_of_a_real_table(tmp_path / "inline.journal", compress_in_thread=False)
    assert len(threaded) >= 4  # 577k announcements: one once 100k changes have passed (at a batch end), one at close
    assert threaded == inline
    with JournalReader(tmp_path / "threaded.journal") as reader:
        last = reader.checkpoint_at_or_before(threaded[-1][0])
        assert last is not None and last.data["engine"]["state"] == engine.checkpoint()["state"]


def test_a_whole_table_restores_from_its_sized_keys_and_from_the_older_format(tmp_path):
    """Format 3 splits the stored keys by their sizes; a format 2 table (no sizes) still reads."""
    from tui.core.routes import RouteState

    _, engine = _checkpoints_of_a_real_table(tmp_path / "j.journal")
    snapshot = engine.state.to_snapshot()
    assert snapshot["format"] == 3
    held = {(info.key, v): table for info in engine.state.peers() for v, table in ((4, info.v4), (6, info.v6))}
    older = {**snapshot, "format": 2, "peers": [
        {**peer, "tables": {v: {k: c for k, c in t.items() if k != "key_sizes"} for v, t in peer["tables"].items()}}
        for peer in snapshot["peers"]
    ]}
    for data in (snapshot, older):
        restored = RouteState.from_snapshot(data)
        for info in restored.peers():
            for version, table in ((4, info.v4), (6, info.v6)):
                original = held[(info.key, version)]
                assert list(table) == list(original)  # same keys, same order
                assert [(r.as_path, r.next_hop, r.communities, r.since) for r in table.values()] == [
                    (r.as_path, r.next_hop, r.communities, r.since) for r in original.values()
                ]
        assert restored.route_count() == engine.state.route_count() > 500_000


def test_split_sized_keys_refuses_sizes_that_do_not_fit_the_keys():
    from tui.core.wirekeys import WireKeyError, join_wire_keys, key_sizes, split_sized_keys

    keys = [b"\x00", b"\x18\xaf\x2d\xb0", b"\x20\x0a\x00\x00\x01", b"\x08\x0a"]
    data = join_wire_keys(keys)
    assert split_sized_keys(data, key_sizes(keys), 4) == keys
    assert split_sized_keys(b"", b"", 6) == []
    for sizes, message in [
        (bytes([1, 4, 5, 3]), "add up to 13 octets, the keys take 12"),
        (bytes([1, 5, 4, 2]), "disagrees with the key's prefix length"),
        (bytes([0, 4, 5, 3]), "not that of any IPv4 prefix"),
        (bytes([1, 4, 6, 1]), "not that of any IPv4 prefix"),
        (b"", "12 octets of keys but no sizes"),
    ]:
        with pytest.raises(WireKeyError, match=message):
            split_sized_keys(data, sizes, 4)


def test_a_forged_checkpoint_is_a_journal_error_when_a_replay_seeks_to_it(tmp_path, monkeypatch):
    import tui.journal.replay as replay
    from tui.journal.codec import decode_checkpoint, encode_checkpoint

    monkeypatch.setattr(replay, "JUMP_ROWS", 0)  # three rows: any checkpoint ahead is worth a jump

    path = tmp_path / "j.journal"
    engine = Engine(WATCHLIST, FixedClock())
    with JournalWriter(path, watchlist=WATCHLIST, checkpoint_interval=30.0, background=False) as writer:
        writer.attach(engine)
        for n, ts in enumerate((0.0, 40.0, 80.0)):
            batch = [announce(ts, f"192.0.2.{n + 1}", NK)]
            engine.ingest(batch)
            writer.append(batch)
    connection = sqlite3.connect(path)
    seq, payload = connection.execute("SELECT seq, payload FROM checkpoints ORDER BY seq LIMIT 1").fetchone()
    data = decode_checkpoint(payload)
    table = data["engine"]["state"]["peers"][0]["tables"]["4"]
    table["key_sizes"] = bytes([9]) * len(table["key_sizes"])
    connection.execute("UPDATE checkpoints SET payload = ? WHERE seq = ?", (encode_checkpoint(data), seq))
    connection.commit()
    connection.close()
    damaged = f"checkpoint at event #{seq} is damaged: .*not that of any IPv4 prefix"
    with replay.ReplaySession.open(path, WATCHLIST) as session, pytest.raises(JournalError, match=damaged):
        session.seek(session.start + 41.0)


def test_a_checkpoint_that_cannot_be_compressed_is_a_journal_error(tmp_path, monkeypatch):
    import tui.journal.store as store

    def fail(frame, level=1):
        raise MemoryError("no room to compress")

    monkeypatch.setattr(store, "compress_checkpoint", fail)
    engine = Engine(WATCHLIST, FixedClock())
    writer = JournalWriter(tmp_path / "j.journal", watchlist=WATCHLIST, checkpoint_interval=30.0, background=False)
    engine.recorder = writer
    writer.attach(engine)
    engine.ingest([announce(0.0, "192.0.2.1", NK)])
    engine.ingest([announce(40.0, "192.0.2.2", NK)])  # a checkpoint is due: compressing starts, fails
    with pytest.raises(JournalError, match="checkpoint at row 2 could not be compressed: no room to compress"):
        writer.close()


def test_commits_at_least_every_commit_interval_of_appending(tmp_path):
    path = tmp_path / "j.journal"
    clock = TickingClock()
    writer = JournalWriter(path, commit_interval=1.0, clock=clock, background=False)
    writer.append([announce(1.0, "192.0.2.1", NK)])
    clock.now = 0.5
    writer.append([announce(2.0, "192.0.2.1", NK)])
    assert committed_rows(path) == 0 and writer.committed == 0
    clock.now = 1.0
    writer.append([announce(3.0, "192.0.2.1", NK)])
    assert committed_rows(path) == 3 and writer.committed == 3
    clock.now = 1.2
    writer.append([announce(4.0, "192.0.2.1", NK)])
    assert committed_rows(path) == 3
    writer.close()
    assert committed_rows(path) == 4


def test_background_thread_commits_when_appends_stop(tmp_path):
    path = tmp_path / "j.journal"
    writer = JournalWriter(path, commit_interval=0.2)
    try:
        writer.append([announce(1.0, "192.0.2.1", NK)])
        # No further append: only the background thread can commit this row.
        for _ in range(200):
            if committed_rows(path) == 1:
                break
            writer._stop.wait(0.05)
        assert committed_rows(path) == 1
        assert writer.committed == 1
    finally:
        writer.close()


def test_schema_version_newer_than_this_code_is_refused(tmp_path):
    path = tmp_path / "future.journal"
    JournalWriter(path, background=False).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=r"schema version 99 is newer .* upgrade watchfloor"):
        JournalReader(path)
    with pytest.raises(JournalError, match="newer"):
        JournalWriter(path, background=False)


def test_sqlite_file_that_is_not_a_journal_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="not a watchfloor journal"):
        JournalReader(path)
    text = tmp_path / "text.journal"
    text.write_text("hello\n")
    with pytest.raises(JournalError, match="not a watchfloor journal"):
        JournalReader(text)
    with pytest.raises(JournalError, match="no such journal"):
        JournalReader(tmp_path / "missing.journal")


def test_reopening_a_journal_appends_after_the_last_row(tmp_path):
    path = tmp_path / "j.journal"
    with JournalWriter(path, background=False) as writer:
        writer.append([announce(10.0, "192.0.2.1", NK)])
    with JournalWriter(path, background=False) as writer:
        writer.append([announce(5.0, "192.0.2.2", NK)])
    with JournalReader(path) as reader:
        assert [(r.seq, r.batch, r.t) for r in reader.rows(0)] == [(1, 1, 10.0), (2, 2, 10.0)]


READER_SCRIPT = textwrap.dedent(
    """
    import sys
    from tui.journal.store import JournalReader
    path = sys.argv[1]
    for line in sys.stdin:
        with JournalReader(path) as reader:
            print(reader.count(), flush=True)
    """
)


def test_a_reader_in_another_process_reads_while_the_writer_holds_a_transaction(tmp_path):
    path = tmp_path / "j.journal"
    writer = JournalWriter(path, background=False)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )

    def ask() -> str:
        assert reader.stdin is not None and reader.stdout is not None
        reader.stdin.write("count\n")
        reader.stdin.flush()
        return reader.stdout.readline().strip()

    try:
        writer.append([announce(1.0, "192.0.2.1", NK)] * 3)
        writer.commit()
        assert ask() == "3"
        writer.append([announce(2.0, "192.0.2.1", NK)] * 2)  # open write transaction
        assert ask() == "3"  # reads the committed state, not blocked, no "database is locked"
        writer.commit()
        assert ask() == "5"
    finally:
        writer.close()
        assert reader.stdin is not None
        reader.stdin.close()
        reader.wait(timeout=60)
    assert reader.returncode == 0, reader.stderr.read() if reader.stderr else ""


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from tui.core.aspath import parse_path
    from tui.core.events import RouteAnnounced
    from tui.core.prefixes import Prefix
    from tui.journal.store import JournalWriter

    writer = JournalWriter(sys.argv[1], commit_interval=1.0)
    prefix = Prefix.parse("175.45.176.0/22")
    path = parse_path("3356 4837 131279")
    n = 0
    while True:
        batch = []
        for _ in range(20):
            n += 1
            batch.append(RouteAnnounced(float(n), "rrc00", "192.0.2.1", 3356, prefix, path, "", (), f"e{n}"))
        writer.append(batch)
        # Reported after append returns: the journal has this many events, this many committed.
        print(writer.appended, writer.committed, flush=True)
        writer._stop.wait(0.002)
    """
)


def test_kill_9_while_recording_leaves_a_readable_journal_missing_only_uncommitted_events(tmp_path):
    path = tmp_path / "crash.journal"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    reports: list[tuple[int, int]] = []
    commits_seen: set[int] = set()
    for line in child.stdout:
        appended, committed = map(int, line.split())
        reports.append((appended, committed))
        if committed:
            commits_seen.add(committed)
        if len(commits_seen) >= 3:  # several commits happened: kill it mid-stream
            break
    os.kill(child.pid, signal.SIGKILL)
    rest = child.stdout.read()
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    assert writer_running(path) is False, "the killed writer's lock went with it"
    with JournalWriter(path, background=False):  # and a new collector may take over at once
        pass
    for line in rest.split("\n"):
        if line.strip():
            reports.append(tuple(map(int, line.split())))  # type: ignore[arg-type]
    last_appended, last_committed = reports[-1]
    with JournalReader(path) as reader:
        rows = list(reader.rows(0))
    kept = len(rows)
    # Everything the writer reported committed survived; nothing beyond what it appended exists.
    assert last_committed <= kept <= last_appended
    assert [r.seq for r in rows] == list(range(1, kept + 1))
    assert [r.event.source for r in rows] == [f"e{n}" for n in range(1, kept + 1)]


def test_one_writer_at_a_time_and_readers_can_tell_whether_it_runs(tmp_path):
    path = tmp_path / "j.journal"
    assert writer_running(path) is False
    with JournalWriter(path, background=False) as writer:
        writer.append([announce(1.0, "192.0.2.1", NK)])
        assert writer_running(path) is True
        with pytest.raises(JournalError, match=rf"another process \(pid {os.getpid()}\) is writing this journal"):
            JournalWriter(path, background=False)
        with JournalReader(path) as reader:  # readers are never refused
            assert reader.count() == 0  # (not committed yet)
    assert writer_running(path) is False
    with JournalWriter(path, background=False) as writer:  # taken over after a clean close
        writer.append([announce(2.0, "192.0.2.1", NK)])
    assert committed_rows(path) == 2


def _table_contents(state):
    """Every session's routes as plain data: what a restore must reproduce (order aside)."""
    return {
        (info.key, version): {key: (str(route.as_path), route.next_hop, tuple(route.communities), route.since)
                              for key, route in table.items()}
        for info in state.peers()
        for version, table in ((4, info.v4), (6, info.v6))
        if table
    }


def test_delta_checkpoints_restore_the_table_the_live_engine_held(tmp_path):
    """Announcements, withdrawals, a session going down and coming back, a new session: each
    checkpoint between full ones stores the changes, and restores to the live table at its row."""
    from tui.commands.snapshot import WHOLE_TABLE

    path = tmp_path / "j.journal"
    watchlist = Watchlist([NORTH_KOREA, WHOLE_TABLE])
    engine = Engine(watchlist, FixedClock())
    live: dict[int, dict] = {}
    peers = [f"192.0.2.{n}" for n in range(1, 5)]
    with JournalWriter(path, watchlist=watchlist, checkpoint_interval=1e9, checkpoint_changes=150,
                       checkpoint_rows=25, background=False) as writer:
        writer.attach(engine)
        ts = 0.0
        for step in range(60):
            batch = []
            for n in range(10):
                ts += 1.0
                peer = peers[n % (2 if step < 20 else 4)]  # two more sessions appear later
                # Six new routes a step, and four of those of six steps before withdrawn:
                # routes that the base checkpoint held go, and ones it never held come and go.
                if n < 6:
                    batch.append(announce(ts, peer, Prefix.parse(f"10.{step}.{n}.0/24")))
                elif step >= 6:
                    announcer = peers[(n - 6) % (2 if step < 26 else 4)]
                    batch.append(withdraw(ts, announcer, Prefix.parse(f"10.{step - 6}.{n - 6}.0/24")))
                if step % 9 == 0 and n == 9:
                    batch.append(withdraw(ts, peer, Prefix.parse(f"10.{step}.0.0/24")))  # one just announced
            if step == 30:
                batch.append(PeerStateChanged(ts, "rrc00", peers[0], 3356, "ESTABLISHED", "IDLE", "test"))
            engine.ingest(batch)
            before = writer.checkpoints
            writer.append(batch)
            if writer.checkpoints > before:
                live[writer.last_seq] = _table_contents(engine.state)
        live[writer.last_seq] = _table_contents(engine.state)  # the one at close
    with JournalReader(path) as reader:
        kinds = {seq: reader.checkpoint_at(seq).base for seq in reader.checkpoint_rows()}  # type: ignore[union-attr]
        assert sum(1 for base in kinds.values() if base is not None) >= 8
        assert sum(1 for base in kinds.values() if base is None) >= 3
        for seq, base in sorted(kinds.items()):
            checkpoint = reader.checkpoint_at(seq)
            assert checkpoint is not None
            assert _table_contents(reader.route_state(checkpoint)) == live[seq], f"checkpoint after row {seq}"
            if base is not None:
                assert base < seq and kinds[base] is None


def test_a_delta_checkpoint_without_its_base_is_a_clear_error(tmp_path, monkeypatch):
    import tui.journal.replay as replay

    monkeypatch.setattr(replay, "JUMP_ROWS", 0)  # six rows: any checkpoint ahead is worth a jump
    path = tmp_path / "j.journal"
    engine = Engine(WATCHLIST, FixedClock())
    with JournalWriter(path, watchlist=WATCHLIST, checkpoint_interval=3.0, checkpoint_rows=2, background=False) as writer:
        writer.attach(engine)
        for n in range(6):
            batch = [announce(float(n), f"192.0.2.{n + 1}", NK)]
            engine.ingest(batch)
            writer.append(batch)
    connection = sqlite3.connect(path)
    bases = [seq for (seq,) in connection.execute("SELECT seq FROM checkpoints ORDER BY seq")]
    with JournalReader(path) as reader:
        delta = reader.checkpoint_at(bases[-1])
        assert delta is not None and delta.base == bases[0]
    connection.execute("DELETE FROM checkpoints WHERE seq = ?", (bases[0],))
    connection.commit()
    connection.close()
    with JournalReader(path) as reader:
        delta = reader.checkpoint_at(bases[-1])
        assert delta is not None
        with pytest.raises(JournalError, match=f"changes since the one after row {bases[0]}, which is missing"):
            reader.route_state(delta)
    # A replay seeking there says the same, rather than failing inside.
    missing = f"changes since the one after row {bases[0]}, which is missing"
    with replay.ReplaySession.open(str(path), WATCHLIST) as session, pytest.raises(JournalError, match=missing):
        session.seek(session.end)


def test_a_replay_of_a_recorded_whole_table_holds_at_each_delta_checkpoint_what_it_restores(tmp_path):
    """The et-header table recorded with deltas between full checkpoints: playing the journal's
    rows from the start reaches, at a delta's row, the table that delta restores to."""
    from tui.commands.snapshot import WHOLE_TABLE
    from tui.core.attributes import WireRoute

    def wire_contents(state):
        out = {}
        for info in state.peers():
            for version, table in ((4, info.v4), (6, info.v6)):
                out[(info.key, version)] = {
                    key: (route.attributes.blob, route.since, route.via_mp) if isinstance(route, WireRoute)
                    else (str(route.as_path), route.since)
                    for key, route in table.items()
                }
        return out

    _checkpoints_of_a_real_table(tmp_path / "j.journal")
    with JournalReader(tmp_path / "j.journal") as reader:
        deltas = sorted(seq for seq in reader.checkpoint_rows() if reader.checkpoint_at(seq).base is not None)  # type: ignore[union-attr]
        assert len(deltas) >= 10
        wanted = {deltas[0], deltas[len(deltas) // 2], deltas[-1]}
        engine = Engine(Watchlist([NORTH_KOREA, WHOLE_TABLE]), FixedClock())
        seen = 0
        for row in reader.rows(0):
            engine.ingest([row.event])
            seen = row.seq
            if seen in wanted:
                checkpoint = reader.checkpoint_at(seen)
                assert checkpoint is not None
                restored = reader.route_state(checkpoint)
                assert restored.route_count() == engine.state.route_count()
                assert wire_contents(restored) == wire_contents(engine.state), f"after row {seen}"
                wanted.discard(seen)
        assert not wanted
