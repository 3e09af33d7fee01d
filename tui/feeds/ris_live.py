"""RIS Live: the pure message parser, capture reader, and the websocket client.

The parser turns one RIS Live envelope (``{"type": ..., "data": {...}}``, SPECS.md A.2-A.6) into
core events. It is pure: no I/O, no clock. What each message becomes:

==================================  =========================================================
``ris_message`` UPDATE              one :class:`RouteWithdrawn` per withdrawn prefix, then one
                                    :class:`RouteAnnounced` per announced prefix. An IPv6
                                    prefix listed under a global and a link-local (``fe80::``)
                                    next hop gives ONE announcement, with the global next hop.
                                    An UPDATE with neither (End-of-RIB) gives a :class:`PeerSeen`.
``ris_message`` RIS_PEER_STATE      :class:`PeerStateChanged`: ``connected`` -> ESTABLISHED,
                                    ``down`` -> IDLE (old state ``UNKNOWN``: RIS does not say).
``ris_message`` KEEPALIVE           :class:`PeerSeen` (keepalives flow only on a live session).
``ris_message`` OPEN, NOTIFICATION  nothing: an OPEN does not yet mean Established, and a
                                    NOTIFICATION is followed by RIS_PEER_STATE ``down``, which is
                                    what changes the session's state.
``ris_error``                       :class:`FeedStatus` with state ``"error"`` and the server's
                                    text as detail. Chosen over :class:`RecordRejected` because
                                    it is the server speaking about the feed (a refused
                                    subscription, a client too slow), not a record we failed to
                                    read; ``"error"`` does not mark any peer unknown (only
                                    ``down``/``gap`` do), and the engine logs it as a warning.
``pong``, ``ris_subscribe_ok``,     nothing (protocol chatter).
``ris_rrc_list``
==================================  =========================================================

Everything else (not JSON, not an envelope, a field of the wrong type, an unknown message type,
a prefix or ASN that does not parse) raises :class:`RisLiveParseError` with the reason. Callers
turn that into a :class:`RecordRejected`: counted and reported, never fatal.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tui.core.aspath import ASPath, ASPathError, path_from_json
from tui.core.clock import Clock, SystemClock
from tui.core.events import (
    ESTABLISHED,
    Event,
    FeedStatus,
    PeerSeen,
    PeerStateChanged,
    RecordRejected,
    RouteAnnounced,
    RouteWithdrawn,
)
from tui.core.prefixes import Prefix, PrefixError
from tui.core.watchlist import Watchlist
from tui.feeds.http import USER_AGENT, Backoff

__all__ = [
    "RisLiveParseError",
    "parse_message",
    "read_capture",
    "excerpt",
    "normalise_host",
    "build_subscriptions",
    "with_client_id",
    "RisLiveClient",
    "RisLiveStats",
]

DEFAULT_SOURCE = "ris-live"
CAPTURE_SOURCE = "ris-live-capture"

_PEER_STATES = {
    "connected": ESTABLISHED,
    "established": ESTABLISHED,
    "up": ESTABLISHED,
    "down": "IDLE",
    "idle": "IDLE",
}
_SILENT_TYPES = frozenset({"pong", "ris_subscribe_ok", "ris_rrc_list"})
_MAX_ASN = 0xFFFFFFFF


class RisLiveParseError(ValueError):
    """A RIS Live message could not be read; the message says what was wrong."""


def excerpt(text: str | bytes, limit: int = 160) -> str:
    """A short, terminal-safe excerpt of untrusted input (control characters escaped)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    short = text[:limit]
    safe = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in short)
    return safe + ("…" if len(text) > limit else "")


def normalise_host(host: object) -> str:
    """``"rrc00.ripe.net"`` -> ``"rrc00"``; raises :class:`RisLiveParseError` on a non-string."""
    if not isinstance(host, str) or not host.strip():
        raise RisLiveParseError(f"host must be a collector name, got {excerpt(repr(host), 40)}")
    name = host.strip().lower()
    if name.endswith(".ripe.net"):
        name = name[: -len(".ripe.net")]
    return name


