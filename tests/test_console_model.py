"""The console's plain rules: states, sparklines, filters, jump times, inert text."""

from __future__ import annotations

import datetime as dt

import pytest

from tui.console.model import (
    ColumnSpec,
    JumpError,
    LastChange,
    LogFilter,
    State,
    ZoneHealth,
    dns_summary,
    filter_log,
    fit_columns,
    format_ts,
    parse_jump,
    replay_advice,
    replay_prompts,
    sparkline,
    time_label,
    visibility_rows,
    visibility_state,
)
from tui.console.text import clean, plain
from tui.core.clock import FixedClock, format_duration
from tui.core.engine import Engine
from tui.core.events import FeedStatus, FullFeedPeers, PeerKey, RouteAnnounced, RouteWithdrawn
from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Thresholds, Watchlist

T0 = dt.datetime(2014, 12, 22, 16, 0, tzinfo=dt.UTC).timestamp()
NK = Prefix.parse("175.45.176.0/22")


def _announce(ts: float, peer: int, prefix: Prefix = NK, source: str = "rrc00") -> RouteAnnounced:
    return RouteAnnounced(ts, "rrc00", f"192.0.2.{peer}", 64500 + peer, prefix, (64500 + peer, 4837, 131279), source=source)


def test_visibility_state_follows_thresholds_and_unknown_is_not_zero():
    limits = Thresholds(visibility_warn=0.8, visibility_critical=0.5)
    assert visibility_state(None, limits) == State.UNKNOWN
    assert visibility_state(0.0, limits) == State.CRITICAL
    assert visibility_state(0.6, limits) == State.WARNING
    assert visibility_state(0.8, limits) == State.OK


def test_sparkline_marks_unknown_samples_and_keeps_width():
    assert sparkline([0.0, 0.5, 1.0, None], 4) == "▁▅█·"
    assert sparkline([1.0], 4) == "   █"
    assert len(sparkline([0.1] * 50, 8)) == 8


def test_rows_are_worst_first_and_missing_data_reads_unknown():
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(T0))
    engine.ingest([_announce(T0, 1), _announce(T0, 2)])
    other = Prefix.parse("210.52.109.0/24")
    engine.ingest(
        [
            _announce(T0 + 1, 1, other),
            _announce(T0 + 1, 2, other),
            RouteWithdrawn(T0 + 2, "rrc00", "192.0.2.1", 64501, other, source="rrc00"),
        ]
    )
    rows = visibility_rows(engine)
    by_prefix = {str(r.prefix): r for r in rows}
    assert by_prefix["175.45.176.0/22"].percent_text == "100.0%"
    assert (by_prefix["210.52.109.0/24"].percent_text, by_prefix["210.52.109.0/24"].state) == ("50.0%", State.WARNING)
    assert by_prefix["77.94.35.0/24"].state == State.CRITICAL  # seen by nobody while 2 peers are up
    assert rows[-1].prefix == NK  # the healthy one sorts last
    # The feed breaks: its sessions are unknown, and so is visibility -- never 0%.
    engine.ingest([FeedStatus(T0 + 3, "rrc00", "down", "socket closed")])
    rows = visibility_rows(engine)
    assert {r.state for r in rows} == {State.UNKNOWN}
    assert all(r.percent_text == "unknown" for r in rows)
    assert rows[0].peers_text.endswith("+2?")


def test_last_change_is_incremental_and_survives_a_rebuilt_log():
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(T0))
    tracker = LastChange()
    engine.ingest([_announce(T0, 1)])
    tracker.update(engine.log)
    assert tracker.get(NK) == T0
    engine.ingest([_announce(T0 + 60, 2)])
    tracker.update(engine.log)
    assert tracker.get(NK) == T0 + 60
    engine.reset()  # a seek backwards clears and refills the log
    engine.ingest([_announce(T0 + 5, 1)])
    tracker.update(engine.log)
    assert tracker.get(NK) == T0 + 5


