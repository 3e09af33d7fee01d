"""RIPEstat Data API: the initial state at start, and the expansion of watched ASNs and countries.

Pure parsers (``parse_*``) turn one endpoint's ``data`` member into values or events and raise
:class:`RipestatError`; :class:`RipestatClient` is the I/O shell (httpx with an injectable
transport, ``sourceapp`` on every call, retries with backoff honouring ``Retry-After``, and an
on-disk cache); :func:`bootstrap` runs the calls a watchlist needs and returns the events.

A RIPEstat outage never empties a watchlist: every response is cached on disk with its fetch
time, and when a call fails for good the cached response is used and the feed says so (a
``stale`` :class:`FeedStatus` naming the cache age). Without a cache, the configured prefixes
stay watched and ASNs still match by origin; only the expansion is missing, and that is said.

Endpoints used (SPECS.md B.2): ``ris-full-table-threshold`` + ``ris-peers`` (the full-feed peer
set), ``announced-prefixes`` (ASN expansion), ``country-resource-list`` with
``v4_format=prefix`` (country expansion), ``bgp-state`` (per-peer routes; ``looking-glass`` as
a fallback), ``routing-status`` (a baseline to compare against).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import httpx

from tui.config import default_cache_dir
from tui.core.aspath import ASPath, ASPathError, parse_path, path_from_json
from tui.core.clock import Clock, SystemClock, format_duration
from tui.core.events import (
    Event,
    FeedStatus,
    FullFeedPeers,
    PeerKey,
    RecordRejected,
    RouteAnnounced,
    RouteSnapshot,
    WatchExpanded,
)
from tui.core.prefixes import Prefix, PrefixError
from tui.core.watchlist import Watchlist
from tui.feeds.http import (
    USER_AGENT,
    DiskCache,
    FeedError,
    HttpFeedError,
    RetryPolicy,
    Sleep,
    get_with_retries,
    safe_url,
)
from tui.feeds.ris_messages import excerpt

__all__ = [
    "RipestatError",
    "RipestatClient",
    "RipestatResult",
    "Baseline",
    "BootstrapResult",
    "DEFAULT_TTL",
    "bootstrap",
    "fetch_routes",
    "route_prefixes",
    "refresh_routes",
    "parse_envelope",
    "parse_time",
    "parse_full_table_threshold",
    "parse_ris_peers",
    "parse_announced_prefixes",
    "parse_country_resources",
    "parse_bgp_state",
    "parse_looking_glass",
    "parse_routing_status",
]

FEED = "ripestat"

DEFAULT_TTL: dict[str, float] = {
    # Seconds a cached response is used without asking again. Routes change all the time, so
    # bgp-state is always asked; the rest changes slowly and RIPEstat asks clients to be polite.
    "bgp-state": 0.0,
    "looking-glass": 0.0,
    "routing-status": 300.0,
    "ris-peers": 3600.0,
    "ris-full-table-threshold": 6 * 3600.0,
    "announced-prefixes": 3600.0,
    "country-resource-list": 6 * 3600.0,
}

BGP_STATE_CHUNK = 20
"""Watched prefixes per bgp-state call (the API takes a comma-separated resource list)."""

MAX_BGP_STATE_PREFIXES = 400
"""Watched prefixes whose routes are fetched at start (20 calls): a country can hold thousands."""

MAX_BASELINES = 50
"""routing-status calls at most per start: a baseline is nice to have, not worth a flood."""


class RipestatError(FeedError):
    """A RIPEstat response could not be used (error status, missing or malformed ``data``)."""


# -- pure parsers ---------------------------------------------------------------------------------


def parse_envelope(body: object, endpoint: str = "") -> dict[str, Any]:
    """The ``data`` member of a RIPEstat response; raises :class:`RipestatError` on an error status."""
    where = f"RIPEstat {endpoint}".strip()
    if not isinstance(body, dict):
        raise RipestatError(f"{where}: response is not a JSON object")
    status = body.get("status")
    if status not in (None, "ok", "supported"):
        texts = [
            str(m[1]) for m in body.get("messages") or () if isinstance(m, list | tuple) and len(m) > 1
        ]
        reason = "; ".join(texts) or f"status {status!r}"
        raise RipestatError(f"{where}: {excerpt(reason, 300)}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise RipestatError(f"{where}: response has no data object")
    return data


def parse_time(value: object) -> float:
    """RIPEstat time (ISO 8601 without zone, meaning UTC, or epoch seconds) as UTC seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        raise RipestatError(f"not a time: {excerpt(repr(value), 40)}")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RipestatError(f"not a time: {excerpt(value, 40)}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _collector(name: object) -> str:
    """``"RRC00"``, ``"00"``, ``"rrc00.ripe.net"`` -> ``"rrc00"``."""
    if isinstance(name, int) and not isinstance(name, bool):
        return f"rrc{name:02d}"
    if not isinstance(name, str) or not name.strip():
        raise RipestatError(f"not a collector name: {excerpt(repr(name), 40)}")
    text = name.strip().lower().removesuffix(".ripe.net")
    if text.isdigit():
        return f"rrc{int(text):02d}"
    return text


def _ip(value: object) -> str:
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        raise RipestatError(f"not an IP address: {excerpt(repr(value), 60)}") from None


def _asn(value: object) -> int:
    text = str(value).strip().upper().removeprefix("AS")
    if isinstance(value, bool) or not text.isdigit() or int(text) > 0xFFFFFFFF:
        raise RipestatError(f"not an ASN: {excerpt(repr(value), 40)}")
    return int(text)


def parse_full_table_threshold(data: Mapping[str, Any]) -> tuple[int, int]:
    """(v4, v6) prefix counts from which RIS counts a peer as full-feed."""
    try:
        return int(data["v4"]), int(data["v6"])
    except (KeyError, TypeError, ValueError):
        # The older ris-peer-count endpoint carries the same numbers under other names.
        try:
            return int(data["v4_full_prefix_threshold"]), int(data["v6_full_prefix_threshold"])
        except (KeyError, TypeError, ValueError):
            raise RipestatError("ris-full-table-threshold: no v4/v6 thresholds in data") from None


def parse_ris_peers(
    data: Mapping[str, Any], v4_threshold: int, v6_threshold: int, *, version: int | None = None
) -> tuple[tuple[PeerKey, ...], dict[tuple[str, str], int]]:
    """Full-feed peers (by the thresholds) and every peer's ASN keyed by (collector, ip).

    With ``version`` only that family's count and threshold decide.
    """
    peers = data.get("peers")
    if not isinstance(peers, dict):
        raise RipestatError("ris-peers: data has no peers object")
    full: list[PeerKey] = []
    asns: dict[tuple[str, str], int] = {}
    for name, entries in peers.items():
        collector = _collector(name)
        if not isinstance(entries, list):
            raise RipestatError(f"ris-peers: peers of {excerpt(str(name), 20)} is not a list")
        for entry in entries:
            if not isinstance(entry, dict):
                raise RipestatError(f"ris-peers: peer entry is not an object: {excerpt(repr(entry), 60)}")
            key = PeerKey(collector, _ip(entry.get("ip")), _asn(entry.get("asn")))
            asns[(key.collector, key.peer_ip)] = key.peer_asn
            v4 = int(entry.get("v4_prefix_count") or 0)
            v6 = int(entry.get("v6_prefix_count") or 0)
            full4 = version != 6 and v4 >= v4_threshold
            full6 = version != 4 and v6 >= v6_threshold
            if full4 or full6:
                full.append(key)
    return tuple(sorted(full)), asns


def _prefix(text: object, where: str) -> Prefix:
    if not isinstance(text, str):
        raise RipestatError(f"{where}: prefix is not a string: {excerpt(repr(text), 40)}")
    try:
        return Prefix.parse(text)
    except PrefixError:
        raise RipestatError(f"{where}: not an IP prefix: {excerpt(text, 60)}") from None


def parse_announced_prefixes(data: Mapping[str, Any]) -> list[Prefix]:
    """The prefixes an ASN announced in the queried window, sorted."""
    items = data.get("prefixes")
    if not isinstance(items, list):
        raise RipestatError("announced-prefixes: data has no prefixes list")
    found = {_prefix(item.get("prefix") if isinstance(item, dict) else item, "announced-prefixes") for item in items}
    return sorted(found, key=Prefix.sort_key)


def parse_country_resources(data: Mapping[str, Any]) -> list[Prefix]:
    """IPv4 and IPv6 prefixes of a country; address ranges (``a-b``) are split into prefixes."""
    resources = data.get("resources")
    if not isinstance(resources, dict):
        raise RipestatError("country-resource-list: data has no resources object")
    found: set[Prefix] = set()
    for family in ("ipv4", "ipv6"):
        for text in resources.get(family) or ():
            if isinstance(text, str) and "-" in text:
                # Without v4_format=prefix (or from an older server) IPv4 comes as ranges.
                first, _, last = text.partition("-")
                try:
                    nets = ipaddress.summarize_address_range(
                        ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
                    )
                    found.update(Prefix.parse(str(net)) for net in nets)
                except (ValueError, TypeError):
                    raise RipestatError(f"country-resource-list: bad range {excerpt(text, 60)}") from None
            else:
                found.add(_prefix(text, "country-resource-list"))
    return sorted(found, key=Prefix.sort_key)


def _split_source_id(source_id: object) -> tuple[str, str]:
    """``"00-111.91.233.1"`` -> (``"rrc00"``, ``"111.91.233.1"``)."""
    if not isinstance(source_id, str) or "-" not in source_id:
        raise RipestatError(f"bgp-state: source_id is not '<rrc>-<peer ip>': {excerpt(repr(source_id), 60)}")
    rrc, _, peer = source_id.partition("-")
    return _collector(rrc), _ip(peer)


def _communities(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, list | tuple) and len(item) == 2:
                out.append(f"{item[0]}:{item[1]}")
            else:
                out.append(str(item))
        return tuple(out)
    raise RipestatError(f"community is neither a list nor text: {excerpt(repr(value), 60)}")


def _peer_asn(collector: str, peer_ip: str, path: ASPath, asns: Mapping[tuple[str, str], int]) -> int:
    known = asns.get((collector, peer_ip))
    if known is not None:
        return known
    # Without ris-peers, the neighbour's ASN is the first on the path (RIS peers are eBGP).
    if path and isinstance(path[0], int):
        return path[0]
    raise RipestatError(f"no ASN known for peer {peer_ip} at {collector} and its path is empty")


def parse_bgp_state(
    data: Mapping[str, Any],
    asns: Mapping[tuple[str, str], int] = {},
    *,
    source: str = FEED,
    location: str = "bgp-state",
) -> list[Event]:
    """One :class:`RouteAnnounced` per (peer, prefix) of a bgp-state answer.

    A bad entry becomes a :class:`RecordRejected` (the rest is still used); a bad envelope
    raises :class:`RipestatError`.
    """
    entries = data.get("bgp_state")
    if not isinstance(entries, list):
        raise RipestatError("bgp-state: data has no bgp_state list")
    ts = parse_time(data.get("query_time")) if data.get("query_time") else 0.0
    events: list[Event] = []
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise RipestatError("entry is not an object")
            collector, peer_ip = _split_source_id(entry.get("source_id"))
            raw_path = entry.get("path") or []
            if not isinstance(raw_path, list):
                raise RipestatError("path is not a list")
            path = path_from_json(raw_path)
            prefix = _prefix(entry.get("target_prefix"), "bgp-state")
            peer_asn = _peer_asn(collector, peer_ip, path, asns)
            events.append(
                RouteAnnounced(ts, collector, peer_ip, peer_asn, prefix, path, "", _communities(entry.get("community")), source)
            )
        except (RipestatError, ASPathError) as exc:
            events.append(RecordRejected(ts, FEED, f"{location}[{index}]", str(exc), excerpt(repr(entry))))
    return events


def parse_looking_glass(
    data: Mapping[str, Any],
    asns: Mapping[tuple[str, str], int] = {},
    *,
    source: str = FEED,
    location: str = "looking-glass",
) -> list[Event]:
    """Routes from a looking-glass answer, current (``rrcs`` list) or 2017 (``rrcs`` dict) shape."""
    rrcs = data.get("rrcs")
    ts = parse_time(data.get("query_time")) if data.get("query_time") else 0.0
    rows: list[tuple[str, dict[str, Any], str]] = []
    if isinstance(rrcs, list):
        for rrc in rrcs:
            if not isinstance(rrc, dict):
                raise RipestatError("looking-glass: rrcs entry is not an object")
            for peer in rrc.get("peers") or ():
                rows.append((rrc.get("rrc", ""), peer, peer.get("prefix", "") if isinstance(peer, dict) else ""))
    elif isinstance(rrcs, dict):
        for name, rrc in rrcs.items():
            if not isinstance(rrc, dict):
                raise RipestatError("looking-glass: rrcs entry is not an object")
            for entry in rrc.get("entries") or ():
                rows.append((name, entry, rrc.get("prefix", "")))
    else:
        raise RipestatError("looking-glass: data has no rrcs")
    events: list[Event] = []
    for index, (rrc, row, prefix_text) in enumerate(rows):
        try:
            if not isinstance(row, dict):
                raise RipestatError("entry is not an object")
            collector = _collector(rrc)
            peer_ip = _ip(row.get("peer") or row.get("update_from"))
            path_value = row.get("as_path", "")
            path = path_from_json(path_value) if isinstance(path_value, list) else parse_path(str(path_value))
            prefix = _prefix(prefix_text or data.get("resource"), "looking-glass")
            peer_asn = _peer_asn(collector, peer_ip, path, asns)
            next_hop = str(row.get("next_hop") or "")
            events.append(
                RouteAnnounced(
                    ts, collector, peer_ip, peer_asn, prefix, path, next_hop, _communities(row.get("community")), source
                )
            )
        except (RipestatError, ASPathError) as exc:
            events.append(RecordRejected(ts, FEED, f"{location}[{index}]", str(exc), excerpt(repr(row))))
    return events


@dataclass(frozen=True, slots=True)
class Baseline:
    """What RIPEstat's routing-status says about a resource: a yardstick for our own numbers."""

    resource: str
    query_time: float
    v4_seeing: int | None = None
    v4_total: int | None = None
    v6_seeing: int | None = None
    v6_total: int | None = None
    origins: tuple[int, ...] = ()
    announced_v4_prefixes: int | None = None
    announced_v6_prefixes: int | None = None

    def summary(self) -> str:
        """One plain-text line, e.g. ``"AS3333: seen by 158/158 v4, 159/160 v6 RIS peers"``."""
        parts = []
        if self.v4_total:
            parts.append(f"{self.v4_seeing}/{self.v4_total} v4")
        if self.v6_total:
            parts.append(f"{self.v6_seeing}/{self.v6_total} v6")
        seen = f"seen by {', '.join(parts)} RIS peers" if parts else "no visibility data"
        extra = f", origin {','.join(f'AS{a}' for a in self.origins)}" if self.origins else ""
        return f"{self.resource}: {seen}{extra}"


def parse_routing_status(data: Mapping[str, Any], resource: str = "") -> Baseline:
    """A :class:`Baseline` from a routing-status answer (prefix or ASN)."""
    vis = data.get("visibility") or {}
    if not isinstance(vis, dict):
        raise RipestatError("routing-status: visibility is not an object")

    def pair(family: str) -> tuple[int | None, int | None]:
        item = vis.get(family) or {}
        if not isinstance(item, dict):
            return None, None
        seeing, total = item.get("ris_peers_seeing"), item.get("total_ris_peers")
        return (int(seeing) if seeing is not None else None, int(total) if total is not None else None)

    v4, v6 = pair("v4"), pair("v6")
    origins: list[int] = []
    for item in data.get("origins") or ():
        if isinstance(item, dict) and item.get("origin") is not None:
            try:
                origins.append(_asn(item["origin"]))
            except RipestatError:
                continue
    space = data.get("announced_space") or {}
    name = resource or str(data.get("resource", ""))
    if name.isdigit():
        name = f"AS{name}"
    return Baseline(
        resource=name,
        query_time=parse_time(data["query_time"]) if data.get("query_time") else 0.0,
        v4_seeing=v4[0],
        v4_total=v4[1],
        v6_seeing=v6[0],
        v6_total=v6[1],
        origins=tuple(origins),
        announced_v4_prefixes=(space.get("v4") or {}).get("prefixes") if isinstance(space, dict) else None,
        announced_v6_prefixes=(space.get("v6") or {}).get("prefixes") if isinstance(space, dict) else None,
    )


# -- the I/O shell ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RipestatResult:
    """One endpoint's ``data``, and whether it came from the cache because RIPEstat failed."""

    endpoint: str
    data: dict[str, Any]
    fetched: float
    stale: bool = False
    """True when the live call failed and this is the last good answer from the cache."""
    problem: str = ""
    """Why the live call failed (when ``stale``)."""


class RipestatClient:
    """Calls RIPEstat politely: sourceapp, User-Agent, retries with backoff, disk cache."""

    def __init__(
        self,
        base_url: str = "https://stat.ripe.net/data/",
        *,
        sourceapp: str = "watchfloor",
        cache_dir: str | PathLike[str] | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        policy: RetryPolicy = RetryPolicy(),
        ttl: Mapping[str, float] | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        if cache_dir is None:
            cache_dir = default_cache_dir() / "ripestat"
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.sourceapp = sourceapp
        self.cache = DiskCache(Path(cache_dir))
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.rand = rand
        self.policy = policy
        self.ttl = dict(DEFAULT_TTL if ttl is None else ttl)
        self.on_retry = on_retry
        self.calls = 0
        """Requests actually sent (retries included): what the cache saved is visible in tests."""
        self._client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=True,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    async def __aenter__(self) -> RipestatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def url(self, endpoint: str) -> str:
        """The data URL of ``endpoint``."""
        return f"{self.base_url}{endpoint}/data.json"

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> RipestatResult:
        """``data`` of ``endpoint`` for ``params``: fresh, from a young cache, or stale on failure.

        Raises :class:`RipestatError` / :class:`HttpFeedError` only when the call failed and
        nothing is cached.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        key = DiskCache.key(endpoint, query)
        now = self.clock.now()
        cached = self.cache.get(key)
        if cached is not None and cached.age(now) < self.ttl.get(endpoint, 0.0):
            try:
                return RipestatResult(endpoint, parse_envelope(cached.body, endpoint), cached.fetched)
            except RipestatError:
                cached = None
        try:
            body = await self._fetch(endpoint, query)
            data = parse_envelope(body, endpoint)
        except FeedError as exc:
            if cached is None:
                raise
            try:
                data = parse_envelope(cached.body, endpoint)
            except RipestatError:
                raise exc from None
            return RipestatResult(endpoint, data, cached.fetched, stale=True, problem=str(exc))
        self.cache.put(key, body, now)
        return RipestatResult(endpoint, data, now)

    async def _fetch(self, endpoint: str, query: Mapping[str, Any]) -> Any:
        url = self.url(endpoint)

        def counted_retry(message: str) -> None:
            if self.on_retry is not None:
                self.on_retry(message)

        self.calls += 1
        response = await get_with_retries(
            self._client,
            url,
            params={**query, "sourceapp": self.sourceapp},
            policy=self.policy,
            sleep=self._counting_sleep,
            rand=self.rand,
            now=self.clock.now,
            on_retry=counted_retry,
        )
        if response.status_code != 200:
            # RIPEstat puts its reason in the JSON messages even on 4xx; show it when present.
            reason = ""
            try:
                parse_envelope(response.json(), endpoint)
            except RipestatError as exc:
                reason = str(exc)
            except ValueError:
                pass
            raise HttpFeedError(
                f"{safe_url(url)}: HTTP {response.status_code} {response.reason_phrase}"
                + (f" ({reason})" if reason else ""),
                response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise RipestatError(f"{safe_url(url)}: response is not JSON: {excerpt(response.text, 80)}") from None

    async def _counting_sleep(self, seconds: float) -> None:
        self.calls += 1  # the retry that follows the sleep is one more request
        await self.sleep(seconds)


# -- the bootstrap --------------------------------------------------------------------------------


@dataclass
class BootstrapResult:
    """What the start-up calls produced.

    :func:`bootstrap` fills it in place as the answers arrive, so a caller that stops waiting
    (``snapshot --live`` bounds the wait) keeps what came and can say what did not.
    """

    events: list[Event] = field(default_factory=list)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    expanded: dict[str, list[Prefix]] = field(default_factory=dict)
    """reason (``"AS131279"``, ``"country KP"``) -> prefixes added to the watchlist."""
    problems: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    """Plain-text notes about cached answers used in place of failed calls."""
    peer_asns: dict[tuple[str, str], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Other things worth saying (limits applied)."""
    stage: str = "not started"
    """What was being asked last: ``"full-feed peer list"``, ``"prefixes of AS3333"``, ..., ``"done"``."""
    full_feed: bool = False
    """True once the full-feed peer sets (:class:`FullFeedPeers`) are among the events."""
    routes_answered: list[Prefix] = field(default_factory=list)
    """Watched prefixes whose current routes RIPEstat answered for (their routes are in the events)."""


def _chunks(items: Sequence[Prefix], size: int) -> Iterable[Sequence[Prefix]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def route_prefixes(watchlist: Watchlist) -> tuple[list[Prefix], int]:
    """The watched prefixes whose routes are asked for, and how many more were left out.

    Configured ones first, then ASN expansions, then countries, up to a polite limit.
    """
    rank = {"configured": 0}
    ordered: dict[Prefix, int] = {}
    for entry in watchlist.entries():
        level = rank.get(entry.reason, 1 if entry.reason.startswith("AS") else 2)
        ordered[entry.prefix] = min(level, ordered.get(entry.prefix, level))
    watched = sorted(ordered, key=lambda p: (ordered[p], p.sort_key()))
    return watched[:MAX_BGP_STATE_PREFIXES], max(0, len(watched) - MAX_BGP_STATE_PREFIXES)


Caller = Callable[[str, Mapping[str, Any], str], Awaitable["RipestatResult | None"]]
"""``call(endpoint, params, what)``: an answer, or None after recording why there is none."""


async def fetch_routes(
    call: Caller,
    prefixes: Sequence[Prefix],
    peer_asns: Mapping[tuple[str, str], int],
    *,
    route_source: str,
    problems: list[str],
    events: list[Event] | None = None,
    answered: list[Prefix] | None = None,
) -> tuple[list[Event], list[Prefix]]:
    """Per-peer routes of ``prefixes`` (and rejected entries), and the prefixes that were answered.

    bgp-state in chunks; for a chunk it cannot answer, the looking glass prefix by prefix. A
    prefix is *answered* when a call about it returned a readable answer: only for those may
    a missing route be taken as withdrawn (:class:`~tui.core.events.RouteSnapshot`). Given
    ``events`` and ``answered``, they are filled in place, an answer at a time (each answer's
    routes together with its prefixes), so what arrived survives a cancellation.
    """
    events = [] if events is None else events
    answered = [] if answered is None else answered
    for chunk in _chunks(prefixes, BGP_STATE_CHUNK):
        resource = ",".join(str(p) for p in chunk)
        answer = await call("bgp-state", {"resource": resource}, f"routes of {len(chunk)} prefixes")
        if answer is not None:
            try:
                events.extend(parse_bgp_state(answer.data, peer_asns, source=route_source))
                answered.extend(chunk)
                continue
            except RipestatError as exc:
                problems.append(str(exc))
        for prefix in chunk:
            # bgp-state failed for this chunk: the looking glass knows the current routes too.
            lg = await call("looking-glass", {"resource": str(prefix)}, f"looking glass for {prefix}")
            if lg is None:
                continue
            try:
                events.extend(parse_looking_glass(lg.data, peer_asns, source=route_source))
                answered.append(prefix)
            except RipestatError as exc:
                problems.append(str(exc))
    return events, answered


async def bootstrap(
    client: RipestatClient,
    watchlist: Watchlist,
    *,
    route_source: str = FEED,
    feed: str = FEED,
    clock: Clock | None = None,
    result: BootstrapResult | None = None,
) -> BootstrapResult:
    """Run the start-up calls for ``watchlist`` and return the events.

    Watched ASNs and countries are expanded into ``watchlist`` in place (the feed's copy) and
    said as :class:`~tui.core.events.WatchExpanded` events ahead of the routes of the new
    prefixes, so the engine's watchlist (and a replay's) grows the same way.

    ``route_source`` is stamped on the routes: pass the live feed's name (``"ris-live"``) so the
    sessions these routes belong to go *unknown* when that live feed drops, like their updates.
    Pass ``result`` to have it filled as the answers arrive (see :class:`BootstrapResult`).
    """
    clock = clock or client.clock
    result = BootstrapResult() if result is None else result
    events = result.events
    events.append(FeedStatus(clock.now(), feed, "connecting", f"asking {safe_url(client.base_url)}"))

    async def call(endpoint: str, params: Mapping[str, Any], what: str) -> RipestatResult | None:
        try:
            answer = await client.call(endpoint, params)
        except FeedError as exc:
            result.problems.append(f"{what}: {exc}")
            events.append(FeedStatus(clock.now(), feed, "error", f"{what}: {exc}"))
            return None
        if answer.stale:
            age = format_duration(clock.now() - answer.fetched)
            note = f"{what}: RIPEstat failed ({answer.problem}); using the cached answer from {age} ago"
            result.stale.append(note)
            events.append(FeedStatus(clock.now(), feed, "stale", note))
        return answer

    # 1. Who carries a full table: the denominator of visibility.
    result.stage = "full-feed peer list"
    v4_threshold, v6_threshold = 0, 0
    answer = await call("ris-full-table-threshold", {}, "full-table threshold")
    if answer is not None:
        try:
            v4_threshold, v6_threshold = parse_full_table_threshold(answer.data)
        except RipestatError as exc:
            result.problems.append(str(exc))
    answer = await call("ris-peers", {}, "RIS peer list")
    if answer is not None and v4_threshold and v6_threshold:
        try:
            full4, result.peer_asns = parse_ris_peers(answer.data, v4_threshold, 0, version=4)
            full6, _ = parse_ris_peers(answer.data, 0, v6_threshold, version=6)
            when = parse_time(answer.data["query_time"]) if answer.data.get("query_time") else answer.fetched
            events.append(FullFeedPeers(when, full4, f"ripestat ris-peers (>= {v4_threshold} IPv4 prefixes)", feed, 4))
            events.append(FullFeedPeers(when, full6, f"ripestat ris-peers (>= {v6_threshold} IPv6 prefixes)", feed, 6))
            result.full_feed = True
        except RipestatError as exc:
            result.problems.append(str(exc))
            events.append(FeedStatus(clock.now(), feed, "error", str(exc)))

    # 2. Expand watched ASNs and countries into prefixes.
    async def expand(endpoint: str, params: Mapping[str, Any], what: str, parse: Callable[[Mapping[str, Any]], list[Prefix]],
                     reason: str, names: list[str]) -> None:
        result.stage = what
        answer = await call(endpoint, params, what)
        if answer is None:
            return
        try:
            prefixes = parse(answer.data)
        except RipestatError as exc:
            result.problems.append(str(exc))
            return
        for name in names:
            # The feed's own watchlist, to ask for these prefixes' routes below; the engine
            # learns of them from the event, which the journal keeps for replays.
            watchlist.expand(name, prefixes, reason)
            events.append(WatchExpanded(clock.now(), name, tuple(prefixes), reason, feed))
        result.expanded[reason] = prefixes

    for asn, names in sorted(watchlist.watched_asns().items()):
        await expand("announced-prefixes", {"resource": f"AS{asn}"}, f"prefixes of AS{asn}",
                     parse_announced_prefixes, f"AS{asn}", names)
    countries: dict[str, list[str]] = {}
    for watch in watchlist.watches.values():
        for cc in watch.countries:
            countries.setdefault(cc.upper(), []).append(watch.name)
    for cc, names in sorted(countries.items()):
        await expand("country-resource-list", {"resource": cc.lower(), "v4_format": "prefix"}, f"address space of {cc}",
                     parse_country_resources, f"country {cc}", names)

    # 3. The current routes of the watched prefixes, per peer (RIS Live fills in the rest as
    # routes change).
    result.stage = "routes of the watched prefixes"
    watched, skipped = route_prefixes(watchlist)
    if skipped:
        note = (f"initial routes fetched for the first {MAX_BGP_STATE_PREFIXES} watched prefixes only; "
                f"{skipped} more (country expansions) fill in as RIS Live reports them")
        result.notes.append(note)
        events.append(FeedStatus(clock.now(), feed, "up", note))
    await fetch_routes(call, watched, result.peer_asns, route_source=route_source, problems=result.problems,
                       events=events, answered=result.routes_answered)

    # 4. RIPEstat's own view, to compare against ours.
    result.stage = "routing status (baselines)"
    configured = [e.prefix for e in watchlist.entries() if e.reason == "configured"]
    resources = [f"AS{asn}" for asn in sorted(watchlist.watched_asns())] + [str(p) for p in configured]
    for resource in resources[:MAX_BASELINES]:
        answer = await call("routing-status", {"resource": resource}, f"routing status of {resource}")
        if answer is None:
            continue
        try:
            result.baselines[resource] = parse_routing_status(answer.data, resource)
        except (RipestatError, ValueError, TypeError) as exc:
            result.problems.append(f"routing-status {resource}: {exc}")

    routes = sum(isinstance(e, RouteAnnounced) for e in events)
    summary = (
        f"{routes} routes for {len(watched)} watched prefixes"
        + "".join(f"; {reason}: {len(p)} prefixes" for reason, p in result.expanded.items())
    )
    if result.problems:
        state, detail = "error", f"{summary}; {len(result.problems)} call(s) failed: {result.problems[0]}"
    elif result.stale:
        state, detail = "stale", f"{summary}; {len(result.stale)} answer(s) from cache"
    else:
        state, detail = "up", summary
    events.append(FeedStatus(clock.now(), feed, state, detail))
    result.stage = "done"
    return result


@dataclass(slots=True)
class RouteRefresh:
    """What :func:`refresh_routes` found: a snapshot of the answered prefixes, and what failed."""

    snapshot: RouteSnapshot | None
    asked: int
    problems: list[str] = field(default_factory=list)
    rejected: list[RecordRejected] = field(default_factory=list)


async def refresh_routes(
    client: RipestatClient,
    watchlist: Watchlist,
    peer_asns: Mapping[tuple[str, str], int],
    *,
    route_source: str,
    clock: Clock | None = None,
) -> RouteRefresh:
    """Re-read the watched routes after a feed gap, as a :class:`RouteSnapshot` of ``route_source``.

    Only live answers count: a cached one is older than the gap, and taking it as the truth
    would bring back routes withdrawn since. Prefixes nobody answered for are left out of the
    snapshot's scope, so their routes stay as they were rather than being withdrawn.
    """
    clock = clock or client.clock
    problems: list[str] = []

    async def call(endpoint: str, params: Mapping[str, Any], what: str) -> RipestatResult | None:
        try:
            answer = await client.call(endpoint, params)
        except FeedError as exc:
            problems.append(f"{what}: {exc}")
            return None
        if answer.stale:
            problems.append(f"{what}: RIPEstat failed ({answer.problem}); a cached answer cannot refresh routes")
            return None
        return answer

    prefixes, _skipped = route_prefixes(watchlist)
    found, answered = await fetch_routes(call, prefixes, peer_asns, route_source=route_source, problems=problems)
    routes = tuple(e for e in found if isinstance(e, RouteAnnounced))
    rejected = [e for e in found if isinstance(e, RecordRejected)]
    snapshot = None
    if answered:
        snapshot = RouteSnapshot(clock.now(), route_source, tuple(answered), routes, "RIPEstat")
    return RouteRefresh(snapshot, len(prefixes), problems, rejected)
