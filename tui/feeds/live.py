"""The live feeds for a watchlist: RIS Live, the RIPEstat initial state and DNS checks, into one queue.

:class:`LiveFeeds` is what the console and the collector start. ``start()`` returns at once
after launching up to three tasks:

- the RIPEstat bootstrap (full-feed peers, ASN/country expansion, current routes, baseline);
- the RIS Live client (subscriptions, keepalive, reconnects with gap events);
- with ``dns=True``, the DNS prober for every configured or watched zone.

Ordering matters: RIPEstat's routes are a snapshot older than anything RIS Live says, so
applying them *after* a live update would bring back a withdrawn route. RIS Live batches that
arrive while the bootstrap runs are held back, and released right after the bootstrap's events;
the RIS Live subscriptions are then refreshed for the prefixes the expansion added. Feed status
and rejected records are not held: a RIS Live that cannot connect is shown at once, even while
a slow RIPEstat is still being asked.

The bootstrap can take minutes (every call is tried 4 times with backoff, one after the other,
and some are per prefix), so a caller may stop waiting for it: :meth:`LiveFeeds.give_up_initial_state`
cancels what is still being asked, sends what did arrive (in the same order, ahead of the held
batches), then releases the held batches. :attr:`LiveFeeds.initial_state` says which parts are
missing (:class:`InitialState`).

The routes from RIPEstat carry the RIS Live feed's name as their source: they are the initial
state of the same sessions, and must go *unknown* together with them when RIS Live drops.

After a gap the same ordering holds. RIS Live only tells what changes from the moment it is
listened to again, so a route withdrawn during the gap would stay visible for ever. When RIS
Live comes back, its ``up`` is held and a ``resyncing`` status goes out instead (the sessions
stay *unknown*); the watched routes are re-read from RIPEstat and sent as a
:class:`~tui.core.events.RouteSnapshot` (the engine turns it into the withdrawals and changes it
implies), then the held ``up`` and the updates that arrived meanwhile. If RIS Live drops again
first, the refresh is abandoned and the next reconnection starts another one; if RIPEstat
fails, RIS Live comes back up with the routes as they were, and says so.

:func:`tui.runtime.listen_for` runs all this for a fixed time and returns the engine
(``snapshot --live``): it listens from the start, and waits for the initial state at most
until the listening ends (or ``initial_wait``), so the time asked for is the time it takes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.core.clock import Clock, SystemClock
from tui.core.engine import Engine
from tui.core.events import Event, FeedStatus, RecordRejected
from tui.core.watchlist import Watchlist
from tui.feeds.ripestat import BootstrapResult, RipestatClient, bootstrap, refresh_routes, route_prefixes
from tui.feeds.ris_live import DEFAULT_SOURCE as RIS_LIVE_FEED
from tui.feeds.ris_live import RisLiveClient

if TYPE_CHECKING:
    import httpx

    from tui.config import Config

__all__ = [
    "LiveFeeds",
    "InitialState",
    "LiveRun",
    "describe_initial_state",
    "GIVE_UP_GRACE",
]

GIVE_UP_GRACE = 5.0
"""Seconds allowed, after giving up on the initial state, to send what arrived and close RIPEstat's sockets."""


@dataclass(frozen=True, slots=True)
class InitialState:
    """How much of the initial state arrived: ``initial_state`` in ``snapshot --live --json``."""

    source: str
    """Where the initial state comes from: ``"ripestat"``."""
    complete: bool
    """True when every part the snapshot uses arrived (``missing`` is empty)."""
    timed_out: bool
    """True when the wait for it was given up before RIPEstat was done."""
    missing: tuple[str, ...]
    """Plain-text parts that did not arrive: ``"full-feed peer list"``, ``"prefixes of AS3333"``,
    ``"address space of KP"``, ``"routes of 3 of 12 watched prefixes"``."""
    detail: str
    """What happened, in a sentence (feed error text included: untrusted, show it with ``plain``)."""
    full_feed_list: bool
    """Whether RIPEstat's full-feed peer list arrived (else visibility's denominator is a guess)."""

    def as_json(self) -> dict[str, Any]:
        """The JSON object (docs/cli.md)."""
        return {"source": self.source, "complete": self.complete, "timed_out": self.timed_out,
                "missing": list(self.missing), "detail": self.detail}


