"""DNS checks against real daemons on loopback: NSD (parent and two children), Unbound, DoH.

The lab (all on 127.0.0.0/8, free ports, temporary directories):

- parent NSD on 127.0.0.1 serves ``lab.`` and delegates ``kp.lab.`` to ns1 (127.0.0.2) and
  ns2 (127.0.0.3), with glue;
- child NSDs on 127.0.0.2 and 127.0.0.3 (same port) serve ``kp.lab.`` with serials 2 and 1
  (ns2 is behind) and publish a third NS, ns3, that the parent does not delegate to;
- Unbound on 127.0.0.1 resolves ``kp.lab.`` via ns1, gives SERVFAIL for ``lame.lab.`` (a stub
  at a server that REFUSES it) and REFUSED for ``blocked.lab.``; its root is a loopback stub;
- a DoH endpoint on 127.0.0.1 forwards wire queries to Unbound.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dns_lab
from tui.cli import main
from tui.config import DnsConfig, ZoneConfig, parse_config
from tui.core.clock import SystemClock
from tui.core.detectors.dns import DnsMonitor, dns_rows, ns_comparison, zone_statuses
from tui.core.engine import Engine
from tui.core.watchlist import Watch, Watchlist
from tui.feeds.dns_probe import DnsProber, ProbeSettings

pytestmark = pytest.mark.lab

ZONE = "kp.lab."
NEW_SERIAL, OLD_SERIAL = 2024010102, 2024010101
SETTINGS = ProbeSettings(timeout=1.0, retries=0, concurrency=8)  # generous: shared, noisy machines
BIG_TXT = " ".join(['"' + "x" * 200 + '"'] * 4)  # > 512 octets: truncated over plain UDP


class Lab:
    """The daemons of one test, started on fresh ports."""

    def __init__(self, tmp: Path) -> None:
        self.parent_port = dns_lab.free_port(["127.0.0.1"])
        self.port = dns_lab.free_port(["127.0.0.2", "127.0.0.3"])
        delegation = ["kp IN NS ns1.kp", "kp IN NS ns2.kp", "ns1.kp IN A 127.0.0.2", "ns2.kp IN A 127.0.0.3"]
        self.parent = dns_lab.nsd(tmp, "parent", "127.0.0.1", self.parent_port,
                                  {"lab.": dns_lab.zone_text("lab.", 1, {"ns.lab.": "127.0.0.1"}, delegation)})
        child_ns = {"ns1.kp.lab.": "127.0.0.2", "ns2.kp.lab.": "127.0.0.3", "ns3.kp.lab.": "127.0.0.4"}
        records = ["www IN A 175.45.176.71", f"big IN TXT {BIG_TXT}"]
        self.ns1 = dns_lab.nsd(tmp, "ns1", "127.0.0.2", self.port,
                               {ZONE: dns_lab.zone_text(ZONE, NEW_SERIAL, child_ns, records)})
        self.ns2 = dns_lab.nsd(tmp, "ns2", "127.0.0.3", self.port,
                               {ZONE: dns_lab.zone_text(ZONE, OLD_SERIAL, child_ns, records)})
        self.daemons = [self.parent, self.ns1, self.ns2]
        self.tmp = tmp
        self.unbound: dns_lab.Daemon | None = None
        self.doh: dns_lab.DohServer | None = None

    def start(self) -> Lab:
        for daemon in self.daemons:
            daemon.start()
        return self

    def start_resolver(self) -> str:
        """Start Unbound (and return host:port)."""
        port = dns_lab.free_port()
        ns1 = f"127.0.0.2@{self.port}"
        self.unbound = dns_lab.unbound(self.tmp, port, {ZONE: [ns1], "lame.lab.": [ns1]}, ["blocked.lab."], ns1)
        self.daemons.append(self.unbound.start())
        return f"127.0.0.1:{port}"

    def start_doh(self, upstream: str) -> str:
        host, port = upstream.split(":")
        self.doh = dns_lab.DohServer((host, int(port))).start()
        return self.doh.url

    def stop(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
        if self.doh is not None:
            self.doh.stop()

    @property
    def discovered_zone(self) -> ZoneConfig:
        """kp.lab. found through the parent (no nameservers configured)."""
        return ZoneConfig(ZONE, parent=(f"127.0.0.1:{self.parent_port}",), port=self.port)


@pytest.fixture
def lab(tmp_path):
    dns_lab.require("nsd")
    started = Lab(tmp_path)
    try:
        yield started.start()
    finally:
        started.stop()


def watched_engine():
    watch = Watch("Lab", zones=(ZONE,))
    return Engine(Watchlist([watch]), SystemClock(), detectors=[DnsMonitor()])


async def check_once(engine, zones, settings=SETTINGS, **options):
    prober = DnsProber(zones, settings, **options)
    try:
        return await prober.run_once(engine.ingest)
    finally:
        await prober.aclose()


def states(engine, role="authoritative"):
    return {(r.server, r.transport): r.state for r in dns_rows(engine) if r.role == role}


async def test_discovery_compares_parent_and_child_ns_and_finds_the_lagging_serial(lab):
    engine = watched_engine()
    results = await check_once(engine, [lab.discovered_zone])
    parent = [r for r in results if r.role == "parent"]
    assert [(r.outcome, r.answers) for r in parent] == [("ok", ("ns1.kp.lab.", "ns2.kp.lab."))]
    comparison = ns_comparison(engine, ZONE)
    assert comparison.mismatch and comparison.as_dict()["only_at_child"] == ["ns3.kp.lab."]
    assert states(engine) == {
        ("ns1.kp.lab.", "udp"): "ok", ("ns1.kp.lab.", "tcp"): "ok",
        ("ns2.kp.lab.", "udp"): "serial mismatch", ("ns2.kp.lab.", "tcp"): "serial mismatch",
    }
    row = next(r for r in dns_rows(engine) if r.address == "127.0.0.3" and r.transport == "udp")
    assert row.serial == OLD_SERIAL and row.authoritative and row.port == lab.port and row.rtt is not None
    kinds = {f.kind for f in engine.open_findings()}
    assert kinds == {"dns_ns_mismatch", "dns_serial_mismatch"}
    [status] = zone_statuses(engine)
    assert status.severity == "warning" and status.newest_serial == NEW_SERIAL


async def test_configured_servers_lame_and_refusing_ones_are_told_apart(lab):
    engine = watched_engine()
    kp = ZoneConfig(ZONE, nameservers=(f"127.0.0.2:{lab.port}", f"127.0.0.1:{lab.parent_port}"))
    # ns1 does not serve lab. at all: it refuses; the parent answers kp.lab. with a referral.
    other = ZoneConfig("lab.", nameservers=(f"127.0.0.2:{lab.port}",))
    results = await check_once(engine, [kp, other])
    assert not [r for r in results if r.role in ("parent", "child")]  # configured: no discovery
    rows = {(r.zone, r.address, r.transport): r for r in dns_rows(engine)}
    lame = rows[(ZONE, "127.0.0.1", "udp")]
    assert lame.state == "lame" and not lame.authoritative and "referral" in lame.detail
    assert rows[(ZONE, "127.0.0.2", "udp")].state == "ok"
    refused = rows[("lab.", "127.0.0.2", "tcp")]
    assert refused.state == "refused" and refused.rcode == "REFUSED"
    assert [s.severity for s in zone_statuses(engine, [ZONE, "lab."])] == ["warning", "critical"]


async def test_resolver_servfail_refused_nxdomain_and_truncation_retried_over_tcp(lab):
    resolver = lab.start_resolver()
    zone = ZoneConfig(ZONE, nameservers=(f"127.0.0.2:{lab.port}",), resolvers=(resolver,), records=(
        "www.kp.lab. A", "big.kp.lab. TXT", "x.lame.lab. A", "x.blocked.lab. A", "nx.kp.lab. A",
    ))
    engine = watched_engine()
    await check_once(engine, [zone], ProbeSettings(timeout=2.0, retries=0))
    rows = {r.qname: r for r in dns_rows(engine) if r.role == "resolver"}
    assert rows["www.kp.lab."].state == "ok" and rows["www.kp.lab."].answers == ("175.45.176.71",)
    big = rows["big.kp.lab."]
    assert big.state == "ok" and big.truncated and len(big.answers) == 1 and "over TCP" in big.detail
    assert rows["x.lame.lab."].state == "servfail"
    assert rows["x.blocked.lab."].state == "refused"
    assert rows["nx.kp.lab."].state == "nxdomain"
    failing = sorted(f.subject for f in engine.open_findings() if f.kind == "dns_server_failing")
    assert len(failing) == 3 and all(s.startswith(f"{ZONE} resolver 127.0.0.1:") for s in failing)


async def test_doh_post_and_get_and_http_failures(lab):
    doh = lab.start_doh(lab.start_resolver())
    closed = f"http://127.0.0.1:{dns_lab.free_port()}/dns-query"
    zone = ZoneConfig(ZONE, nameservers=(f"127.0.0.2:{lab.port}",), records=("www.kp.lab. A", "big.kp.lab. TXT"),
                      doh=(doh, doh + "{?dns}", doh.replace("/dns-query", "/nothing"), closed))
    engine = watched_engine()
    await check_once(engine, [zone], ProbeSettings(timeout=2.0, retries=0))
    rows = {(r.address, r.qname): r for r in dns_rows(engine) if r.role == "doh"}
    for url in (doh, doh + "{?dns}"):
        assert rows[(url, "www.kp.lab.")].state == "ok"
        assert rows[(url, "www.kp.lab.")].answers == ("175.45.176.71",)
        assert rows[(url, "big.kp.lab.")].state == "ok"  # no 512-octet limit over HTTP
    assert sorted(set(lab.doh.requests)) == ["GET", "POST"]
    missing = rows[(doh.replace("/dns-query", "/nothing"), "www.kp.lab.")]
    assert missing.state == "error" and "HTTP 404" in missing.detail
    assert rows[(closed, "www.kp.lab.")].state == "unreachable"


async def test_frozen_server_times_out_on_both_transports_then_recovers(lab):
    engine = watched_engine()
    zone = lab.discovered_zone
    lab.ns2.freeze()
    try:
        await check_once(engine, [zone])
        assert states(engine)[("ns2.kp.lab.", "udp")] == "timeout"
        assert states(engine)[("ns2.kp.lab.", "tcp")] == "timeout"  # the kernel accepts, nobody answers
        assert zone_statuses(engine)[0].severity == "warning"  # ns1 still answers: not down
        failing = {f.subject for f in engine.open_findings() if f.kind == "dns_server_failing"}
        assert f"{ZONE} authoritative 127.0.0.3:{lab.port}/udp" in failing
        row = next(r for r in dns_rows(engine) if r.address == "127.0.0.3" and r.transport == "udp")
        assert row.diagnosis.label == "routing: unknown"  # loopback: no routing data to blame
    finally:
        lab.ns2.thaw()
    await check_once(engine, [zone])
    assert states(engine)[("ns2.kp.lab.", "udp")] == "serial mismatch"  # answering again
    assert not [f for f in engine.open_findings() if f.kind == "dns_server_failing"]
    closed = [f for f in engine.findings.values() if f.kind == "dns_server_failing"]
    assert closed and all(f.state == "close" for f in closed)


async def test_killed_server_udp_times_out_tcp_refused_and_all_killed_is_zone_down(lab):
    engine = watched_engine()
    zone = ZoneConfig(ZONE, nameservers=(f"127.0.0.2:{lab.port}", f"127.0.0.3:{lab.port}"))
    lab.ns2.stop()
    await check_once(engine, [zone])
    assert states(engine)[("127.0.0.3", "udp")] == "timeout"
    assert states(engine)[("127.0.0.3", "tcp")] == "unreachable"
    assert zone_statuses(engine)[0].severity == "warning"
    lab.ns1.stop()
    await check_once(engine, [zone])
    [status] = zone_statuses(engine)
    assert status.severity == "critical" and status.summary.startswith("zone down")
    assert any(f.kind == "dns_zone_down" and f.severity == "critical" for f in engine.open_findings())


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "watchfloor.toml"
    path.write_text(text)
    return str(path)


def lab_config(lab: Lab, *, extra: str = "") -> str:
    return f"""