def test_log_filter_by_text_severity_and_watch():
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(T0))
    engine.ingest([_announce(T0, 1), FeedStatus(T0 + 1, "ris_live", "down", "connection refused")])
    everything = filter_log(engine.log, LogFilter())
    assert [e.kind for e in everything] == ["feed", "announce"]  # newest first
    assert [e.kind for e in filter_log(engine.log, LogFilter(min_severity="warning"))] == ["feed"]
    assert [e.kind for e in filter_log(engine.log, LogFilter(watch="North Korea"))] == ["announce"]
    assert [e.kind for e in filter_log(engine.log, LogFilter(text="REFUSED"))] == ["feed"]
    assert filter_log(engine.log, LogFilter(text="no such thing")) == []


def test_full_feed_declaration_changes_the_denominator():
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(T0))
    peers = tuple(PeerKey("rrc00", f"192.0.2.{i}", 64500 + i) for i in (1, 2, 3, 4))
    engine.ingest([FullFeedPeers(T0, peers, "config"), *[_announce(T0, i) for i in (1, 2, 3, 4)]])
    engine.ingest([RouteWithdrawn(T0 + 1, "rrc00", "192.0.2.4", 64504, NK)])
    row = next(r for r in visibility_rows(engine) if r.prefix == NK)
    assert (row.visible, row.full_feed, row.percent_text, row.state) == (3, 4, "75.0%", State.WARNING)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-12-22T16:00:00Z", T0),
        ("2014-12-22T16:00Z", T0),
        ("2014-12-22 16:00", T0),
        ("16:00", T0),
        ("-10m", T0 + 3600 - 600),
        ("+1h30m", T0 + 3600 + 5400),
        ("-1d", T0 + 3600 - 86400),
        (str(int(T0)), T0),
    ],
)
def test_parse_jump_reads_iso_relative_and_unix(text, expected):
    assert parse_jump(text, T0 + 3600) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "-10x", "2014-13-40"])
def test_parse_jump_refuses_with_a_hint(text):
    with pytest.raises(JumpError, match="ISO 8601|type a time"):
        parse_jump(text, T0)


def test_time_formats_are_utc_iso_with_z():
    assert format_ts(T0) == "2014-12-22T16:00:00Z"
    assert format_ts(None) == "-"
    assert time_label(T0, T0 + 60) == "16:00:00Z"
    assert time_label(T0, T0 + 86400) == "2014-12-22T16:00:00Z"
    # The age columns: the one duration formatter's one-unit form.
    assert [format_duration(s, short=True) for s in (5, 125, 7300, 90000)] == ["5s", "2m", "2h", "1d"]


def test_untrusted_text_is_inert():
    hostile = "AS[red]x[/red] [link=http://e.vil]y[/link]\x1b[2J\x1b]0;title\x07\u202eevil\x9b"
    text = plain(hostile)
    assert "[red]x[/red]" in text.plain and "[link=http://e.vil]" in text.plain
    assert not text.spans  # nothing was read as markup
    assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0 for ch in text.plain)
    assert "␛[2J" in clean(hostile) and "␛]0;title␇" in clean(hostile)
    assert "\u202e" not in clean(hostile)


SPECS = [ColumnSpec("state", "State"), ColumnSpec("name", "Name"), ColumnSpec("trend", "Trend"), ColumnSpec("age", "Changed")]
STEPS = [("label", "age", "Age"), ("shrink", "trend", 5), ("shrink", "name", 6), ("drop", "trend", None)]
NATURAL = {"state": 6, "name": 12, "trend": 8, "age": 3}  # 29 cells, 37 with one cell of padding a side


def _total(columns, padding=1):
    return sum(c.width + 2 * padding for c in columns)


def test_fit_columns_keeps_everything_when_there_is_room():
    columns = fit_columns(SPECS, NATURAL, 60, STEPS)
    assert [(c.label, c.width) for c in columns] == [("State", 6), ("Name", 12), ("Trend", 8), ("Changed", 7)]


