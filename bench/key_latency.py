"""Key press to frame, in a real terminal, during a full-speed replay and paused.

What is measured: ``python -m tui replay ...`` runs in a tmux pane (80x24 unless ``--size``),
exactly as a user starts it. The bench is a tmux *control-mode* client of that server: it sends
a key with ``send-keys`` and reads tmux's ``%output`` notifications, which carry the bytes the
console writes to its terminal, as they arrive. After each burst of output it asks tmux for the
pane's contents (``capture-pane``), until they show the key's effect.

A *frame* is what the terminal shows once tmux has taken in the console's output: the
latency of a key is from the moment the bench sends it to tmux to the arrival of the last
``%output`` notification before the first ``capture-pane`` whose text shows the effect (tmux
answers commands in order, so that capture reflects all output notified before it). Polling
costs nothing while the console writes nothing.

Keys and their effects (each changes the screen): ``3``/``2``/``4`` bring the DNS, events and
plot panes up (their titles ``3 DNS``, ``2 Events``, ``4 Plot``), ``?`` opens the help (and
``?`` again closes it), ``-``/``+`` change the speed shown in the replay bar (``max`` ↔
``1000x``). Presses are spaced by a random 50-250 ms, so they land anywhere in the console's
work cycle.

Phases, per case: *full speed* (the replay playing at ``max``; when it reaches its end the bench
jumps back to the start, ``g -1d Enter``, and plays again, unmeasured), then *paused* (at the
end of the replay, every table full). A full-speed press counts only when the replay bar shows
``▶`` both just before the press and in the frame with its effect; the others are reported
as skipped.

Cases (``--case``, repeatable; default all):

- ``et-64``: updates.et-header.2015.gz (one peer's full table, 577,737 announcements), the
  built-in North Korea watch plus 64.0.0.0/8: 7,162 events, the event log full (its last
  5,000; the pane shows 300), the detectors busy on every one (a full-speed replay takes
  about 10 s; a /4 would take minutes to open, the detectors being the bottleneck);
- ``et-all``: the same file with ``--all`` (the whole table watched);
- ``busy-2007``: updates.20070211.0141.gz (LINX, many peers, 15 minutes) with watches on its
  busiest prefixes and ``--all``.

Usage: .venv/bin/python bench/key_latency.py [--case NAME] [--presses N] [--repeat R]
       [--size WxH] [--json PATH] [--profile DIR]

The console is ``python -m tui`` started in the current directory, so running this file from
another checkout (``cd ../other && python ../this/bench/key_latency.py``) measures that
checkout's console: that is how a before/after is taken on the same machine.

Prints, per case and phase, the median and max in milliseconds over every press of every
repeat (and the median of each repeat), and the ratio full-speed / paused of the medians.
Needs tmux (Debian package ``tmux``) and ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHFLOOR_SHARED", ROOT.parent / "shared"))
MRT = SHARED / "data" / "mrt" / "bgpdump"

BUSY_2007 = [
    "12.170.126.0/24", "64.201.12.0/24", "200.189.160.0/24", "193.242.111.0/24", "62.24.238.0/24",
    "194.88.240.0/23", "194.42.208.0/20", "69.51.0.0/19", "80.67.142.0/23", "201.244.136.0/21",
]
"""The most updated prefixes of updates.20070211.0141.gz (``bgpdump -m | cut -d'|' -f6 | sort | uniq -c``)."""


@dataclass(frozen=True)
class Case:
    """One console to measure: a file, a config (watches) and extra arguments."""

    name: str
    file: Path
    watches: str
    args: tuple[str, ...] = ()


CASES = {
    "et-64": Case(
        "et-64", MRT / "updates.et-header.2015.gz",
        '[[watch]]\nname = "North Korea"\nprefixes = ["175.45.176.0/22", "210.52.109.0/24", "77.94.35.0/24"]\n'
        '[[watch]]\nname = "64/8"\nprefixes = ["64.0.0.0/8"]\n',
    ),
    "et-all": Case("et-all", MRT / "updates.et-header.2015.gz", "", ("--all",)),
    "busy-2007": Case(
        "busy-2007", MRT / "updates.20070211.0141.gz",
        '[[watch]]\nname = "busy"\nprefixes = [' + ", ".join(f'"{p}"' for p in BUSY_2007) + "]\n", ("--all",),
    ),
}


# -- tmux, driven through one control-mode client -------------------------------------------------


class ControlClient:
    """A tmux server on a private socket running one command, and a ``tmux -C`` client of it."""

    def __init__(self, command: list[str], width: int, height: int, env: dict[str, str]) -> None:
        self.tmux = shutil.which("tmux") or sys.exit("tmux is not installed (Debian package tmux)")
        self.socket = f"wf-keys-{uuid.uuid4().hex[:8]}"
        self.env = env
        shell = " ".join(f"'{part}'" for part in command) + " ; echo EXITED $? ; sleep 600"
        # The console runs from the current directory: ``-m tui`` imports the tree it is in.
        self._tmux("new-session", "-d", "-s", "wf", "-x", str(width), "-y", str(height), "-c", os.getcwd(), shell)
        self._tmux("set-option", "-g", "window-size", "manual")
        self.proc = subprocess.Popen(
            [self.tmux, "-L", self.socket, "-C", "attach-session", "-t", "wf"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0,
        )
        self.lines: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self.last_output = 0.0
        """When the latest ``%output`` notification arrived (perf_counter seconds)."""
        self.outputs = 0
        self.output_before_answer = 0.0
        """The latest ``%output`` arrival before the last command's answer began: what that
        command saw (tmux runs commands and takes in pane output in one loop, in order)."""
        threading.Thread(target=self._read, daemon=True, name="tmux-control").start()

    def _tmux(self, *args: str) -> None:
        subprocess.run([self.tmux, "-L", self.socket, *args], check=True, capture_output=True, env=self.env, timeout=30)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line))

    def _drain(self, timeout: float | None) -> tuple[float, bytes] | None:
        try:
            when, line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line.startswith(b"%output "):
            self.last_output = when
            self.outputs += 1
        return when, line

    def command(self, *args: str) -> list[str]:
        """Run one tmux command through the control client; its output lines."""
        assert self.proc.stdin is not None
        quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
        self.proc.stdin.write(quoted.encode() + b"\n")
        out: list[str] = []
        inside = False
        while True:
            got = self._drain(30.0)
            if got is None:
                raise RuntimeError(f"tmux did not answer {args[0]}")
            line = got[1].rstrip(b"\r\n")
            if line.startswith(b"%begin "):
                # Flags 1: the answer to a command of this client (0: e.g. the attach itself).
                inside = line.split()[-1] == b"1"
                self.output_before_answer = self.last_output
            elif inside and (line.startswith(b"%end ") or line.startswith(b"%error ")):
                if line.startswith(b"%error "):
                    raise RuntimeError(f"tmux {args[0]} failed: {out}")
                return out
            elif inside:
                out.append(line.decode("utf-8", "replace"))

    def screen(self) -> str:
        """The pane's text now."""
        return "\n".join(self.command("capture-pane", "-p", "-t", "wf"))

    def send(self, *keys: str) -> float:
        """Send keys (tmux key names); returns when they were sent."""
        sent = time.perf_counter()
        self.command("send-keys", "-t", "wf", *keys)
        return sent

    def wait_for_output(self, since: int, timeout: float) -> bool:
        """Block until some ``%output`` arrived after the ``since``-th one."""
        deadline = time.perf_counter() + timeout
        while self.outputs <= since:
            left = deadline - time.perf_counter()
            if left <= 0 or self._drain(left) is None:
                return False
        # Take in whatever else is already there: the capture will reflect it.
        while not self.lines.empty():
            self._drain(0)
        return True

    def until(self, check: Callable[[str], bool], timeout: float = 60.0) -> str:
        """Poll the screen until ``check`` holds (not a latency measurement)."""
        deadline = time.perf_counter() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.perf_counter() > deadline:
                raise RuntimeError(f"screen never got there; it was:\n{text}")
            self.wait_for_output(self.outputs, 0.2)

    def close(self) -> None:
        """Stop the client and the server."""
        try:
            self.proc.kill()
            self.proc.wait(5)
        finally:
            subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True, env=self.env, timeout=30)


