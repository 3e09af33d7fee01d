"""What a window stops in the middle of is said at its end, on a real file.

RIS LINX, 2007-02-11 01:41-01:56 (bgpdump's own output shows it): 91.142.144.0/22 is withdrawn
by its last sessions at 01:41:56 for good, and 2001:700::/32 at 01:45:05 (announced and
withdrawn again at 01:55:15, 44 s before the file ends). A window that ends at 01:46:00 is 55 s
into the second outage: less than the 60 s ``min_duration`` a finding needs, so no finding
opened; the reviewer must still see it, as ``pending``, beside the open outage.
"""

from __future__ import annotations

import json

import pytest

from conftest import shared_file
from tui.cli import main

MRT_2007 = "mrt/bgpdump/updates.20070211.0141.gz"
WATCHES = ["--watch", "91.142.144.0/22", "--watch", "2001:700::/32"]
CUT = "2007-02-11T01:46:00Z"


def replay_jsonl(capsys, *args) -> list[dict]:
    assert main(["replay", "--headless", "--jsonl", *WATCHES, *args, str(shared_file(MRT_2007))]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_window_that_cuts_an_outage_short_says_it_is_pending(capsys):
    entries = replay_jsonl(capsys, "--until", CUT)
    last = entries[-2:]
    assert [(e["event"]["state"], e["kind"], e["subject"]) for e in last] == [
        ("ongoing", "outage", "91.142.144.0/22"),
        ("pending", "outage", "2001:700::/32"),
    ]
    pending = last[1]
    assert pending["time"] == CUT and pending["severity"] == "critical"
    assert pending["text"].endswith("not yet the 1m00s a finding needs; ongoing at end of window (for 55s)")
    assert pending["event"]["started"] == pytest.approx(1171158305.0)  # 01:45:05, the last withdrawal
    assert "ongoing at end of window (for 4m04s)" in last[0]["text"]
    # Neither is a finding the window opened or closed: nothing else says so.
    assert not [e for e in entries[:-2] if e["subject"] == "2001:700::/32" and e["kind"] == "outage"]


def test_the_end_of_the_data_is_said_as_such(capsys):
    main(["replay", "--headless", *WATCHES, str(shared_file(MRT_2007))])
    lines = capsys.readouterr().out.splitlines()
    # 91.142.144.0/22 never came back; 2001:700::/32 came back at 01:55:15 and went again 44 s
    # before the file ends.
    assert lines[-2].startswith("2007-02-11T01:55:59Z critical outage")
    assert lines[-2].endswith("[ongoing] outage: no full-feed peer sees 91.142.144.0/22 (25 up) since "
                              "2007-02-11T01:41:56Z; ongoing at end of data (for 14m03s)")
    assert lines[-1].endswith("[pending] outage: no full-feed peer sees 2001:700::/32 (6 up), not yet the "
                              "1m00s a finding needs; ongoing at end of data (for 44s)")


def test_the_report_lists_what_is_under_way_at_its_end(capsys, tmp_path):
    config = tmp_path / "watch.toml"
    config.write_text('[[watch]]\nname = "A"\nprefixes = ["91.142.144.0/22", "2001:700::/32"]\n')
    journal = tmp_path / "linx.journal"
    assert main(["record", "--config", str(config), "--journal", str(journal), str(shared_file(MRT_2007))]) == 0
    capsys.readouterr()
    assert main(["report", "--config", str(config), "--journal", str(journal), "--until", CUT]) == 0
    report = capsys.readouterr().out
    section = report.split("## Under way at the end of the window")[1].split("## Timeline")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ongoing") or line.startswith("| pending")]
    assert [row.split(" | ")[4] for row in rows] == ["91.142.144.0/22", "2001:700::/32"]
    assert "ongoing at end of window (for 55s)" in rows[1]


async def test_the_console_says_it_when_the_replay_ends():
    from test_console_support import screen_text
    from tui.console.app import WatchfloorApp
    from tui.core.clock import MAX_SPEED
    from tui.core.detectors import default_detectors
    from tui.core.prefixes import Prefix
    from tui.core.watchlist import Watch, Watchlist
    from tui.journal.replay import ReplaySession

    watchlist = Watchlist([Watch("A", (Prefix.parse("91.142.144.0/22"), Prefix.parse("2001:700::/32")))])
    with ReplaySession.open([str(shared_file(MRT_2007))], watchlist, detectors=default_detectors(watchlist)) as session:
        app = WatchfloorApp(session.engine, replay=session)
        async with app.run_test(size=(120, 40)) as pilot:
            session.clock.speed = MAX_SPEED
            session.play()
            for _ in range(400):
                await pilot.pause(0.05)
                if not session.clock.playing and any("ongoing at end of data" in e.text for e in session.engine.log):
                    break
            await pilot.pause(0.2)
            ongoing = [e for e in session.engine.log if "ongoing at end of data" in e.text]
            assert [(e.event.state, e.subject) for e in ongoing] == [("ongoing", "91.142.144.0/22"), ("pending", "2001:700::/32")]
            screen = screen_text(app)
            assert "[ongoing] outage" in screen and "[pending] outage" in screen, screen
