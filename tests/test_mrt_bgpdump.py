"""The MRT reader's route state, cross-checked prefix by prefix against bgpdump.

bgpdump's ``-m`` lines (its own golden outputs in ../shared/data/mrt/bgpdump/expected, or the
installed ``bgpdump -m`` for files without one) are applied to a plain dict:
(peer address, peer ASN) -> prefix -> (AS path, next hop, communities). ``A``/``B`` lines store,
``W`` lines remove, a ``STATE`` line whose new state is not Established (6) drops the peer's
routes. The reader's :class:`RouteState` must hold exactly the same thing.

Normalisations, each a formatting difference and not a data one: bgpdump writes IPv6 addresses
without RFC 5952's rule against compressing a single zero group (``30::1:1`` for ``30:0:1:1``),
prints a missing NEXT_HOP as 255.255.255.255, and names three well-known communities.
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import shared_file
from tui.core.aspath import parse_path
from tui.core.events import FeedStatus, RecordRejected
from tui.core.prefixes import Prefix
from tui.core.routes import RouteState
from tui.feeds.mrt import MrtReader, read_mrt

Table = dict[tuple[str, int], dict[Prefix, tuple[object, str, tuple[str, ...]]]]

WELL_KNOWN_COMMUNITIES = {"no-export": "65535:65281", "no-advertise": "65535:65282", "local-AS": "65535:65283"}

GOLDEN = [
    "bview.20020722.2337.gz",  # TABLE_DUMP v1
    "bview.64k_stream_overflow.gz",  # one TABLE_DUMP_V2 IPv6 record over 64 KiB
    "updates.20020722.2238.gz",  # BGP4MP, STATE_CHANGE, KEEPALIVE
    "updates.20070211.0141.gz",  # IPv4-multicast MP_REACH without NEXT_HOP
    "updates.20071015.1505.gz",  # first MESSAGE_AS4
    "updates.20100722.2015.gz",  # mixed 2-/4-octet, IPv6 peers, STATE_CHANGE_AS4
    pytest.param("updates.et-header.2015.gz", marks=pytest.mark.slow),  # BGP4MP_ET, 577,703 routes
]

WITHOUT_GOLDEN = [
    "bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz",  # Zebra corruption
    "bgpkit-parser/ripe/rrc03/2010.02/updates.20100227.1600.first-796-records.gz",  # FSM states 7/8
    "bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1600.gz",
    "bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz",
    "bgpkit-parser/local_only-updates.bz2",
    "libbgpstream/ris.rrc06.updates.1427846400.gz",
    "libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2",
    pytest.param("pyasn/rib.20080501.0644_firstMB.bz2", marks=pytest.mark.slow),  # TABLE_DUMP v1, truncated
    pytest.param("pyasn/rib.20140523.0600_firstMB.bz2", marks=pytest.mark.slow),  # TABLE_DUMP_V2 IPv4, truncated
    pytest.param("pyasn/rib6.20151101.0600_firstMB.bz2", marks=pytest.mark.slow),  # TABLE_DUMP_V2 IPv6, truncated
]


@functools.cache
def _ip(text: str) -> str:
    return str(ipaddress.ip_address(text)) if text else text


@functools.lru_cache(maxsize=1 << 16)
def _path(text: str) -> object:
    return parse_path(text)


@functools.lru_cache(maxsize=1 << 16)
def _communities(text: str) -> tuple[str, ...]:
    return tuple(WELL_KNOWN_COMMUNITIES.get(c, c) for c in text.split())


def _prefix(text: str) -> Prefix:
    """``"192.0.2.0/24"`` -> Prefix, host bits cleared (bgpdump prints them as received)."""
    address, length = text.split("/")
    version, family = (6, socket.AF_INET6) if ":" in address else (4, socket.AF_INET)
    bits = 128 if version == 6 else 32
    size = int(length)
    network = int.from_bytes(socket.inet_pton(family, address), "big")
    return Prefix(version, network & (((1 << size) - 1) << (bits - size)), size)


def bgpdump_table(lines: Iterable[str]) -> Table:
    """Apply bgpdump ``-m`` lines; returns the routes every peer holds at the end."""
    table: Table = {}
    for line in lines:
        fields = line.rstrip("\n").split("|")
        if len(fields) < 5:
            continue
        kind = fields[2]
        peer = (_ip(fields[3]), int(fields[4]))
        if kind in ("A", "B"):
            next_hop = "" if fields[8] == "255.255.255.255" else _ip(fields[8])
            route = (_path(fields[6]), next_hop, _communities(fields[11]))
            table.setdefault(peer, {})[_prefix(fields[5])] = route
        elif kind == "W":
            table.get(peer, {}).pop(_prefix(fields[5]), None)
        elif kind == "STATE" and int(fields[6]) != 6:
            table.pop(peer, None)
    return {peer: routes for peer, routes in table.items() if routes}


def state_table(state: RouteState) -> Table:
    """The same shape, from the reader's route state (shared route objects looked at once)."""
    table: Table = {}
    seen: dict[int, tuple[object, str, tuple[str, ...]]] = {}
    for info in state.peers():
        peer = (_ip(info.key.peer_ip), info.key.peer_asn)
        for version in (4, 6):
            for key, route in info.table(version).items():
                value = seen.get(id(route))
                if value is None:
                    value = seen[id(route)] = (route.as_path, _ip(route.next_hop), route.communities)
                table.setdefault(peer, {})[Prefix.from_wire(version, key)] = value
    return {peer: routes for peer, routes in table.items() if routes}