# -- what a key does to the screen ----------------------------------------------------------------


def bar(text: str) -> str:
    """The replay bar (second line)."""
    lines = text.splitlines()
    return lines[1] if len(lines) > 1 else ""


def playing(text: str) -> bool:
    """Whether the replay bar shows the replay running."""
    return bar(text).lstrip().startswith("▶")


def speed_shown(text: str) -> str:
    """The speed in the replay bar (``max``, ``1000x``, ...)."""
    fields = bar(text).split()
    return fields[1] if len(fields) > 1 else ""


def help_open(text: str) -> bool:
    """Whether the help dialog is up."""
    return "Watchfloor keys" in text


def lower_pane(text: str) -> str:
    """Which of 2/3/4 shows below the visibility pane (its title), or ''."""
    for title in ("2 Events", "3 DNS", "4 Plot"):
        if f"─ {title}" in text:
            return title[0]
    return ""


def next_press(text: str, turn: int) -> tuple[str, str, Callable[[str], bool]]:
    """(tmux key, label, effect check) for the ``turn``-th press, given the screen now."""
    if help_open(text):
        return "?", "? close", lambda t: not help_open(t)
    kind = turn % 4
    if kind == 0:
        pane = {"2": "3", "3": "4"}.get(lower_pane(text), "2")
        return pane, pane, lambda t, p=pane: lower_pane(t) == p
    if kind == 1:
        return "?", "? open", help_open
    if kind == 2:  # close the help (if it is still up, the first branch did that)
        pane = "2" if lower_pane(text) != "2" else "3"
        return pane, pane, lambda t, p=pane: lower_pane(t) == p
    if speed_shown(text) == "max":
        return "-", "-", lambda t: speed_shown(t) == "1000x"
    return "+", "+", lambda t: speed_shown(t) == "max"


