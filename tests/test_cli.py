"""The headless commands end to end: help, errors and exit codes, replay output, record."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import shared_file
from tui.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main

CAPTURE = "ris-live/libbgpstream/ris-live-stream.json"
CAPTURE_20 = "ris-live/morrowc-rislive/20-msg.ndjson"


@pytest.fixture(autouse=True)
def no_user_config(monkeypatch, tmp_path_factory):
    """Tests never read the developer's own config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("WATCHFLOOR_CONFIG", raising=False)


@pytest.mark.parametrize("command", ["snapshot", "replay", "record"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"watchfloor {command}" in out and "examples:" in out and "exit codes:" in out


def test_help_runs_as_a_module_without_textual():
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "try:\n    main(['replay', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('textual' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_missing_and_unrecognised_sources_exit_4_saying_what_was_expected(tmp_path, capsys):
    assert main(["snapshot", str(tmp_path / "nope.gz")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "nope.gz: no such file" in err and "expected an MRT file" in err
    text = tmp_path / "notes.txt"
    text.write_text("not routing data\n")
    assert main(["replay", "--headless", str(text)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "notes.txt: content not recognised" in err and "RIS Live capture" in err
    empty = tmp_path / "empty.mrt"
    empty.write_bytes(b"")
    assert main(["record", "--journal", str(tmp_path / "x.journal"), str(empty)]) == EXIT_INPUT
    assert "empty" in capsys.readouterr().err
    assert not (tmp_path / "x.journal").exists()  # nothing created for a bad SOURCE
    ripestat = shared_file("ripestat/2017-07-joshglazebrook/visibility.json")
    assert main(["snapshot", str(ripestat)]) == EXIT_INPUT


def test_usage_errors_exit_3(tmp_path, capsys):
    source = str(shared_file(CAPTURE))
    assert main(["snapshot", source, "--at", "yesterday"]) == EXIT_USAGE
    assert "--at: not a time" in capsys.readouterr().err
    assert main(["snapshot", source, "--watch", "10.0.0.1/8"]) == EXIT_USAGE
    assert "--watch" in capsys.readouterr().err
    assert main(["replay", "--headless", source, "--from", "2019-03-27", "--until", "2019-03-26"]) == EXIT_USAGE
    assert main(["replay", "--headless"]) == EXIT_USAGE
    assert "give a SOURCE" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[watch]]\nname = "x"\nprefixs = ["192.0.2.0/24"]\n')
    assert main(["snapshot", source, "--config", str(bad)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{bad}:3: watch.prefixs: unknown key; did you mean 'prefixes'?" in err


def test_replay_headless_prints_the_event_log(capsys):
    source = str(shared_file(CAPTURE))
    assert main(["replay", "--headless", source]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2019-03-26T18:31:21.880000Z warning  peer      session rrc01 195.66.224.59 AS24931 UNKNOWN -> IDLE"
    assert lines[1] == (
        "2019-03-26T19:19:47.890000Z warning  feed      feed ris-live-capture error: "
        "RIS Live error: this is a test error message"
    )
    rejected = [line for line in lines if " rejected " in line]
    assert len(rejected) == 1
    assert rejected[0].startswith("2019-03-26T19:19:47.890000Z warning  rejected  ris-live-capture: bad record at ")
    assert rejected[0].endswith("ris-live-stream.json:7: not JSON: Expecting ',' delimiter: line 2 column 1 (char 239)")
    # The detectors run on replay as they do live: the feed error opens a finding.
    assert any(" feed_down [open] " in line for line in lines)


def test_replay_jsonl_with_a_window(capsys):
    pytest.importorskip("tui.feeds.mrt")
    source = str(shared_file("mrt/libbgpstream/ris.rrc06.updates.1427846400.gz"))
    watch = ["--watch", "0.0.0.0/1"]
    assert main(["replay", "--headless", "--jsonl", *watch, source]) == 0
    everything = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    routes = [e for e in everything if e["kind"] in ("announce", "withdraw")]
    assert len(routes) > 100
    first = routes[0]
    assert set(first) == {"time", "ts", "severity", "kind", "watch", "subject", "text", "event"}
    assert first["event"]["kind"] == first["kind"] and first["watch"] == "ad hoc"
    assert first["time"].startswith("2015-04-01T00:0") and first["time"].endswith("Z")
    times = [e["ts"] for e in everything]
    assert times == sorted(times)
    start, until = routes[len(routes) // 3]["ts"], routes[2 * len(routes) // 3]["ts"]
    assert main(["replay", "--headless", "--jsonl", *watch, "--from", str(start), "--until", str(until), source]) == 0
    window = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    window_routes = [e for e in window if e["kind"] in ("announce", "withdraw")]
    assert window_routes == [e for e in routes if start <= e["ts"] <= until]


# Both halves of both address families: every route is logged (a whole-table watch of 0.0.0.0/0
# keeps every route but logs only what a specific watch names).
EVERYTHING = ["--watch", "0.0.0.0/1", "--watch", "128.0.0.0/1", "--watch", "::/1", "--watch", "8000::/1"]


def test_record_then_replay_the_journal_gives_the_same_log(tmp_path, capsys):
    sources = [str(shared_file(CAPTURE)), str(shared_file(CAPTURE_20))]
    journal = tmp_path / "capture.journal"
    assert main(["record", "--journal", str(journal), *EVERYTHING, *sources]) == 0
    assert f"into {journal}" in capsys.readouterr().err
    assert main(["replay", "--headless", *EVERYTHING, *sources]) == 0
    from_sources = capsys.readouterr().out
    assert main(["replay", "--headless", *EVERYTHING, str(journal)]) == 0
    from_journal = capsys.readouterr().out
    assert from_journal == from_sources and from_sources.count("\n") > 10
    # A journal is a SOURCE like any other, also mixed with files.
    assert main(["replay", "--headless", *EVERYTHING, str(journal), sources[0]]) == 0
    assert capsys.readouterr().out.count("rejected") == 2
    # record never overwrites
    assert main(["record", "--journal", str(journal), sources[0]]) == EXIT_USAGE
    assert "already exists" in capsys.readouterr().err


def test_a_journal_from_a_newer_watchfloor_is_refused(tmp_path, capsys):
    journal = tmp_path / "new.journal"
    assert main(["record", "--journal", str(journal), str(shared_file(CAPTURE))]) == 0
    conn = sqlite3.connect(journal)
    conn.execute("UPDATE schema_version SET version = 7")
    conn.commit()
    conn.close()
    capsys.readouterr()
    for argv in (["snapshot", str(journal)], ["replay", "--headless", str(journal)]):
        assert main(argv) == EXIT_INPUT
        assert "schema version 7 is newer" in capsys.readouterr().err


def test_untrusted_text_is_escaped_in_plain_output(tmp_path, capsys):
    capture = tmp_path / "evil.ndjson"
    evil = {"type": "ris_error", "data": {"message": "boom \x1b[31mred\x1b[0m [bold]x[/bold]"}}
    capture.write_text(json.dumps(evil) + "\n")
    assert main(["replay", "--headless", str(capture)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mred" in out and "[bold]x[/bold]" in out


def test_console_commands_refuse_an_unknown_theme_before_opening(tmp_path):
    """`replay` and `attach` take --theme like the live console, and check it first (exit 3)."""
    from conftest import shared_file
    from tui.cli import main

    source = shared_file("mrt/libbgpstream/ris.rrc06.updates.1427846400.gz")
    assert main(["replay", str(source), "--theme", "no-such-theme"]) == 3
    journal = tmp_path / "j.sqlite"
    assert main(["record", str(source), "--journal", str(journal)]) == 0
    assert main(["attach", "--journal", str(journal), "--theme", "no-such-theme"]) == 3
