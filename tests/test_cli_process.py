"""``watchfloor`` as a real process: ``--version``, and Ctrl-C ending a command with exit 130."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tui
from conftest import shared_file
from tui.cli import EXIT_INTERRUPTED, main

ET_HEADER = "mrt/bgpdump/updates.et-header.2015.gz"
PATIENCE = 120.0
"""Seconds a child may take to show it runs or to end: a bound for a stuck child, not a timing."""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHFLOOR_CONFIG", "NO_COLOR")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # never the developer's own config
    return env


def _default_sigint() -> None:
    # A child of a shell's background job inherits SIGINT ignored; Python then never raises
    # KeyboardInterrupt. Ctrl-C must reach the child as it reaches a command in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_version_prints_the_version_and_exits_0(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tui", "--version"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"watchfloor {tui.__version__}\n", "")


def test_a_reader_that_stops_early_ends_the_command_quietly_with_0(tmp_path):
    """`watchfloor snapshot FILE --all --json | head`: no traceback when head has had enough."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "snapshot", str(shared_file(ET_HEADER)), "--all", "--json"],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"{")  # 45 MB would follow: far more than a pipe holds
    proc.stdout.close()
    try:
        err = proc.stderr.read()
        proc.wait(timeout=PATIENCE)
    finally:
        proc.kill()
    assert (proc.returncode, err.decode()) == (0, "")


def _first_line(proc: subprocess.Popen[str]) -> str:
    """The child's first line of output, waiting at most PATIENCE for it (or fail, saying why)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                return proc.stdout.readline()
            if proc.poll() is not None:
                break
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"the command printed nothing (exit {proc.returncode}); stderr:\n{err}")


def _signal_a_following_attach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int) -> tuple[int, str]:
    """Record the et-header capture, follow its journal with ``attach --headless``, send
    ``signum`` once it prints; the exit status and stderr."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("WATCHFLOOR_CONFIG", raising=False)
    journal = tmp_path / "et-header.journal"
    assert main(["record", "--journal", str(journal), str(shared_file(ET_HEADER))]) == 0
    command = [sys.executable, "-m", "tui", "attach", "--headless", "--jsonl", "--journal", str(journal)]
    command += ["--from", "2015-10-23T00:00Z"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        assert '"kind":' in _first_line(proc)  # it is printing the journal: inside the command
        assert proc.poll() is None  # and it goes on following
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def test_ctrl_c_ends_a_following_attach_with_130_saying_so(tmp_path, monkeypatch):
    # attach follows a journal until stopped: its documented Ctrl-C is 130 (collect, by
    # design, stops cleanly on SIGINT with 0; record and replay may be done before the signal).
    returncode, err = _signal_a_following_attach(tmp_path, monkeypatch, signal.SIGINT)
    assert returncode == EXIT_INTERRUPTED == 130
    assert "watchfloor: interrupted" in err.splitlines(), err


def test_sigterm_ends_a_following_attach_with_143_through_its_cleanup(tmp_path, monkeypatch):
    """A service stop or `kill` raises SystemExit(143) inside the command, as Ctrl-C raises
    KeyboardInterrupt: its ``with`` and ``finally`` blocks run (no traceback, no default kill)."""
    returncode, err = _signal_a_following_attach(tmp_path, monkeypatch, signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # main() in-process left it as found
    assert returncode == 128 + signal.SIGTERM == 143, err
    assert "Traceback" not in err, err
