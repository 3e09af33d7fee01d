"""The real app in a real terminal: ``python -m tui replay FILE`` inside tmux, driven by keys,
checked with ``tmux capture-pane``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import shared_file

pytestmark = [pytest.mark.lab, pytest.mark.slow]

TMUX = shutil.which("tmux")


class Tmux:
    """One detached tmux server (private socket) running one command."""

    def __init__(self, tmp: Path, command: list[str], width: int, height: int) -> None:
        self.socket = f"wf-console-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp / "config"),  # no user config: the built-in watch
            "TERM": "xterm-256color",
        }
        env.pop("NO_COLOR", None)
        env.pop("WATCHFLOOR_CONFIG", None)
        self.env = env
        shell = " ".join(f"'{part}'" for part in command) + " ; echo EXITED $? ; sleep 30"
        self.run("new-session", "-d", "-s", "wf", "-x", str(width), "-y", str(height), shell)

    def run(self, *args: str) -> str:
        out = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, env=self.env, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {out.stderr}")
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "wf")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "wf", *keys)

    def wait_for(self, text: str, tries: int = 300) -> str:
        """Poll the screen until ``text`` shows (bounded by tries, not by a timed assertion)."""
        screen = ""
        for _ in range(tries):
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed; screen was:\n{screen}")

    def wait_gone(self, text: str, tries: int = 300) -> str:
        """Poll the screen until ``text`` no longer shows."""
        screen = ""
        for _ in range(tries):
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never went away; screen was:\n{screen}")

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True, env=self.env, timeout=30)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (Debian package tmux)")
def test_replay_console_in_tmux(tmp_path):
    capture = shared_file("mrt/bgpdump/updates.et-header.2015.gz")
    tmux = Tmux(tmp_path, [sys.executable, "-m", "tui", "replay", str(capture)], 100, 30)
    try:
        first = tmux.wait_for("REPLAY")
        assert "1 Visibility" in first and "2015-10-23T02:01:18Z" in first
        tmux.keys("g")
        tmux.wait_for("Jump to a time")
        tmux.keys("+1h", "Enter")  # past the end: clamped to the window's end
        screen = tmux.wait_for("100%")
        assert "2015-10-23T02:01:55Z" in screen
        screen = tmux.wait_for("210.52.109.0/24")
        assert "✖ crit  175.45.176.0/22" in screen
        tmux.keys("?")
        tmux.wait_for("Watchfloor keys")
        tmux.keys("Escape")  # alone: ESC followed at once by a key reads as Alt+key
        tmux.wait_gone("Watchfloor keys")
        tmux.keys("3")
        tmux.wait_for("no DNS checks yet")
        tmux.keys("q")
        tmux.wait_for("EXITED 0")
    finally:
        tmux.close()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (Debian package tmux)")
def test_attach_opens_the_console_following_or_replaying_a_journal(tmp_path):
    journal = tmp_path / "j.journal"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("WATCHFLOOR_CONFIG", None)
    record = [
        sys.executable,
        "-m",
        "tui",
        "record",
        "--journal",
        str(journal),
        str(shared_file("mrt/bgpdump/updates.et-header.2015.gz")),
    ]
    subprocess.run(record, env=env, capture_output=True, check=True, timeout=300)
    following = Tmux(tmp_path, [sys.executable, "-m", "tui", "attach", "--journal", str(journal)], 100, 30)
    try:
        screen = following.wait_for("following j.journal from event #")
        assert " LIVE " in screen and "175.45.176.0/22" in screen
        following.keys("q")
        following.wait_for("EXITED 0")
    finally:
        following.close()
    replaying = Tmux(
        tmp_path, [sys.executable, "-m", "tui", "attach", "--journal", str(journal), "--from", "2015-10-23T02:01:47Z"], 100, 30
    )
    try:
        screen = replaying.wait_for("REPLAY")
        assert "2015-10-23T02:01:47Z" in screen.splitlines()[0]  # opened at --from
        replaying.keys("q")
        replaying.wait_for("EXITED 0")
    finally:
        replaying.close()


def _console_pid(tmux: Tmux) -> int:
    """The pid of the console the pane's shell started (its only child)."""
    shell = int(tmux.run("list-panes", "-t", "wf", "-F", "#{pane_pid}").split()[0])
    children = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    assert len(children) == 1, f"the pane's shell has children {children}"
    return int(children[0])


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (Debian package tmux)")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_ends_the_console_as_q_does_and_removes_the_replays_temporary_journal(tmp_path, signum):
    """SIGTERM, or SIGHUP from a dropped SSH session: the terminal is given back and ``replay
    FILE`` deletes the journal it recorded into (Python's default would leave both behind)."""
    capture = shared_file("mrt/bgpdump/updates.et-header.2015.gz")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    tmux = Tmux(tmp_path, ["env", f"TMPDIR={scratch}", sys.executable, "-m", "tui", "replay", str(capture)], 80, 24)
    try:
        tmux.wait_for("REPLAY")
        assert [p.name for p in scratch.iterdir()][0].startswith("watchfloor-replay-")
        os.kill(_console_pid(tmux), signum)
        screen = tmux.wait_for(f"EXITED {128 + signum}")
        assert "REPLAY" not in screen  # the app's screen is gone: the terminal was restored
        assert list(scratch.iterdir()) == []
    finally:
        tmux.close()
