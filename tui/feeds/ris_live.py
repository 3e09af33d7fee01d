"""RIS Live: the websocket client and its subscriptions.

Messages are read by the pure parser in :mod:`tui.feeds.ris_messages` (what each RIS Live
message becomes is documented there); this module connects, subscribes for a watchlist,
reconnects with backoff and hands event batches on.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tui.core.clock import Clock, SystemClock
from tui.core.events import Event, FeedStatus, RecordRejected, RouteAnnounced, RouteWithdrawn
from tui.core.prefixes import Prefix
from tui.core.watchlist import Watchlist
from tui.feeds.http import USER_AGENT, Backoff
from tui.feeds.ris_messages import DEFAULT_SOURCE, RisLiveParseError, excerpt, parse_message

__all__ = [
    "DEFAULT_SOURCE",
    "build_subscriptions",
    "with_client_id",
    "RisLiveClient",
    "RisLiveStats",
]


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
