from __future__ import annotations

import pytest

from conftest import EventLog
from tui.core.aspath import parse_path
from tui.core.clock import FixedClock, VirtualClock
from tui.core.engine import Engine
from tui.core.events import (
    FeedStatus,
    PeerKey,
    PeerStateChanged,
    RouteAnnounced,
    RouteSnapshot,
    RouteWithdrawn,
    event_from_dict,
    event_to_dict,
)
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState
from tui.core.watchlist import NORTH_KOREA, Watchlist

NK = Prefix.parse("175.45.176.0/22")
OTHER = Prefix.parse("8.8.8.0/24")


def announce(ts, peer_ip, prefix, path="3356 4837 131279", collector="rrc00", source="test"):
    return RouteAnnounced(ts, collector, peer_ip, int(path.split()[0]), prefix, parse_path(path), peer_ip, (), source)


def withdraw(ts, peer_ip, prefix, asn=3356, collector="rrc00", source="test"):
    return RouteWithdrawn(ts, collector, peer_ip, asn, prefix, source)


def make_engine():
    return Engine(Watchlist([NORTH_KOREA]), FixedClock(0.0))


def test_visibility_counts_sessions_that_hold_exactly_the_prefix():
    engine = make_engine()
    engine.ingest([announce(1, "192.0.2.1", NK), announce(1, "192.0.2.2", OTHER, "2914 15169")])
    vis = engine.visibility(NK)
    assert (vis.visible, vis.full_feed) == (1, 2)  # the second session is up though unwatched
    engine.ingest([withdraw(2, "192.0.2.1", NK)])
    assert engine.visibility(NK).visible == 0


def test_session_down_drops_routes_and_feed_gap_is_unknown_not_withdrawn():
    engine = make_engine()
    engine.ingest([announce(1, "192.0.2.1", NK), announce(1, "192.0.2.2", NK, "2914 4837 131279")])
    engine.ingest([FeedStatus(5, "test", "down", "socket closed")])
    vis = engine.visibility(NK)
    assert vis.full_feed == 0 and vis.unknown == 2 and vis.ratio is None
    engine.ingest([FeedStatus(9, "test", "up", gap_start=5, gap_end=9)])
    assert engine.visibility(NK).visible == 2
    engine.ingest([PeerStateChanged(10, "rrc00", "192.0.2.1", 3356, "ESTABLISHED", "IDLE", "test")])
    vis = engine.visibility(NK)
    assert (vis.visible, vis.full_feed) == (1, 1)


def test_unwatched_routes_are_not_kept_but_more_specifics_are():
    engine = make_engine()
    hijack = Prefix.parse("175.45.177.0/24")
    engine.ingest([announce(1, "192.0.2.1", OTHER, "3356 15169"), announce(1, "192.0.2.1", hijack, "3356 64500")])
    assert engine.state.route_count() == 1
    assert list(engine.state.more_specifics(NK)) == [hijack]
    assert engine.log[-1].kind == "announce" and "inside 175.45.176.0/22" in engine.log[-1].text


def test_checkpoint_round_trip_and_event_serialisation():
    engine = make_engine()
    ev = announce(1.5, "2001:db8::1", NK, "3356 4837 {131279,9}")
    engine.ingest([ev])
    restored = RouteState.from_snapshot(engine.checkpoint()["state"])
    assert restored.to_snapshot() == engine.state.to_snapshot()
    assert event_from_dict(event_to_dict(ev)) == ev


def test_virtual_clock_speed_ladder_and_bounds():
    clock = VirtualClock(100.0, 200.0)
    clock.playing = True
    assert clock.advance(10) == 110.0
    clock.faster()
    assert clock.speed == 2.0
    assert clock.advance(100) == 200.0 and not clock.playing
    assert clock.seek(50) == 100.0


def test_visibility_denominator_is_per_ip_version():
    """A session that only carries IPv6 must not count against an IPv4 prefix."""
    from tui.core.events import FullFeedPeers, PeerKey

    engine = make_engine()
    v6 = Prefix.parse("2001:db8::/32")
    engine.ingest([
        announce(1, "192.0.2.1", NK),
        RouteAnnounced(1, "rrc00", "2001:db8::1", 2914, v6, parse_path("2914 64500"), "2001:db8::1", (), "test"),
    ])
    vis = engine.visibility(NK)
    assert (vis.visible, vis.full_feed) == (1, 1)  # the IPv6 session is not in the IPv4 denominator
    declared = FullFeedPeers(2, (PeerKey("rrc00", "192.0.2.1", 3356), PeerKey("rrc00", "192.0.2.9", 1)), "config", "test", 4)
    engine.ingest([declared, announce(2, "192.0.2.9", OTHER, "1 15169")])
    vis = engine.visibility(NK)
    assert (vis.visible, vis.full_feed, vis.basis) == (1, 2, "config")
    # the IPv6 denominator was not declared: still judged from the data
    assert engine.visibility(v6).full_feed == 1