def describe_initial_state(
    result: BootstrapResult | None,
    watchlist: Watchlist,
    *,
    enabled: bool = True,
    gave_up: str | None = None,
    failure: str | None = None,
    last_problem: str = "",
) -> InitialState:
    """What of the initial state for ``watchlist`` is in ``result`` (None: nothing arrived).

    ``gave_up`` says why the wait was cut short (it was, when given); ``failure`` is an
    unexpected error that ended the bootstrap; ``last_problem`` the last retry's reason.
    """
    missing: list[str] = []
    if result is None or not result.full_feed:
        missing.append("full-feed peer list")
    expanded = result.expanded if result is not None else {}
    for asn in sorted(watchlist.watched_asns()):
        if f"AS{asn}" not in expanded:
            missing.append(f"prefixes of AS{asn}")
    for cc in sorted({cc.upper() for watch in watchlist.watches.values() for cc in watch.countries}):
        if f"country {cc}" not in expanded:
            missing.append(f"address space of {cc}")
    wanted, _beyond_limit = route_prefixes(watchlist)
    answered = set(result.routes_answered) if result is not None else set()
    unanswered = sum(1 for prefix in wanted if prefix not in answered)
    if unanswered:
        missing.append(f"routes of {unanswered} of {len(wanted)} watched prefixes")

    problems = result.problems if result is not None else []
    if not enabled:
        detail = "RIPEstat is disabled (feeds.ripestat.enabled = false): sessions and routes are only what RIS Live reported"
    elif gave_up is not None:
        stage = result.stage if result is not None else "not started"
        asking = "before RIPEstat was asked" if stage == "not started" else f"while RIPEstat was asked for the {stage}"
        detail = f"{gave_up}, {asking}; what had arrived is used"
        why = last_problem or (problems[-1] if problems else "")
        if why:
            detail += f"; last problem: {why}"
    elif failure is not None:
        detail = f"initial state failed: {failure}"
    else:
        summaries = [e.detail for e in (result.events if result is not None else ()) if isinstance(e, FeedStatus)]
        detail = summaries[-1] if summaries else ""
    return InitialState("ripestat", not missing, gave_up is not None, tuple(missing), detail,
                        result is not None and result.full_feed)