[[watch]]
name = "Lab"
zones = ["{ZONE}"]

[[zone]]
name = "{ZONE}"
parent = ["127.0.0.1:{lab.parent_port}"]
port = {lab.port}
{extra}

[feeds.ripestat]
enabled = false

[dns]
timeout = 1.0
retries = 0
"""


def test_check_command_json_table_and_exit_codes(lab, tmp_path, capsys):
    config = write_config(tmp_path, lab_config(lab))
    assert main(["check", "--config", config, "--json"]) == 1  # serial and NS mismatch: warnings
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "warning" and report["exit_code"] == 1
    assert report["routing"]["state"] == "unknown"
    [zone] = report["zones"]
    assert zone["zone"] == ZONE and zone["ns"]["only_at_child"] == ["ns3.kp.lab."]
    assert {(c["server"], c["transport"], c["state"]) for c in zone["checks"] if c["role"] == "authoritative"} == {
        ("ns1.kp.lab.", "udp", "ok"), ("ns1.kp.lab.", "tcp", "ok"),
        ("ns2.kp.lab.", "udp", "serial mismatch"), ("ns2.kp.lab.", "tcp", "serial mismatch"),
    }
    assert {f["finding_kind"] for f in report["findings"]} == {"dns_ns_mismatch", "dns_serial_mismatch"}

    assert main(["check", "--config", config]) == 1
    table = capsys.readouterr().out
    assert f"zone {ZONE}: WARNING" in table and "serial mismatch" in table
    assert "routing: unknown" in table and "down" not in table.split("routing:")[1]

    lab.ns1.stop()
    lab.ns2.stop()
    assert main(["check", "--config", config, "--json", "--timeout", "0.3"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["zones"][0]["severity"] == "critical" and report["zones"][0]["summary"].startswith("zone down")


def test_check_command_all_well_in_a_subprocess_exits_0(lab, tmp_path):
    healthy = f"""