def read_full(path: Path) -> tuple[Table, MrtReader, list[object]]:
    """Read ``path`` in full-table mode: the table, the reader, and the events it gave."""
    state = RouteState()
    reader = read_mrt(path, table=True)
    events = [event for batch in reader for event in batch]
    state.apply_all(events)
    return state_table(state), reader, events


def differences(expected: Table, got: Table, limit: int = 8) -> list[str]:
    """Human-readable (peer, prefix) differences, at most ``limit``."""
    out = []
    for peer in sorted(set(expected) | set(got)):
        want, have = expected.get(peer, {}), got.get(peer, {})
        for prefix in sorted(set(want) | set(have)):
            if want.get(prefix) != have.get(prefix):
                out.append(f"{peer} {prefix}: bgpdump {want.get(prefix)} / reader {have.get(prefix)}")
                if len(out) >= limit:
                    return out
    return out


def route_count(table: Table) -> int:
    """Routes in a table."""
    return sum(len(routes) for routes in table.values())


@pytest.mark.parametrize("name", GOLDEN)
def test_route_state_matches_bgpdump_golden_output(name):
    mrt = shared_file(f"mrt/bgpdump/{name}")
    golden = shared_file(f"mrt/bgpdump/expected/{name}.bgp.gz")
    with gzip.open(golden, "rt") as lines:
        expected = bgpdump_table(lines)
    got, reader, events = read_full(mrt)
    assert route_count(expected) > 0
    assert differences(expected, got) == []
    assert route_count(got) == route_count(expected)
    assert reader.stats.rejected == 0 and not reader.stats.truncated
    assert not [e for e in events if isinstance(e, RecordRejected)]


@pytest.mark.lab
@pytest.mark.parametrize("relative", WITHOUT_GOLDEN)
def test_route_state_matches_installed_bgpdump(relative):
    bgpdump = shutil.which("bgpdump")
    if bgpdump is None:
        pytest.skip("bgpdump is not installed (Debian package 'bgpdump'; `make test` installs it)")
    mrt = shared_file(f"mrt/{relative}")
    done = subprocess.run([bgpdump, "-m", str(mrt)], capture_output=True, text=True, check=False)
    expected = bgpdump_table(done.stdout.splitlines())
    got, reader, _events = read_full(mrt)
    assert route_count(expected) > 0
    assert differences(expected, got) == []
    assert route_count(got) == route_count(expected)


def test_bgpdump_sees_nothing_in_the_sample_without_peer_index_table_and_neither_do_we():
    bgpdump = shutil.which("bgpdump")
    if bgpdump is None:
        pytest.skip("bgpdump is not installed (Debian package 'bgpdump'; `make test` installs it)")
    mrt = shared_file("mrt/pyasn/bview.20140112.1600_3samples.bz2")
    done = subprocess.run([bgpdump, "-m", str(mrt)], capture_output=True, text=True, check=False)
    assert bgpdump_table(done.stdout.splitlines()) == {}
    got, reader, events = read_full(mrt)
    assert got == {}
    assert reader.stats.rejected == 3
    assert sum(isinstance(e, RecordRejected) for e in events) == 3


@pytest.mark.parametrize(
    "relative",
    [
        "bgpdump/updates.20100722.2015.gz",
        "bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz",
        "libbgpstream/ris.rrc06.updates.1427846400.gz",
        "bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz",
        "bgpdump/bview.64k_stream_overflow.gz",
    ],
)
def test_every_route_as_an_event_rebuilds_the_same_state(relative):
    """No watchlist, no state: every route comes out as an event; applied, they give the same table."""
    mrt = shared_file(f"mrt/{relative}")
    direct, _reader, _events = read_full(mrt)
    replayed = RouteState()
    reader = read_mrt(mrt)
    for batch in reader:
        for event in batch:
            replayed.apply(event)
    assert route_count(direct) > 0
    assert differences(direct, state_table(replayed)) == []
    assert isinstance(event, FeedStatus) and event.state == "ended"