class LiveFeeds:
    """RIS Live and RIPEstat for ``watchlist``, pushing event batches into ``queue``."""

    def __init__(
        self,
        config: Config,
        watchlist: Watchlist,
        queue: asyncio.Queue[list[Event]],
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ris_live_url: str | None = None,
        ripestat_url: str | None = None,
        ripestat_cache_dir: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        ris_live_options: dict[str, Any] | None = None,
        routing: bool = True,
        dns: bool = False,
        dns_options: dict[str, Any] | None = None,
    ) -> None:
        feeds = config.feeds
        self.config = config
        self.watchlist = watchlist.copy()
        """The feeds' own watchlist: what they subscribe to and ask about. It grows as RIPEstat
        expands ASNs and countries; the engine's grows with the WatchExpanded events they send."""
        self.queue = queue
        self.clock = clock or SystemClock()
        self.transport = transport
        self.ris_live_url = ris_live_url or feeds.ris_live_url
        self.ripestat_url = ripestat_url or feeds.ripestat_url
        self.ripestat_cache_dir = ripestat_cache_dir or feeds.ripestat_cache_dir or None
        self.sleep = sleep
        self.rand = rand
        self.ris_live_enabled = routing and feeds.ris_live_enabled
        self.ripestat_enabled = routing and feeds.ripestat_enabled
        self.dns_enabled = dns and bool(config.all_zones())
        self.dns_options = dns_options or {}
        self.prober: Any = None
        """The :class:`tui.feeds.dns_probe.DnsProber` while DNS checks run."""
        self.client: RisLiveClient | None = None
        if self.ris_live_enabled:
            self.client = RisLiveClient(
                self.ris_live_url, self.watchlist, self._live_sink, client_id=feeds.ris_live_client,
                beacons=feeds.ris_live_beacons, feed=RIS_LIVE_FEED, clock=self.clock, sleep=sleep, rand=rand,
                **(ris_live_options or {}),
            )
        self.bootstrap_result: BootstrapResult | None = None
        """Filled as RIPEstat's start-up answers arrive (None until the bootstrap starts)."""
        self.bootstrapped = asyncio.Event()
        """Set once the RIPEstat initial state (or its failure, or the part that arrived before
        it was given up) is in the queue, and the held RIS Live batches after it."""
        self.initial_state: InitialState | None = None
        """What of the initial state arrived; set with :attr:`bootstrapped`."""
        self._held: list[list[Event]] | None = [] if self.ripestat_enabled else None
        self._tasks: list[asyncio.Task[None]] = []
        self._fetch: asyncio.Task[None] | None = None
        """The RIPEstat start-up calls, while they run (cancelled when given up)."""
        self._gave_up: str | None = None
        self._last_retry = ""
        self._resync: asyncio.Task[None] | None = None
        """The route refresh after a RIS Live gap, while it runs."""
        if not self.ripestat_enabled:
            self.initial_state = describe_initial_state(None, watchlist, enabled=False)
            self.bootstrapped.set()

    @property
    def baselines(self) -> dict[str, Any]:
        """RIPEstat's routing-status per watched resource (empty until the bootstrap is done)."""
        return dict(self.bootstrap_result.baselines) if self.bootstrap_result else {}

    async def start(self) -> None:
        """Launch the feeds and return; batches then arrive in the queue."""
        if self._tasks:
            return
        if self.ripestat_enabled:
            self._tasks.append(asyncio.create_task(self._bootstrap(), name="ripestat-bootstrap"))
        if self.client is not None:
            self._tasks.append(asyncio.create_task(self.client.run(), name="ris-live"))
        if self.dns_enabled:
            from tui.feeds.dns_probe import DnsProber, ProbeSettings  # dnspython only when DNS checks run

            self.prober = DnsProber(
                self.config.all_zones(), ProbeSettings.from_config(self.config.dns), clock=self.clock, **self.dns_options
            )
            self._tasks.append(asyncio.create_task(self.prober.run(self._dns_sink), name="dns-checks"))

    def give_up_initial_state(self, why: str) -> None:
        """Stop waiting for RIPEstat: what arrived goes out, then the held RIS Live batches.

        Returns at once; :attr:`bootstrapped` is set when that is done (keep draining the
        queue meanwhile). ``why`` is said in the status and in :attr:`initial_state`, e.g.
        ``"gave up waiting after 15 s"``. Nothing happens once the initial state is in.
        """
        if self.bootstrapped.is_set() or self._gave_up is not None:
            return
        self._gave_up = why
        if self._fetch is not None:
            self._fetch.cancel()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the feeds: RIS Live closes cleanly (an ``ended`` status); the rest is cancelled."""
        # A bootstrap still asking would otherwise hold stop() for the whole timeout.
        self.give_up_initial_state("stopped before RIPEstat was done")
        await self._abandon_resync()
        if self.client is not None:
            self.client.stop()
        if self.prober is not None:
            self.prober.stop()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks = []
        if self.prober is not None:
            await self.prober.aclose()
            self.prober = None
        await self._release()
        if self.initial_state is None:  # the bootstrap had to be cancelled outright
            self.initial_state = describe_initial_state(self.bootstrap_result, self.watchlist,
                                                        gave_up=self._gave_up or "stopped", last_problem=self._last_retry)

    async def _live_sink(self, batch: list[Event]) -> None:
        batch = await self._watch_reconnects(batch)
        if self._held is not None:
            # Only routes must wait for the older RIPEstat snapshot; health goes out at once.
            health: list[Event] = [e for e in batch if isinstance(e, FeedStatus | RecordRejected)]
            routes: list[Event] = [e for e in batch if not isinstance(e, FeedStatus | RecordRejected)]
            if health:
                await self.queue.put(health)
            if routes:
                self._held.append(routes)
            return
        await self.queue.put(batch)

    async def _dns_sink(self, batch: Sequence[Event]) -> None:
        await self.queue.put(list(batch))

    def _ripestat_client(self) -> Any:
        feeds = self.config.feeds
        return RipestatClient(
            self.ripestat_url, sourceapp=feeds.ripestat_sourceapp, cache_dir=self.ripestat_cache_dir,
            timeout=feeds.ripestat_timeout, transport=self.transport, clock=self.clock, sleep=self.sleep,
            rand=self.rand, on_retry=self._note_retry,
        )

    def _note_retry(self, message: str) -> None:
        # Why RIPEstat is slow (refused, timing out, 503...), for the status of a wait given up.
        self._last_retry = message

    async def _watch_reconnects(self, batch: list[Event]) -> list[Event]:
        """Hold RIS Live's ``up`` after a gap until the routes are re-read (see the module doc)."""
        out: list[Event] = []
        for event in batch:
            if isinstance(event, FeedStatus) and event.feed == RIS_LIVE_FEED:
                if event.state in ("down", "gap", "ended"):
                    await self._abandon_resync()
                elif event.state == "up" and event.gap_start is not None and self._can_resync():
                    gap = f"{event.gap_seconds:.1f}s" if event.gap_seconds is not None else "a gap"
                    out.append(FeedStatus(event.ts, event.feed, "resyncing",
                                          f"reconnected after {gap}; re-reading the watched routes from RIPEstat"))
                    self._held = []
                    self._resync = asyncio.create_task(self._refresh_after_gap(event), name="ris-live-resync")
                    continue
            out.append(event)
        return out

    def _can_resync(self) -> bool:
        # Before the initial state is in, the bootstrap itself is the fresh snapshot.
        return self.ripestat_enabled and self.bootstrapped.is_set() and self._resync is None

    async def _abandon_resync(self) -> None:
        """RIS Live dropped again (or stops): that refresh would end in a false ``up``."""
        task, self._resync = self._resync, None
        if task is not None:
            task.cancel()
            # What was held arrived before the drop: it goes out now, ahead of the drop's status.
            await self._release()

    async def _refresh_after_gap(self, reconnected: FeedStatus) -> None:
        events: list[Event] = []
        try:
            async with self._ripestat_client() as client:
                peer_asns = self.bootstrap_result.peer_asns if self.bootstrap_result else {}
                found = await refresh_routes(client, self.watchlist, peer_asns, route_source=RIS_LIVE_FEED,
                                             clock=self.clock)
            now = self.clock.now()
            events.extend(found.rejected)
            if found.snapshot is not None:
                events.append(found.snapshot)
            answered = len(found.snapshot.scope) if found.snapshot else 0
            detail = f"routes of {answered}/{found.asked} watched prefixes re-read after the gap"
            if found.problems:
                detail += f"; the rest kept as they were: {found.problems[0]}"
                events.append(FeedStatus(now, "ripestat", "error", f"refresh after the RIS Live gap: {found.problems[0]}"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever RIPEstat does, the live feed goes on
            now = self.clock.now()
            detail = f"routes not re-read after the gap ({type(exc).__name__}: {exc}); those withdrawn meanwhile may linger"
        events.append(FeedStatus(now, RIS_LIVE_FEED, "up", detail, reconnected.gap_start, reconnected.gap_end))
        if self._resync is not asyncio.current_task():
            return  # abandoned while the last answer was being read
        self._resync = None
        await self.queue.put(events)
        await self._release()

    async def _bootstrap(self) -> None:
        result = self.bootstrap_result = BootstrapResult()
        # Say at once that RIPEstat is being asked: with retries and backoff it can take a while.
        await self.queue.put([FeedStatus(self.clock.now(), "ripestat", "connecting", "asking for the initial state")])
        # The calls run in their own task, so that giving up cancels them and not what follows
        # (sending what arrived and releasing the held batches must not be cut in half).
        fetch = None
        if self._gave_up is None:
            fetch = self._fetch = asyncio.create_task(self._fetch_initial_state(result), name="ripestat-initial-state")
            try:
                await asyncio.wait([fetch])
            except asyncio.CancelledError:
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                raise
            finally:
                self._fetch = None
        events = list(result.events)
        failure = None
        if fetch is None or fetch.cancelled():
            self.initial_state = describe_initial_state(result, self.watchlist, gave_up=self._gave_up,
                                                        last_problem=self._last_retry)
            state = self.initial_state
            if state.missing:
                events.append(FeedStatus(self.clock.now(), "ripestat", "error",
                                         f"initial state incomplete ({', '.join(state.missing)} missing): {state.detail}"))
            else:  # only the baselines were still being asked
                events.append(FeedStatus(self.clock.now(), "ripestat", "up", f"initial state in: {state.detail}"))
        else:
            exc = fetch.exception()
            if exc is not None:  # whatever RIPEstat does, the live feed goes on
                failure = f"{type(exc).__name__}: {exc}"
                events.append(FeedStatus(self.clock.now(), "ripestat", "error", f"initial state failed: {failure}"))
            self.initial_state = describe_initial_state(result, self.watchlist, failure=failure)
        await self.queue.put(events)
        await self._release()
        if self.client is not None:
            # The expansion may have added prefixes: subscribe to them too.
            try:
                await self.client.refresh_subscriptions()
            except Exception:  # noqa: BLE001 - a dropped socket: the reconnect subscribes anew
                pass

    async def _fetch_initial_state(self, result: BootstrapResult) -> None:
        route_source = RIS_LIVE_FEED if self.ris_live_enabled else "ripestat"
        # Cancelled here, the client's context closes its connections, the one in flight too.
        async with self._ripestat_client() as client:
            await bootstrap(client, self.watchlist, route_source=route_source, clock=self.clock, result=result)

    async def _release(self) -> None:
        held = self._held
        if held is None:
            return
        # No await between the last check and switching to pass-through: nothing can slip in.
        while held:
            await self.queue.put(held.pop(0))
        self._held = None
        self.bootstrapped.set()


@dataclass(frozen=True, slots=True)
class LiveRun:
    """What :func:`tui.runtime.listen_for` heard: the engine, and how much of the initial state came."""

    engine: Engine
    initial_state: InitialState
