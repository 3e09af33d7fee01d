"""``watchfloor collect``: files end to end, determinism of replay, and a live run stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from real_cases import CONFIG_2007, MRT_2007
from tests.conftest import REPO, EventLog, run_collector_until, shared_file
from tui.cli import main
from tui.commands import Outcome
from tui.commands.collect import Collector
from tui.config import parse_config
from tui.core.clock import MAX_SPEED
from tui.core.detectors import default_detectors
from tui.core.events import DnsProbeResult, Finding
from tui.journal.replay import ReplaySession
from tui.journal.store import JournalReader, JournalWriter

MRT, CONFIG = MRT_2007, CONFIG_2007


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "watchfloor.toml"
    path.write_text(CONFIG)
    return path


def replay_findings(journal: Path, config_text: str) -> list[Finding]:
    """Replay a journal through a fresh engine with fresh detectors; the findings they raise."""
    watchlist = parse_config(config_text).watchlist()
    session = ReplaySession.open(journal, watchlist, detectors=default_detectors(watchlist))
    log = EventLog()
    session.engine.recorder = log
    session.clock.speed = MAX_SPEED
    session.play()
    for _ in range(100000):
        if not session.step(1.0) and session.clock.position >= session.end:
            break
    session.step(1.0)
    session.close()
    return [e for e in log.events if isinstance(e, Finding)]


def test_collect_from_files_journal_jsonl_and_replay_gives_the_same_findings(tmp_path, config_file, capsys):
    journal, jsonl = tmp_path / "c.journal", tmp_path / "findings.jsonl"
    rc = main(["collect", "--config", str(config_file), "--from-files", str(shared_file(MRT)),
               "--journal", str(journal), "--jsonl", str(jsonl)])
    assert rc == 0
    assert "files read:" in capsys.readouterr().err
    with JournalReader(journal) as reader:
        live = [e for batch in reader.batches() for e in batch if isinstance(e, Finding)]
    kinds = {(f.kind, f.subject) for f in live}
    assert {("outage", "91.142.144.0/22"), ("outage", "2001:700::/32"), ("moas", "213.83.17.0/24"),
            ("flapping", "192.96.13.0/24"), ("subprefix_hijack", "208.96.128.0/21 AS100")} <= kinds
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    # The sink gets warning and up (default min_severity), each state once, in the journal's order.
    assert [x["finding_id"] + x["state"] for x in lines] == [f.finding_id + f.state for f in live if f.severity != "info"]
    replayed = replay_findings(journal, CONFIG)
    assert replayed == live


def test_collect_reads_a_ris_live_capture_counts_the_broken_line_and_judges_origins():
    config = parse_config("""
[[watch]]
name = "LACNIC space"
prefixes = ["45.160.0.0/14"]
asns = [64500]
""")
    collector = Collector(config, config.watchlist(), files=[str(shared_file("ris-live/libbgpstream/ris-live-stream.json"))],
                          sinks=[], say=lambda text: None)
    assert asyncio.run(collector.run()) is Outcome.OK
    engine = collector.engine
    assert engine.counters["rejected"] >= 1
    hijacks = [f for f in engine.findings.values() if f.kind == "subprefix_hijack"]
    assert [f.subject for f in hijacks] == ["45.161.192.0/23 AS268481"]
    assert hijacks[0].evidence_dict["collectors"] == {"rrc00": 1}


def test_nothing_to_collect_is_exit_4(config_file, capsys):
    assert main(["collect", "--config", str(config_file), "--no-ris-live", "--no-dns"]) == 4
    assert "nothing to collect" in capsys.readouterr().err


def test_a_second_collector_on_a_journal_in_use_is_refused(tmp_path, config_file, capsys):
    journal = tmp_path / "shared.journal"
    with JournalWriter(journal, background=False) as first:
        rc = main(["collect", "--config", str(config_file), "--from-files", str(shared_file(MRT)), "--journal", str(journal)])
        assert rc == 4
        assert f"another process (pid {os.getpid()}) is writing this journal" in capsys.readouterr().err
        with JournalReader(journal) as reader:
            assert first.appended == 0 and reader.count() == 0, "nothing of the second one got in"


def test_bad_vrp_file_is_reported(tmp_path, capsys):
    vrp = tmp_path / "vrps.json"
    vrp.write_text('{"roas": [{"asn": "AS1", "prefix": "not a prefix", "maxLength": 24}]}')
    config = tmp_path / "c.toml"
    config.write_text(CONFIG + f'\n[rpki]\nvrp_file = "{vrp}"\n')
    assert main(["collect", "--config", str(config), "--from-files", str(shared_file(MRT))]) == 4
    assert "roas[0]" in capsys.readouterr().err


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_live_collector_stops_cleanly_on_sigterm(tmp_path):
    """DNS checks of a zone whose only server (on loopback) does not answer; SIGTERM; exit 0."""
    port = _free_udp_port()
    config = tmp_path / "live.toml"
    config.write_text(f"""