@lru_cache(maxsize=65536)
def _prefix(text: str) -> Prefix:
    # Prefixes repeat a lot in a stream; parsing each once is the cheap path.
    return Prefix.parse(text)


@lru_cache(maxsize=8192)
def _address(text: str) -> str:
    return ipaddress.ip_address(text).compressed


def _peer_address(value: object, what: str = "peer") -> str:
    if not isinstance(value, str):
        raise RisLiveParseError(f"{what} must be an IP address string, got {excerpt(repr(value), 40)}")
    try:
        return _address(value.strip())
    except ValueError:
        raise RisLiveParseError(f"{what} is not an IP address: {excerpt(value, 60)}") from None


def _asn(value: object, what: str) -> int:
    # peer_asn arrives as a string ("11708"); be lenient about an int, strict about the range.
    if isinstance(value, bool):
        raise RisLiveParseError(f"{what} must be an ASN, got {value!r}")
    if isinstance(value, str):
        text = value.strip().upper().removeprefix("AS")
        if not text.isdigit():
            raise RisLiveParseError(f"{what} is not an ASN: {excerpt(value, 40)}")
        asn = int(text)
    elif isinstance(value, int):
        asn = value
    else:
        raise RisLiveParseError(f"{what} must be an ASN, got {excerpt(repr(value), 40)}")
    if not 0 <= asn <= _MAX_ASN:
        raise RisLiveParseError(f"{what} out of range: {asn}")
    return asn


def _timestamp(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RisLiveParseError(f"timestamp must be a number, got {excerpt(repr(value), 40)}")
    ts = float(value)
    if not math.isfinite(ts) or ts < 0:
        raise RisLiveParseError(f"timestamp out of range: {value!r}")
    return ts


def _prefix_of(value: object, where: str) -> Prefix:
    if not isinstance(value, str):
        raise RisLiveParseError(f"{where}: prefix must be a string, got {excerpt(repr(value), 40)}")
    try:
        return _prefix(value)
    except PrefixError:
        raise RisLiveParseError(f"{where}: not an IP prefix: {excerpt(value, 60)}") from None


def _communities(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RisLiveParseError(f"community must be a list of [asn, value] pairs, got {excerpt(repr(value), 60)}")
    out = []
    for pair in value:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 0xFFFF for x in pair)
        ):
            raise RisLiveParseError(f"community entry is not an [asn, value] pair of 16-bit ints: {excerpt(repr(pair), 60)}")
        out.append(f"{pair[0]}:{pair[1]}")
    return tuple(out)


def _path(value: object) -> ASPath:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RisLiveParseError(f"path must be a list, got {excerpt(repr(value), 60)}")
    for element in value:
        if isinstance(element, bool) or not isinstance(element, int | list):
            raise RisLiveParseError(f"path element is neither an ASN nor an AS_SET: {excerpt(repr(element), 40)}")
        if isinstance(element, list) and not all(isinstance(x, int) and not isinstance(x, bool) for x in element):
            raise RisLiveParseError(f"AS_SET holds something other than ASNs: {excerpt(repr(element), 60)}")
    try:
        return path_from_json(value)
    except ASPathError as exc:
        raise RisLiveParseError(f"path: {exc}") from None


def _is_link_local(address: str) -> bool:
    return address.lower().startswith("fe80:")


def _best_next_hop(value: object) -> tuple[str, bool]:
    """The next hop to keep from one announcement entry, and whether it is link-local only.

    Some messages carry both addresses in one string (``"2001:db8::1,fe80::1"``).
    """
    if not isinstance(value, str):
        raise RisLiveParseError(f"next_hop must be a string, got {excerpt(repr(value), 40)}")
    hops = [_peer_address(h, "next_hop") for h in value.split(",") if h.strip()]
    if not hops:
        return "", False
    for hop in hops:
        if not _is_link_local(hop):
            return hop, False
    return hops[0], True


