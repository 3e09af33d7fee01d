"""The replay engine: seek equals playing up to T, determinism, speed, stepping, events of note."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import shared_file
from tui.core.aspath import parse_path
from tui.core.clock import MAX_SPEED, VirtualClock
from tui.core.engine import Engine
from tui.core.events import (
    FeedStatus,
    Finding,
    PeerStateChanged,
    RouteAnnounced,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist
from tui.journal.replay import ReplaySession, format_time, parse_time, rebatch, record_batches
from tui.journal.store import JournalReader, JournalWriter

NK = Prefix.parse("175.45.176.0/22")
NK24 = Prefix.parse("210.52.109.0/24")
HIJACK = Prefix.parse("175.45.178.0/24")
PEERS = [("192.0.2.1", 3356), ("192.0.2.2", 2914), ("192.0.2.3", 1299)]


def watchlist() -> Watchlist:
    return Watchlist([NORTH_KOREA])


class OutageDetector:
    """A small deterministic detector: a watched prefix seen by no full-feed peer for 5 s."""

    name = "outage"

    def __init__(self) -> None:
        self.dark_since: dict[str, float] = {}
        self.open: set[str] = set()

    def observe(self, events, view, now):
        return []

    def tick(self, view, now):
        out = []
        for prefix in view.watchlist.prefixes():
            key = str(prefix)
            vis = view.state.visibility(prefix)
            if vis.full_feed and vis.visible == 0:
                since = self.dark_since.setdefault(key, now)
                if key not in self.open and now - since >= 5.0:
                    self.open.add(key)
                    out.append(Finding(now, f"outage:{key}", "North Korea", "outage", "critical", "open", key, "dark", since))
            else:
                self.dark_since.pop(key, None)
                if key in self.open:
                    self.open.discard(key)
                    out.append(Finding(now, f"outage:{key}", "North Korea", "outage", "critical", "close", key, "back", now))
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"dark_since": dict(self.dark_since), "open": sorted(self.open)}

    def restore(self, data: dict[str, Any]) -> None:
        self.dark_since = dict(data.get("dark_since", {}))
        self.open = set(data.get("open", ()))


def announce(ts, peer, prefix, origin=131279):
    ip, asn = peer
    return RouteAnnounced(ts, "rrc00", ip, asn, prefix, parse_path(f"{asn} 4837 {origin}"), ip, (), "test")


def withdraw(ts, peer, prefix):
    ip, asn = peer
    return RouteWithdrawn(ts, "rrc00", ip, asn, prefix, "test")


def scenario() -> list[list[Any]]:
    """Two minutes of a flapping prefix, a peer going down, a feed gap and a hijack, in batches."""
    batches: list[list[Any]] = [[announce(1000.0, p, NK) for p in PEERS] + [announce(1000.0, p, NK24) for p in PEERS]]
    t = 1001.0
    for cycle in range(6):
        batches.append([withdraw(t + 0.5 * i, p, NK) for i, p in enumerate(PEERS)])
        t += 8.0 + cycle  # long enough for the detector to open
        batches.append([announce(t, p, NK) for p in PEERS])
        t += 3.0
    batches.append([PeerStateChanged(t, "rrc00", PEERS[1][0], PEERS[1][1], "ESTABLISHED", "IDLE", "test")])
    batches.append([FeedStatus(t + 2, "test", "down", "socket closed")])
    batches.append([FeedStatus(t + 9, "test", "up", gap_start=t + 2, gap_end=t + 9)])
    batches.append([announce(t + 12, PEERS[0], HIJACK, origin=64500)])
    batches.append([announce(t + 12.5, PEERS[0], NK24)] * 2)
    batches.append([withdraw(t + 20, p, NK24) for p in PEERS])
    return batches


def record(tmp_path, name="s.journal", interval=20.0, detectors=True) -> tuple[Any, Engine]:
    path = tmp_path / name
    engine = Engine(watchlist(), VirtualClock(0, 0), detectors=[OutageDetector()] if detectors else [])
    with JournalWriter(path, watchlist=engine.watchlist, checkpoint_interval=interval, background=False) as writer:
        record_batches(scenario(), engine.watchlist, writer, engine=engine)
    return path, engine


def full_state(engine: Engine) -> dict[str, Any]:
    """Everything a replay must reproduce exactly."""
    return {
        "checkpoint": engine.checkpoint(),
        "timeline": engine.timeline.to_snapshot(),
        "findings": {k: (f.ts, f.state) for k, f in engine.findings.items()},
    }


def open_session(path, **kwargs) -> ReplaySession:
    return ReplaySession.open(path, watchlist(), detectors=[OutageDetector()], **kwargs)


def play_to_end(session: ReplaySession, speed: float = MAX_SPEED, frame: float = 0.25) -> list[str]:
    """Play to the end in frames, collecting the log as it grows."""
    session.clock.speed = speed
    session.play()
    lines = []
    while session.clock.playing:
        session.step(frame)
        lines.extend(f"{e.ts} {e.kind} {e.text}" for e in session.engine.log)
        session.engine.log.clear()
    return lines


def test_seek_to_any_time_equals_playing_every_event_up_to_it(tmp_path):
    path, _ = record(tmp_path)
    with JournalReader(path) as reader:
        assert reader.checkpoint_count() >= 4  # so seeks really start from checkpoints
        times = sorted({row.t for row in reader.rows(0)})
    probes = [times[0], times[3], 1030.2, times[len(times) // 2], times[-2] + 0.1, times[-1]]
    for target in probes:
        linear = open_session(path)
        linear.clock.speed = 1.0
        linear.play()
        linear.step(0.0)  # the rows at the start are due at once
        while linear.clock.playing and linear.clock.position < target:
            linear.step(min(0.7, target - linear.clock.position))
        assert linear.clock.position == pytest.approx(target)
        with linear, open_session(path) as seeking:
            seeking.seek(times[-1])  # far forward first, then back: exercises the restore path
            seeking.seek(target)
            assert seeking.cursor == linear.cursor
            # Where the seek lands, not the last detector tick before it (1030.2: ticks at 1030).
            assert seeking.clock.position == pytest.approx(target)
            assert full_state(seeking.engine) == full_state(linear.engine), target


def test_replay_of_sources_equals_the_recording_run_and_is_identical_twice(tmp_path):
    path, recorded = record(tmp_path)
    runs = []
    for _ in range(2):
        with open_session(path) as session:
            log = play_to_end(session, speed=7.0, frame=0.37)
            runs.append((log, full_state(session.engine)))
    assert runs[0] == runs[1]
    assert runs[0][1] == full_state(recorded)
    assert any("outage" in line for line in runs[0][0])  # the detector did run on replay


def test_speed_changes_how_fast_not_what_happens(tmp_path):
    path, _ = record(tmp_path)
    with open_session(path) as slow, open_session(path) as fast:
        slow_log = play_to_end(slow, speed=1.0, frame=0.5)
        fast_log = play_to_end(fast, speed=MAX_SPEED)
        assert slow_log == fast_log
        assert full_state(slow.engine) == full_state(fast.engine)


def test_step_moves_the_clock_at_speed_and_applies_only_due_events(tmp_path):
    path, _ = record(tmp_path)
    with open_session(path) as session:
        assert session.start == 1000.0 and session.cursor == 0
        assert not session.step(1.0)  # paused: nothing moves
        session.play()
        assert session.step(0.0)  # the rows at the start are due at once
        assert session.cursor == 6
        session.faster()
        assert session.clock.speed == 2.0
        session.step(0.25)
        assert session.position == 1000.5 and session.cursor == 6
        session.step(0.25)
        assert session.position == 1001.0
        assert session.engine.visibility(NK).visible == 3  # the withdrawals' batch is at 1002.0
        session.step(0.5)
        assert session.engine.visibility(NK).visible == 0
        session.toggle()
        assert not session.clock.playing
        assert session.slower() == 1.0


def test_max_speed_applies_bounded_chunks(tmp_path):
    path, _ = record(tmp_path)
    with open_session(path, chunk=4) as session:
        session.clock.speed = MAX_SPEED
        session.play()
        cursors = []
        while session.clock.playing:
            session.step(0.0)
            cursors.append(session.cursor)
        steps = [b - a for a, b in zip([0, *cursors], cursors, strict=False)]
        assert len(cursors) > 3
        assert max(steps) <= 4  # a chunk is 4 events, even inside a recorded batch
        assert session.cursor == session.last_seq and session.position == session.end


def test_findings_at_max_speed_do_not_depend_on_the_chunk_size(tmp_path):
    """Stopping inside recorded batches (to stay responsive) must not change what is found."""
    from tui.core.detectors import default_detectors

    source = shared_file("mrt/bgpdump/updates.20070211.0141.gz")
    watches = Watchlist([Watch("W", (Prefix.parse("91.142.144.0/22"), Prefix.parse("192.96.13.0/24"),
                                     Prefix.parse("2001:700::/32")))])
    outcomes = []
    for chunk in (7, 100_000):
        with ReplaySession.open([source], watches, detectors=default_detectors(watches), chunk=chunk) as session:
            # Every line of the log, findings included. A finding is logged after the events of
            # the step that raised it, so lines of the same second may interleave differently.
            log = sorted(play_to_end(session))
            findings = sorted((f.finding_id, f.state, f.ts) for f in session.engine.findings.values())
            outcomes.append((findings, log, session.engine.state.to_snapshot()))
    assert outcomes[0][0] and outcomes[0] == outcomes[1]


def test_step_events_moves_by_events_both_ways(tmp_path):
    path, _ = record(tmp_path)
    with open_session(path) as session, open_session(path) as reference:
        session.step_events(10)
        assert session.cursor == 10
        session.step_events(5)
        session.step_events(-7)
        assert session.cursor == 8
        reference.step_events(8)
        assert session.engine.checkpoint()["state"] == reference.engine.checkpoint()["state"]
        session.step_events(-100)
        assert session.cursor == 0 and session.engine.state.route_count() == 0
        session.step_events(10_000)
        assert session.cursor == session.last_seq


def test_events_of_note_navigation(tmp_path):
    path, _ = record(tmp_path)
    with open_session(path) as session:
        first = session.next_event_of_note()
        assert first == 1000.0  # the announcements of the watched prefixes
        second = session.next_event_of_note()
        assert second is not None and second > first
        assert session.position == second
        assert session.engine.visibility(NK).visible < 3  # the withdrawal is applied
        back = session.previous_event_of_note()
        assert back == first and session.position == first
        session.seek(session.end)
        assert session.next_event_of_note() is None
        assert session.previous_event_of_note() is not None


def test_history_lists_the_prefix_and_its_more_specifics(tmp_path):
    path, _ = record(tmp_path)
    with open_session(path) as session:
        events = session.history("175.45.176.0/22")
        assert {e.prefix for e in events} == {NK, HIJACK}
        assert all(isinstance(e, RouteAnnounced | RouteWithdrawn) for e in events)
        late = session.history(NK, since=1050.0)
        assert late and all(e.ts >= 1050.0 - 1 for e in late)
        assert session.history(NK24, until=1000.0) == [announce(1000.0, p, NK24) for p in PEERS]


def test_recorded_findings_are_rerun_with_detectors_and_shown_without(tmp_path):
    path = tmp_path / "live.journal"
    live = Engine(watchlist(), VirtualClock(0, math.inf), detectors=[OutageDetector()])
    with JournalWriter(path, watchlist=live.watchlist, background=False) as writer:
        live.recorder = writer  # the live way: the engine records what it applied, findings too
        writer.attach(live)
        for batch in scenario():
            t = max(e.ts for e in batch)
            # Idle ticks every whole second, as the live console's timer does.
            second = math.floor(live.clock.position) + 1.0 if live.clock.position else t
            while second < t:
                live.clock.position = second
                live.tick()
                second += 1.0
            live.clock.position = t
            live.ingest(batch)
    with JournalReader(path) as reader:
        recorded = [r.event for r in reader.rows(0) if isinstance(r.event, Finding)]
    assert recorded
    with ReplaySession.open(path, watchlist()) as shown:  # no detectors: recorded findings applied
        play_to_end(shown)
        assert set(shown.engine.findings) == {f.finding_id for f in recorded}
    with ReplaySession.open(path, watchlist(), detectors=[OutageDetector()]) as rerun:
        play_to_end(rerun)
        assert set(rerun.engine.findings) == {f.finding_id for f in recorded}
        # Re-run, not re-applied: each finding was produced once per state change, by the detector.
        assert rerun.engine.counters["finding"] == len(recorded)


def test_a_session_follows_a_journal_that_is_still_being_written(tmp_path):
    path = tmp_path / "growing.journal"
    writer = JournalWriter(path, watchlist=watchlist(), background=False)
    try:
        writer.append([announce(10.0, PEERS[0], NK)])
        writer.commit()
        with ReplaySession.open(path, watchlist()) as session:
            assert session.end == 10.0
            play_to_end(session)
            assert session.engine.visibility(NK).visible == 1
            assert not session.refresh()
            writer.append([announce(20.0, PEERS[1], NK)])
            writer.commit()
            assert session.refresh() and session.end == 20.0
            play_to_end(session)
            assert session.engine.visibility(NK).visible == 2
    finally:
        writer.close()


def test_rebatch_cuts_per_second_and_stops_after_until():
    events = [announce(ts, PEERS[0], NK) for ts in (1.0, 1.2, 1.9, 2.0, 3.5, 3.6, 9.0)]
    batches = list(rebatch([events[:2], events[2:5], events[5:]]))
    assert [[e.ts for e in b] for b in batches] == [[1.0, 1.2, 1.9], [2.0], [3.5, 3.6], [9.0]]
    assert [[e.ts for e in b] for b in rebatch([events], until=3.5)] == [[1.0, 1.2, 1.9], [2.0], [3.5]]
    assert [len(b) for b in rebatch([events], max_batch=2)] == [2, 1, 1, 2, 1]


def test_time_parsing_and_formatting():
    assert parse_time("1445565690") == 1445565690.0
    assert parse_time("2015-10-23T02:01:30Z") == 1445565690.0
    assert parse_time("2015-10-23 02:01:30") == 1445565690.0
    assert parse_time("2015-10-23T04:01:30+02:00") == 1445565690.0
    assert parse_time("2015-10-23") == 1445558400.0
    assert format_time(1445565690.25) == "2015-10-23T02:01:30Z"
    assert format_time(1445565690.25, precise=True) == "2015-10-23T02:01:30.250000Z"
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")


# -- real data ------------------------------------------------------------------------------------


def test_replay_of_a_real_mrt_file_seeks_and_repeats_exactly():
    pytest.importorskip("tui.feeds.mrt")
    source = shared_file("mrt/libbgpstream/ris.rrc06.updates.1427846400.gz")
    wl = Watchlist([Watch("half the IPv4 space", (Prefix.parse("0.0.0.0/1"),))])
    states = []
    for _ in range(2):
        with ReplaySession.open(source, wl, checkpoint_interval=60.0) as session:
            log = play_to_end(session)
            states.append((log, full_state(session.engine)))
            assert session.reader.checkpoint_count() >= 3
            middle = session.start + (session.end - session.start) / 2
            session.seek(middle)
            sought = full_state(session.engine)
    assert states[0] == states[1]
    assert len(states[0][0]) > 100
    with ReplaySession.open(source, wl, checkpoint_interval=60.0) as linear:
        linear.clock.speed = 1000.0
        linear.play()
        while linear.position < middle:
            linear.step(min(0.05, (middle - linear.position) / 1000.0))
        assert full_state(linear.engine) == sought


def test_ris_live_capture_replays_with_its_broken_last_line_counted():
    source = shared_file("ris-live/libbgpstream/ris-live-stream.json")
    with ReplaySession.open(source, watchlist()) as session:
        log = play_to_end(session)
        engine = session.engine
        assert engine.counters["rejected"] == 1
        assert engine.feeds["ris-live-capture"].rejected == 1
        rejected = [line for line in log if line.split()[1] == "rejected"]
        assert len(rejected) == 1 and "ris-live-stream.json:7" in rejected[0]
        assert [line.split()[1] for line in log] == ["peer", "feed", "rejected"]


class TickCounter(OutageDetector):
    """Counts the clock times it was ticked at (part of its state, so checkpoints keep it)."""

    name = "ticks"

    def __init__(self) -> None:
        super().__init__()
        self.ticks: list[float] = []

    def tick(self, view, now):
        self.ticks.append(now)
        return []

    def snapshot(self):
        return {"ticks": list(self.ticks)}

    def restore(self, data):
        self.ticks = list(data.get("ticks", []))


def test_a_long_silence_is_ticked_sparsely_and_the_same_way_after_a_seek(tmp_path):
    path = tmp_path / "gap.journal"
    months = 240 * 86400.0
    batches = [[announce(1000.0, PEERS[0], NK)], [announce(1000.0 + months, PEERS[1], NK)]]
    recorder = Engine(watchlist(), VirtualClock(0, 0), detectors=[TickCounter()])
    with JournalWriter(path, watchlist=recorder.watchlist, checkpoint_interval=10.0, background=False) as writer:
        record_batches(batches, recorder.watchlist, writer, engine=recorder)
    ticks = recorder.detectors[0].ticks
    # Every second for ten minutes, then thinning out to one tick per 2048 s: not 20 million.
    assert 600 < len(ticks) < 20_000
    assert ticks == sorted(ticks) and ticks[:4] == [1000.0, 1000.0, 1001.0, 1002.0]  # ingest's own, then the timer's
    with ReplaySession.open(path, watchlist(), detectors=[TickCounter()]) as session:
        play_to_end(session, speed=MAX_SPEED)
        replayed = session.engine.detectors[0].ticks
        # Reaching the end also runs the tick due at the last batch's time, which recording leaves.
        assert replayed == [*ticks, session.end]
        session.seek(1000.0 + months / 2)
        middle = list(session.engine.detectors[0].ticks)
        assert middle == [t for t in ticks if t <= 1000.0 + months / 2]


def test_a_live_journal_keeps_sessions_heard_only_through_unwatched_routes(tmp_path):
    path = tmp_path / "live.journal"
    live = Engine(watchlist(), VirtualClock(0, math.inf))
    other = Prefix.parse("8.8.8.0/24")
    with JournalWriter(path, watchlist=live.watchlist, background=False) as writer:
        live.recorder = writer
        writer.attach(live)
        live.ingest(
            [announce(10.0, PEERS[0], NK), announce(10.0, PEERS[1], other, 15169), announce(11.0, PEERS[1], other, 15169)]
        )
    assert live.visibility(NK).full_feed == 2
    with ReplaySession.open(path, watchlist()) as session:
        kinds = [r.event.KIND for r in session.reader.rows(0)]
        assert kinds == ["announce", "peer_seen"]  # the unwatched routes themselves are not kept
        play_to_end(session)
        assert session.engine.visibility(NK).full_feed == 2
        assert session.engine.visibility(NK).visible == 1


@pytest.mark.parametrize(
    "window",
    [(), ("--from", "2007-02-11T01:45:00Z"), ("--until", "2007-02-11T01:50:00Z"),
     ("--from", "2007-02-11T01:43:30Z", "--until", "2007-02-11T01:46:00Z")],
    ids=["whole", "from", "until", "from-until"],
)
def test_headless_replay_of_files_prints_what_a_replay_of_their_journal_prints(tmp_path, capsys, window):
    """Files are streamed through the engine (no journal is written for them): the same lines,
    findings raised by timers included, as a replay of the journal recorded from them."""
    from tui.cli import main

    source = str(shared_file("mrt/bgpdump/updates.20070211.0141.gz"))
    watches = ["--watch", "91.142.144.0/22", "--watch", "2001:700::/32", "--watch", "192.96.13.0/24",
               "--watch", "213.83.17.0/24"]
    journal = tmp_path / "linx.journal"
    assert main(["record", "--journal", str(journal), *watches, source]) == 0
    capsys.readouterr()
    assert main(["replay", "--headless", *watches, *window, source]) == 0
    streamed = capsys.readouterr().out.splitlines()
    assert main(["replay", "--headless", *watches, *window, str(journal)]) == 0
    replayed = capsys.readouterr().out.splitlines()
    assert streamed == replayed
    assert any(" outage " in line or "flapping" in line for line in streamed)