# -- one run -------------------------------------------------------------------------------------


@dataclass
class Press:
    """One measured key press."""

    phase: str
    key: str
    ms: float
    playing_before: bool
    playing_after: bool


@dataclass
class Run:
    """Every press of one console run."""

    case: str
    presses: list[Press] = field(default_factory=list)
    restarts: int = 0


def measure(client: ControlClient, key: str, check: Callable[[str], bool], timeout: float = 120.0) -> tuple[float, str]:
    """Send ``key`` and wait for a frame showing ``check``; (milliseconds, that screen)."""
    seen = client.outputs
    sent = client.send(key)
    deadline = sent + timeout
    while True:
        if not client.wait_for_output(seen, max(0.0, deadline - time.perf_counter())):
            raise RuntimeError(f"no frame showed the effect of {key!r} within {timeout:.0f} s")
        seen = client.outputs
        text = client.screen()
        frame_at = client.output_before_answer
        if check(text):
            return (frame_at - sent) * 1000.0, text


def restart(client: ControlClient) -> None:
    """Back to the start of the window, playing (unmeasured)."""
    if help_open(client.screen()):
        client.send("?")
        client.until(lambda t: not help_open(t))
    if speed_shown(client.screen()) != "max":
        client.send("+")
        client.until(lambda t: speed_shown(t) == "max")
    client.send("g")
    client.until(lambda t: "Jump to a time" in t)
    client.send("--", "-1d", "Enter")
    client.until(lambda t: "Jump to a time" not in t and not playing(t))
    client.send("Space")
    client.until(playing)


def run_case(case: Case, presses: int, width: int, height: int, seed: int, profile: Path | None = None) -> Run:
    """Open the console over ``case``, measure ``presses`` at full speed, then as many paused."""
    if not case.file.exists():
        sys.exit(f"missing {case.file} (set WATCHFLOOR_SHARED to the shared folder)")
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="wf-keys-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(case.watches + "[replay]\nspeed = inf\n")
        env = {**os.environ, "XDG_CONFIG_HOME": str(Path(tmp) / "xdg"), "TERM": "xterm-256color"}
        env.pop("NO_COLOR", None)
        env.pop("WATCHFLOOR_CONFIG", None)
        python = [sys.executable] if profile is None else [sys.executable, "-m", "cProfile", "-o", str(profile)]
        command = [*python, "-m", "tui", "replay", "--config", str(config), *case.args, str(case.file)]
        client = ControlClient(command, width, height, env)
        run = Run(case.name)
        try:
            client.until(lambda t: "REPLAY" in t and "1 Visibility" in t, timeout=300)
            client.send("Space")
            client.until(playing)
            turn = 0
            while sum(p.phase == "full speed" for p in run.presses) < presses:
                text = client.screen()
                if not playing(text):
                    restart(client)
                    run.restarts += 1
                    continue
                key, label, check = next_press(text, turn)
                ms, after = measure(client, key, check)
                run.presses.append(Press("full speed", label, ms, True, playing(after)))
                turn += 1
                time.sleep(rng.uniform(0.05, 0.25))
            # Paused at the end of the data: every table as full as it gets.
            if help_open(client.screen()):
                client.send("?")
                client.until(lambda t: not help_open(t))
            if speed_shown(client.screen()) != "max":
                client.send("+")
            client.until(lambda t: not playing(t) and "100%" in bar(t), timeout=300)
            for turn in range(presses):
                text = client.screen()
                key, label, check = next_press(text, turn)
                ms, _ = measure(client, key, check)
                run.presses.append(Press("paused", label, ms, False, False))
                time.sleep(rng.uniform(0.05, 0.25))
            if help_open(client.screen()):
                client.send("?")
                client.until(lambda t: not help_open(t))
            client.send("q")
            client.until(lambda t: "EXITED 0" in t)
        finally:
            client.close()
        return run


