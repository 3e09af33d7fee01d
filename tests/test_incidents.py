"""Incidents: findings of one watch grouped, opened, updated and closed with durations."""

from __future__ import annotations

from tui.core.events import Finding
from tui.core.incidents import IncidentTracker, build_incidents


def f(ts, fid, state, kind="visibility", watch="North Korea", severity="warning", started=None, subject="175.45.176.0/24"):
    return Finding(ts, fid, watch, kind, severity, state, subject, f"{kind} {state}", started if started is not None else ts)


def test_visibility_loss_and_dns_timeouts_on_one_watch_are_one_incident():
    findings = [
        f(100, "v1", "open"),
        f(130, "d1", "open", kind="dns_server_failing", subject="kp. authoritative 175.45.176.15:53/udp"),
        f(200, "v1", "update", severity="critical", started=100),
        f(400, "d1", "close", kind="dns_server_failing", subject="kp. authoritative 175.45.176.15:53/udp", started=130),
        f(500, "v1", "close", severity="critical", started=100),
        f(300, "x1", "open", watch="Other"),
    ]
    incidents = build_incidents(sorted(findings, key=lambda x: x.ts))
    assert [(i.watch, i.opened, i.closed, i.severity) for i in incidents] == [
        ("North Korea", 100, 500, "critical"), ("Other", 300, None, "warning"),
    ]
    nk = incidents[0]
    assert nk.kinds == ["dns_server_failing", "visibility"] and nk.duration() == 400
    assert [h.state for h in nk.history] == ["open", "open", "update", "close", "close"]
    assert incidents[1].is_open and incidents[1].duration(now=360) == 60


def test_a_new_finding_after_close_starts_a_new_incident_unless_within_linger():
    seq = [f(0, "a", "open"), f(50, "a", "close", started=0), f(80, "b", "open"), f(90, "b", "close", started=80)]
    assert len(build_incidents(seq)) == 2
    joined = build_incidents(seq, linger=60)
    assert len(joined) == 1 and (joined[0].opened, joined[0].closed) == (0, 90)


def test_info_findings_join_but_never_open_an_incident_and_feeds_are_their_own():
    tracker = IncidentTracker()
    assert tracker.add(f(0, "i", "open", kind="more_specific", severity="info")) is None
    assert tracker.add(f(5, "i", "close", kind="more_specific", severity="info", started=0)) is None
    inc = tracker.add(f(10, "o", "open", kind="outage", severity="critical"))
    tracker.add(f(11, "m", "open", kind="more_specific", severity="info"))
    feed = tracker.add(f(12, "fd", "open", kind="feed_down", watch="", subject="ris-live"))
    assert inc is not None and inc.kinds == ["more_specific", "outage"]
    assert feed is not None and feed is not inc and feed.title == "feeds: feed_down"
    assert [i.severity for i in tracker.open_incidents()] == ["critical", "warning"]