def _update(data: dict[str, Any], common: tuple[float, str, str, int], source: str) -> list[Event]:
    ts, collector, peer_ip, peer_asn = common
    events: list[Event] = []
    withdrawals = data.get("withdrawals") or []
    if not isinstance(withdrawals, list):
        raise RisLiveParseError(f"withdrawals must be a list, got {excerpt(repr(withdrawals), 60)}")
    for text in withdrawals:
        prefix = _prefix_of(text, "withdrawals")
        events.append(RouteWithdrawn(ts, collector, peer_ip, peer_asn, prefix, source))
    announcements = data.get("announcements") or []
    if not isinstance(announcements, list):
        raise RisLiveParseError(f"announcements must be a list, got {excerpt(repr(announcements), 60)}")
    # prefix -> (next hop, link-local only). Insertion order keeps the message's prefix order.
    chosen: dict[Prefix, tuple[str, bool]] = {}
    for entry in announcements:
        if not isinstance(entry, dict):
            raise RisLiveParseError(f"announcement must be an object, got {excerpt(repr(entry), 60)}")
        hop = _best_next_hop(entry.get("next_hop", ""))
        prefixes = entry.get("prefixes")
        if not isinstance(prefixes, list):
            raise RisLiveParseError(f"announcement without a prefixes list: {excerpt(repr(entry), 80)}")
        for text in prefixes:
            prefix = _prefix_of(text, "announcements")
            known = chosen.get(prefix)
            # A global next hop wins over a link-local one for the same prefix, whichever came first.
            if known is None or (known[1] and not hop[1]):
                chosen[prefix] = hop
    if chosen:
        path = _path(data.get("path"))
        communities = _communities(data.get("community"))
        for prefix, (next_hop, _) in chosen.items():
            events.append(
                RouteAnnounced(ts, collector, peer_ip, peer_asn, prefix, path, next_hop, communities, source)
            )
    if not events:
        # End-of-RIB or an attribute-only update: still proof that the session is alive.
        events.append(PeerSeen(ts, collector, peer_ip, peer_asn, source))
    return events