def test_route_kept_for_its_watched_origin_is_withdrawn_and_replaced():
    engine = make_engine()
    elsewhere = Prefix.parse("198.51.100.0/24")  # not watched, but originated by AS131279
    engine.ingest([announce(1, "192.0.2.1", elsewhere, "3356 131279")])
    assert engine.state.holds(PeerKey("rrc00", "192.0.2.1", 3356), elsewhere)
    engine.ingest([withdraw(2, "192.0.2.1", elsewhere)])
    assert engine.state.route_count() == 0
    engine.ingest([announce(3, "192.0.2.1", elsewhere, "3356 131279"), announce(4, "192.0.2.1", elsewhere, "3356 64500")])
    (peer, route), = engine.state.routes_to(elsewhere)
    assert route.as_path == (3356, 64500)  # the move to a foreign origin is kept, not left stale


def test_route_snapshot_becomes_the_withdrawals_and_changes_it_implies():
    """A refresh after a gap: only real differences reach the journal, as plain route events."""
    log = EventLog()
    recorded = log.events
    engine = Engine(Watchlist([NORTH_KOREA]), FixedClock(0.0), recorder=log)
    inside = Prefix.parse("175.45.177.0/24")
    engine.ingest([
        announce(1, "192.0.2.1", NK), announce(1, "192.0.2.2", NK), announce(1, "192.0.2.3", NK),
        announce(1, "192.0.2.1", inside, "3356 64500"),  # a more-specific: outside the snapshot's scope
        announce(1, "192.0.2.9", NK, source="other-feed"),  # another feed's session: not this snapshot's
    ])
    engine.ingest([FeedStatus(5, "test", "down", "socket closed")])
    recorded.clear()
    snapshot = RouteSnapshot(20, "test", (NK,), (
        announce(15, "192.0.2.1", NK),  # unchanged: nothing to say
        announce(15, "192.0.2.2", NK, "3356 174 4837 131279"),  # new path
        announce(15, "192.0.2.4", NK),  # a session first heard of now
    ), "RIPEstat")  # 192.0.2.3 is missing: withdrawn during the gap
    engine.ingest([snapshot, FeedStatus(20, "test", "up", "", 5, 18)])

    routes = [(type(e).__name__, e.peer_ip, e.ts) for e in recorded if isinstance(e, RouteAnnounced | RouteWithdrawn)]
    assert routes == [
        ("RouteWithdrawn", "192.0.2.3", 20),
        ("RouteAnnounced", "192.0.2.2", 20),
        ("RouteAnnounced", "192.0.2.4", 20),
    ]
    assert not any(isinstance(e, RouteSnapshot) for e in recorded)
    note = next(e for e in recorded if isinstance(e, FeedStatus) and e.state == "refreshed")
    assert "1 routes withdrawn while unheard, 2 new or changed" in note.detail and note.feed == "test"
    holders = {p.key.peer_ip for p, _ in engine.state.routes_to(NK)}
    assert holders == {"192.0.2.1", "192.0.2.2", "192.0.2.4", "192.0.2.9"}
    assert engine.state.holds(PeerKey("rrc00", "192.0.2.1", 3356), inside), "more-specifics are not in scope"
    assert engine.visibility(NK).unknown == 0

    # Replaying what was recorded gives the same state: the journal needs no snapshot type.
    replayed = make_engine()
    replayed.ingest([announce(1, "192.0.2.1", NK), announce(1, "192.0.2.2", NK), announce(1, "192.0.2.3", NK),
                     announce(1, "192.0.2.1", inside, "3356 64500"), announce(1, "192.0.2.9", NK, source="other-feed"),
                     FeedStatus(5, "test", "down", "socket closed")])
    replayed.ingest([event_from_dict(event_to_dict(e)) for e in recorded])
    assert replayed.state.to_snapshot() == engine.state.to_snapshot()


def test_route_snapshot_is_never_serialised():
    snapshot = RouteSnapshot(1, "test", (NK,), ())
    with pytest.raises(TypeError, match="not stored"):
        event_to_dict(snapshot)
