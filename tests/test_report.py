"""``watchfloor report``: Markdown incidents, timeline, affected prefixes, chart and DNS summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from real_cases import MRT_2007
from tests.conftest import REPO, shared_file
from tui.cli import main
from tui.commands.report import ReportData, build_report, md, visibility_chart
from tui.core.events import DnsProbeResult, Finding
from tui.core.incidents import build_incidents
from tui.journal.store import JournalWriter

# Watches A and B of real_cases.CONFIG_2007: an outage that never ends, and one that does.
CONFIG = """
[[watch]]
name = "A"
prefixes = ["91.142.144.0/22"]
[[watch]]
name = "B"
prefixes = ["2001:700::/32"]
"""


@pytest.fixture(scope="module")
def journal(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("report")
    config = base / "c.toml"
    config.write_text(CONFIG)
    path = base / "c.journal"
    assert main(["collect", "--quiet", "--config", str(config), "--from-files",
                 str(shared_file(MRT_2007)), "--journal", str(path)]) == 0
    return path, config


def test_report_of_a_real_window(journal, tmp_path):
    path, config = journal
    out = tmp_path / "report.md"
    assert main(["report", "--journal", str(path), "--config", str(config), "--from", "2007-02-11T01:44:00Z",
                 "--until", "2007-02-11T01:56:00Z", "--output", str(out)]) == 0
    text = out.read_text()
    for heading in ("# Watchfloor incident report", "## Incidents", "## Timeline", "## Affected prefixes",
                    "## Visibility", "## DNS"):
        assert heading in text
    assert "- Window: 2007-02-11T01:44:00Z to 2007-02-11T01:56:00Z (12m00s)" in text
    # The /22 outage began before the window but was open in it; the IPv6 outage opened and closed inside.
    assert "### A: outage" in text and "### B: outage" in text
    assert "| outage | 2001:700::/32 | critical | 2007-02-11T01:45:05Z | 2007-02-11T01:55:15Z | 10m10s |" in text
    assert "still covered by 91.142.144.0/21 (2 peers)" in text
    assert re.search(r"\| 2001:700::/32 \| B \| outage \| critical \| 0% \|", text)
    chart = text.split("```text")[1].split("```")[0]
    assert "2001:700::/32" in chart and "% of full-feed peers" in chart and "\x1b" not in text
    assert "No DNS results in this window." in text


def test_report_command_does_not_import_textual(journal):
    path, config = journal
    code = ("import sys; from tui.cli import main; "
            f"main(['report', '--journal', {str(path)!r}, '--config', {str(config)!r}, '--output', '/dev/null']); "
            "print(any(m.split('.')[0] in ('textual', 'rich') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_bad_times_and_missing_journal(tmp_path, capsys):
    assert main(["report", "--journal", str(tmp_path / "none.journal")]) == 4
    assert "no such journal" in capsys.readouterr().err
    assert main(["report", "--journal", "x", "--from", "yesterday"]) == 3
    assert main(["report", "--journal", "x", "--from", "200", "--until", "100"]) == 3


def test_untrusted_text_is_inert_in_markdown_and_dns_is_summarised(tmp_path):
    hostile = "evil | <script> *bold* `code` [link](x) \x1b[31m"
    findings = [
        Finding(10, "f1", "W", "dns_server_failing", "warning", "open", "kp. 175.45.176.15:53/udp", hostile, 10),
        Finding(70, "f1", "W", "dns_server_failing", "warning", "close", "kp. 175.45.176.15:53/udp", "ok again", 10,
                (("duration", 60.0),)),
    ]
    data = ReportData(0, 100)
    data.findings = findings
    data.incidents = build_incidents(findings)
    data.dns = [
        DnsProbeResult(t, "kp.", "ns1.kp.", "175.45.176.15", 53, "udp", "kp.", "SOA", outcome,
                       latency=lat, serial=serial)
        for t, outcome, lat, serial in [(10, "timeout", None, None), (40, "ok", 0.2, 7), (70, "ok", 0.3, 7)]
    ]
    text = build_report(data)
    assert "\x1b" not in text and "<script>" not in text
    assert r"evil \| \<script\> \*bold\* \`code\` \[link\](x)" in text
    assert "| kp. | authoritative | ns1.kp. | 175.45.176.15:53/udp | 3 | 2 | timeout 1 | 200 | 300 | 7 |" in text
    assert md("origin_change") == "origin_change" and md("_x_") == r"\_x\_"


def test_chart_without_data_says_so():
    assert visibility_chart({}, 0, 100) == "(no visibility data in this window)"
    text = visibility_chart({"192.0.2.0/24": [(0, 1.0), (50, 0.0), (80, None)]}, 0, 100, width=60)
    assert "192.0.2.0/24" in text and "\x1b" not in text


def test_empty_journal_reports_no_incident(tmp_path, capsys):
    path = tmp_path / "empty.journal"
    JournalWriter(path, background=False).close()
    assert main(["report", "--journal", str(path)]) == 0
    assert "No incident in this window." in capsys.readouterr().out