def test_fit_columns_gives_way_in_order_and_only_as_much_as_needed():
    # 4 cells short: the shorter header alone is enough.
    assert [(c.label, c.width) for c in fit_columns(SPECS, NATURAL, 37, STEPS)][-1] == ("Age", 3)
    assert [c.width for c in fit_columns(SPECS, NATURAL, 37, STEPS)] == [6, 12, 8, 3]
    # 2 more: the sparkline loses 2, not 3.
    assert [c.width for c in fit_columns(SPECS, NATURAL, 35, STEPS)] == [6, 12, 6, 3]
    # Then the name shrinks, never below its floor, and the sparkline goes last.
    assert [c.width for c in fit_columns(SPECS, NATURAL, 28, STEPS)] == [6, 6, 5, 3]
    narrow = fit_columns(SPECS, NATURAL, 24, STEPS)
    assert [c.key for c in narrow] == ["state", "name", "age"] and _total(narrow) <= 24


def test_fit_columns_never_cuts_a_header_or_an_unnamed_column():
    columns = fit_columns(SPECS, {"state": 30, "name": 1, "trend": 1, "age": 1}, 10, STEPS)
    by_key = {c.key: c for c in columns}
    assert by_key["state"].width == 30  # too wide for anything: the table scrolls instead
    assert by_key["name"].width == len("Name") and by_key["age"].label == "Age"


def test_dns_summary_one_zone_reads_without_colour_and_fits():
    down = ZoneHealth("kp.", State.CRITICAL, 0, 2, "nameservers", "timeout; routed but not answering")
    text, state = dns_summary([down], 80)
    assert (text, state) == ("DNS kp.: ✖ down, 0/2 nameservers answering (timeout; routed but not answering)", State.CRITICAL)
    assert dns_summary([down], 45)[0] == "DNS kp.: ✖ down, 0/2 nameservers answering"
    assert dns_summary([down], 30)[0] == "DNS kp.: ✖ down, 0/2 answering"
    assert len(dns_summary([down], 12)[0]) <= 12
    assert dns_summary([ZoneHealth("kp.", State.OK, 2, 2)], 80) == ("DNS kp.: ✓ ok, 2/2 nameservers answering", State.OK)


def test_dns_summary_without_checks_says_so_and_never_reads_down():
    assert dns_summary([], 80) == ("DNS: no zones watched", State.UNKNOWN)
    assert dns_summary([ZoneHealth("kp.", State.UNKNOWN)], 80) == ("DNS kp.: no results yet", State.UNKNOWN)


def test_dns_summary_of_several_zones_counts_worst_first_and_drops_names_to_fit():
    zones = [
        ZoneHealth("kp.", State.CRITICAL, 0, 2),
        ZoneHealth("example.", State.WARNING, 1, 2, problem="timeout"),
        ZoneHealth("a.", State.OK, 2, 2),
        ZoneHealth("b.", State.OK, 1, 1),
    ]
    text, state = dns_summary(zones, 80)
    assert (text, state) == ("DNS: ✖ 1 down (kp.) · ▲ 1 warn (example.) · ✓ 2 ok", State.CRITICAL)
    assert dns_summary(zones, 40)[0] == "DNS: ✖ 1 down (kp.) · ▲ 1 warn · ✓ 2 ok"
    assert dns_summary(zones, 34)[0] == "DNS: ✖ 1 down · ▲ 1 warn · ✓ 2 ok"
    assert dns_summary(zones, 25)[0] == "DNS: ✖ 1/4 zones down"
    assert len(dns_summary(zones, 12)[0]) <= 12


def test_dns_summary_zone_names_are_cleaned():
    text, _ = dns_summary([ZoneHealth("\x1b[2Jkp.", State.OK, 1, 1)], 80)
    assert "\x1b" not in text and "␛[2Jkp." in text


def test_replay_prompts_name_the_keys_given_longest_first():
    keys = {"replay.toggle": "p", "replay.faster": "+", "replay.jump": "t", "replay.next_note": "n", "app.help": "?"}
    prompts = replay_prompts(keys, at_start=True)
    assert prompts[0] == "paused at start: p plays, + faster, t jumps to a time, ? all keys"
    assert [len(p) for p in prompts] == sorted((len(p) for p in prompts), reverse=True)
    assert all("p plays" in p for p in prompts)
    assert replay_prompts(keys, at_start=False)[0].startswith("paused: p plays")
    assert "t jumps to a time, n goes to the next event of note" in replay_advice(keys, at_start=True)