[[zone]]
name = "{ZONE}"
nameservers = ["127.0.0.2:{lab.port}"]
[feeds.ripestat]
enabled = false
[dns]
timeout = 1.0
"""
    config = write_config(tmp_path, healthy)
    done = subprocess.run([sys.executable, "-m", "tui", "check", "--config", config, "--zone", ZONE],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"zone {ZONE}: OK" in done.stdout and "status: ok (exit 0)" in done.stdout


def test_check_command_refuses_bad_config_with_exit_3(tmp_path, capsys):
    bad_key = write_config(tmp_path, '[[zone]]\nname = "kp."\nnameserver = ["127.0.0.1:53"]\n')
    assert main(["check", "--config", bad_key]) == 3
    assert "did you mean 'nameservers'" in capsys.readouterr().err
    bad_type = write_config(tmp_path, '[[zone]]\nname = "kp."\nnameservers = ["127.0.0.1:9"]\nrecords = ["www.kp. NOPE"]\n')
    assert main(["check", "--config", bad_type]) == 3
    assert "www.kp. NOPE" in capsys.readouterr().err
    no_zones = write_config(tmp_path, '[[watch]]\nname = "x"\nprefixes = ["192.0.2.0/24"]\n')
    assert main(["check", "--config", no_zones]) == 3
    assert "no zones to check" in capsys.readouterr().err


def test_dns_config_keys_for_the_lab_are_parsed():
    config = parse_config('[[zone]]\nname = "kp.lab"\nparent = ["127.0.0.1:5300"]\nport = 5301\n[dns]\nretries = 0\n')
    assert config.zones[0] == ZoneConfig("kp.lab.", parent=("127.0.0.1:5300",), port=5301)
    assert config.dns == DnsConfig(retries=0)
    assert ProbeSettings.from_config(config.dns, timeout=0.5).timeout == 0.5


def public_to_loopback(mapping: dict[str, str]):
    """dnspython query functions that send to the loopback daemon standing in for a public address.

    The cross-diagnosis needs nameserver addresses inside routed prefixes, and tests may only
    send to 127.0.0.0/8: each public address is answered by a real daemon on loopback instead.
    An address not in ``mapping`` fails like an unroutable one, so nothing ever leaves loopback.
    """
    import dns.asyncquery

    def wrap(query_fn):
        async def ask(q, where, timeout=None, port=53, **kwargs):
            if where not in mapping:
                raise OSError(101, "Network is unreachable (test: not mapped to loopback)")
            return await query_fn(q, mapping[where], timeout=timeout, port=port, **kwargs)
        return ask

    return {"udp": wrap(dns.asyncquery.udp), "tcp": wrap(dns.asyncquery.tcp)}


async def test_check_diagnoses_failures_with_ripestat_routing_from_real_responses(lab, tmp_path):
    """A dead server in a routed prefix is "routed but not answering"; one in a prefix nobody
    routes (while RIPEstat's full-feed peers are known) is "unreachable: routing"."""
    from conftest import DATA
    from tests.servers.http_server import LoopbackHTTP
    from tests.servers.ripestat_server import FakeRipestat
    from tui.commands.check import run_check

    folder = DATA / "ripestat" / "2017-07-joshglazebrook"
    if not folder.is_dir():
        pytest.skip(f"real RIPEstat responses not available: {folder}")
    alive, routed_dead, unrouted_dead = "140.78.3.62", "140.78.2.62", "175.45.176.15"
    lab.ns2.stop()
    routes = public_to_loopback({alive: "127.0.0.2", routed_dead: "127.0.0.3", unrouted_dead: "127.0.0.3"})
    with LoopbackHTTP(FakeRipestat(folder)) as server:
        config = parse_config(f"""
[[watch]]
name = "Routed"
prefixes = ["140.78.0.0/16", "175.45.176.0/22"]
zones = ["{ZONE}"]
[[zone]]
name = "{ZONE}"
nameservers = ["{alive}:{lab.port}", "{routed_dead}:{lab.port}", "{unrouted_dead}:{lab.port}"]
[feeds.ripestat]
url = "{server.url}/data/"
cache_dir = "{tmp_path / 'cache'}"
[dns]
timeout = 1.0
retries = 0
""")
        report = await run_check(config, config.all_zones(), routing=True, routing_timeout=30, **routes)
    assert report.routing["state"] == "known" and "routes" in report.routing["detail"]
    diagnosis = {(r.address, r.transport): r.diagnosis for r in report.rows}
    assert diagnosis[(alive, "udp")].label == ""
    assert diagnosis[(routed_dead, "udp")].label == "routed but not answering"
    assert diagnosis[(routed_dead, "udp")].prefix == "140.78.0.0/16"
    assert diagnosis[(unrouted_dead, "tcp")].label == "unreachable: routing"
    assert diagnosis[(unrouted_dead, "tcp")].visible == 0 and diagnosis[(unrouted_dead, "tcp")].full_feed > 0
    assert report.outcome == "warning"  # one server answers: warnings, not a zone down (exit 1)
    [zone] = report.as_dict()["zones"]
    [check] = [c for c in zone["checks"] if c["address"] == routed_dead and c["transport"] == "udp"]
    assert check["state"] == "timeout" and check["diagnosis"]["label"] == "routed but not answering"
