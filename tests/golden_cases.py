"""The real-data cases whose findings are pinned in tests/golden/ (see test_findings_golden.py).

For every MRT file in ../shared/data, watches picked from the file itself: its most-updated
prefixes and the prefixes withdrawn most often (exact watches: visibility, outage, flapping,
origin findings), a covering prefix of the busiest one (more-specifics), a watch by the most
frequent origin ASN (routes kept by origin), and the built-in North Korea watch.
"""

from __future__ import annotations

from tui.core.prefixes import Prefix
from tui.core.watchlist import NORTH_KOREA, Watch, Watchlist

WatchSpec = tuple[str, tuple[str, ...], tuple[int, ...]]
"""(watch name, prefixes, ASNs)."""

CASES: list[tuple[str, str, tuple[WatchSpec, ...]]] = [
    ("bview-2002", "mrt/bgpdump/bview.20020722.2337.gz", (
        ("top", ("80.64.128.0/20", "146.108.0.0/16", "193.46.40.0/22"), ()),
        ("cover", ("80.64.0.0/12",), ()),
        ("origin", (), (701,)),
    )),
    ("bview-64k", "mrt/bgpdump/bview.64k_stream_overflow.gz", (
        ("top", ("2001:579:1040::/46",), ()),
        ("cover", ("2001:578::/31",), ()),
        ("origin", (), (22773,)),
    )),
    ("updates-2002", "mrt/bgpdump/updates.20020722.2238.gz", (
        ("top", ("217.117.160.0/20", "80.0.0.0/8", "200.26.26.0/24", "68.24.240.0/20"), ()),
        ("cover", ("217.117.0.0/16",), ()),
        ("origin", (), (8708,)),
    )),
    ("updates-2007", "mrt/bgpdump/updates.20070211.0141.gz", (
        ("top", ("12.170.126.0/24", "64.201.12.0/24", "200.189.160.0/24", "192.96.13.0/24"), ()),
        ("cover", ("192.96.0.0/16", "2001:700::/32"), ()),
        ("origin", (), (12127,)),
    )),
    ("updates-2007-10", "mrt/bgpdump/updates.20071015.1505.gz", (
        ("top", ("85.187.144.0/23", "77.35.0.0/18", "85.117.140.0/22", "203.157.152.0/24"), ()),
        ("cover", ("85.187.0.0/16",), ()),
        ("origin", (), (1239,)),
    )),
    ("updates-2010", "mrt/bgpdump/updates.20100722.2015.gz", (
        ("top", ("193.105.235.0/24", "193.26.16.0/24", "62.37.120.0/22", "201.222.64.0/20"), ()),
        ("cover", ("92.241.96.0/19",), ()),
        ("origin", (), (22047,)),
    )),
    ("et-header", "mrt/bgpdump/updates.et-header.2015.gz", (
        ("top", ("177.154.84.0/22", "177.154.80.0/22", "84.205.78.0/24"), ()),
        ("cover", ("177.154.0.0/16",), ()),
        ("origin", (), (10620,)),
    )),
    ("local-only", "mrt/bgpkit-parser/local_only-updates.bz2", (
        ("top", ("103.188.233.0/24", "103.188.232.0/23", "103.233.176.0/24"), ()),
        ("cover", ("103.188.0.0/16",), ()),
        ("origin", (), (137967,)),
    )),
    ("rrc01-2000", "mrt/bgpkit-parser/ripe/rrc01/2000.11/updates.20001104.0124.gz", (
        ("top", ("193.162.35.0/24", "63.148.134.0/24", "204.137.128.0/24"), ()),
        ("cover", ("193.162.0.0/16",), ()),
        ("origin", (), (2860,)),
    )),
    ("rrc03-2010", "mrt/bgpkit-parser/ripe/rrc03/2010.02/updates.20100227.1600.first-796-records.gz", (
        ("top", ("84.205.69.0/24", "199.60.22.0/24", "94.101.142.0/24"), ()),
        ("cover", ("94.101.128.0/18",), ()),
        ("origin", (), (12654,)),
    )),
    ("rrc15-1600", "mrt/bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1600.gz", (
        ("top", ("199.60.22.0/24", "208.154.199.0/24", "38.107.132.0/22"), ()),
        ("cover", ("208.154.0.0/16",), ()),
        ("origin", (), (6389,)),
    )),
    ("rrc15-1610", "mrt/bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz", (
        ("top", ("199.60.22.0/24", "24.38.48.0/22", "190.162.176.0/21"), ()),
        ("cover", ("190.162.0.0/16",), ()),
        ("origin", (), (22047,)),
    )),
    ("rrc06-2015", "mrt/libbgpstream/ris.rrc06.updates.1427846400.gz", (
        ("top", ("2620:110:9000::/44", "2a00:bdc0:e004::/48", "69.194.4.0/24"), ()),
        ("cover", ("2620:110:9000::/40",), ()),
        ("origin", (), (5972,)),
    )),
    ("jinx-2015", "mrt/libbgpstream/routeviews.route-views.jinx.updates.1427846400.bz2", (
        ("top", ("69.194.4.0/24", "199.38.164.0/23", "2c0f:fe90::/32"), ()),
        ("cover", ("69.194.0.0/16",), ()),
        ("origin", (), (34984,)),
    )),
    ("rib-2008", "mrt/pyasn/rib.20080501.0644_firstMB.bz2", (
        ("top", ("6.1.0.0/16", "6.3.0.0/18"), ()),
        ("cover", ("6.0.0.0/8",), ()),
        ("origin", (), (6478,)),
    )),
    ("rib-2014", "mrt/pyasn/rib.20140523.0600_firstMB.bz2", (
        ("top", ("1.2.4.0/24", "1.8.1.0/24"), ()),
        ("cover", ("1.8.0.0/16",), ()),
        ("origin", (), (8402,)),
    )),
    ("rib6-2015", "mrt/pyasn/rib6.20151101.0600_firstMB.bz2", (
        ("top", ("2001:200::/32", "2001:220::/35"), ()),
        ("cover", ("2001:200::/23",), ()),
        ("origin", (), (22773,)),
    )),
    ("ris-live-stream", "ris-live/libbgpstream/ris-live-stream.json", (
        ("top", ("45.161.192.0/23",), ()),
        ("cover", ("45.160.0.0/12",), ()),
        ("origin", (), (268481,)),
    )),
    ("ris-live-20", "ris-live/morrowc-rislive/20-msg.ndjson", (
        ("top", ("45.230.136.0/23", "2620:6:2000::/44"), ()),
        ("cover", ("45.230.136.0/22",), ()),
        ("origin", (), (395460,)),
    )),
]
"""(case name, file under ../shared/data, watches); the North Korea watch is always added."""


def watchlist_of(spec: tuple[WatchSpec, ...]) -> Watchlist:
    """The watchlist of one case: its watches and the built-in North Korea watch."""
    watches = [
        Watch(name, tuple(Prefix.parse(p) for p in prefixes), tuple(asns)) for name, prefixes, asns in spec
    ]
    return Watchlist([*watches, NORTH_KOREA])