def _ris_message(data: object, source: str) -> list[Event]:
    if not isinstance(data, dict):
        raise RisLiveParseError(f"ris_message data must be an object, got {excerpt(repr(data), 60)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise RisLiveParseError("ris_message without a type")
    for key in ("timestamp", "peer", "peer_asn", "host"):
        if key not in data:
            raise RisLiveParseError(f"ris_message {excerpt(kind, 20)} without {key}")
    common = (
        _timestamp(data["timestamp"]),
        normalise_host(data["host"]),
        _peer_address(data["peer"]),
        _asn(data["peer_asn"], "peer_asn"),
    )
    ts, collector, peer_ip, peer_asn = common
    upper = kind.upper()
    if upper == "UPDATE":
        return _update(data, common, source)
    if upper == "RIS_PEER_STATE":
        state = data.get("state")
        new_state = _PEER_STATES.get(state.lower()) if isinstance(state, str) else None
        if new_state is None:
            raise RisLiveParseError(f"RIS_PEER_STATE with unknown state {excerpt(repr(state), 40)}")
        return [PeerStateChanged(ts, collector, peer_ip, peer_asn, "UNKNOWN", new_state, source)]
    if upper == "KEEPALIVE":
        return [PeerSeen(ts, collector, peer_ip, peer_asn, source)]
    if upper in ("OPEN", "NOTIFICATION"):
        return []
    raise RisLiveParseError(f"unknown ris_message type {excerpt(kind, 40)!r}")


def parse_message(
    line: str | bytes | dict[str, Any], *, source: str = DEFAULT_SOURCE, received: float | None = None
) -> list[Event]:
    """Turn one RIS Live envelope into events; raises :class:`RisLiveParseError`.

    ``received`` is the time stamped on events from messages that carry none (``ris_error``);
    without it they get 0.0. ``source`` names the feed on every event (the engine marks that
    feed's peers unknown while it is down).
    """
    if isinstance(line, dict):
        message: object = line
    else:
        try:
            message = json.loads(line)
        except (ValueError, TypeError) as exc:
            # ValueError covers JSONDecodeError and undecodable bytes.
            raise RisLiveParseError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise RisLiveParseError(f"not a RIS Live envelope (a JSON object): {excerpt(repr(message), 60)}")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise RisLiveParseError("envelope without a type")
    data = message.get("data")
    if kind == "ris_message":
        return _ris_message(data, source)
    if kind == "ris_error":
        text = data.get("message") if isinstance(data, dict) else data
        detail = excerpt(str(text) if text is not None else "(no message)", 400)
        return [FeedStatus(received or 0.0, source, "error", f"RIS Live error: {detail}")]
    if kind in _SILENT_TYPES:
        return []
    raise RisLiveParseError(f"unknown message type {excerpt(kind, 40)!r}")


def read_capture(
    path: str | PathLike[str],
    *,
    source: str = CAPTURE_SOURCE,
    batch_size: int = 500,
    opener: Callable[[], IO[bytes]] | None = None,
) -> Iterator[list[Event]]:
    """Read a RIS Live capture (one JSON envelope per line) as batches of events.

    A broken line becomes a :class:`RecordRejected` at ``path:lineno`` and reading goes on;
    blank lines are skipped. Events without a time of their own get the last time seen.
    ``opener`` gives the lines' byte stream when it is not the plain file (a decompressor);
    a stream that ends early (damaged gzip/bzip2) is reported the same way, keeping what was read.
    """
    file = Path(path)
    batch: list[Event] = []
    last_ts = 0.0
    lineno = 0
    try:
        with opener() if opener is not None else file.open("rb") as handle:
            for lineno, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    events = parse_message(raw, source=source, received=last_ts)
                except RisLiveParseError as exc:
                    events = [RecordRejected(last_ts, source, f"{file}:{lineno}", str(exc), excerpt(raw.strip()))]
                for event in events:
                    last_ts = max(last_ts, event.ts)
                batch.extend(events)
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
    except (OSError, EOFError) as exc:
        batch.append(RecordRejected(last_ts, source, f"{file}:{lineno + 1}", f"file ends early: {exc}"))
    if batch:
        yield batch


# -- subscriptions (pure) -------------------------------------------------------------------------


def build_subscriptions(watchlist: Watchlist, beacons: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The ``ris_subscribe`` filters for a watchlist (the ``data`` of each message).

    One per watched prefix (with more- and less-specifics: a sub-prefix hijack and the covering
    routes both matter), one per watched ASN (paths ending in it: new prefixes it originates),
    one per beacon prefix (RIS announces and withdraws them on a schedule: a health canary), and
    one for RIS_PEER_STATE (sessions going down are what turns routes into withdrawals).
    """
    subs: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(sub: dict[str, Any]) -> None:
        key = json.dumps(sub, sort_keys=True)
        if key not in seen:
            seen.add(key)
            subs.append(sub)

    for prefix in watchlist.prefixes():
        add({"type": "UPDATE", "prefix": str(prefix), "moreSpecific": True, "lessSpecific": True})
    for asn in sorted(watchlist.watched_asns()):
        add({"type": "UPDATE", "path": f"{asn}$"})
    for beacon in beacons:
        add({"type": "UPDATE", "prefix": str(Prefix.parse(beacon)), "moreSpecific": True, "lessSpecific": False})
    add({"type": "RIS_PEER_STATE"})
    return subs


def with_client_id(url: str, client_id: str) -> str:
    """``url`` with ``client=<client_id>`` in its query (RIS Live asks every client to say who it is)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "client"]
    if client_id:
        query.append(("client", client_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- the websocket client -------------------------------------------------------------------------


Sink = Callable[[list[Event]], Awaitable[None]]


@dataclass(slots=True)
class RisLiveStats:
    """Counters a status line can show."""

    messages: int = 0
    rejected: int = 0
    errors: int = 0
    batches: int = 0
    connects: int = 0
    gaps: int = 0
    acknowledged: int = 0
    subscriptions: int = 0
    beacon_updates: int = 0
    """Updates for the RIS beacon prefixes: proof that the feed delivers, even when nothing
    watched moves. RIS announces and withdraws them every few hours."""
    last_beacon: float | None = None


class _Idle(Exception):
    """Nothing (not even a pong) arrived for longer than the idle timeout."""


class RisLiveClient:
    """Connects to RIS Live, subscribes for a watchlist, and hands event batches to ``sink``.

    Reconnects with exponential backoff and jitter. Every drop produces a ``down``
    :class:`FeedStatus`; the reconnection an ``up`` one with ``gap_start``/``gap_end``, so the
    engine marks this feed's sessions unknown (never withdrawn) for exactly that time. Messages
    are coalesced: a batch goes out every ``batch_interval`` seconds or ``batch_size`` events.
    """

    def __init__(
        self,
        url: str,
        watchlist: Watchlist,
        sink: Sink,
        *,
        client_id: str = "watchfloor",
        beacons: Iterable[str] = (),
        feed: str = DEFAULT_SOURCE,
        clock: Clock | None = None,
        backoff: Backoff = Backoff(initial=1.0, maximum=60.0),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        ping_interval: float = 30.0,
        idle_timeout: float = 90.0,
        open_timeout: float = 10.0,
        batch_interval: float = 0.1,
        batch_size: int = 500,
    ) -> None:
        self.url = with_client_id(url, client_id)
        self.watchlist = watchlist
        self.sink = sink
        self.beacons = tuple(beacons)
        self._beacon_prefixes = tuple(Prefix.parse(b) for b in self.beacons)
        self.feed = feed
        self.clock = clock or SystemClock()
        self.backoff = backoff
        self.sleep = sleep
        self.rand = rand
        self.ping_interval = ping_interval
        self.idle_timeout = idle_timeout
        self.open_timeout = open_timeout
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self.stats = RisLiveStats()
        self.connected = asyncio.Event()
        """Set while subscribed on a live connection (tests and status lines wait on it)."""
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._closing: asyncio.Future[None] | None = None
        self._ws: Any = None
        self._sent: set[str] = set()
        self._pending: list[Event] = []
        self._last_frame: float | None = None

    @property
    def display_url(self) -> str:
        """The URL without its query, for messages."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(query="", fragment=""))

    def stop(self) -> None:
        """Ask :meth:`run` to finish (it closes the connection and returns)."""
        self._stopping = True
        self._stop_event.set()
        ws = self._ws
        if ws is not None:
            self._closing = asyncio.ensure_future(ws.close())

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()

    async def run(self) -> None:
        """Connect, subscribe, read, reconnect; until :meth:`stop`. Never raises for network trouble."""
        # websockets only when connecting: replaying a capture uses this module's pure parser.
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        attempt = 0
        gap_start: float | None = None
        await self._emit([FeedStatus(self.clock.now(), self.feed, "connecting", self.display_url)])
        while not self._stopping:
            reason = ""
            try:
                async with connect(
                    self.url,
                    open_timeout=self.open_timeout,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_interval,
                    user_agent_header=USER_AGENT,
                    max_queue=1024,
                ) as ws:
                    self._ws = ws
                    self._sent = set()
                    await self.refresh_subscriptions()
                    self.stats.connects += 1
                    now = self.clock.now()
                    self._last_frame = now
                    up = FeedStatus(now, self.feed, "up", f"{self.display_url}: {len(self._sent)} subscriptions",
                                    gap_start, now if gap_start is not None else None)
                    if gap_start is not None:
                        self.stats.gaps += 1
                    await self._emit([up])
                    gap_start = None
                    attempt = 0
                    self.connected.set()
                    await self._pump(ws)
                    reason = "server closed the connection"
            except InvalidURI as exc:
                # Not a network problem: retrying cannot help.
                await self._emit([FeedStatus(self.clock.now(), self.feed, "down", f"bad RIS Live URL: {exc}")])
                return
            except ConnectionClosed as exc:
                reason = f"connection lost ({_close_text(exc)})"
            except _Idle:
                reason = f"nothing received for {self.idle_timeout:.0f}s"
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                reason = f"cannot connect to {self.display_url}: {type(exc).__name__}: {excerpt(str(exc), 200)}"
            finally:
                self._ws = None
                self.connected.clear()
            await self._flush()
            if self._stopping:
                break
            now = self.clock.now()
            if gap_start is None:
                gap_start = self._last_frame if self._last_frame is not None else now
            delay = self.backoff.delay(attempt, self.rand)
            attempt += 1
            await self._emit(
                [FeedStatus(now, self.feed, "down", f"{reason}; reconnecting in {delay:.1f}s (attempt {attempt})")]
            )
            await self._sleep_unless_stopped(delay)
        await self._flush()
        await self._emit([FeedStatus(self.clock.now(), self.feed, "ended", "stopped")])

    async def refresh_subscriptions(self) -> int:
        """Send subscriptions not yet sent on this connection (the watchlist may have grown)."""
        ws = self._ws
        if ws is None:
            return 0
        new = 0
        for sub in build_subscriptions(self.watchlist, self.beacons):
            key = json.dumps(sub, sort_keys=True)
            if key in self._sent:
                continue
            if not self._sent:
                # socketOptions apply to the whole socket; acknowledgements show refused filters.
                sub = {**sub, "socketOptions": {"includeRaw": False, "acknowledge": True}}
            await ws.send(json.dumps({"type": "ris_subscribe", "data": sub}))
            self._sent.add(key)
            new += 1
        self.stats.subscriptions = len(self._sent)
        return new

    async def _pump(self, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.ping_interval
        last_received = loop.time()
        flush_at: float | None = None
        while not self._stopping:
            now_mono = loop.time()
            deadlines = [next_ping, last_received + self.idle_timeout]
            if flush_at is not None:
                deadlines.append(flush_at)
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.0, min(deadlines) - now_mono))
            except TimeoutError:
                raw = None
            now_mono = loop.time()
            if raw is not None:
                last_received = now_mono
                self._last_frame = self.clock.now()
                self._handle(raw)
                if self._pending and flush_at is None:
                    flush_at = now_mono + self.batch_interval
            if self._pending and (len(self._pending) >= self.batch_size or (flush_at is not None and now_mono >= flush_at)):
                await self._flush()
                flush_at = None
            if now_mono >= next_ping:
                await ws.send('{"type": "ping", "data": null}')
                next_ping = now_mono + self.ping_interval
            if now_mono - last_received >= self.idle_timeout:
                raise _Idle()

    def _handle(self, raw: str | bytes) -> None:
        self.stats.messages += 1
        try:
            events = parse_message(raw, source=self.feed, received=self.clock.now())
        except RisLiveParseError as exc:
            self.stats.rejected += 1
            self._pending.append(
                RecordRejected(self.clock.now(), self.feed, f"{self.display_url} message {self.stats.messages}",
                               str(exc), excerpt(raw))
            )
            return
        head = raw[:64] if isinstance(raw, str) else raw[:64].decode("utf-8", "replace")
        if not events and "ris_subscribe_ok" in head:
            self.stats.acknowledged += 1
        for event in events:
            if isinstance(event, FeedStatus) and event.state == "error":
                self.stats.errors += 1
            elif isinstance(event, RouteAnnounced | RouteWithdrawn) and any(
                b.contains(event.prefix) for b in self._beacon_prefixes
            ):
                self.stats.beacon_updates += 1
                self.stats.last_beacon = event.ts
        self._pending.extend(events)

    async def _flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.stats.batches += 1
            await self.sink(batch)

    async def _emit(self, events: list[Event]) -> None:
        # Status events keep their place in the stream: what was read before goes first.
        await self._flush()
        await self.sink(events)


def _close_text(exc: Exception) -> str:
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        text = f"code {rcvd.code}"
        if rcvd.reason:
            text += f": {excerpt(rcvd.reason, 120)}"
        return text
    return "no close frame"