[[watch]]
name = "Lab"
zones = ["lab.example."]
[[zone]]
name = "lab.example."
nameservers = ["127.0.0.1:{port}"]
resolvers = ["127.0.0.1:{port}"]
[dns]
interval = 0.5
tcp_interval = 1.0
timeout = 0.2
retries = 0
""")
    journal = tmp_path / "live.journal"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "collect", "--config", str(config), "--no-ris-live", "--journal", str(journal)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        # Wait (not a timing assertion: just long enough on a slow machine) for DNS results to be journaled.
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists():
                try:
                    with JournalReader(journal) as reader:
                        seen = reader.count()
                except Exception:  # noqa: BLE001 - the writer may be creating it right now
                    seen = 0
                if seen >= 4:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read()
        assert seen >= 4, "no DNS results journaled"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "started DNS checks of lab.example." in err and "stopped:" in err
    with JournalReader(journal) as reader:
        events = [e for batch in reader.batches() for e in batch]
        assert reader.checkpoint_count() >= 1  # the final checkpoint written at shutdown
    results = [e for e in events if isinstance(e, DnsProbeResult)]
    assert results and all(r.outcome != "ok" for r in results)
    assert any(isinstance(e, Finding) and e.kind.startswith("dns_") and e.watch == "Lab" for e in events)
    assert math.isfinite(results[-1].ts)


async def test_live_path_ris_live_on_loopback_findings_gap_and_clean_stop():
    """The collector against a RIS Live server on loopback replaying a real capture, then a drop."""
    from tests.servers.ris_live_server import Drop, FakeRisLive, Hold, Send, WaitSubscriptions
    from tui.core.clock import FixedClock

    lines = shared_file("ris-live/morrowc-rislive/20-msg.ndjson").read_text().splitlines()
    messages = [json.loads(line) for line in lines]
    script = [[WaitSubscriptions(2), *(Send(m) for m in messages), Drop()], [WaitSubscriptions(2), Hold()]]
    async with FakeRisLive(script) as ris:
        config = parse_config(f"""
[[watch]]
name = "LACNIC"
prefixes = ["45.230.136.0/22"]
asns = [64500]
[feeds.ris_live]
url = "{ris.url}"
beacons = []
[feeds.ripestat]
enabled = false
""")
        clock = FixedClock(messages[-1]["data"]["timestamp"] + 1)
        said: list[str] = []
        collector = Collector(config, config.watchlist(), dns=False, clock=clock, sinks=[], say=said.append,
                              install_signals=False)

        def done() -> bool:
            engine = collector.engine
            return engine is not None and any(
                f.kind == "feed_down" and f.state == "close" for f in engine.findings.values()
            ) and len([f for f in engine.findings.values() if f.kind == "subprefix_hijack"]) == 6

        await run_collector_until(collector, done)
    engine = collector.engine
    hijacks = sorted(f.subject for f in engine.findings.values() if f.kind == "subprefix_hijack")
    assert hijacks == [f"{p} AS267161" for p in ("45.230.136.0/23", "45.230.136.0/24", "45.230.137.0/24",
                                                  "45.230.138.0/23", "45.230.138.0/24", "45.230.139.0/24")]
    # Opened once each: the drop made the sessions unknown, which neither closed nor reopened them.
    assert all(f.state == "open" for f in engine.findings.values() if f.kind == "subprefix_hijack")
    # Evidence is as of the opening: the first rrc15 session that carried it, and its path.
    first = next(f for f in engine.findings.values() if f.subject == "45.230.137.0/24 AS267161")
    assert first.evidence_dict["collectors"] == {"rrc15": 1}
    assert first.evidence_dict["paths"][0].startswith("rrc15 187.16.223.128 AS61597 path 61597 61832")
    # The drop made a feed finding, never an outage.
    assert not any(f.kind in ("outage", "visibility") for f in engine.findings.values())
    assert any(text.startswith("started live feeds") for text in said) and any(text.startswith("stopped:") for text in said)