# -- report --------------------------------------------------------------------------------------


def summarise(runs: list[Run]) -> list[dict[str, Any]]:
    """Per case and phase: counted presses, median, max, per-repeat medians, skipped."""
    out = []
    for name in dict.fromkeys(r.case for r in runs):
        mine = [r for r in runs if r.case == name]
        row: dict[str, Any] = {"case": name, "restarts": sum(r.restarts for r in mine)}
        for phase in ("full speed", "paused"):
            counted = [
                [p.ms for p in r.presses if p.phase == phase and (phase == "paused" or p.playing_after)] for r in mine
            ]
            every = [ms for per in counted for ms in per]
            skipped = sum(1 for r in mine for p in r.presses if p.phase == phase) - len(every)
            row[phase] = {
                "presses": len(every),
                "skipped": skipped,
                "median_ms": statistics.median(every) if every else None,
                "max_ms": max(every) if every else None,
                "repeat_medians_ms": [round(statistics.median(per), 1) for per in counted if per],
                "by_key_median_ms": {
                    k: round(statistics.median(v), 1)
                    for k, v in _by_key(mine, phase).items()
                },
            }
        full, paused = row["full speed"]["median_ms"], row["paused"]["median_ms"]
        row["ratio"] = (full / paused) if full and paused else None
        out.append(row)
    return out


def _by_key(runs: list[Run], phase: str) -> dict[str, list[float]]:
    keys: dict[str, list[float]] = {}
    for r in runs:
        for p in r.presses:
            if p.phase == phase and (phase == "paused" or p.playing_after):
                keys.setdefault(p.key, []).append(p.ms)
    return keys


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table, optionally save JSON."""
    parser = argparse.ArgumentParser(prog="bench/key_latency.py", description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="a case (repeatable; default all)")
    parser.add_argument("--presses", type=int, default=40, help="measured presses per phase and repeat (default 40)")
    parser.add_argument("--repeat", type=int, default=3, help="console runs per case (default 3)")
    parser.add_argument("--size", default="80x24", help="terminal size (default 80x24)")
    parser.add_argument("--json", type=Path, help="also write the raw presses and the summary here")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="run the console under cProfile, one DIR/<case>-<run>.prof each (slower: not for figures)",
    )
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    names = args.case or list(CASES)
    runs = []
    load = os.getloadavg()
    for repeat in range(args.repeat):
        for name in names:
            profile = None if args.profile is None else args.profile / f"{name}-{repeat + 1}.prof"
            if profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            runs.append(run_case(CASES[name], args.presses, width, height, args.seed + repeat, profile))
            print(f"  {name} run {repeat + 1}/{args.repeat} done", file=sys.stderr)
    summary = summarise(runs)
    print(f"key press to frame, tmux {width}x{height}, {args.presses} presses per phase x {args.repeat} runs "
          f"(load average at start {load[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'case':<10} {'phase':<11} {'n':>4} {'skip':>4} {'median':>8} {'max':>8}  per-run medians / per key")
    for row in summary:
        for phase in ("full speed", "paused"):
            s = row[phase]
            med = f"{s['median_ms']:.0f} ms" if s["median_ms"] is not None else "-"
            mx = f"{s['max_ms']:.0f} ms" if s["max_ms"] is not None else "-"
            keys = " ".join(f"{k}:{v:.0f}" for k, v in s["by_key_median_ms"].items())
            print(f"{row['case']:<10} {phase:<11} {s['presses']:>4} {s['skipped']:>4} {med:>8} {mx:>8}  "
                  f"{s['repeat_medians_ms']} / {keys}")
        ratio = row["ratio"]
        print(f"{row['case']:<10} ratio full speed / paused (medians): {ratio:.1f}" if ratio else f"{row['case']:<10} ratio: -")
    if args.json:
        args.json.write_text(json.dumps({
            "size": args.size, "load_average": load, "cpus": os.cpu_count(), "summary": summary,
            "runs": [asdict(r) for r in runs],
        }, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
