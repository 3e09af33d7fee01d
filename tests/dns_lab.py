"""Real DNS daemons on loopback for the DNS tests: NSD, Unbound and a small DoH endpoint.

Everything binds to 127.0.0.0/8 only, on ports chosen free at run time, with configs and run
directories written into the test's temporary directory. Daemons run in the foreground in
their own process group (NSD forks workers), so they can be frozen (SIGSTOP), thawed and
killed as a whole. See ../shared/lab/dns for the configurations these were derived from.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dns.message
import dns.query
import pytest

READY_LIMIT = 15.0
"""Seconds a daemon may take to answer its first query (generous: machines are shared)."""


def require(command: str) -> str:
    """The path of a Debian daemon, or skip saying how to get it."""
    path = shutil.which(command) or (f"/usr/sbin/{command}" if os.path.exists(f"/usr/sbin/{command}") else None)
    if path is None:
        pytest.skip(f"{command} is not installed (`make system-deps` installs nsd and unbound from Debian)")
    return path


def free_port(addresses: Iterable[str] = ("127.0.0.1",)) -> int:
    """A port free for both UDP and TCP on every one of ``addresses``."""
    addresses = list(addresses)
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        if all(_bindable(a, port) for a in addresses):
            return port
    raise RuntimeError(f"no port free on {addresses}")


def _bindable(address: str, port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


def zone_text(origin: str, serial: int, ns: dict[str, str], records: Iterable[str] = ()) -> str:
    """A zone file: SOA with ``serial``, NS records for ``ns`` (name -> IPv4, glue/A), more ``records``."""
    first = next(iter(ns))
    lines = [
        f"$ORIGIN {origin}",
        "$TTL 1",
        f"@ IN SOA {first} hostmaster.{origin} {serial} 3600 900 604800 1",
    ]
    lines += [f"@ IN NS {name}" for name in ns]
    lines += [f"{name} IN A {address}" for name, address in ns.items() if address]
    lines += list(records)
    return "\n".join(lines) + "\n"


class Daemon:
    """A foreground daemon in its own process group."""

    def __init__(self, name: str, argv: list[str], run_dir: Path, probe: tuple[str, int, str]) -> None:
        self.name = name
        self.argv = argv
        self.run_dir = run_dir
        self.address, self.port, self.probe_name = probe
        self.log = run_dir / f"{name}.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    def start(self) -> Daemon:
        """Start and wait until it answers a query."""
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.run_dir, start_new_session=True
            )
        deadline = time.monotonic() + READY_LIMIT
        query = dns.message.make_query(self.probe_name, "SOA")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                dns.query.udp(query, self.address, port=self.port, timeout=0.05)
                return self
            except (dns.exception.Timeout, OSError):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {READY_LIMIT} s: {self.log.read_text()[-2000:]}")

    def freeze(self) -> None:
        """SIGSTOP the whole group: sockets stay open, nothing answers (timeouts)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def stop(self) -> None:
        """Terminate the group (UDP then times out, TCP is refused)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            if self.frozen:
                self.thaw()
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # NSD's workers may outlive the parent for a moment: make sure the group is gone.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def nsd(run_dir: Path, name: str, address: str, port: int, zones: dict[str, str]) -> Daemon:
    """An NSD serving ``zones`` (origin -> zone file text) on ``address:port``."""
    binary = require("nsd")
    run_dir = run_dir / name
    run_dir.mkdir(parents=True)
    stanzas = []
    for index, (origin, text) in enumerate(zones.items()):
        (run_dir / f"zone{index}.zone").write_text(text)
        stanzas.append(f'zone:\n    name: "{origin}"\n    zonefile: "zone{index}.zone"\n')
    conf = f"""server:
    ip-address: {address}@{port}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{run_dir}"
    database: ""
    zonelistfile: "{run_dir}/zone.list"
    xfrdfile: "{run_dir}/xfrd.state"
    xfrdir: "{run_dir}"
    pidfile: "{run_dir}/nsd.pid"
    logfile: "{run_dir}/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    tcp-timeout: 3
remote-control:
    control-enable: no
""" + "".join(stanzas)
    (run_dir / "nsd.conf").write_text(conf)
    return Daemon(name, [binary, "-d", "-c", str(run_dir / "nsd.conf")], run_dir, (address, port, next(iter(zones))))


def unbound(run_dir: Path, port: int, stubs: dict[str, list[str]], refuse: Iterable[str], root_stub: str) -> Daemon:
    """An Unbound resolver on 127.0.0.1:``port``; ``stubs`` zone -> ["addr@port"]; ``refuse`` zones REFUSED.

    The root is a stub pointing at ``root_stub`` (a loopback server that does not serve "."), so
    nothing it is asked can make it send a packet outside 127.0.0.0/8.
    """
    binary = require("unbound")
    run_dir = run_dir / "unbound"
    run_dir.mkdir(parents=True)
    lines = [
        "server:",
        f"    interface: 127.0.0.1@{port}",
        f"    port: {port}",
        "    do-ip6: no",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{run_dir}"',
        f'    pidfile: "{run_dir}/unbound.pid"',
        "    use-syslog: no",
        '    logfile: ""',
        "    verbosity: 1",
        "    do-daemonize: no",
        "    num-threads: 1",
        '    module-config: "iterator"',
        "    do-not-query-localhost: no",
        "    access-control: 127.0.0.0/8 allow",
        "    cache-max-ttl: 1",
        "    cache-max-negative-ttl: 1",
        "    serve-expired: no",
        "    discard-timeout: 0",
        "    outbound-msg-retry: 1",
        "    infra-host-ttl: 1",
    ]
    lines += [f'    local-zone: "{zone}" refuse' for zone in refuse]
    for zone, addresses in {**stubs, ".": [root_stub]}.items():
        lines += ["stub-zone:", f'    name: "{zone}"'] + [f"    stub-addr: {a}" for a in addresses]
    lines += ["remote-control:", "    control-enable: no"]
    (run_dir / "unbound.conf").write_text("\n".join(lines) + "\n")
    return Daemon("unbound", [binary, "-d", "-c", str(run_dir / "unbound.conf")], run_dir, ("127.0.0.1", port, "."))


class DohServer:
    """An RFC 8484 endpoint on 127.0.0.1 forwarding each wire query to a loopback DNS server.

    ``/dns-query`` answers POST and GET (``?dns=`` base64url); any other path is a 404.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.requests: list[str] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="doh-test-server", daemon=True
        )

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return f"http://127.0.0.1:{self.port}/dns-query"

    def start(self) -> DohServer:
        """Serve in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                encoded = parse_qs(parts.query).get("dns", [""])[0]
                wire = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) if encoded else b""
                self._answer(parts.path, wire, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                self._answer(urlsplit(self.path).path, self.rfile.read(length), "POST")

            def _answer(self, path: str, wire: bytes, method: str) -> None:
                outer.requests.append(method)
                if path != "/dns-query":
                    self.send_error(404, "no DoH endpoint here")
                    return
                try:
                    query = dns.message.from_wire(wire)
                    answer, _ = dns.query.udp_with_fallback(query, outer.upstream[0], port=outer.upstream[1], timeout=2.0)
                except Exception as exc:  # noqa: BLE001 - an upstream failure is a 502 for the client
                    self.send_error(502, f"upstream: {type(exc).__name__}")
                    return
                body = answer.to_wire()
                self.send_response(200)
                self.send_header("content-type", "application/dns-message")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
