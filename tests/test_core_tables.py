"""Restored route tables (tui.core.tables): used in place, they answer as the dict they restore."""

from __future__ import annotations

import random

import pytest

from conftest import shared_file
from tui.core.aspath import parse_path
from tui.core.attributes import PathAttributes, WireRoute
from tui.core.clock import FixedClock
from tui.core.engine import Engine
from tui.core.events import RouteAnnounced
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState
from tui.core.tables import PROBES_BEFORE_REBUILD, RestoredTable
from tui.core.watchlist import NORTH_KOREA, Watchlist

PEER = ("rrc00", "192.0.2.1", 3356)


def _restored(state: RouteState) -> RouteState:
    return RouteState.from_snapshot(state.to_snapshot())


def _announce(state: RouteState, prefix: str, path: str = "3356 4837", ts: float = 1.0, peer=PEER) -> None:
    collector, ip, asn = peer
    state.apply(RouteAnnounced(ts, collector, ip, asn, Prefix.parse(prefix), parse_path(path), ip, (), "test"))


@pytest.fixture(scope="module")
def real_table():
    """The et-header capture's whole table (577,703 routes), and that state restored from its snapshot."""
    from tui.commands.snapshot import WHOLE_TABLE
    from tui.journal.sources import open_sources

    watchlist = Watchlist([NORTH_KOREA, WHOLE_TABLE])
    engine = Engine(watchlist, FixedClock())
    for batch in open_sources([shared_file("mrt/bgpdump/updates.et-header.2015.gz")], watchlist):
        engine.ingest(batch)
    return engine.state, engine.state.to_snapshot()


def test_a_restored_whole_table_answers_lookups_and_sizes_without_a_rebuild(real_table):
    state, snapshot = real_table
    restored = RouteState.from_snapshot(snapshot)
    (info,) = restored.peers()
    table = info.v4
    assert isinstance(table, RestoredTable)
    held = next(state.peers()).v4
    keys = list(held)
    rng = random.Random(13)
    sample = rng.sample(keys, PROBES_BEFORE_REBUILD - 8)
    # The default route (a one-octet key: that octet is everywhere in the run) and /24s made
    # of octets that occur inside the run at other offsets, held or not.
    odd = [Prefix.parse("0.0.0.0/0").wire_key, b"\x18" + keys[1][1:4], b"\x18\x00\x00\x00", b"\x08\x00"]
    assert any(key not in held for key in odd) and odd[0] in held
    for key in sample + odd:
        got = table.get(key)
        want = held.get(key)
        if want is None:
            assert got is None
        else:
            assert (got.as_path, got.next_hop, got.communities, got.since) == (
                want.as_path, want.next_hop, want.communities, want.since
            )
    assert len(table) == len(held) and table.size_bounds() == (len(held), len(held))
    vis = restored.visibility(Prefix.parse("175.45.176.0/24"))
    assert vis == state.visibility(Prefix.parse("175.45.176.0/24"))
    assert not table.rebuilt  # all of that from the stored columns
    # Walking it rebuilds it, to the same keys in the same order with the same routes.
    assert list(table) == keys
    assert table.rebuilt
    assert restored.route_count() == state.route_count()


def test_the_same_route_object_is_shared_before_and_after_a_rebuild(real_table):
    _, snapshot = real_table
    restored = RouteState.from_snapshot(snapshot)
    (info,) = restored.peers()
    keys = list(RouteState.from_snapshot(snapshot).peers().__next__().v4)[:50]
    early = [info.v4.get(key) for key in keys[:10]]
    walked = dict(info.v4.items())
    assert all(walked[key] is route for key, route in zip(keys, early, strict=False))
    # Prefixes of one UPDATE share one route object, as they did live.
    assert len({id(walked[key]) for key in keys}) < len(keys)


def test_rows_after_a_restore_go_to_an_overlay_and_rebuild_to_what_a_dict_would_hold(real_table):
    state, snapshot = real_table
    held = next(state.peers()).v4
    keys = list(held)
    restored = RouteState.from_snapshot(snapshot)
    (info,) = restored.peers()
    table = info.v4
    expected = dict(held)
    rng = random.Random(7)
    route = WireRoute(PathAttributes(b"", True), 99.0, False)
    new_keys = [Prefix.parse(f"198.18.{n}.0/24").wire_key for n in range(200)]
    for _ in range(400):
        kind = rng.random()
        chosen = rng.sample(keys, 5) + rng.sample(new_keys, 2)
        if kind < 0.4:
            table.discard_many(chosen)
            for key in chosen:
                expected.pop(key, None)
        else:
            table.update(dict.fromkeys(chosen, route))
            expected.update(dict.fromkeys(chosen, route))
    low, high = table.size_bounds()
    assert low <= len(expected) <= high
    assert not table.rebuilt
    copied = table.copy()
    assert list(table.items()) == list(expected.items())  # same order: withdrawn-then-announced keys move last
    assert isinstance(copied, RestoredTable) and not copied.rebuilt  # a copy is independent of the rebuild
    assert len(copied) == len(expected)


