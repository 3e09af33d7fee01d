"""Detectors: they turn the engine's event stream into findings an operator can act on.

Each detector implements :class:`tui.core.engine.Detector` (the routing ones
:class:`tui.core.engine.RouteDetector`: the engine tells them of each event as it applies it,
see :mod:`tui.core.detectors.base`). All of them take time only from events and from the
``now`` the engine passes (its injected clock), read the routes from the engine's one table,
and keep their own memory JSON-serialisable for journal checkpoints, so a replay raises
exactly the findings the live run did.

Finding kinds, by module:

=====================  ==========================================================  ===========
module                 kinds                                                       severity
=====================  ==========================================================  ===========
visibility             ``visibility`` (below warn / critical share), ``outage``    warn/crit
flapping               ``flapping``                                                warning
origin                 ``origin_change``, ``moas``                                 warn/crit
morespecific           ``subprefix_hijack``, ``more_specific``                     crit / info
upstream               ``upstream_change``                                         warning
rpki                   ``rpki_invalid`` (only with a VRP file)                     crit/warn
dns                    ``dns_server_failing``, ``dns_zone_down``,                  warn/crit
                       ``dns_serial_mismatch``, ``dns_ns_mismatch``
dns_latency            ``dns_latency``                                             warning
feeds                  ``feed_down``, ``feed_silent``                              warning
=====================  ==========================================================  ===========
"""

from __future__ import annotations

from tui.core.detectors.base import DetectorSettings, FindingBook, RoutingDetector, TableView
from tui.core.detectors.dns import DnsMonitor
from tui.core.detectors.dns_latency import DnsLatencyDetector
from tui.core.detectors.feeds import FeedHealthDetector
from tui.core.detectors.flapping import FlapDetector
from tui.core.detectors.morespecific import MoreSpecificDetector
from tui.core.detectors.origin import OriginDetector
from tui.core.detectors.rpki import RpkiDetector
from tui.core.detectors.upstream import UpstreamDetector
from tui.core.detectors.visibility import VisibilityDetector
from tui.core.engine import Detector
from tui.core.rpki import VrpSet
from tui.core.watchlist import Watchlist

__all__ = [
    "DetectorSettings",
    "FindingBook",
    "RoutingDetector",
    "TableView",
    "VisibilityDetector",
    "FlapDetector",
    "OriginDetector",
    "MoreSpecificDetector",
    "UpstreamDetector",
    "RpkiDetector",
    "DnsLatencyDetector",
    "FeedHealthDetector",
    "DnsMonitor",
    "default_detectors",
]


def default_detectors(
    watchlist: Watchlist, settings: DetectorSettings | None = None, vrps: VrpSet | None = None
) -> list[Detector]:
    """Every detector, in a fixed order (the order findings of one batch come out in).

    Per-watch limits come from the watchlist (``[watch.thresholds]``); ``settings`` holds the
    global ones; RPKI validation runs only when ``vrps`` is given (``[rpki] vrp_file``).
    """
    settings = settings or DetectorSettings()
    detectors: list[Detector] = [
        VisibilityDetector(watchlist, settings),
        FlapDetector(watchlist, settings),
        OriginDetector(watchlist, settings),
        MoreSpecificDetector(watchlist, settings),
        UpstreamDetector(watchlist, settings),
    ]
    if vrps is not None:
        detectors.append(RpkiDetector(watchlist, vrps, settings))
    detectors += [DnsMonitor(), DnsLatencyDetector(watchlist, settings), FeedHealthDetector(settings)]
    return detectors