def test_small_tables_with_rare_key_sizes_and_needles_across_key_boundaries():
    state = RouteState()
    # 10.24.1.2/32 then 0.0.0.0/3: the run holds 18 01 02 03, the wire key of 1.2.3.0/24, across them.
    _announce(state, "10.24.1.2/32", "3356 1")
    _announce(state, "0.0.0.0/3", "3356 2")
    for n in range(40):
        _announce(state, f"193.0.{n}.0/24", f"3356 {100 + n}")
    _announce(state, "24.0.0.0/8", "3356 3")
    restored = _restored(state)
    assert isinstance(next(restored.peers()).v4, RestoredTable)
    assert restored.route(PEER, Prefix.parse("1.2.3.0/24")) is None  # type: ignore[arg-type]
    for prefix in ("10.24.1.2/32", "0.0.0.0/3", "24.0.0.0/8", "193.0.39.0/24"):
        assert restored.route(PEER, Prefix.parse(prefix)).as_path == state.route(PEER, Prefix.parse(prefix)).as_path  # type: ignore[arg-type, union-attr]
    assert restored.route(PEER, Prefix.parse("0.0.0.0/0")) is None  # type: ignore[arg-type]
    _announce(restored, "1.2.3.0/24", "3356 9")
    assert str(restored.route(PEER, Prefix.parse("1.2.3.0/24")).as_path) == str(parse_path("3356 9"))  # type: ignore[arg-type, union-attr]


def test_many_lookups_rebuild_the_table_once_and_answers_do_not_change():
    state = RouteState()
    for n in range(300):
        _announce(state, f"203.0.{n % 256}.0/24" if n < 256 else f"198.51.{n - 256}.0/24", f"3356 {n}")
    restored = _restored(state)
    table = next(restored.peers()).v4
    assert isinstance(table, RestoredTable)
    prefixes = [Prefix.parse(f"203.0.{n}.0/24") for n in range(256)]
    answers = [restored.route(PEER, p) for p in prefixes]  # type: ignore[arg-type]
    assert table.rebuilt  # more than PROBES_BEFORE_REBUILD lookups
    assert [str(r.as_path) for r in answers] == [str(state.route(PEER, p).as_path) for p in prefixes]  # type: ignore[arg-type, union-attr]


def test_the_full_feed_cut_uses_exact_sizes_where_the_bounds_do_not_decide():
    """Two sessions, one a little under 75 % of the other once rows after the checkpoint are in."""
    state = RouteState()
    big = ("rrc00", "192.0.2.1", 3356)
    small = ("rrc00", "192.0.2.2", 2914)
    for n in range(2000):
        _announce(state, f"10.{n // 256}.{n % 256}.0/24", peer=big)
    for n in range(1520):
        _announce(state, f"10.{n // 256}.{n % 256}.0/24", "2914 1", peer=small)
    restored = _restored(state)
    original = restored.copy()
    # Withdraw 30 keys the small session holds and 30 it never held: its bounds straddle the cut.
    small_table = next(p for p in restored.peers() if p.key.peer_asn == 2914).v4
    assert isinstance(small_table, RestoredTable)
    withdrawn = [Prefix.parse(f"10.{n // 256}.{n % 256}.0/24").wire_key for n in range(1490, 1550)]
    small_table.discard_many(withdrawn)
    chosen, _ = restored.full_feed_peers(4)
    assert [p.key.peer_asn for p in chosen] == [3356]  # 1,490 < 1,500 exactly
    chosen, _ = original.full_feed_peers(4)
    assert sorted(p.key.peer_asn for p in chosen) == [2914, 3356]  # 1,520 >= 1,500


def _more_specifics_of(state: RouteState, prefixes: list[Prefix]) -> dict:
    return {
        str(p): {str(other): sorted((info.key, route.since) for info, route in pairs) for other, pairs in found.items()}
        for p, found in state.more_specifics_of_each(prefixes).items()
    }


def test_more_specifics_are_searched_in_a_restored_table_without_a_rebuild(real_table):
    state, snapshot = real_table
    restored = RouteState.from_snapshot(snapshot)
    (info,) = restored.peers()
    watched = [Prefix.parse(p) for p in ("175.45.176.0/22", "175.45.178.0/24", "193.0.0.0/16", "8.0.0.0/8", "2.0.0.0/15")]
    want = _more_specifics_of(state, watched)
    assert sum(len(found) for found in want.values()) > 100  # the /8 alone has many
    assert _more_specifics_of(restored, watched) == want
    assert isinstance(info.v4, RestoredTable) and not info.v4.rebuilt
    # With changes on top: a new more-specific, and one of the /8's withdrawn.
    new = Prefix.parse("8.8.4.0/23")
    gone = next(Prefix.parse(other) for other in want["8.0.0.0/8"] if other != str(new))
    for target in (state.copy(), restored):
        _announce(target, str(new), "3356 15169", ts=2e9)
        table = next(target.peers()).v4
        if isinstance(table, RestoredTable):
            table.discard_many([gone.wire_key])
        else:
            table.pop(gone.wire_key)
        if target is not restored:
            want = _more_specifics_of(target, watched)
    assert str(new) in want["8.0.0.0/8"] and str(gone) not in want["8.0.0.0/8"]
    assert _more_specifics_of(restored, watched) == want
    assert not info.v4.rebuilt
